package redisstore_test

import (
	"context"
	"strings"
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

// TestClusterAudienceConformance: every key of the index, records
// included, shares the {aud} slot, so that Join and Leave are one script
// and Members reads a page's records with one MGET.
func TestClusterAudienceConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.RunAudience(t, func(t *testing.T, now func() time.Time) bot.AudienceIndex {
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now})
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// TestAudienceKeys: the documented key scheme, every key expiring with the
// member (the conversation retention), Leave leaving nothing but the prune
// marks behind, and an inactive member's index entry dropped by a later
// Join without any reader.
func TestAudienceKeys(t *testing.T) {
	now := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := now
	s, rdb, ns := mustTicketStore(t, func() time.Time { return clk })
	ctx := context.Background()
	const retention = 720 * time.Hour
	u := bot.UserKey("f00d")
	m := bot.AudienceMember{User: u, ChatID: 42, Lang: "fa", Role: bot.RoleVolunteer, District: "nord", Expires: now.Add(retention)}
	mustNoErr(t, s.Join(ctx, m))
	p := ns + ":{aud}:"
	keys := bottest.Keys(t, rdb, ns+":*")
	want := map[string]time.Duration{p + "r:f00d": retention, p + "all": retention, p + "d:nord": retention,
		p + "p:all": time.Minute, p + "p:d:nord": time.Minute}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for k, life := range want {
		ttl, ok := keys[k]
		if !ok || ttl <= 0 || ttl > life || ttl < life-time.Minute/2 {
			t.Errorf("key %s: TTL %v (present %v), want about %v", k, ttl, ok, life)
		}
	}
	mustNoErr(t, s.Leave(ctx, u))
	for k := range bottest.Keys(t, rdb, ns+":*") {
		if !strings.HasPrefix(k, p+"p:") {
			t.Errorf("Leave left %s", k)
		}
	}

	// An inactive member: their record expires (Redis' clock is not
	// moved here, so it is deleted as Redis would), the index entry is
	// dropped by another user's Join once its time has passed, the
	// indexes' prune being due by then.
	mustNoErr(t, s.Join(ctx, m))
	mustNoErr(t, rdb.Del(ctx, p+"r:f00d").Err())
	clk = now.Add(retention + time.Second)
	other := bot.AudienceMember{User: "beef", ChatID: 43, Lang: "de", District: "nord", Expires: clk.Add(retention)}
	mustNoErr(t, s.Join(ctx, other))
	for _, idx := range []string{p + "all", p + "d:nord"} {
		members := rdb.ZRange(ctx, idx, 0, -1).Val()
		if len(members) != 1 || members[0][15:] != "beef" {
			t.Errorf("%s = %v, want only beef", idx, members)
		}
	}
}

// TestAudiencePruneOccasionally: Join drops expired index members at
// most once a minute per index (by the store's clock), not on every
// write; Members drops them when an iteration starts.
func TestAudiencePruneOccasionally(t *testing.T) {
	now := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := now
	s, rdb, ns := mustTicketStore(t, func() time.Time { return clk })
	ctx := context.Background()
	all := ns + ":{aud}:all"
	join := func(u bot.UserKey, life time.Duration) {
		t.Helper()
		mustNoErr(t, s.Join(ctx, bot.AudienceMember{User: u, ChatID: 42, Lang: "de", Expires: clk.Add(life)}))
	}
	count := func() int64 { return rdb.ZCard(ctx, all).Val() }
	join("a1", time.Second) // prunes (nothing yet) and marks the index
	clk = clk.Add(2 * time.Second)
	join("b2", time.Hour)
	if n := count(); n != 2 {
		t.Fatalf("within the minute the expired member stays until the next prune: %d members, want 2", n)
	}
	clk = now.Add(time.Minute)
	join("c3", time.Hour)
	if n := count(); n != 2 {
		t.Fatalf("a minute later Join prunes: %d members, want 2", n)
	}
	join("d4", time.Second)
	clk = clk.Add(2 * time.Second)
	ms, _, err := s.Members(ctx, "", "", 10)
	mustNoErr(t, err)
	if len(ms) != 2 || count() != 2 {
		t.Fatalf("Members = %d, index %d members, want 2 and 2", len(ms), count())
	}
}
