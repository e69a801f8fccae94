package broadcast_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// scale is a run against the fake Bot API: n recipients, the fake and
// the transports enforcing limit messages/s overall (Telegram: 30).
// The normal run scales the limit up so it takes seconds; LOTSE_LONG=1
// runs Telegram's real limit with 10,000 recipients (about 6 minutes).
type scale struct {
	n     int
	limit int
}

func runScale() scale {
	if os.Getenv("LOTSE_LONG") == "1" {
		return scale{n: 10000, limit: 30}
	}
	return scale{n: 600, limit: 150}
}

// rig is a fake Bot API with n known chats, a Redis, and what it takes
// to start replicas of the engine against them.
type rig struct {
	t     testing.TB
	sc    scale
	fake  *bottest.FakeAPI
	store *redisstore.Store
	list  broadcast.List
	rep   *reports
	// wrap, if set, wraps the transport of the next replica started.
	wrap func(bot.Sender) bot.Sender
}

func newRig(t testing.TB, sc scale, blocked int) *rig {
	fake := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.Limits.GlobalPerSecond = sc.limit })
	rdb := bottest.Redis(t)
	r := &rig{t: t, sc: sc, fake: fake, rep: &reports{},
		store: redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb)})}
	langs := []string{"de", "ar", "uk", "fa", "ru", "en", "tr", ""}
	for i := range sc.n {
		chat := int64(500000 + i)
		fake.AddChat(chat, "private")
		if i < blocked {
			fake.Block(chat)
		}
		r.list = append(r.list, broadcast.Member{Recipient: broadcast.Recipient{ChatID: chat, Lang: langs[i%len(langs)]}, District: "nord"})
	}
	return r
}

// replica starts a transport and an engine like one bot process; store
// may wrap the shared Redis store (to simulate a crash).
func (r *rig) replica(ctx context.Context, store broadcast.Store) *broadcast.Engine {
	r.t.Helper()
	tc, err := telegram.New(ctx, telegram.Config{Token: r.fake.Token(), Endpoint: r.fake.Endpoint(), GlobalRate: float64(r.sc.limit),
		Logger: testLogger(r.t)})
	if err != nil {
		r.t.Fatal(err)
	}
	if store == nil {
		store = r.store.Broadcasts()
	}
	var snd bot.Sender = tc
	if r.wrap != nil {
		snd, r.wrap = r.wrap(tc), nil
	}
	e, err := broadcast.New(broadcast.Config{
		Store: store, Recipients: r.list, Sender: snd, Forget: r.rep, Reporter: r.rep,
		Coordinator: func(u int64) bool { return u == coordinator },
		// The shared pacer at 95% of the limit, as 28 of Telegram's 30.
		Pacer: r.store.Pacer(float64(r.sc.limit) * 28 / 30),
		Lease: 5 * time.Second, Poll: 50 * time.Millisecond, RetryBase: 100 * time.Millisecond,
		Logger: testLogger(r.t),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

// testLogger sends the engine's warnings to the test log: they explain
// a failed or slow run. (They never contain texts or chat ids.)
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(bottest.LogHandler(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// outcome is what the fake received.
type outcome struct {
	lost, dups []int64
	violations int
	bad        int
	ratio      float64 // sustained rate / limit
	rate       float64
}

func (r *rig) outcome(blocked int) outcome {
	var o outcome
	per := map[int64]int{}
	for _, m := range r.fake.Sent(0) {
		per[m.ChatID]++
	}
	for i, m := range r.list {
		switch n := per[m.ChatID]; {
		case i < blocked:
		case n == 0:
			o.lost = append(o.lost, m.ChatID)
		case n > 1:
			o.dups = append(o.dups, m.ChatID)
		}
	}
	o.violations = len(r.fake.Violations())
	o.bad = len(r.fake.BadRequests())
	var first, last time.Time
	ok := 0
	for _, c := range r.fake.Calls("sendMessage") {
		if c.Status != 200 {
			continue
		}
		if first.IsZero() {
			first = c.At
		}
		last = c.At
		ok++
	}
	if ok > 1 {
		o.rate = float64(ok-1) / last.Sub(first).Seconds()
		o.ratio = o.rate / float64(r.sc.limit)
	}
	return o
}

func (r *rig) prepare(ctx context.Context, e *broadcast.Engine) broadcast.Broadcast {
	r.t.Helper()
	b, p, err := e.Prepare(ctx, coordinator, broadcast.Audience{District: "nord"}, texts)
	if err != nil {
		r.t.Fatal(err)
	}
	if p.Recipients != r.sc.n {
		r.t.Fatalf("preview: %d recipients, want %d", p.Recipients, r.sc.n)
	}
	if _, err := e.Confirm(ctx, b.ID); err != nil {
		r.t.Fatal(err)
	}
	return b
}

// TestFakeAPITwoReplicas: two replicas, each with its own transport
// (limits per process), deliver one broadcast through the fake Bot API
// enforcing the overall limit: the shared pacer keeps them under it
// together; every chat gets exactly one message, blocked chats are
// counted and forgotten.
func TestFakeAPITwoReplicas(t *testing.T) {
	sc := runScale()
	const blocked = 7
	r := newRig(t, sc, blocked)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(sc.n/sc.limit*3+30)*time.Second)
	defer cancel()
	a, b := r.replica(ctx, nil), r.replica(ctx, nil)
	bc := r.prepare(ctx, a)
	var wg sync.WaitGroup
	for _, e := range []*broadcast.Engine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Resume(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	o := r.outcome(blocked)
	t.Logf("%d recipients at %d/s: rate %.1f/s = %.3f of the limit, %d lost, %d duplicates, %d violations",
		sc.n, sc.limit, o.rate, o.ratio, len(o.lost), len(o.dups), o.violations)
	if len(o.lost) > 0 || len(o.dups) > 0 || o.violations > 0 || o.bad > 0 {
		t.Fatalf("lost %v, duplicates %v, %d limit violations, %d bad requests", o.lost, o.dups, o.violations, o.bad)
	}
	got, err := a.Status(ctx, bc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (broadcast.Tally{Delivered: sc.n - blocked, Blocked: blocked}); got.State != broadcast.Done || got.Tally != want {
		t.Fatalf("final %s %+v, want done %+v", got.State, got.Tally, want)
	}
	if f := r.rep.finals(); len(f) != 1 {
		t.Fatalf("%d final reports, want 1", len(f))
	}
	if len(r.rep.forgotten) != blocked {
		t.Fatalf("%d chats forgotten, want %d", len(r.rep.forgotten), blocked)
	}
}

// crashing is the Redis store of a process that dies at the k-th Finish:
// that Finish and every later call fail, as if the process were gone, so
// the message just accepted by Telegram gets no marker. It records those
// recipients: the documented window.
type crashing struct {
	broadcast.Store
	k       int64
	n       atomic.Int64
	crash   func()
	mu      sync.Mutex
	crashed bool
	window  map[int64]bool
}

var errDead = errors.New("process is dead")

func (c *crashing) dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

func (c *crashing) Finish(ctx context.Context, id string, r broadcast.Recipient, o broadcast.Outcome) (bool, int, int, error) {
	if c.n.Add(1) == c.k {
		c.mu.Lock()
		c.crashed = true
		c.mu.Unlock()
		c.crash()
	}
	if c.dead() {
		c.mu.Lock()
		if o == broadcast.Delivered {
			c.window[r.ChatID] = true
		}
		c.mu.Unlock()
		return false, 0, 0, errDead
	}
	return c.Store.Finish(ctx, id, r, o)
}

func (c *crashing) Extend(ctx context.Context, id string, r broadcast.Recipient, until time.Time) (bool, error) {
	if c.dead() {
		return false, errDead
	}
	return c.Store.(broadcast.LeaseExtender).Extend(ctx, id, r, until)
}

func (c *crashing) Claim(ctx context.Context, id string, now time.Time, lease time.Duration, n int) ([]broadcast.Recipient, broadcast.ClaimStatus, error) {
	if c.dead() {
		return nil, 0, errDead
	}
	return c.Store.Claim(ctx, id, now, lease, n)
}

func (c *crashing) Release(ctx context.Context, id string, r broadcast.Recipient, due time.Time) (int, error) {
	if c.dead() {
		return 0, errDead
	}
	return c.Store.Release(ctx, id, r, due)
}

// TestFakeAPIKillRestart stops the engine halfway - gracefully, or by a
// crash right after Telegram accepted a message - and starts a new one:
// nobody is lost, and only recipients in the documented window (accepted
// by Telegram, marker not written) get the message twice.
func TestFakeAPIKillRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash bool
	}{{"graceful stop", false}, {"crash between send and marker", true}} {
		t.Run(tc.name, func(t *testing.T) {
			sc := runScale()
			r := newRig(t, sc, 0)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(sc.n/sc.limit*3+30)*time.Second)
			defer cancel()

			first, kill := context.WithCancel(ctx)
			cr := &crashing{Store: r.store.Broadcasts(), k: int64(sc.n / 2), crash: kill, window: map[int64]bool{}}
			var store broadcast.Store = r.store.Broadcasts()
			if tc.crash {
				store = cr
			}
			a := r.replica(ctx, store)
			bc := r.prepare(ctx, a)
			done := make(chan error, 1)
			go func() { done <- a.Run(first) }()
			if !tc.crash {
				if err := r.fake.WaitSent(ctx, sc.n/2); err != nil {
					t.Fatal(err)
				}
				kill()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mid, err := a.Status(ctx, bc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if mid.State != broadcast.Sending || mid.Tally.Pending == 0 {
				t.Fatalf("after the kill: %s %+v, want sending with recipients pending", mid.State, mid.Tally)
			}

			b := r.replica(ctx, nil) // the restarted process
			if err := b.Resume(ctx); err != nil {
				t.Fatal(err)
			}
			o := r.outcome(0)
			t.Logf("killed at %d/%d: %d in the window, %d duplicates, %d lost, %d violations, rate %.3f of the limit",
				mid.Tally.Total()-mid.Tally.Pending, sc.n, len(cr.window), len(o.dups), len(o.lost), o.violations, o.ratio)
			if len(o.lost) > 0 || o.violations > 0 || o.bad > 0 {
				t.Fatalf("lost %v, %d limit violations, %d bad requests", o.lost, o.violations, o.bad)
			}
			for _, chat := range o.dups {
				if !cr.window[chat] {
					t.Errorf("chat %d got the message twice outside the window", chat)
				}
			}
			if tc.crash && len(cr.window) == 0 {
				t.Fatal("the crash hit no send: the window was not exercised")
			}
			if len(o.dups) != len(cr.window) {
				t.Errorf("%d duplicates, %d recipients in the window: each should have been sent again", len(o.dups), len(cr.window))
			}
			got, err := b.Status(ctx, bc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != broadcast.Done || got.Tally != (broadcast.Tally{Delivered: sc.n}) {
				t.Fatalf("final %s %+v, want done, %d delivered (each counted once)", got.State, got.Tally, sc.n)
			}
		})
	}
}

// dying is the transport of a process about to be killed: after kill
// no send starts (the process is gone), while sends already on their
// way run to their end, as a request already written to the socket
// reaches Telegram. It counts the sends on their way at the kill.
type dying struct {
	bot.Sender
	mu             sync.Mutex
	dead           bool
	active, atKill int
	acceptedAfter  int // of those, accepted by Telegram
}

func (d *dying) Send(ctx context.Context, m bot.Outgoing) (int, error) {
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		return 0, errDead
	}
	d.active++
	d.mu.Unlock()
	id, err := d.Sender.Send(ctx, m)
	d.mu.Lock()
	d.active--
	if d.dead && err == nil {
		d.acceptedAfter++
	}
	d.mu.Unlock()
	return id, err
}

func (d *dying) kill() {
	d.mu.Lock()
	d.dead, d.atKill = true, d.active
	d.mu.Unlock()
}

// TestFakeAPIKill kills the engine at an arbitrary moment halfway (as
// kill -9 would: no store call succeeds any more, no send starts, the
// sends on their way reach the fake) and starts a new one: nobody is
// lost, and the only duplicates are recipients whose message Telegram
// accepted while their marker could no longer be written.
func TestFakeAPIKill(t *testing.T) {
	sc := runScale()
	r := newRig(t, sc, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(sc.n/sc.limit*3+60)*time.Second)
	defer cancel()
	first, stop := context.WithCancel(ctx)
	snd := &dying{}
	cr := &crashing{Store: r.store.Broadcasts(), window: map[int64]bool{}}
	cr.crash = func() {}
	r.wrap = func(s bot.Sender) bot.Sender { snd.Sender = s; return snd }
	a := r.replica(ctx, cr)
	bc := r.prepare(ctx, a)
	done := make(chan error, 1)
	go func() { done <- a.Run(first) }()
	if err := r.fake.WaitSent(ctx, sc.n/2); err != nil {
		t.Fatal(err)
	}
	// The kill: the store and the transport die at once.
	cr.mu.Lock()
	cr.crashed = true
	cr.mu.Unlock()
	snd.kill()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	killedAt := len(r.fake.Sent(0))

	b := r.replica(ctx, nil) // the restarted process
	if err := b.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	o := r.outcome(0)
	t.Logf("killed at %d/%d sent: %d sends on their way, %d of them accepted by Telegram after the kill (%d recipients accepted without a marker); %d duplicates, %d lost, %d violations, rate %.3f of the limit (the restart waits for the dead claims' leases)",
		killedAt, sc.n, snd.atKill, snd.acceptedAfter, len(cr.window), len(o.dups), len(o.lost), o.violations, o.ratio)
	if len(o.lost) > 0 || o.violations > 0 || o.bad > 0 {
		t.Fatalf("lost %v, %d limit violations, %d bad requests", o.lost, o.violations, o.bad)
	}
	for _, chat := range o.dups {
		if !cr.window[chat] {
			t.Errorf("chat %d got the message twice outside the window", chat)
		}
	}
	if len(o.dups) != len(cr.window) {
		t.Errorf("%d duplicates, %d recipients accepted without a marker: each should have been sent again", len(o.dups), len(cr.window))
	}
	got, err := b.Status(ctx, bc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != broadcast.Done || got.Tally != (broadcast.Tally{Delivered: sc.n}) {
		t.Fatalf("final %s %+v, want done, %d delivered (each counted once)", got.State, got.Tally, sc.n)
	}
}

// BenchmarkFakeAPIRate measures the sustained rate of one broadcast at
// Telegram's real limit (30/s) through the real transport against the
// fake Bot API, as a ratio of the limit (target ≥ 0.9). 600 recipients
// take about 22 s; LOTSE_LONG=1 sends 10,000 (about 6 minutes). Run with
// -benchtime=1x.
func BenchmarkFakeAPIRate(b *testing.B) {
	n := 600
	if os.Getenv("LOTSE_LONG") == "1" {
		n = 10000
	}
	sc := scale{n: n, limit: 30}
	for range b.N {
		r := newRig(b, sc, 0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n/30*2+60)*time.Second)
		e := r.replica(ctx, nil)
		r.prepare(ctx, e)
		if err := e.Resume(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		o := r.outcome(0)
		b.ReportMetric(o.ratio, "ratio")
		b.ReportMetric(o.rate, "msgs/s")
		b.ReportMetric(float64(len(o.dups)), "duplicates")
		b.ReportMetric(float64(len(o.lost)), "lost")
		b.ReportMetric(float64(o.violations), "violations")
		if len(o.lost) > 0 || len(o.dups) > 0 || o.violations > 0 {
			b.Fatalf("%d lost, %d duplicates, %d violations", len(o.lost), len(o.dups), o.violations)
		}
		if o.ratio < 0.9 {
			b.Fatalf("sustained %.1f msgs/s = %.3f of the limit, want ≥ 0.9", o.rate, o.ratio)
		}
	}
}
