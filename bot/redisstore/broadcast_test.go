package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// agingBroadcasts adapts the broadcast store to the suite's clock like
// aging does for the others.
type agingBroadcasts struct {
	*redisstore.Broadcasts
	a aging
}

func (a agingBroadcasts) Advance(ctx context.Context, d time.Duration) error {
	return a.a.Advance(ctx, d)
}

func TestBroadcastConformance(t *testing.T) {
	storetest.RunBroadcasts(t, func(t *testing.T, now func() time.Time) broadcast.Store {
		s, rdb, ns := mustTicketStore(t, now)
		return agingBroadcasts{Broadcasts: s.Broadcasts(), a: aging{Store: s, t: t, rdb: rdb, ns: ns}}
	})
}

// TestBroadcastClusterConformance: every script spans several keys of
// one broadcast, which must share its {b:<id>} hash tag.
func TestBroadcastClusterConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.RunBroadcasts(t, func(t *testing.T, now func() time.Time) broadcast.Store {
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now})
		return agingBroadcasts{Broadcasts: s.Broadcasts(), a: aging{Store: s, t: t, rdb: rdb, ns: ns}}
	})
}

// TestBroadcastKeysExpire walks a broadcast through its life and checks
// that every key expires within the broadcast's TTL at every step, and
// that only the tally is left when it ends.
func TestBroadcastKeysExpire(t *testing.T) {
	const ttl = 30 * 24 * time.Hour
	s, rdb, ns := mustTicketStore(t, time.Now)
	bs := s.Broadcasts()
	ctx := context.Background()
	now := time.Now()
	b := broadcast.Broadcast{ID: "00000000000000a1", Author: 7, Texts: map[string]string{"en": "Hello"}, Created: now}
	check := func(step string) {
		t.Helper()
		for k, left := range bottest.Keys(t, rdb, ns+":*") {
			if left < 0 || left > ttl {
				t.Fatalf("%s: key %s has TTL %v, want (0, %v]", step, k, left, ttl)
			}
		}
	}
	mustNoErr(t, bs.Create(ctx, b, ttl))
	check("create")
	_, err := bs.SetState(ctx, b.ID, broadcast.Draft, broadcast.Confirmed, now)
	mustNoErr(t, err)
	_, err = bs.Enqueue(ctx, b.ID, []broadcast.Recipient{{ChatID: 1, Lang: "en"}, {ChatID: 2}, {ChatID: 3}})
	mustNoErr(t, err)
	_, err = bs.SetState(ctx, b.ID, broadcast.Confirmed, broadcast.Sending, now)
	mustNoErr(t, err)
	rs, _, err := bs.Claim(ctx, b.ID, now, time.Minute, 3)
	mustNoErr(t, err)
	_, _, _, err = bs.Finish(ctx, b.ID, rs[0], broadcast.Delivered)
	mustNoErr(t, err)
	_, err = bs.Release(ctx, b.ID, rs[1], now)
	mustNoErr(t, err)
	mustNoErr(t, s.Pacer(30).Wait(ctx))
	check("sending")
	_, _, _, err = bs.Finish(ctx, b.ID, rs[2], broadcast.Blocked)
	mustNoErr(t, err)
	rs, _, err = bs.Claim(ctx, b.ID, now, time.Minute, 3)
	mustNoErr(t, err)
	_, _, _, err = bs.Finish(ctx, b.ID, rs[0], broadcast.Delivered)
	mustNoErr(t, err)
	if _, st, err := bs.Claim(ctx, b.ID, now, time.Minute, 3); err != nil || st != broadcast.Finished {
		t.Fatalf("last Claim = %v, %v; want Finished", st, err)
	}
	check("done")
	for k := range bottest.Keys(t, rdb, ns+":{b:*") {
		if k != ns+":{b:"+b.ID+"}:m" {
			t.Errorf("key %s left after the broadcast ended", k)
		}
	}
}

// TestPacerShared: two "replicas" sharing the Redis pacer together
// admit no more than its rate.
func TestPacerShared(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a second")
	}
	s, _, _ := mustTicketStore(t, time.Now)
	const rate = 50.0
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	for range 2 {
		p := s.Pacer(rate) // one pacer value per replica, one Redis key
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p.Wait(ctx) == nil {
					mu.Lock()
					at = append(at, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	// In one second at 50/s: 50 or 51 (the first slot is free at once).
	if n := len(at); n < 45 || n > 51 {
		t.Fatalf("%d admitted in 1s at %v/s", n, rate)
	}
}
