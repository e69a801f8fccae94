package remind_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/knowledge"
)

// backend is a subscription store and queue pair under test.
type backend struct {
	name string
	new  func(t *testing.T, now func() time.Time) (remind.Store, remind.Queue, func(t *testing.T))
}

var backends = []backend{
	{"memstore", func(t *testing.T, now func() time.Time) (remind.Store, remind.Queue, func(*testing.T)) {
		r := memstore.NewReminders(now)
		return r, r, func(*testing.T) {}
	}},
	{"redis", func(t *testing.T, now func() time.Time) (remind.Store, remind.Queue, func(*testing.T)) {
		rdb := bottest.Redis(t)
		ns := bottest.Namespace(t, rdb)
		s := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: now})
		return s, s, func(t *testing.T) {
			t.Helper()
			keys := bottest.Keys(t, rdb, ns+":*")
			if len(keys) == 0 {
				t.Error("no keys found; the scan is not seeing the store's keys")
			}
			for k, ttl := range keys {
				if ttl <= 0 {
					t.Errorf("key %s has no TTL", k)
				}
			}
		}
	}},
}

// delivery is one recorded reminder.
type delivery struct {
	chat   int64
	lang   string
	at     time.Time
	r      remind.Reminder
	jobID  string
	before time.Duration
}

// recorder is a Deliverer that records every delivery. hook, if set, runs
// first and may fail the delivery.
type recorder struct {
	clk  *fakeClock
	mu   sync.Mutex
	got  []delivery
	byID map[string]int
	hook func(n int, r remind.Reminder) error // n: deliveries so far
}

func newRecorder(clk *fakeClock) *recorder { return &recorder{clk: clk, byID: map[string]int{}} }

func (rec *recorder) Deliver(_ context.Context, chat int64, lang string, r remind.Reminder) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.hook != nil {
		if err := rec.hook(len(rec.got), r); err != nil {
			return err
		}
	}
	rec.got = append(rec.got, delivery{chat: chat, lang: lang, at: rec.clk.Now(), r: r, jobID: r.JobID, before: r.Before})
	rec.byID[r.JobID]++
	return nil
}

func (rec *recorder) setHook(h func(n int, r remind.Reminder) error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.hook = h
}

// summary lists deliveries as "event start -offset @ delivered", in the
// city's time.
func (rec *recorder) summary(loc *time.Location) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var s []string
	for _, d := range rec.got {
		o := d.r.Occurrence
		x := fmt.Sprintf("%s %s -%v @%s", d.r.Event.ID, o.Start.In(loc).Format("Mon 15:04 MST"), d.before, d.at.In(loc).Format("Mon 15:04 MST"))
		if o.Changed {
			x += " changed"
		}
		s = append(s, x)
	}
	return strings.Join(s, "\n")
}

func mustScheduler(t *testing.T, cfg remind.Config) *remind.Scheduler {
	t.Helper()
	s, err := remind.New(cfg)
	if err != nil {
		t.Fatalf("remind.New: %v", err)
	}
	return s
}

func userKey(i int) bot.UserKey { return bot.UserKey(fmt.Sprintf("%064x", 0x5eed0000+i)) }

// subscriber stores subscriptions, failing the test on errors; its add
// takes a constructor's results directly.
type subscriber struct {
	t  *testing.T
	st remind.Store
}

func (sb subscriber) add(s remind.Subscription, err error) remind.Subscription {
	sb.t.Helper()
	if err != nil {
		sb.t.Fatalf("new subscription: %v", err)
	}
	if err := sb.st.Subscribe(context.Background(), s); err != nil {
		sb.t.Fatalf("Subscribe: %v", err)
	}
	return s
}

// simulate moves the clock from its time to until in steps, planning every
// hour and dispatching (until nothing is due) at every step.
func simulate(t *testing.T, clk *fakeClock, until time.Time, step time.Duration, scheds ...*remind.Scheduler) {
	t.Helper()
	ctx := context.Background()
	for i := 0; !clk.Now().After(until); i++ {
		for _, s := range scheds {
			if i%int(time.Hour/step) == 0 {
				if _, err := s.Plan(ctx); err != nil {
					t.Fatalf("Plan: %v", err)
				}
			}
			mustDrain(t, ctx, s)
		}
		clk.Add(step)
	}
}

// mustDrain dispatches until a claim comes back short.
func mustDrain(t *testing.T, ctx context.Context, s *remind.Scheduler) {
	t.Helper()
	for range 1000 {
		n, err := s.Dispatch(ctx)
		if err != nil {
			t.Errorf("Dispatch: %v", err)
			return
		}
		if n < remind.DefaultBatch {
			return
		}
	}
	t.Fatal("Dispatch does not drain")
}

// TestSchedulerOffsets: reminders 24 h and 1 h before each date, across
// the end of daylight saving time; "24 h" is a duration, so the reminder
// for Sunday 12:00 CET comes on Saturday at 13:00 CEST. A user following
// an event and its district gets each reminder once.
func TestSchedulerOffsets(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			kb := mustKB(t, testEntries)
			clk := &fakeClock{now: berlin(t, kb, 2026, 10, 22, 12, 0)}
			subs, q, keysHaveTTL := b.new(t, clk.Now)
			u := userKey(1)
			subscriber{t, subs}.add(remind.NewEventSubscription(kb, u, 4711, "uk", "fest", clk.Now()))
			subscriber{t, subs}.add(remind.NewDistrictSubscription(kb, u, 4711, "uk", "nord", "social", clk.Now()))
			rec := newRecorder(clk)
			s := mustScheduler(t, remind.Config{Subs: subs, Queue: q, KB: func() *knowledge.KB { return kb }, Deliver: rec, Now: clk.Now})
			simulate(t, clk, berlin(t, kb, 2026, 10, 25, 18, 0), 10*time.Minute, s)
			want := strings.Join([]string{
				"cafe-nord Fri 15:00 CEST -24h0m0s @Thu 15:00 CEST",
				"cafe-nord Fri 15:00 CEST -1h0m0s @Fri 14:00 CEST",
				"fest Sat 14:00 CEST -24h0m0s @Fri 14:00 CEST",
				"fest Sat 14:00 CEST -1h0m0s @Sat 13:00 CEST",
				"fest Sun 12:00 CET -24h0m0s @Sat 13:00 CEST",
				"fest Sun 12:00 CET -1h0m0s @Sun 11:00 CET",
				"cafe-nord Mon 15:00 CET -24h0m0s @Sun 15:00 CET",
			}, "\n")
			if got := rec.summary(kb.Location()); got != sortLines(want) && sortLines(got) != sortLines(want) {
				t.Errorf("deliveries:\n%s\nwant:\n%s", got, want)
			}
			for _, d := range rec.got {
				if d.chat != 4711 || d.lang != "uk" {
					t.Errorf("delivered to chat %d in %q", d.chat, d.lang)
				}
			}
			if txt := remind.Text("uk", rec.got[0].r); !strings.Contains(txt, "Міжнародне кафе Північ (Café International Nord)") || !strings.Contains(txt, "Fr 23.10.2026, 15:00–17:00") {
				t.Errorf("reminder text %q lacks the title or the local time", txt)
			}
			keysHaveTTL(t)
		})
	}
}

func sortLines(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// TestSchedulerChanges: no reminder for a cancelled date, a moved date's
// reminders at its new time, and a date cancelled after its reminders
// were planned gets none.
func TestSchedulerChanges(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			kb := mustKB(t, testEntries)
			var live atomic.Pointer[knowledge.KB]
			live.Store(kb)
			clk := &fakeClock{now: berlin(t, kb, 2026, 10, 26, 16, 0)}
			subs, q, _ := b.new(t, clk.Now)
			subscriber{t, subs}.add(remind.NewEventSubscription(kb, userKey(1), 4711, "en", "cafe-nord", clk.Now()))
			rec := newRecorder(clk)
			s := mustScheduler(t, remind.Config{Subs: subs, Queue: q, KB: live.Load, Deliver: rec, Now: clk.Now})
			simulate(t, clk, berlin(t, kb, 2026, 10, 31, 20, 0), 10*time.Minute, s)
			// Monday 2 November is cancelled after its reminders were planned.
			live.Store(mustKB(t, strings.Replace(testEntries, "cancelled: [2026-10-28]", "cancelled: [2026-10-28, 2026-11-02]", 1)))
			simulate(t, clk, berlin(t, kb, 2026, 11, 2, 16, 0), 10*time.Minute, s)
			want := strings.Join([]string{
				"cafe-nord Fri 18:00 CET -24h0m0s @Thu 18:00 CET changed",
				"cafe-nord Fri 18:00 CET -1h0m0s @Fri 17:00 CET changed",
			}, "\n")
			if got := rec.summary(kb.Location()); got != want {
				t.Errorf("deliveries:\n%s\nwant:\n%s", got, want)
			}
			if n := s.Stats.Skipped.Load(); n != 2 {
				t.Errorf("Skipped = %d, want the 2 reminders planned for the date cancelled later", n)
			}
			if len(rec.got) > 0 {
				if note, _ := rec.got[0].r.Occurrence.Note.In("en"); note != "Later today" {
					t.Errorf("moved date's note = %q", note)
				}
			}
		})
	}
}

// TestSchedulerLate: a subscription made ten hours before a date gets the
// 1-hour reminder only, and a scheduler that was down gives the closest
// reminder only, never one after the start.
func TestSchedulerLate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			kb := mustKB(t, testEntries)
			clk := &fakeClock{now: berlin(t, kb, 2026, 10, 24, 4, 0)} // fest at 14:00
			subs, q, _ := b.new(t, clk.Now)
			subscriber{t, subs}.add(remind.NewEventSubscription(kb, userKey(1), 1, "de", "fest", clk.Now()))
			subscriber{t, subs}.add(remind.NewEventSubscription(kb, userKey(2), 2, "de", "kurs-sued", clk.Now().Add(-48*time.Hour)))
			rec := newRecorder(clk)
			s := mustScheduler(t, remind.Config{Subs: subs, Queue: q, KB: func() *knowledge.KB { return kb }, Deliver: rec, Now: clk.Now})
			ctx := context.Background()
			if _, err := s.Plan(ctx); err != nil { // plans kurs-sued Sun 10:00 at -24h (Sat 11:00 CEST) and -1h
				t.Fatal(err)
			}
			clk.Set(berlin(t, kb, 2026, 10, 25, 9, 30)) // down until 30 min before kurs-sued
			simulate(t, clk, berlin(t, kb, 2026, 10, 25, 13, 0), 10*time.Minute, s)
			// fest on Sunday 12:00: its 24-hour reminder (Saturday 13:00)
			// is 20 hours late, past the midpoint to the 1-hour one.
			want := "kurs-sued Sun 10:00 CET -1h0m0s @Sun 09:30 CET\nfest Sun 12:00 CET -1h0m0s @Sun 11:00 CET"
			if got := rec.summary(kb.Location()); got != want {
				t.Errorf("deliveries:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestSchedulerDeliveryErrors: a blocked chat loses its subscriptions; a
// transient failure is retried and delivered once.
func TestSchedulerDeliveryErrors(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			kb := mustKB(t, testEntries)
			clk := &fakeClock{now: berlin(t, kb, 2026, 10, 22, 12, 0)}
			subs, q, _ := b.new(t, clk.Now)
			blocked, flaky := userKey(1), userKey(2)
			subscriber{t, subs}.add(remind.NewEventSubscription(kb, blocked, 1, "ar", "fest", clk.Now()))
			subscriber{t, subs}.add(remind.NewDistrictSubscription(kb, blocked, 1, "ar", "sued", "", clk.Now()))
			subscriber{t, subs}.add(remind.NewEventSubscription(kb, flaky, 2, "fa", "fest", clk.Now()))
			rec := newRecorder(clk)
			failures := 0
			rec.setHook(func(_ int, r remind.Reminder) error {
				switch {
				case strings.HasSuffix(r.JobID, string(blocked)):
					return fmt.Errorf("telegram: 403: %w", bot.ErrBlocked)
				case failures < 2:
					failures++
					return fmt.Errorf("telegram: 502: %w", bot.ErrUnavailable)
				}
				return nil
			})
			s := mustScheduler(t, remind.Config{Subs: subs, Queue: q, KB: func() *knowledge.KB { return kb }, Deliver: rec, Now: clk.Now})
			simulate(t, clk, berlin(t, kb, 2026, 10, 25, 18, 0), time.Minute, s)
			if got, err := subs.SubscriptionsOf(context.Background(), blocked); err != nil || len(got) != 0 {
				t.Errorf("blocked user's subscriptions = %v, %v; want none", got, err)
			}
			if n := s.Stats.Blocked.Load(); n != 1 {
				t.Errorf("Blocked = %d, want 1", n)
			}
			if n := s.Stats.Retried.Load(); n != 2 {
				t.Errorf("Retried = %d, want 2", n)
			}
			if len(rec.got) != 4 {
				t.Errorf("delivered %d reminders to the flaky chat, want 4:\n%s", len(rec.got), rec.summary(kb.Location()))
			}
			for id, n := range rec.byID {
				if n != 1 {
					t.Errorf("reminder %s delivered %d times", id, n)
				}
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	kb := mustKB(t, testEntries)
	r := memstore.NewReminders(nil)
	base := remind.Config{Subs: r, Queue: r, KB: func() *knowledge.KB { return kb }, Deliver: newRecorder(&fakeClock{})}
	tests := map[string]func(*remind.Config){
		"no store":          func(c *remind.Config) { c.Subs = nil },
		"negative offset":   func(c *remind.Config) { c.Offsets = []time.Duration{-time.Hour} },
		"duplicate offsets": func(c *remind.Config) { c.Offsets = []time.Duration{time.Hour, time.Hour} },
		"horizon too short": func(c *remind.Config) { c.Offsets = []time.Duration{72 * time.Hour} },
	}
	for name, mod := range tests {
		cfg := base
		mod(&cfg)
		if _, err := remind.New(cfg); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: New = %v, want bot.ErrInvalid", name, err)
		}
	}
}

// TestRunStops: Run delivers what is due and returns promptly when its
// context is cancelled.
func TestRunStops(t *testing.T) {
	kb := mustKB(t, testEntries)
	clk := &fakeClock{now: berlin(t, kb, 2026, 10, 24, 13, 0)} // fest at 14:00: the 1-hour reminder is due
	r := memstore.NewReminders(clk.Now)
	subscriber{t, r}.add(remind.NewEventSubscription(kb, userKey(1), 1, "de", "fest", clk.Now().Add(-time.Hour)))
	got := make(chan struct{}, 1)
	s := mustScheduler(t, remind.Config{
		Subs: r, Queue: r, KB: func() *knowledge.KB { return kb }, Now: clk.Now, Poll: time.Millisecond,
		Deliver: remind.DeliverFunc(func(context.Context, int64, string, remind.Reminder) error { got <- struct{}{}; return nil }),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Run delivered nothing within 10 s")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of cancellation")
	}
}

// lossyQueue loses the acks of the next lose calls once armed: the state a
// replica leaves when it dies after sending, before acknowledging.
type lossyQueue struct {
	remind.Queue
	mu    sync.Mutex
	armed bool
	lose  int
	lost  int
}

func (q *lossyQueue) Ack(ctx context.Context, id string) error {
	q.mu.Lock()
	if q.armed && q.lost < q.lose {
		q.lost++
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	return q.Queue.Ack(ctx, id)
}

func (q *lossyQueue) arm() { q.mu.Lock(); q.armed = true; q.mu.Unlock() }

// TestRestart1000: reminders for 1,000 subscriptions over four days
// (including the end of daylight saving) survive a replica being stopped
// mid-batch, a replica dying between claim and send, one dying between
// send and acknowledgement, and two replicas running at once: none missed,
// none doubled, none late or after the start.
func TestRestart1000(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testRestart1000(t, b) })
	}
}

func testRestart1000(t *testing.T, b backend) {
	began := time.Now()
	kb := mustKB(t, testEntries)
	loc := kb.Location()
	t0 := berlin(t, kb, 2026, 10, 22, 8, 0)
	end := t0.Add(96 * time.Hour)
	crashAt := berlin(t, kb, 2026, 10, 24, 11, 0) // 24-hour reminders of kurs-sued (Sun 10:00 CET) are due: 400 at once
	clk := &fakeClock{now: t0}
	subs, q, keysHaveTTL := b.new(t, clk.Now)
	ctx := context.Background()

	// 1,000 subscriptions: to three events, to a district, to a district's topic.
	expected := map[string]int64{} // job id -> chat
	const n = 1000
	for i := range n {
		u, chat := userKey(i), int64(100000+i)
		var (
			s   remind.Subscription
			err error
		)
		switch i % 5 {
		case 0, 1, 2:
			s, err = remind.NewEventSubscription(kb, u, chat, "uk", []string{"cafe-nord", "kurs-sued", "fest"}[i%5], t0)
		case 3:
			s, err = remind.NewDistrictSubscription(kb, u, chat, "ar", "nord", "", t0)
		case 4:
			s, err = remind.NewDistrictSubscription(kb, u, chat, "tr", "sued", "language", t0)
		}
		s = subscriber{t, subs}.add(s, err)
		for _, e := range kb.OfKind(knowledge.KindEvent) {
			if !s.Target.Matches(e) {
				continue
			}
			for _, o := range kb.Occurrences(e, t0, end.Add(48*time.Hour)) {
				for _, off := range remind.DefaultOffsets {
					due := o.Start.Add(-off)
					if !o.Cancelled && !due.Before(t0) && !due.After(end) {
						expected[remind.JobID(u, e.ID, o.Start, off)] = chat
					}
				}
			}
		}
	}

	rec := newRecorder(clk)
	newSched := func(q remind.Queue) *remind.Scheduler {
		return mustScheduler(t, remind.Config{Subs: subs, Queue: q, KB: func() *knowledge.KB { return kb }, Deliver: rec, Now: clk.Now})
	}
	const step = 10 * time.Minute

	// Phase 1: replica A runs until the busy moment.
	lossy := &lossyQueue{Queue: q, lose: 5}
	a := newSched(lossy)
	simulate(t, clk, crashAt.Add(-step), step, a)
	clk.Set(crashAt)
	if _, err := a.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	// A replica D claims 50 jobs and dies before sending them.
	dead, err := q.Claim(ctx, clk.Now(), remind.DefaultLease, 50)
	if err != nil || len(dead) != 50 {
		t.Fatalf("dead replica claimed %d jobs (%v), want 50", len(dead), err)
	}
	// A is stopped in the middle of a batch: after its 10th delivery now
	// the acks of five deliveries get lost (it "dies" after sending), and
	// its context is cancelled at the 15th.
	actx, stopA := context.WithCancel(ctx)
	before := len(rec.got)
	rec.setHook(func(k int, _ remind.Reminder) error {
		switch k - before {
		case 10:
			lossy.arm()
		case 15:
			stopA()
		}
		return nil
	})
	if _, err := a.Dispatch(actx); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped Dispatch = %v, want context.Canceled", err)
	}
	rec.setHook(nil)
	if lossy.lost != 5 {
		t.Fatalf("lost %d acks, want 5", lossy.lost)
	}

	// Phase 2: two fresh replicas, B and C, at once.
	bs, cs := newSched(q), newSched(q)
	for i := 0; !clk.Now().After(end); i++ {
		var wg sync.WaitGroup
		for _, s := range []*remind.Scheduler{bs, cs} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%int(time.Hour/step) == 0 {
					if _, err := s.Plan(ctx); err != nil {
						t.Errorf("Plan: %v", err)
					}
				}
				mustDrain(t, ctx, s)
			}()
		}
		wg.Wait()
		clk.Add(step)
	}

	missed, doubled, unexpected := 0, 0, 0
	for id := range expected {
		switch c := rec.byID[id]; {
		case c == 0:
			missed++
		case c > 1:
			doubled++
		}
	}
	for id := range rec.byID {
		if _, ok := expected[id]; !ok {
			unexpected++
		}
	}
	for _, d := range rec.got {
		due := d.r.Occurrence.Start.Add(-d.before)
		if d.at.Before(due) || !d.at.Before(d.r.Occurrence.Start) {
			t.Errorf("reminder for %s delivered at %s", d.r.Occurrence.Start.In(loc), d.at.In(loc))
		}
		if d.chat != expected[d.jobID] {
			t.Errorf("reminder delivered to chat %d, want %d", d.chat, expected[d.jobID])
		}
	}
	abandoned := bs.Stats.Abandoned.Load() + cs.Stats.Abandoned.Load()
	requeued := bs.Stats.Requeued.Load() + cs.Stats.Requeued.Load()
	t.Logf("%s: %d subscriptions, %d reminders expected, %d delivered; missed %d, doubled %d, unexpected %d; "+
		"crash recovery: %d re-queued (dead claim), %d abandoned after lost acks (already sent); wall time %v",
		b.name, n, len(expected), len(rec.got), missed, doubled, unexpected, requeued, abandoned, time.Since(began).Round(time.Millisecond))
	if missed+doubled+unexpected != 0 {
		t.Errorf("missed %d, doubled %d, unexpected %d", missed, doubled, unexpected)
	}
	if requeued < 50 || abandoned != 5 {
		t.Errorf("re-queued %d (want >= 50), abandoned %d (want 5): the crash paths were not exercised", requeued, abandoned)
	}
	keysHaveTTL(t)
}
