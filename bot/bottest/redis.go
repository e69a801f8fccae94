package bottest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURLEnv names the environment variable that points the tests at an
// existing Redis (redis://, rediss:// or unix:// URL) instead of a
// throwaway redis-server. Tests only touch keys under their own
// Namespace there; they never flush.
const RedisURLEnv = "LOTSE_TEST_REDIS_URL"

// errNoServer: redis-server is not installed.
var errNoServer = errors.New("redis-server not found in PATH")

var (
	mainUsed atomic.Bool
	srvOnce  sync.Once
	srv      *redisServer
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
		srv.stop()
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
		srvOnce.Do(func() { srv, srvErr = startRedis() })
		if errors.Is(srvErr, errNoServer) {
			noServer(tb, os.Getenv("CI") == "true", os.Stderr)
			return nil
		}
		if srvErr != nil {
			tb.Fatalf("bottest: starting redis-server: %v", srvErr)
		}
		opts = &redis.Options{Addr: srv.addr}
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

// redisServer is a throwaway redis-server process.
type redisServer struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *syncBuffer
}

// startRedis starts redis-server on a free loopback port without
// persistence. Picking a port and binding it races with other processes,
// so it retries a few times.
func startRedis() (*redisServer, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoServer
	}
	var errs []error
	for range 3 {
		s, err := tryStartRedis(path)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func tryStartRedis(path string) (*redisServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "lotse-redis-")
	if err != nil {
		return nil, err
	}
	return launch(path, port, dir, "redis-server")
}

// launch starts redis-server on 127.0.0.1:port with data in dir (removed
// when it fails or stops) and extra arguments, and waits until it answers
// PING. what names the server in errors.
func launch(path string, port int, dir, what string, extra ...string) (*redisServer, error) {
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, done: make(chan struct{}), log: &syncBuffer{}}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}, extra...)
	args = append(args, "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning")
	s.cmd = exec.Command(path, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.addr)
		if err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%s exited: %s", what, bytes.TrimSpace(s.log.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s on %s not answering PING: %v", what, s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping checks that a Redis server answers on addr. It speaks RESP by hand
// so that waiting for startup does not fill the test log with go-redis'
// dial errors.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", buf)
	}
	return nil
}

// stop terminates the server (killed after 5 s) and removes its directory.
func (s *redisServer) stop() {
	s.cmd.Process.Signal(os.Interrupt) // redis-server shuts down on SIGINT
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b.Bytes()...)
}
