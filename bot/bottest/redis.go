package bottest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/internal/redisserver"
)

// RedisURLEnv names the environment variable that points the tests at an
// existing Redis (redis://, rediss:// or unix:// URL) instead of a
// throwaway redis-server. Tests only touch keys under their own
// Namespace there; they never flush.
const RedisURLEnv = "LOTSE_TEST_REDIS_URL"

var (
	mainUsed atomic.Bool
	srvOnce  sync.Once
	srv      *redisserver.Server
	srvErr   error
)

// Main runs a package's tests and afterwards stops the throwaway
// redis-server that Redis may have started. Packages using Redis must call
// it from TestMain:
//
//	func TestMain(m *testing.M) { bottest.Main(m) }
func Main(m *testing.M) {
	mainUsed.Store(true)
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	os.Exit(code)
}

// Redis returns a client for tests, closed when tb ends. With
// LOTSE_TEST_REDIS_URL set it connects there; otherwise it uses a
// redis-server on a free 127.0.0.1 port, started once per test binary
// (see Main). If redis-server is missing the test is skipped loudly, or
// fails when CI=true, so Redis tests are never silently left out in CI.
// Use Namespace to keep each test's keys apart.
func Redis(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	var opts *redis.Options
	if u := os.Getenv(RedisURLEnv); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			// The error may quote the URL and its password.
			tb.Fatalf("bottest: %s is not a valid Redis URL", RedisURLEnv)
		}
		opts = o
	} else {
		if !mainUsed.Load() {
			tb.Fatal("bottest.Redis: the package's TestMain must call bottest.Main(m), which stops the throwaway redis-server")
		}
		srvOnce.Do(func() { srv, srvErr = redisserver.Start("lotse-redis-") })
		if errors.Is(srvErr, redisserver.ErrNotFound) {
			noServer(tb, os.Getenv("CI") == "true", os.Stderr)
			return nil
		}
		if srvErr != nil {
			tb.Fatalf("bottest: starting redis-server: %v", srvErr)
		}
		opts = &redis.Options{Addr: srv.Addr()}
	}
	rdb := redis.NewClient(opts)
	tb.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("bottest: Redis PING: %v", err)
	}
	return rdb
}

// noServer reports a missing redis-server: fatal under CI, else a skip
// that is also written to stderr, which go test shows even without -v
// when testing a single package.
func noServer(tb testing.TB, ci bool, stderr io.Writer) {
	tb.Helper()
	if ci {
		tb.Fatal("redis-server not found; run scripts/test.sh which installs it (or set " + RedisURLEnv + ")")
		return
	}
	const msg = "!!! SKIPPING REDIS TEST: redis-server not found in PATH; Redis-backed code is NOT tested. " +
		"Install redis-server, set " + RedisURLEnv + ", or run scripts/test.sh !!!"
	fmt.Fprintln(stderr, msg)
	tb.Skip(msg)
}

// Namespace returns a key prefix unique to tb ("lotsetest:<random>") and
// deletes all keys under it when tb ends, so tests can share one Redis.
func Namespace(tb testing.TB, rdb redis.UniversalClient) string {
	tb.Helper()
	var b [8]byte
	rand.Read(b[:])
	ns := "lotsetest:" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := scan(ctx, rdb, ns+":*", func(c redis.Cmdable, keys []string) error {
			// One DEL per key: on a cluster node, keys of one page lie
			// in different slots and a multi-key DEL fails (CROSSSLOT).
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Del(ctx, k)
				}
				return nil
			})
			return err
		})
		if err != nil {
			tb.Errorf("bottest: cleaning namespace: %v", err)
		}
	})
	return ns
}

// Keys returns every key matching pattern (SCAN MATCH syntax) with its
// remaining TTL; a negative TTL means the key never expires. Privacy tests
// use it to check that everything written expires.
func Keys(tb testing.TB, rdb redis.UniversalClient, pattern string) map[string]time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	out := map[string]time.Duration{}
	err := scan(ctx, rdb, pattern, func(c redis.Cmdable, keys []string) error {
		pipe := c.Pipeline()
		cmds := make([]*redis.DurationCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, cmd := range cmds {
			switch ttl := cmd.Val(); {
			case ttl == -2: // deleted since SCAN saw it
			case ttl < 0:
				out[keys[i]] = -1
			case ttl == 0: // expires within the millisecond: it has a TTL
				out[keys[i]] = time.Millisecond
			default:
				out[keys[i]] = ttl
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("bottest: listing keys %q: %v", pattern, err)
	}
	return out
}

// scan calls fn with each non-empty page of keys matching pattern, on
// every master of a cluster. Keys may repeat across pages (SCAN's
// guarantee), so fn must be idempotent.
func scan(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func(redis.Cmdable, []string) error) error {
	one := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(c, keys); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, one)
	case *redis.Client:
		return one(ctx, c)
	}
	return fmt.Errorf("unsupported client type %T", rdb)
}
