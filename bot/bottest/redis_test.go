package bottest_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

func TestMain(m *testing.M) { bottest.Main(m) }

func TestRedis(t *testing.T) {
	rdb := bottest.Redis(t)
	ctx := context.Background()
	ns := bottest.Namespace(t, rdb)
	if err := rdb.Set(ctx, ns+":k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.Get(ctx, ns+":k").Result(); err != nil || got != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

// TestRedisOneServer: the throwaway server is started once per binary.
func TestRedisOneServer(t *testing.T) {
	if os.Getenv(bottest.RedisURLEnv) != "" {
		t.Skip("using " + bottest.RedisURLEnv)
	}
	a, b := bottest.Redis(t), bottest.Redis(t)
	addrA, addrB := a.(*redis.Client).Options().Addr, b.(*redis.Client).Options().Addr
	if addrA != addrB {
		t.Fatalf("two servers: %s and %s", addrA, addrB)
	}
	if host := addrA[:len("127.0.0.1:")]; host != "127.0.0.1:" {
		t.Fatalf("server on %s, want loopback", addrA)
	}
}

func TestNamespace(t *testing.T) {
	rdb := bottest.Redis(t)
	ctx := context.Background()
	var inner string
	t.Run("user", func(t *testing.T) {
		inner = bottest.Namespace(t, rdb)
		if other := bottest.Namespace(t, rdb); other == inner {
			t.Fatalf("two namespaces are both %q", inner)
		}
		for _, k := range []string{":a", ":b", ":{u:x}:s"} {
			if err := rdb.Set(ctx, inner+k, 1, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(bottest.Keys(t, rdb, inner+":*")); n != 3 {
			t.Fatalf("%d keys, want 3", n)
		}
	})
	if left := bottest.Keys(t, rdb, inner+":*"); len(left) != 0 {
		t.Fatalf("namespace not cleaned up: %v", left)
	}
}

func TestKeys(t *testing.T) {
	rdb := bottest.Redis(t)
	ctx := context.Background()
	ns := bottest.Namespace(t, rdb)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.Set(ctx, ns+":ttl", 1, time.Hour).Err())
	must(rdb.Set(ctx, ns+":forever", 1, 0).Err())
	must(rdb.Set(ctx, ns+"-outside", 1, time.Hour).Err())
	t.Cleanup(func() { rdb.Del(ctx, ns+"-outside") })
	// Enough keys to need several SCAN pages.
	pipe := rdb.Pipeline()
	for i := range 2500 {
		pipe.Set(ctx, ns+":many:"+strconv.Itoa(i), 1, time.Minute)
	}
	_, err := pipe.Exec(ctx)
	must(err)

	keys := bottest.Keys(t, rdb, ns+":*")
	if len(keys) != 2502 {
		t.Fatalf("%d keys, want 2502", len(keys))
	}
	if ttl := keys[ns+":ttl"]; ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("ttl key: %v, want about 1h", ttl)
	}
	if ttl := keys[ns+":forever"]; ttl >= 0 {
		t.Errorf("key without expiry reported TTL %v, want negative", ttl)
	}
	if _, ok := keys[ns+"-outside"]; ok {
		t.Error("pattern not applied")
	}
}
