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

func TestAudienceConformance(t *testing.T) {
	storetest.RunAudience(t, func(t *testing.T, now func() time.Time) bot.AudienceIndex {
		s, rdb, ns := mustTicketStore(t, now)
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// TestClusterAudienceConformance: the index's keys lie in other slots
// than the members' records; every command must touch one slot.
func TestClusterAudienceConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.RunAudience(t, func(t *testing.T, now func() time.Time) bot.AudienceIndex {
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now})
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// TestAudienceKeys: the documented key scheme, every key expiring with the
// member (the conversation retention), Leave leaving nothing behind, and
// an inactive member's index entry dropped by the next Join without any
// reader.
func TestAudienceKeys(t *testing.T) {
	now := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := now
	s, rdb, ns := mustTicketStore(t, func() time.Time { return clk })
	ctx := context.Background()
	const retention = 720 * time.Hour
	u := bot.UserKey("f00d")
	m := bot.AudienceMember{User: u, ChatID: 42, Lang: "fa", Role: bot.RoleVolunteer, District: "nord", Expires: now.Add(retention)}
	mustNoErr(t, s.Join(ctx, m))
	keys := bottest.Keys(t, rdb, ns+":*")
	want := []string{ns + ":{u:f00d}:aud", ns + ":aud:all", ns + ":aud:d:nord"}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for _, k := range want {
		ttl, ok := keys[k]
		if !ok || ttl <= 0 || ttl > retention || ttl < retention-time.Minute {
			t.Errorf("key %s: TTL %v (present %v), want about %v", k, ttl, ok, retention)
		}
	}
	mustNoErr(t, s.Leave(ctx, u))
	if left := bottest.Keys(t, rdb, ns+":*"); len(left) != 0 {
		t.Errorf("Leave left %v", left)
	}

	// An inactive member: their record expires (Redis' clock is not
	// moved here, so it is deleted as Redis would), the index entry is
	// dropped by another user's Join once its time has passed.
	mustNoErr(t, s.Join(ctx, m))
	mustNoErr(t, rdb.Del(ctx, ns+":{u:f00d}:aud").Err())
	clk = now.Add(retention + time.Second)
	other := bot.AudienceMember{User: "beef", ChatID: 43, Lang: "de", District: "nord", Expires: clk.Add(retention)}
	mustNoErr(t, s.Join(ctx, other))
	for _, idx := range []string{ns + ":aud:all", ns + ":aud:d:nord"} {
		members := rdb.ZRange(ctx, idx, 0, -1).Val()
		if len(members) != 1 || members[0][15:] != "beef" {
			t.Errorf("%s = %v, want only beef", idx, members)
		}
	}
}
