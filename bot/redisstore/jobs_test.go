package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/remind"
)

func TestQueueConformance(t *testing.T) {
	storetest.RunQueue(t, func(t *testing.T, now func() time.Time) remind.Queue {
		s, rdb, ns := mustTicketStore(t, now)
		return aging{Store: s, t: t, rdb: rdb, ns: ns}
	})
}

// mustJob returns a valid job due at now.
func mustJob(now time.Time) remind.Job {
	start := now.Add(time.Hour)
	return remind.Job{
		ID: remind.JobID("u", "treff", start, time.Hour), User: "u", Event: "treff", Start: start,
		Offset: time.Hour, Due: now, Expires: start.Add(6 * time.Hour),
	}
}

func redisZ(member string) redis.Z { return redis.Z{Member: member} }

// mustDeadStore returns a store whose Redis refuses connections.
func mustDeadStore(t *testing.T) *redisstore.Store {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: closedAddr(t), DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1,
		Protocol: 2, DisableIdentity: true,
	})
	t.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb, redisstore.Options{Namespace: "lotsetest"})
}

// TestQueueKeysHaveTTL walks a job through every transition and checks
// after each that every key of the namespace expires, no later than the
// job does.
func TestQueueKeysHaveTTL(t *testing.T) {
	now := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	s, rdb, ns := mustTicketStore(t, func() time.Time { return now })
	ctx := context.Background()
	a, b := mustJob(now), mustJob(now)
	b.User = "v"
	b.ID = remind.JobID(b.User, b.Event, b.Start, b.Offset)
	longest := a.Expires.Sub(now)
	check := func(step string) {
		t.Helper()
		keys := bottest.Keys(t, rdb, ns+":*")
		if len(keys) == 0 {
			t.Fatalf("%s: no keys", step)
		}
		for k, ttl := range keys {
			if ttl <= 0 || ttl > longest {
				t.Errorf("%s: key %s TTL %v, want in (0, %v]", step, k, ttl, longest)
			}
		}
	}
	if _, err := s.Enqueue(ctx, now, []remind.Job{a, b}); err != nil {
		t.Fatal(err)
	}
	check("enqueue")
	if got, err := s.Claim(ctx, now, time.Minute, 2); err != nil || len(got) != 2 {
		t.Fatalf("Claim = %v, %v", got, err)
	}
	check("claim")
	if _, err := s.Mark(ctx, now, a.ID, a.Expires); err != nil {
		t.Fatal(err)
	}
	check("mark")
	mustNoErr(t, s.Retry(ctx, now, b))
	check("retry")
	mustNoErr(t, s.Ack(ctx, a.ID))
	check("ack")
	if _, _, err := s.Recover(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("recover")
	for k := range bottest.Keys(t, rdb, ns+":*") {
		if k[:len(ns)+6] != ns+":{rq}:" {
			t.Errorf("queue key %s outside the {rq} hash tag", k)
		}
	}
}
