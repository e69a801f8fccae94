package redisstore

import (
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Internal test: the sentinel addresses and passwords are only visible in
// the parsed options, not on the client.
func TestParseURL(t *testing.T) {
	type want struct {
		kind      string // "client", "cluster", "failover"
		addrs     []string
		db        int
		user      string
		pass      string
		master    string
		sentPass  string
		tls       bool
		network   string
		sentinels []string
	}
	tests := []struct {
		url  string
		want want
	}{
		{"redis://localhost:6379/2", want{kind: "client", addrs: []string{"localhost:6379"}, db: 2, network: "tcp"}},
		{"redis://:s3cret@10.0.0.5:6380", want{kind: "client", addrs: []string{"10.0.0.5:6380"}, pass: "s3cret", network: "tcp"}},
		{"rediss://bot:pw@redis.example:6380/1", want{kind: "client", addrs: []string{"redis.example:6380"}, db: 1, user: "bot", pass: "pw", tls: true, network: "tcp"}},
		{"unix:///run/redis/redis.sock?db=3", want{kind: "client", addrs: []string{"/run/redis/redis.sock"}, db: 3, network: "unix"}},
		{"redis-cluster://h1:7000,h2:7001,h3:7002", want{kind: "cluster", addrs: []string{"h1:7000", "h2:7001", "h3:7002"}}},
		{"rediss-cluster://u:p@h1:7000,h2:7001?dial_timeout=2s", want{kind: "cluster", addrs: []string{"h1:7000", "h2:7001"}, user: "u", pass: "p", tls: true}},
		{"redis-sentinel://s1:26379,s2:26379/mymaster?db=4", want{kind: "failover", master: "mymaster", db: 4, sentinels: []string{"s1:26379", "s2:26379"}}},
		{"redis-sentinel://:mpw@s1:26379/mymaster?sentinel_password=spw", want{kind: "failover", master: "mymaster", pass: "mpw", sentPass: "spw", sentinels: []string{"s1:26379"}}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, err := ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			defer c.Close()
			var got want
			switch c := c.(type) {
			case *redis.ClusterClient:
				o := c.Options()
				got = want{kind: "cluster", addrs: o.Addrs, user: o.Username, pass: o.Password, tls: o.TLSConfig != nil}
			case *redis.Client:
				o := c.Options()
				got = want{kind: "client", addrs: []string{o.Addr}, db: o.DB, user: o.Username, pass: o.Password, tls: o.TLSConfig != nil, network: o.Network}
			default:
				t.Fatalf("client type %T", c)
			}
			if tc.want.kind == "failover" {
				// NewFailoverClient returns a *redis.Client; check what it was built from.
				_, rest, _ := strings.Cut(tc.url, "://")
				o, err := parseSentinel("redis", rest)
				if err != nil {
					t.Fatal(err)
				}
				got = want{kind: "failover", db: o.DB, user: o.Username, pass: o.Password, master: o.MasterName, sentPass: o.SentinelPassword, sentinels: o.SentinelAddrs}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	const pw = "Sup3rS3cret"
	tests := []string{
		"",
		"localhost:6379",
		"memcached://localhost",
		"redis://user:" + pw + "@host:notaport",
		"redis://user:" + pw + "@host:6379/notadb",
		"redis://user:" + pw + "@ho st:6379",
		"redis://user:" + pw + "@host:6379?unknown_option=1",
		"redis-cluster://user:" + pw + "@h1:7000,,h2:7001",
		"redis-cluster://user:" + pw + "@h1:7000/3",
		"redis-sentinel://user:" + pw + "@s1:26379",
		"redis-sentinel://user:" + pw + "@s1:26379/m?db=x",
		"redis-sentinel://s1:26379/m?sentinel_password=" + pw + "&bogus=1",
		"redis://user:" + strings.ToLower(pw) + "%zz@host",
	}
	for _, raw := range tests {
		c, err := ParseURL(raw)
		if err == nil {
			c.Close()
			t.Errorf("ParseURL(%q) succeeded", raw)
			continue
		}
		msg := err.Error()
		if strings.Contains(strings.ToLower(msg), strings.ToLower(pw)) {
			t.Errorf("error for %q leaks the password: %s", raw, msg)
		}
		if !strings.HasPrefix(msg, "redisstore: ") {
			t.Errorf("error %q lacks context", msg)
		}
	}
}
