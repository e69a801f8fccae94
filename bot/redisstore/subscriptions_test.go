package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/remind"
)

func TestSubscriptionConformance(t *testing.T) {
	storetest.RunSubscriptions(t, func(t *testing.T, now func() time.Time) remind.Store {
		s, rdb, ns := mustTicketStore(t, now)
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// TestSubscriptionKeys: the documented key scheme, every key with a TTL no
// longer than the subscription's, and ForgetUser leaving nothing of the
// user but (pseudonymous) index members it could not know about.
func TestSubscriptionKeys(t *testing.T) {
	now := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	s, rdb, ns := mustTicketStore(t, func() time.Time { return now })
	ctx := context.Background()
	u := bot.UserKey("f00d")
	ev := remind.Subscription{User: u, ChatID: 42, Lang: "fa", Target: remind.EventTarget("treff"), Created: now, Expires: now.Add(40 * 24 * time.Hour)}
	ev.ID = remind.SubscriptionID(u, ev.Target)
	di := ev
	di.Target, di.Expires = remind.DistrictTarget("nord", "language"), now.Add(remind.DistrictTTL)
	di.ID = remind.SubscriptionID(u, di.Target)
	mustNoErr(t, s.Subscribe(ctx, ev))
	mustNoErr(t, s.Subscribe(ctx, di))

	keys := bottest.Keys(t, rdb, ns+":*")
	want := map[string]time.Duration{
		ns + ":{u:f00d}:sub:" + ev.ID: 40 * 24 * time.Hour,
		ns + ":{u:f00d}:sub:" + di.ID: remind.DistrictTTL,
		ns + ":{u:f00d}:subs":         remind.DistrictTTL,
		ns + ":subs:e:treff":          40 * 24 * time.Hour,
		ns + ":subs:d:nord":           remind.DistrictTTL,
	}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for k, max := range want {
		ttl, ok := keys[k]
		if !ok {
			t.Errorf("key %s missing; have %v", k, keys)
			continue
		}
		if ttl <= 0 || ttl > max || ttl < max-time.Minute {
			t.Errorf("key %s TTL %v, want about %v", k, ttl, max)
		}
	}
	mustNoErr(t, s.ForgetUser(ctx, u))
	if left := bottest.Keys(t, rdb, ns+":*"); len(left) != 0 {
		t.Errorf("ForgetUser left %v", left)
	}
}

// TestSubscriptionStaleIndex: an index member whose subscription is gone
// (a crash between the two writes, or expiry) is skipped and removed.
func TestSubscriptionStaleIndex(t *testing.T) {
	now := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	s, rdb, ns := mustTicketStore(t, func() time.Time { return now })
	ctx := context.Background()
	mustNoErr(t, rdb.ZAdd(ctx, ns+":subs:d:nord", redisZ("0123456789abcdef:ghost"), redisZ("broken")).Err())
	mustNoErr(t, rdb.PExpire(ctx, ns+":subs:d:nord", time.Hour).Err())
	subs, next, err := s.SubscribersOf(ctx, remind.DistrictTarget("nord", ""), "", 10)
	if err != nil || len(subs) != 0 || next != "" {
		t.Fatalf("SubscribersOf = %v, %q, %v", subs, next, err)
	}
	if n := rdb.ZCard(ctx, ns+":subs:d:nord").Val(); n != 0 {
		t.Errorf("%d stale members left", n)
	}
}

func TestSubscriptionInvalidKeys(t *testing.T) {
	s, _, _ := mustTicketStore(t, nil)
	ctx := context.Background()
	if _, err := s.SubscriptionsOf(ctx, "a{b"); err == nil || strings.Contains(err.Error(), "a{b") {
		t.Errorf("SubscriptionsOf(bad key) = %v; want an error not naming the key", err)
	}
	if err := s.Unsubscribe(ctx, "u", "x:y"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("Unsubscribe(bad id) = %v", err)
	}
}

func TestSubscriptionUnavailable(t *testing.T) {
	s := mustDeadStore(t)
	ctx := context.Background()
	now := time.Now()
	sub := remind.Subscription{User: "u", ChatID: 1, Lang: "de", Target: remind.EventTarget("e"), Created: now, Expires: now.Add(time.Hour)}
	sub.ID = remind.SubscriptionID("u", sub.Target)
	errs := map[string]error{
		"Subscribe":       s.Subscribe(ctx, sub),
		"Unsubscribe":     s.Unsubscribe(ctx, "u", sub.ID),
		"ForgetUser":      s.ForgetUser(ctx, "u"),
		"Enqueue":         func() error { _, err := s.Enqueue(ctx, now, []remind.Job{mustJob(now)}); return err }(),
		"Claim":           func() error { _, err := s.Claim(ctx, now, time.Minute, 1); return err }(),
		"SubscriptionsOf": func() error { _, err := s.SubscriptionsOf(ctx, "u"); return err }(),
	}
	for name, err := range errs {
		if !errors.Is(err, bot.ErrUnavailable) {
			t.Errorf("%s = %v, want bot.ErrUnavailable", name, err)
		}
	}
}

// TestClusterSubscriptionsAndQueue runs both suites on a real 3-master
// Redis Cluster: the per-user hash tag (MGET, DEL and scripts touching
// several of a user's keys), the {rq} tag of the queue (scripts naming
// job keys by prefix) and the cross-slot pipelines of SubscribersOf.
func TestClusterSubscriptionsAndQueue(t *testing.T) {
	rdb := bottest.Cluster(t)
	newStore := func(t *testing.T, now func() time.Time) aging {
		ns := bottest.Namespace(t, rdb)
		return aging{Store: redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now}), t: t, rdb: rdb, ns: ns}
	}
	t.Run("Subscriptions", func(t *testing.T) {
		storetest.RunSubscriptions(t, func(t *testing.T, now func() time.Time) remind.Store { return newStore(t, now) })
	})
	t.Run("Queue", func(t *testing.T) {
		storetest.RunQueue(t, func(t *testing.T, now func() time.Time) remind.Queue { return newStore(t, now) })
	})
}
