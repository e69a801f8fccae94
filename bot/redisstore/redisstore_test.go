package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

func TestMain(m *testing.M) { bottest.Main(m) }

// aging adapts a Store to the suite's fake clock: Redis expires keys by its
// own clock, so Advance ages every key of the namespace by shortening its
// TTL (or deleting it), which is deterministic.
type aging struct {
	*redisstore.Store
	t   testing.TB
	rdb redis.UniversalClient
	ns  string
}

func (a aging) Advance(ctx context.Context, d time.Duration) error {
	for key, ttl := range bottest.Keys(a.t, a.rdb, a.ns+":*") {
		var err error
		switch {
		case ttl < 0:
			return fmt.Errorf("key %s has no TTL", key)
		case ttl <= d:
			err = a.rdb.Del(ctx, key).Err()
		default:
			err = a.rdb.PExpire(ctx, key, ttl-d).Err()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mustStore returns a Store in a namespace of its own on the test Redis.
func mustStore(t testing.TB) (*redisstore.Store, redis.UniversalClient, string) {
	t.Helper()
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	return redisstore.New(rdb, redisstore.Options{Namespace: ns}), rdb, ns
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, _ func() time.Time) bot.Store {
		s, rdb, ns := mustStore(t)
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// TestEveryKeyHasTTL: personal data must never stay in Redis forever.
func TestEveryKeyHasTTL(t *testing.T) {
	s, rdb, ns := mustStore(t)
	ctx := context.Background()
	u := bot.UserKey("0f1e2d3c")
	mustNoErr(t, s.SaveSession(ctx, u, bot.Session{Lang: "uk", Results: []string{"a"}}, time.Hour))
	mustNoErr(t, s.SaveSession(ctx, "other", bot.Session{}, time.Millisecond*1500))
	_, err := s.FirstSeen(ctx, 1, 24*time.Hour)
	mustNoErr(t, err)
	_, err = s.FirstSeen(ctx, 1, 24*time.Hour)
	mustNoErr(t, err)
	_, _, err = s.Begin(ctx, 2, time.Minute, u)
	mustNoErr(t, err)
	_, err = s.FirstSeen(ctx, 3, time.Microsecond) // rounded up, not dropped
	mustNoErr(t, err)
	_, err = s.Session(ctx, u)
	mustNoErr(t, err)

	keys := bottest.Keys(t, rdb, ns+":*")
	if len(keys) < 3 {
		t.Fatalf("found only %d keys (%v); the scan is not seeing the store's keys", len(keys), keys)
	}
	for key, ttl := range keys {
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", key)
		}
		if ttl > 24*time.Hour {
			t.Errorf("key %s TTL %v exceeds the longest TTL written", key, ttl)
		}
	}
}

func TestKeyScheme(t *testing.T) {
	s, rdb, ns := mustStore(t)
	ctx := context.Background()
	mustNoErr(t, s.SaveSession(ctx, "abc", bot.Session{Lang: "de"}, time.Hour))
	_, err := s.FirstSeen(ctx, 77, time.Hour)
	mustNoErr(t, err)
	keys := bottest.Keys(t, rdb, ns+":*")
	for _, want := range []string{ns + ":{u:abc}:s", ns + ":upd:77"} {
		if _, ok := keys[want]; !ok {
			t.Errorf("key %q missing; have %v", want, keys)
		}
	}
	if len(keys) != 2 {
		t.Errorf("keys = %v, want exactly 2", keys)
	}
	mustNoErr(t, s.Forget(ctx, "abc"))
	if left := bottest.Keys(t, rdb, ns+":{u:abc}*"); len(left) != 0 {
		t.Errorf("Forget left %v", left)
	}
}

// TestUndecodableSession: a session from an incompatible version must not
// lock the user out until it expires.
func TestUndecodableSession(t *testing.T) {
	s, rdb, ns := mustStore(t)
	ctx := context.Background()
	mustNoErr(t, rdb.Set(ctx, ns+":{u:abc}:s", `{"l":42`, time.Hour).Err())
	if _, err := s.Session(ctx, "abc"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Session = %v, want ErrNotFound", err)
	}
	first, sess, err := s.Begin(ctx, 1, time.Hour, "abc")
	if err != nil || !first || sess.Lang != "" {
		t.Fatalf("Begin = %v, %+v, %v; want true, zero session, nil", first, sess, err)
	}
	mustNoErr(t, s.SaveSession(ctx, "abc", bot.Session{Lang: "fa"}, time.Hour))
	if got, err := s.Session(ctx, "abc"); err != nil || got.Lang != "fa" {
		t.Fatalf("after save: %+v, %v", got, err)
	}
}

func TestNamespaceIsolation(t *testing.T) {
	rdb := bottest.Redis(t)
	a := redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb)})
	b := redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb)})
	ctx := context.Background()
	u := bot.UserKey("same-user")

	mustNoErr(t, a.SaveSession(ctx, u, bot.Session{Lang: "ar"}, time.Hour))
	if _, err := b.Session(ctx, u); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("store b sees store a's session: %v", err)
	}
	for _, st := range []*redisstore.Store{a, b} {
		first, err := st.FirstSeen(ctx, 5, time.Hour)
		if err != nil || !first {
			t.Fatalf("FirstSeen(5) = %v, %v; update ids must be per namespace", first, err)
		}
	}
	mustNoErr(t, b.Forget(ctx, u))
	if got, err := a.Session(ctx, u); err != nil || got.Lang != "ar" {
		t.Fatalf("b.Forget removed a's session: %+v, %v", got, err)
	}
}

func TestInvalidInput(t *testing.T) {
	s, rdb, ns := mustStore(t)
	ctx := context.Background()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := s.FirstSeen(ctx, 1, ttl); err == nil {
			t.Errorf("FirstSeen(ttl %v) succeeded; it would write a key without expiry", ttl)
		}
		if err := s.SaveSession(ctx, "u", bot.Session{}, ttl); err == nil {
			t.Errorf("SaveSession(ttl %v) succeeded", ttl)
		}
		if _, _, err := s.Begin(ctx, 1, ttl, "u"); err == nil {
			t.Errorf("Begin(ttl %v) succeeded", ttl)
		}
	}
	for _, u := range []bot.UserKey{"", "a}b", "{x}"} {
		if err := s.SaveSession(ctx, u, bot.Session{}, time.Hour); err == nil {
			t.Errorf("SaveSession(%q) succeeded", u)
		}
		if _, err := s.Session(ctx, u); err == nil || errors.Is(err, bot.ErrNotFound) {
			t.Errorf("Session(%q) = %v, want an invalid-key error", u, err)
		}
		if err := s.Forget(ctx, u); err == nil {
			t.Errorf("Forget(%q) succeeded", u)
		}
	}
	if keys := bottest.Keys(t, rdb, ns+":*"); len(keys) != 0 {
		t.Errorf("invalid calls wrote %v", keys)
	}
	for _, ns := range []string{"", "lotse:{1}", "a}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(namespace %q) did not panic", ns)
				}
			}()
			redisstore.New(rdb, redisstore.Options{Namespace: ns})
		}()
	}
}

// ops calls every store method once, for the error tests.
func ops(s *redisstore.Store) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"FirstSeen": func(ctx context.Context) error { _, err := s.FirstSeen(ctx, 1, time.Hour); return err },
		"Session":   func(ctx context.Context) error { _, err := s.Session(ctx, "u"); return err },
		"SaveSession": func(ctx context.Context) error {
			return s.SaveSession(ctx, "u", bot.Session{}, time.Hour)
		},
		"Forget": func(ctx context.Context) error { return s.Forget(ctx, "u") },
		"Begin":  func(ctx context.Context) error { _, _, err := s.Begin(ctx, 1, time.Hour, "u"); return err },
		"BeginClaim": func(ctx context.Context) error {
			_, _, err := s.BeginClaim(ctx, 1, time.Minute, "u")
			return err
		},
		"FinishUpdate": func(ctx context.Context) error {
			return s.FinishUpdate(ctx, 1, time.Hour, "u", &bot.Session{}, time.Hour)
		},
	}
}

func TestUnavailable(t *testing.T) {
	closed := closedAddr(t)
	silent := silentAddr(t)
	tests := []struct {
		name string
		addr string
	}{
		{"connection refused", closed},
		{"no answer", silent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{
				Addr: tc.addr, DialTimeout: 200 * time.Millisecond,
				ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
				MaxRetries: -1, DialerRetries: 1, Protocol: 2, DisableIdentity: true,
			})
			t.Cleanup(func() { rdb.Close() })
			s := redisstore.New(rdb, redisstore.Options{Namespace: "lotsetest"})
			for name, op := range ops(s) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := op(ctx)
				cancel()
				if !errors.Is(err, bot.ErrUnavailable) || errors.Is(err, bot.ErrNotFound) {
					t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "redisstore: ") {
					t.Errorf("%s: error %q lacks context", name, err)
				}
			}
		})
	}
}

// TestCancelled: a caller giving up is not an outage.
func TestCancelled(t *testing.T) {
	s, _, _ := mustStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, op := range ops(s) {
		err := op(ctx)
		if !errors.Is(err, context.Canceled) || errors.Is(err, bot.ErrUnavailable) {
			t.Errorf("%s: err = %v, want context.Canceled only", name, err)
		}
	}
}

// closedAddr returns a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustNoErr(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr returns a loopback address that accepts connections and never
// answers, like a hung server.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustNoErr(t, err)
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
