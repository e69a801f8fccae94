package broadcast_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// TestLeaseExtender: both stores extend the lease of an in-flight
// recipient (a Claim after the first lease does not requeue it) and
// refuse once it is finished or released.
func TestLeaseExtender(t *testing.T) {
	for name, store := range map[string]func(t *testing.T) broadcast.Store{
		"memory": func(*testing.T) broadcast.Store { return memstore.NewBroadcasts(nil) },
		"redis": func(t *testing.T) broadcast.Store {
			rdb := bottest.Redis(t)
			return redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb)}).Broadcasts()
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := store(t)
			x, ok := s.(broadcast.LeaseExtender)
			if !ok {
				t.Fatal("the store cannot extend leases")
			}
			now := time.Now()
			b := broadcast.Broadcast{ID: "00000000000000e1", Author: coordinator, Texts: map[string]string{"en": "Hello"}, Created: now}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(s.Create(ctx, b, time.Hour))
			_, err := s.SetState(ctx, b.ID, broadcast.Draft, broadcast.Confirmed, now)
			must(err)
			_, err = s.Enqueue(ctx, b.ID, []broadcast.Recipient{{ChatID: 1, Lang: "en"}, {ChatID: 2}})
			must(err)
			_, err = s.SetState(ctx, b.ID, broadcast.Confirmed, broadcast.Sending, now)
			must(err)
			rs, _, err := s.Claim(ctx, b.ID, now, time.Second, 2)
			must(err)
			if len(rs) != 2 {
				t.Fatalf("claimed %d, want 2", len(rs))
			}
			if ok, err := x.Extend(ctx, b.ID, rs[0], now.Add(time.Minute)); err != nil || !ok {
				t.Fatalf("extend an in-flight recipient: %v %v", ok, err)
			}
			// After the first lease: only the recipient not extended is
			// requeued and claimed again.
			again, _, err := s.Claim(ctx, b.ID, now.Add(2*time.Second), time.Second, 2)
			must(err)
			if len(again) != 1 || again[0].ChatID != rs[1].ChatID {
				t.Fatalf("claim after the first lease: %+v, want only chat %d", again, rs[1].ChatID)
			}
			_, _, _, err = s.Finish(ctx, b.ID, rs[0], broadcast.Delivered)
			must(err)
			if ok, err := x.Extend(ctx, b.ID, rs[0], now.Add(time.Minute)); err != nil || ok {
				t.Errorf("extend a finished recipient: %v %v, want false", ok, err)
			}
			_, err = s.Release(ctx, b.ID, again[0], now)
			must(err)
			if ok, err := x.Extend(ctx, b.ID, again[0], now.Add(time.Minute)); err != nil || ok {
				t.Errorf("extend a released recipient: %v %v, want false", ok, err)
			}
			if _, err := x.Extend(ctx, "00000000000000e2", rs[0], now); !errors.Is(err, bot.ErrNotFound) {
				t.Errorf("extend in a missing broadcast: %v, want bot.ErrNotFound", err)
			}
		})
	}
}
