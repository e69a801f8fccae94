package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/bottest/storetest"
	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/internal/loadtest"
)

// batchAdapter runs the monitor conformance suite through a
// monitor.Batcher on the Redis monitor: every recording waits in memory
// until a read, an Advance or a Dump writes it with RecordBatch.
type batchAdapter struct {
	*monitor.Batcher
	d dumping
	// lag holds the store's clock back while Advance writes what was
	// recorded before the suite moved the clock.
	lag *atomic.Int64
}

func (a batchAdapter) Advance(ctx context.Context, d time.Duration) error {
	a.lag.Store(int64(d))
	_, err := a.Flush(ctx)
	a.lag.Store(0)
	if err != nil {
		return err
	}
	return a.d.Advance(ctx, d)
}

func (a batchAdapter) Dump(ctx context.Context) (string, error) {
	if _, err := a.Flush(ctx); err != nil {
		return "", err
	}
	return a.d.Dump(ctx)
}

func mustBatcher(t *testing.T, rdb redis.UniversalClient, now func() time.Time) batchAdapter {
	t.Helper()
	ns := bottest.Namespace(t, rdb)
	lag := &atomic.Int64{}
	s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: func() time.Time { return now().Add(-time.Duration(lag.Load())) }})
	// No timer flushes during a subtest: writes happen exactly when the
	// suite reads, advances or dumps.
	b := monitor.NewBatcher(s.Monitor(), monitor.BatcherOptions{FlushEvery: time.Hour})
	return batchAdapter{Batcher: b, d: dumping{aging{Store: s, t: t, rdb: rdb, ns: ns}}, lag: lag}
}

func TestMonitorBatchConformance(t *testing.T) {
	rdb := bottest.Redis(t)
	storetest.RunMonitor(t, func(t *testing.T, now func() time.Time) monitor.Store {
		return mustBatcher(t, rdb, now)
	})
}

func TestMonitorBatchClusterConformance(t *testing.T) {
	rdb := bottest.Cluster(t)
	storetest.RunMonitor(t, func(t *testing.T, now func() time.Time) monitor.Store {
		return mustBatcher(t, rdb, now)
	})
}

// TestMonitorBatchOneRoundTrip: a second of a busy bot's questions,
// active users and unanswered texts over two days is written in one
// round trip, and reads back exactly as the same recordings written one
// by one.
func TestMonitorBatchOneRoundTrip(t *testing.T) {
	addr := bottest.Redis(t).(*redis.Client).Options().Addr
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	rt := &loadtest.RoundTrips{}
	rdb.AddHook(rt)
	ctx := context.Background()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Sunday 23:59:30 to Monday 00:00:30: two days, weeks and (on the
	// 30th) the same month.
	start := time.Date(2026, 11, 29, 23, 59, 30, 0, loc)
	now := func() time.Time { return start.Add(time.Minute) }
	direct := redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb), Now: now}).Monitor()
	batched := monitor.NewBatcher(redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb), Now: now}).Monitor(),
		monitor.BatcherOptions{FlushEvery: time.Hour})

	langs := []string{"de", "ar", "uk", "fa"}
	record := func(m monitor.Recorder) {
		t.Helper()
		for i := range 400 {
			at := start.Add(time.Duration(i) * 150 * time.Millisecond)
			q := monitor.Q{Topic: []string{"housing", "work", ""}[i%3], District: []string{"nord", ""}[i%2],
				Lang: langs[i%len(langs)], Answered: i%5 != 0, Day: at}
			mustNoErr(t, m.Question(ctx, q))
			mustNoErr(t, m.Active(ctx, fmt.Sprintf("user-%d", i%37), at))
			if !q.Answered {
				mustNoErr(t, m.Unanswered(ctx, fmt.Sprintf("question %d, call 0171 234567", i), q.Lang, at))
			}
		}
	}
	record(direct)
	before := rt.Count()
	record(batched)
	if n := rt.Count() - before; n != 0 {
		t.Fatalf("recording into the batcher took %d round trips, want 0", n)
	}
	if n, err := batched.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (%d lost)", err, n)
	}
	if n := rt.Count() - before; n != 1 {
		t.Errorf("the flush took %d round trips, want 1", n)
	}

	from, to := start, start.Add(time.Hour)
	want, err := direct.Figures(ctx, from, to)
	mustNoErr(t, err)
	got, err := batched.Figures(ctx, from, to)
	mustNoErr(t, err)
	if len(want.Days) != 2 || len(want.Weeks) != 2 {
		t.Fatalf("direct figures: %d days, %d weeks; want 2 and 2", len(want.Days), len(want.Weeks))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batched figures differ from direct ones:\n got %+v\nwant %+v", got, want)
	}
	wantU, err := direct.UnansweredTexts(ctx, from, to)
	mustNoErr(t, err)
	gotU, err := batched.UnansweredTexts(ctx, from, to)
	mustNoErr(t, err)
	if len(wantU) != 80 || !reflect.DeepEqual(gotU, wantU) {
		t.Errorf("unanswered: got %d texts, want the %d of the direct store in the same order\n got %v\nwant %v", len(gotU), len(wantU), gotU, wantU)
	}
}

// TestMonitorRecordBatchInvalid: a batch with an invalid item is refused
// whole, with ErrInvalid, and writes nothing.
func TestMonitorRecordBatchInvalid(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	now := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)
	m := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: func() time.Time { return now }}).Monitor()
	ok := monitor.Batch{
		Questions:  []monitor.QCount{{Q: monitor.Q{Topic: "work", Lang: "de", Day: now}, N: 2}},
		Active:     []monitor.ActiveMark{{User: "u1", At: now}},
		Unanswered: []monitor.UnansweredMark{{Text: "wo?", Lang: "de", At: now}},
	}
	for name, bad := range map[string]func(*monitor.Batch){
		"question dimension": func(b *monitor.Batch) { b.Questions[0].Q.Topic = "a|b" },
		"negative count":     func(b *monitor.Batch) { b.Questions[0].N = -1 },
		"empty user":         func(b *monitor.Batch) { b.Active[0].User = "" },
		"language":           func(b *monitor.Batch) { b.Unanswered[0].Lang = "de de" },
	} {
		b := ok
		b.Questions = append([]monitor.QCount(nil), ok.Questions...)
		b.Active = append([]monitor.ActiveMark(nil), ok.Active...)
		b.Unanswered = append([]monitor.UnansweredMark(nil), ok.Unanswered...)
		bad(&b)
		if err := m.RecordBatch(context.Background(), b); !errors.Is(err, monitor.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if keys := bottest.Keys(t, rdb, ns+":*"); len(keys) != 0 {
		t.Errorf("refused batches wrote %v", keys)
	}
	mustNoErr(t, m.RecordBatch(context.Background(), ok))
	if keys := bottest.Keys(t, rdb, ns+":*"); len(keys) != 4 {
		t.Errorf("a valid batch wrote %d keys, want 4 (day, week, month, unanswered): %v", len(keys), keys)
	}
}
