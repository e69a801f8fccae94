package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// TestClusterConformance runs the store suite on a real 3-master Redis
// Cluster. Keys of one user must share a hash tag for Forget's
// multi-key DEL to work there, and Begin's pipeline spans two slots, so
// this proves the key scheme, not just the commands.
func TestClusterConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.Run(t, func(t *testing.T, _ func() time.Time) bot.Store {
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns})
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// TestClusterSpreadsUsers: users are spread over the masters (the hash
// tag is per user, not one tag for the whole namespace, which would put
// every key on one node).
func TestClusterSpreadsUsers(t *testing.T) {
	rdb := bottest.Cluster(t)
	ns := bottest.Namespace(t, rdb)
	s := redisstore.New(rdb, redisstore.Options{Namespace: ns})
	ctx := context.Background()
	for _, u := range []bot.UserKey{"a1", "b2", "c3", "d4", "e5", "f6", "a7", "b8", "c9", "d0"} {
		mustNoErr(t, s.SaveSession(ctx, u, bot.Session{Lang: "fa"}, time.Hour))
		if _, _, err := s.Begin(ctx, int64(len(u)), time.Hour, u); err != nil {
			t.Fatalf("Begin: %v", err)
		}
		mustNoErr(t, s.Forget(ctx, u))
		if _, err := s.Session(ctx, u); err == nil {
			t.Errorf("session of %s survived Forget", u)
		}
		mustNoErr(t, s.SaveSession(ctx, u, bot.Session{Lang: "fa"}, time.Hour))
	}
	nodes := map[int64]bool{}
	for k := range bottest.Keys(t, rdb, ns+":*") {
		nodes[rdb.ClusterKeySlot(ctx, k).Val()*3/16384] = true
	}
	if len(nodes) < 2 {
		t.Errorf("all keys fall into one third of the slot space: %v", nodes)
	}
}
