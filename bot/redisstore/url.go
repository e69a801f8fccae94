package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL builds a client from a Redis URL. Accepted forms:
//
//	redis://[user:pass@]host:port[/db][?opts]        single server (go-redis ParseURL)
//	rediss://...                                     the same over TLS
//	unix://[user:pass@]/path/redis.sock[?db=N]       Unix socket
//	redis-sentinel://[user:pass@]h1:p1,h2:p2/master[?db=N&sentinel_password=...&opts]
//	redis-cluster://[user:pass@]h1:p1,h2:p2[?opts]
//
// rediss-sentinel:// and rediss-cluster:// select TLS. For Sentinel, the
// user info authenticates against the master, sentinel_password against
// the sentinels. opts are go-redis URL options (dial_timeout, pool_size,
// ...). Errors never contain the password.
func ParseURL(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("redisstore: Redis URL has no scheme")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, redact(err, rawURL)
		}
		return redis.NewClient(o), nil
	case "redis-cluster", "rediss-cluster":
		o, err := parseCluster(strings.TrimSuffix(strings.ToLower(scheme), "-cluster"), rest)
		if err != nil {
			return nil, redact(err, rawURL)
		}
		return redis.NewClusterClient(o), nil
	case "redis-sentinel", "rediss-sentinel":
		o, err := parseSentinel(strings.TrimSuffix(strings.ToLower(scheme), "-sentinel"), rest)
		if err != nil {
			return nil, redact(err, rawURL)
		}
		return redis.NewFailoverClient(o), nil
	}
	return nil, fmt.Errorf("redisstore: unsupported Redis URL scheme %q", scheme)
}

// splitHosts turns "user@h1:p1,h2:p2/path?q" into the first URL
// "base://user@h1:p1/path?q" (which go-redis parses) and the other hosts.
func splitHosts(base, rest string) (first *url.URL, others []string, err error) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	list := strings.Split(hosts, ",")
	for _, h := range list {
		if h == "" {
			return nil, nil, errors.New("empty host in host list")
		}
	}
	u, err := url.Parse(base + "://" + userinfo + list[0] + tail)
	if err != nil {
		return nil, nil, err
	}
	return u, list[1:], nil
}

func parseCluster(base, rest string) (*redis.ClusterOptions, error) {
	u, others, err := splitHosts(base, rest)
	if err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("cluster URL must not select a database")
	}
	u.Path = ""
	q := u.Query()
	for _, h := range others {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	return redis.ParseClusterURL(u.String())
}

func parseSentinel(base, rest string) (*redis.FailoverOptions, error) {
	u, others, err := splitHosts(base, rest)
	if err != nil {
		return nil, err
	}
	master := strings.Trim(u.Path, "/")
	if master == "" || strings.Contains(master, "/") {
		return nil, errors.New("sentinel URL needs the master name as its path")
	}
	user, pass := u.User.Username(), ""
	if u.User != nil {
		pass, _ = u.User.Password()
	}
	q := u.Query()
	sentinelPass := q.Get("sentinel_password")
	q.Del("sentinel_password")
	q.Set("master_name", master)
	for _, h := range others {
		q.Add("addr", h)
	}
	u.User, u.Path, u.RawQuery = nil, "", q.Encode()
	o, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, err
	}
	o.Username, o.Password, o.SentinelPassword = user, pass, sentinelPass
	return o, nil
}

// redact returns err prefixed with context, with any password occurring
// in rawURL (user info or sentinel_password) removed from its text. A
// *url.Error quotes the whole URL, so only its cause is kept.
func redact(err error, rawURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	for _, secret := range secrets(rawURL) {
		msg = strings.ReplaceAll(msg, secret, "xxxxx")
	}
	return fmt.Errorf("redisstore: invalid Redis URL: %s", msg)
}

// secrets lists the password-like substrings of rawURL, raw and decoded.
func secrets(rawURL string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.PathUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	_, rest, _ := strings.Cut(rawURL, "://")
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		if _, pass, ok := strings.Cut(authority[:i], ":"); ok {
			add(pass)
		}
		add(authority[:i]) // password-only forms like redis://secret@host
	}
	for _, kv := range strings.FieldsFunc(rawURL, func(r rune) bool { return r == '?' || r == '&' }) {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.Contains(strings.ToLower(k), "password") {
			add(v)
		}
	}
	return out
}
