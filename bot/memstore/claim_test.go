package memstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/memstore"
)

// TestRenewClaim: a renewal extends a claim, takes an expired one again,
// and never touches a done mark.
func TestRenewClaim(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := memstore.New(clock)
	ctx := context.Background()
	u := bot.UserKey("u1")
	claim := func(want bot.Claim) {
		t.Helper()
		if c, _, err := s.BeginClaim(ctx, 1, time.Second, u); err != nil || c != want {
			t.Fatalf("claim: %v %v, want %v", c, err, want)
		}
	}
	renew := func(want bool) {
		t.Helper()
		if ok, err := s.RenewClaim(ctx, 1, 5*time.Second); err != nil || ok != want {
			t.Fatalf("renew: %v %v, want %v", ok, err, want)
		}
	}
	claim(bot.ClaimNew)
	renew(true)
	advance(4 * time.Second) // beyond the first lease, within the renewed one
	claim(bot.ClaimBusy)
	advance(2 * time.Second) // the renewed lease ran out too
	renew(true)              // taken again
	claim(bot.ClaimBusy)
	if err := s.FinishUpdate(ctx, 1, time.Hour, u, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	renew(false)
	advance(30 * time.Minute)
	claim(bot.ClaimDone)
}
