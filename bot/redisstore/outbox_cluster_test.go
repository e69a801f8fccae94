package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// scriptOn matches a script call (EVAL, EVALSHA) naming key.
func scriptOn(key string) func(args []any) bool {
	return func(args []any) bool {
		name, _ := args[0].(string)
		return strings.HasPrefix(strings.ToLower(name), "eval") && slices.Contains(args, any(key))
	}
}

// dyingStore is a Store on its own client of rdb's cluster, killed by
// after.
func dyingStore(t *testing.T, rdb *redis.ClusterClient, ns string, after func([]any) bool) *redisstore.Store {
	t.Helper()
	return redisstore.New(bottest.DyingCluster(t, rdb, &bottest.KillHook{After: after}), redisstore.Options{Namespace: ns, Now: time.Now})
}

// awaitClaim claims updateID until its lease no longer keeps it busy.
func awaitClaim(t *testing.T, s *redisstore.Store, updateID int64, u bot.UserKey) (bot.Claim, bot.Session) {
	t.Helper()
	for range 200 {
		c, sess, err := s.BeginClaim(context.Background(), updateID, time.Minute, u)
		if err != nil {
			t.Fatal(err)
		}
		if c != bot.ClaimBusy {
			return c, sess
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("update %d stays busy", updateID)
	return 0, bot.Session{}
}

// queuedIDs lists the ids queued for order.
func queuedIDs(t *testing.T, s *redisstore.Store, order string) []string {
	t.Helper()
	items, err := s.FetchOutbox(context.Background(), "probe", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		if it.Order == order {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// TestClusterQueueTurnKilled: in a Cluster QueueTurn is several steps;
// a process killed between them leaves a queued claim, so the
// redelivered update, once the dead handler's lease ended, is claimed as
// ClaimQueued, and queueing its whole reply again adds nothing: neither
// what the dead attempt queued nor what it had sent directly before.
func TestClusterQueueTurnKilled(t *testing.T) {
	rdb := bottest.Cluster(t)
	ns := bottest.Namespace(t, rdb)
	s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: time.Now})
	ctx := context.Background()
	u := bot.UserKey("0123456789abcdef0123456789abcdef")
	const lease = 300 * time.Millisecond
	reply := func(upd, order string) []bot.OutboxEntry {
		var es []bot.OutboxEntry
		for _, k := range []string{"0", "1", "2"} {
			es = append(es, bot.OutboxEntry{ID: "pace:r:" + k + ":" + upd, Order: order, User: u,
				Msg: bot.Outgoing{ChatID: 42, Text: k}})
		}
		return es
	}
	for _, tc := range []struct {
		name    string
		upd     int64
		killAt  func(ns string, upd int64) func([]any) bool
		wantErr error
	}{
		// Killed after the entries were queued, before the done mark.
		{"after the outbox", 11, func(ns string, _ int64) func([]any) bool {
			return func(args []any) bool { return slices.Contains(args, any(ns+":{ob}:n")) }
		}, bot.ErrTurnUnfinished},
		// Killed after the queued claim, before the entries were queued.
		{"before the outbox", 12, func(ns string, upd int64) func([]any) bool {
			return scriptOn(ns + ":upd:" + itoa(upd))
		}, bottest.ErrKilled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order := "c" + itoa(tc.upd)
			es := reply(itoa(tc.upd), order)
			if c, _, err := s.BeginClaim(ctx, tc.upd, lease, u); err != nil || c != bot.ClaimNew {
				t.Fatalf("claim: %v %v", c, err)
			}
			// The first attempt sent message 0 directly and queues 1 and 2.
			sess := bot.Session{Lang: "uk", State: "s1", Paced: time.Now(), Updated: time.Now()}
			qt := bot.QueuedTurn{UpdateID: tc.upd, DoneTTL: time.Hour, User: u, Session: &sess,
				SessionTTL: time.Hour, From: 1, Lease: lease}
			dying := dyingStore(t, rdb, ns, tc.killAt(ns, tc.upd))
			if err := dying.QueueTurn(ctx, qt, es[1:]...); !errors.Is(err, tc.wantErr) {
				t.Fatalf("QueueTurn of the killed process = %v, want %v", err, tc.wantErr)
			}
			if c, _, err := s.BeginClaim(ctx, tc.upd, lease, u); err != nil || c != bot.ClaimBusy {
				t.Fatalf("claim during the dead handler's lease: %v %v, want busy", c, err)
			}
			c, _ := awaitClaim(t, s, tc.upd, u)
			if c != bot.ClaimQueued {
				t.Fatalf("claim after the lease: %v, want ClaimQueued", c)
			}
			if c, _, _ := s.BeginClaim(ctx, tc.upd, lease, u); c != bot.ClaimBusy {
				t.Fatalf("second claim of a resumed update: %v, want busy", c)
			}
			if ok, err := s.RenewClaim(ctx, tc.upd, lease); err != nil || !ok {
				t.Fatalf("renew a queued claim: %v %v, want true", ok, err)
			}
			mustNoErr(t, s.ReleaseUpdate(ctx, tc.upd)) // a queued claim stays
			if c, _, _ := s.BeginClaim(ctx, tc.upd, lease, u); c != bot.ClaimBusy {
				t.Fatalf("claim after releasing a queued claim: %v, want busy", c)
			}
			// The redelivery queues its whole reply.
			qt.From = 0
			mustNoErr(t, s.QueueTurn(ctx, qt, es...))
			if got, want := queuedIDs(t, s, order), []string{es[1].ID, es[2].ID}; !slices.Equal(got, want) {
				t.Errorf("queued %q, want %q (message 0 was sent directly, the others queued once)", got, want)
			}
			if c, _, _ := s.BeginClaim(ctx, tc.upd, lease, u); c != bot.ClaimDone {
				t.Errorf("claim after the resumed QueueTurn: %v, want done", c)
			}
			if got, err := s.Session(ctx, u); err != nil || got.State != "s1" {
				t.Errorf("session = %+v, %v; want saved", got, err)
			}
		})
	}
}

// TestClusterQueueTurnAfterDone: QueueTurn of an update that another
// handler answered (this one's claim was lost meanwhile) queues nothing.
func TestClusterQueueTurnAfterDone(t *testing.T) {
	rdb := bottest.Cluster(t)
	ns := bottest.Namespace(t, rdb)
	s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: time.Now})
	ctx := context.Background()
	u := bot.UserKey("0123456789abcdef0123456789abcdef")
	if c, _, err := s.BeginClaim(ctx, 21, time.Minute, u); err != nil || c != bot.ClaimNew {
		t.Fatalf("claim: %v %v", c, err)
	}
	mustNoErr(t, s.FinishUpdate(ctx, 21, time.Hour, u, nil, time.Hour))
	e := bot.OutboxEntry{ID: "pace:r:0:21", Order: "c21", Msg: bot.Outgoing{ChatID: 42, Text: "x"}}
	mustNoErr(t, s.QueueTurn(ctx, bot.QueuedTurn{UpdateID: 21, DoneTTL: time.Hour, User: u}, e))
	if got := queuedIDs(t, s, "c21"); len(got) != 0 {
		t.Errorf("queued %q for an update answered by another handler, want nothing", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
