package redisserver_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/internal/redisserver"
)

// TestKillRestartStop: a killed server comes back empty on the same
// address, and Stop removes its directory.
func TestKillRestartStop(t *testing.T) {
	s, err := redisserver.Start("lotse-redisserver-test-")
	if errors.Is(err, redisserver.ErrNotFound) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip("!!! SKIPPING: " + err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Stop()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cfg, err := rdb.ConfigGet(ctx, "dir").Result()
	dir := cfg["dir"]
	if err != nil || dir == "" {
		t.Fatalf("CONFIG GET dir: %q, %v", dir, err)
	}

	s.Kill()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after Restart: EXISTS k = %d, %v; want an empty server", n, err)
	}
	if opts, err := redis.ParseURL(s.URL()); err != nil || opts.Addr != s.Addr() {
		t.Fatalf("URL %q does not name %s (%v)", s.URL(), s.Addr(), err)
	}

	s.Stop()
	stopped = true
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory %s left after Stop: %v", dir, err)
	}
}

// TestLaunchFails: a server that cannot start reports its own output and
// leaves no directory behind.
func TestLaunchFails(t *testing.T) {
	dir := t.TempDir() + "/data"
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path, err := os.Executable() // not a redis-server: exits at once
	if err != nil {
		t.Fatal(err)
	}
	_, err = redisserver.Launch(path, 1, dir, "fake server", "-test.run=^$")
	if err == nil {
		t.Fatal("Launch of a program that exits succeeded")
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("directory left after a failed Launch: %v", statErr)
	}
}
