package bottest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// TestCluster: the harness gives a real cluster: three masters sharing
// all slots, keys spread over them, and cross-slot commands refused
// unless the keys share a hash tag.
func TestCluster(t *testing.T) {
	rdb := bottest.Cluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, s := range slots {
		covered += s.End - s.Start + 1
	}
	if len(slots) < 3 || covered != 16384 {
		t.Fatalf("slot map has %d ranges covering %d slots, want >= 3 covering 16384", len(slots), covered)
	}

	ns := bottest.Namespace(t, rdb)
	var mu sync.Mutex
	owners := map[string]bool{}
	for i := range 30 {
		key := ns + ":spread:" + string(rune('a'+i))
		if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n, err := c.DBSize(ctx).Result()
		if n > 0 {
			mu.Lock()
			owners[c.Options().Addr] = true
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) < 2 {
		t.Errorf("30 keys landed on %d master(s); the cluster does not shard", len(owners))
	}

	// Keys in different slots: refused as one transaction...
	_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, ns+":a", 1, time.Minute)
		p.Set(ctx, ns+":b", 1, time.Minute)
		return nil
	})
	if err == nil {
		t.Error("a transaction over two hash slots succeeded; this is not a cluster")
	}
	// ...accepted with a common hash tag.
	_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, ns+":{u:1}:a", 1, time.Minute)
		p.Set(ctx, ns+":{u:1}:b", 1, time.Minute)
		return nil
	})
	if err != nil {
		t.Errorf("transaction over one hash tag: %v", err)
	}
	if err := rdb.Eval(ctx, `return redis.call("MGET", KEYS[1], KEYS[2])`, []string{ns + ":x", ns + ":y"}).Err(); err == nil {
		t.Error("a script over two hash slots succeeded; this is not a cluster")
	}
}
