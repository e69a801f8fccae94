package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// monitorAdapter gives the suite a Redis monitor store that ages with the
// fake clock and can dump the namespace.
type monitorAdapter struct {
	*redisstore.Monitor
	d dumping
}

func (m monitorAdapter) Advance(ctx context.Context, d time.Duration) error {
	return m.d.Advance(ctx, d)
}

func (m monitorAdapter) Dump(ctx context.Context) (string, error) { return m.d.Dump(ctx) }

func mustMonitor(t *testing.T, rdb redis.UniversalClient, now func() time.Time) monitorAdapter {
	t.Helper()
	ns := bottest.Namespace(t, rdb)
	s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now})
	return monitorAdapter{Monitor: s.Monitor(), d: dumping{aging{Store: s, t: t, rdb: rdb, ns: ns}}}
}

func TestMonitorConformance(t *testing.T) {
	rdb := bottest.Redis(t)
	storetest.RunMonitor(t, func(t *testing.T, now func() time.Time) monitor.Store {
		return mustMonitor(t, rdb, now)
	})
}

func TestMonitorClusterConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.RunMonitor(t, func(t *testing.T, now func() time.Time) monitor.Store {
		return mustMonitor(t, rdb, now)
	})
}

// TestMonitorKeys: every monitor key has a TTL, lives under the {m} hash
// tag, and neither its name nor its value holds a user key.
func TestMonitorKeys(t *testing.T) {
	rdb := bottest.Redis(t)
	now := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)
	m := mustMonitor(t, rdb, func() time.Time { return now })
	ctx := context.Background()
	users := []string{"9c0ffee15bad0000", "k3y-of-a-user-42"}
	for _, u := range users {
		mustNoErr(t, m.Active(ctx, u, now))
	}
	mustNoErr(t, m.Question(ctx, monitor.Q{Topic: "housing", District: "nord", Lang: "fa", Day: now}))
	mustNoErr(t, m.Ticket(ctx, monitor.TicketEvent{Kind: monitor.TicketClosed, District: "nord", Topic: "housing", Outcome: "solved", Wait: time.Hour, Day: now}))
	mustNoErr(t, m.Reminder(ctx, 3, now))
	mustNoErr(t, m.Broadcast(ctx, 10, 1, 0, now))
	mustNoErr(t, m.Unanswered(ctx, "Wo finde ich einen Sprachkurs?", "de", now))

	keys := bottest.Keys(t, rdb, m.d.ns+":*")
	if len(keys) != 4 {
		t.Errorf("got %d keys, want 4 (day, week, month, unanswered): %v", len(keys), keys)
	}
	day := now.Sub(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
	wantTTL := map[string]time.Duration{
		":{m}:d:2026-11-21":  monitor.AggregateRetention - day,
		":{m}:aw:2026-W47":   monitor.ActiveRetention - day - 5*24*time.Hour, // Monday 16 Nov
		":{m}:am:2026-11":    monitor.ActiveRetention - day - 20*24*time.Hour,
		":{m}:ua:2026-11-21": monitor.UnansweredRetention - day,
	}
	for suffix, want := range wantTTL {
		got, ok := keys[m.d.ns+suffix]
		if !ok {
			t.Errorf("key %s missing", suffix)
			continue
		}
		// Redis counts down from the write; allow a few seconds.
		if got <= 0 || got > want || got < want-10*time.Second {
			t.Errorf("key %s: TTL %v, want about %v", suffix, got, want)
		}
	}
	dump, err := m.Dump(ctx)
	mustNoErr(t, err)
	for _, u := range users {
		if strings.Contains(dump, u) {
			t.Errorf("user key %q found in Redis:\n%s", u, dump)
		}
	}
}

// TestMonitorUnavailable: a dead Redis yields ErrUnavailable, not a
// silent success.
func TestMonitorUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	m := redisstore.New(rdb, redisstore.Options{Namespace: "x"}).Monitor()
	ctx := context.Background()
	now := time.Now()
	errs := map[string]error{
		"question": m.Question(ctx, monitor.Q{Topic: "work", Day: now}),
		"active":   m.Active(ctx, "u", now),
	}
	_, errs["figures"] = m.Figures(ctx, now, now)
	for op, err := range errs {
		if !errors.Is(err, bot.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", op, err)
		}
	}
}
