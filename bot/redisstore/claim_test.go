package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// TestRenewClaim: a renewal extends a claim, takes an expired one again,
// and never touches a done mark or a FirstSeen record.
func TestRenewClaim(t *testing.T) {
	s, rdb, ns := mustStore(t)
	ctx := context.Background()
	key := func(id int) string { return ns + ":upd:" + strconv.Itoa(id) }
	var r bot.ClaimRenewer = s
	u := bot.UserKey("0123456789abcdef0123456789abcdef")

	if c, _, err := s.BeginClaim(ctx, 1, time.Second, u); err != nil || c != bot.ClaimNew {
		t.Fatalf("claim: %v %v", c, err)
	}
	if ok, err := r.RenewClaim(ctx, 1, time.Minute); err != nil || !ok {
		t.Fatalf("renew a held claim: %v %v, want true", ok, err)
	}
	if ttl := rdb.PTTL(ctx, key(1)).Val(); ttl < 50*time.Second {
		t.Errorf("renewed claim has TTL %v, want about a minute", ttl)
	}
	if c, _, _ := s.BeginClaim(ctx, 1, time.Second, u); c != bot.ClaimBusy {
		t.Errorf("claim of a renewed claim: %v, want busy", c)
	}

	// The lease ran out (a stall) and nobody took the update: taken again.
	rdb.Del(ctx, key(1))
	if ok, err := r.RenewClaim(ctx, 1, time.Minute); err != nil || !ok {
		t.Fatalf("renew an expired claim: %v %v, want true", ok, err)
	}
	if c, _, _ := s.BeginClaim(ctx, 1, time.Second, u); c != bot.ClaimBusy {
		t.Errorf("claim after the renewal took it again: %v, want busy", c)
	}

	// Another handler finished: the renewal reports the loss, changes nothing.
	if err := s.FinishUpdate(ctx, 1, time.Hour, u, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.RenewClaim(ctx, 1, time.Minute); err != nil || ok {
		t.Fatalf("renew a done update: %v %v, want false", ok, err)
	}
	if ttl := rdb.PTTL(ctx, key(1)).Val(); ttl < 59*time.Minute {
		t.Errorf("done mark's TTL now %v: the renewal touched it", ttl)
	}
	if c, _, _ := s.BeginClaim(ctx, 1, time.Second, u); c != bot.ClaimDone {
		t.Errorf("claim after a refused renewal: %v, want done", c)
	}
	if _, err := s.FirstSeen(ctx, 2, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.RenewClaim(ctx, 2, time.Minute); err != nil || ok {
		t.Fatalf("renew a FirstSeen record: %v %v, want false", ok, err)
	}
	if _, err := r.RenewClaim(ctx, 3, 0); err == nil {
		t.Error("a zero lease was accepted")
	}
	if n := rdb.Exists(ctx, key(3)).Val(); n != 0 {
		t.Error("a refused renewal wrote a record")
	}
}
