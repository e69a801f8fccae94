package bot_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/knowledge"
)

// BeginClaim counts as one round trip; it fails while the dedupe record
// or the session cannot be read.
func (s *countingStore) BeginClaim(ctx context.Context, id int64, lease time.Duration, u bot.UserKey) (bot.Claim, bot.Session, error) {
	s.calls.Add(1)
	if s.failFirst.Load() || s.failLoad.Load() {
		return bot.ClaimBusy, bot.Session{}, errDown
	}
	return s.Store.BeginClaim(ctx, id, lease, u)
}

// FinishUpdate counts as one round trip; it fails while saving fails.
func (s *countingStore) FinishUpdate(ctx context.Context, id int64, ttl time.Duration, u bot.UserKey, sess *bot.Session, sessionTTL time.Duration) error {
	s.calls.Add(1)
	if s.failSave.Load() {
		return errDown
	}
	return s.Store.FinishUpdate(ctx, id, ttl, u, sess, sessionTTL)
}

// ReleaseUpdate counts as one round trip.
func (s *countingStore) ReleaseUpdate(ctx context.Context, id int64) error {
	s.calls.Add(1)
	return s.Store.ReleaseUpdate(ctx, id)
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// stuckSender blocks every Send until its context ends: a process that
// claimed an update and then died (or hangs) before its reply went out.
type stuckSender struct {
	entered chan struct{}
	once    sync.Once
}

func (s *stuckSender) Send(ctx context.Context, _ bot.Outgoing) (int, error) {
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	return 0, ctx.Err()
}

func (s *stuckSender) AnswerCallback(context.Context, string, string) error { return nil }

func mustBot(t *testing.T, kb *knowledge.KB, store bot.Store, sender bot.Sender, now func() time.Time) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(kb), Store: store, Sender: sender, Catalog: mustCatalog(t),
		Now: now, UserKeySecret: secret, Flood: bot.FloodLimit{Off: true}})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// deadStore is the store as a process that is about to die uses it: it
// claims updates but never renews a claim.
type deadStore struct {
	*memstore.Store
	RenewClaim struct{} // hides memstore's bot.ClaimRenewer
}

// TestRedeliveryAfterDeath: a replica claims an update and dies before
// replying. The redelivery is refused as in progress (so the transport
// retries it) until the lease expires, then answered exactly once; later
// redeliveries are duplicates, and the dead replica coming back to life
// cannot reopen the update.
func TestRedeliveryAfterDeath(t *testing.T) {
	kb := mustTestKB(t)
	clk := &fakeClock{now: testNow}
	store := memstore.New(clk.Now)
	stuck := &stuckSender{entered: make(chan struct{})}
	// A dead process renews nothing: its claim lives for the lease.
	dying, err := bot.New(bot.Config{KB: knowledge.NewLive(kb), Store: deadStore{Store: store}, Sender: stuck, Catalog: mustCatalog(t),
		Now: clk.Now, UserKeySecret: secret, Flood: bot.FloodLimit{Off: true}, ClaimLease: bot.DefaultClaimLease})
	if err != nil {
		t.Fatal(err)
	}
	rec := bottest.NewRecorder()
	other := mustBot(t, kb, store, rec, clk.Now)

	in := bot.Incoming{UpdateID: 4711, ChatID: 77, ChatType: bot.ChatPrivate, UserID: 77, LanguageCode: "de",
		MessageID: 1, Kind: bot.InText, Text: "Wohngeld", Time: testNow}
	ctx, cancel := context.WithCancel(context.Background())
	died := make(chan error, 1)
	go func() { died <- dying.Handle(ctx, in) }()
	<-stuck.entered

	deliver := func(step string) error {
		t.Helper()
		err := other.Handle(context.Background(), in)
		if err != nil && !errors.Is(err, bot.ErrUnavailable) {
			t.Fatalf("%s: Handle = %v, want nil or an error wrapping bot.ErrUnavailable", step, err)
		}
		return err
	}
	if err := deliver("during the lease"); !errors.Is(err, bot.ErrInProgress) {
		t.Fatalf("redelivery during the lease: %v, want bot.ErrInProgress", err)
	}
	clk.Advance(bot.DefaultClaimLease - time.Second)
	if err := deliver("just before the lease ends"); !errors.Is(err, bot.ErrInProgress) {
		t.Fatalf("redelivery before the lease ended: %v, want bot.ErrInProgress", err)
	}
	if n := len(rec.To(77)); n != 0 {
		t.Fatalf("%d messages sent while the update was claimed", n)
	}
	clk.Advance(2 * time.Second)
	if err := deliver("after the lease"); err != nil {
		t.Fatalf("redelivery after the lease: %v", err)
	}
	answered := len(rec.To(77))
	if answered == 0 {
		t.Fatal("the redelivery after the lease was not answered")
	}
	if err := deliver("after the answer"); err != nil {
		t.Fatalf("duplicate: %v", err)
	}

	// The dead replica wakes up: its reply fails and it releases its
	// claim, which must not delete the done mark.
	cancel()
	if err := <-died; err == nil {
		t.Fatal("the stuck handler reported success")
	}
	if err := deliver("after the late release"); err != nil {
		t.Fatalf("duplicate after the late release: %v", err)
	}
	if n := len(rec.To(77)); n != answered {
		t.Fatalf("answered %d messages, then %d: a duplicate was answered", answered, n)
	}
}

// TestReleaseOnSendFailure: a reply that could not be sent releases the
// claim, so the redelivery is answered at once.
func TestReleaseOnSendFailure(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	u := h.user(78, "de")
	in := u.incoming(bot.InText)
	in.Text = "Wohngeld"
	h.rec.SendErr = errors.New("telegram: 502")
	if err := h.bot.Handle(context.Background(), in); err == nil {
		t.Fatal("Handle hid a failed reply")
	}
	h.rec.SendErr = nil
	before := len(h.rec.To(78))
	if err := h.bot.Handle(context.Background(), in); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if len(h.rec.To(78)) == before {
		t.Fatal("redelivery after a failed reply was dropped")
	}
	before = len(h.rec.To(78))
	if err := h.bot.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(h.rec.To(78)) != before {
		t.Fatal("a duplicate of an answered update was answered")
	}
}

// renewCounter counts claim renewals.
type renewCounter struct {
	*memstore.Store
	renewals atomic.Int64
}

func (s *renewCounter) RenewClaim(ctx context.Context, id int64, lease time.Duration) (bool, error) {
	s.renewals.Add(1)
	return s.Store.RenewClaim(ctx, id, lease)
}

// gateSender holds every Send until open is closed, then records it.
type gateSender struct {
	*bottest.Recorder
	entered chan struct{}
	once    sync.Once
	open    chan struct{}
}

func (s *gateSender) Send(ctx context.Context, m bot.Outgoing) (int, error) {
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.open:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return s.Recorder.Send(ctx, m)
}

// TestSlowHandlerKeepsClaim: a handler that takes many times the claim's
// lease keeps its claim by renewing it (a redelivery meanwhile is
// refused as in progress, not answered a second time), and its update
// is marked done once the reply went out.
func TestSlowHandlerKeepsClaim(t *testing.T) {
	kb := mustTestKB(t)
	store := &renewCounter{Store: memstore.New(time.Now)}
	const lease = 150 * time.Millisecond
	gate := &gateSender{Recorder: bottest.NewRecorder(), entered: make(chan struct{}), open: make(chan struct{})}
	slow, err := bot.New(bot.Config{KB: knowledge.NewLive(kb), Store: store, Sender: gate, Catalog: mustCatalog(t),
		UserKeySecret: secret, Flood: bot.FloodLimit{Off: true}, ClaimLease: lease})
	if err != nil {
		t.Fatal(err)
	}
	rec := bottest.NewRecorder()
	other := mustBot(t, kb, store.Store, rec, time.Now)

	in := bot.Incoming{UpdateID: 4712, ChatID: 79, ChatType: bot.ChatPrivate, UserID: 79, LanguageCode: "de",
		MessageID: 1, Kind: bot.InText, Text: "Wohngeld", Time: time.Now()}
	done := make(chan error, 1)
	go func() { done <- slow.Handle(context.Background(), in) }()
	<-gate.entered
	// Six renewals at a third of the lease each: the claim has outlived
	// its first lease at least once over.
	deadline := time.Now().Add(30 * time.Second)
	for store.renewals.Load() < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d claim renewals in 30 s", store.renewals.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := other.Handle(context.Background(), in); !errors.Is(err, bot.ErrInProgress) {
		t.Fatalf("redelivery while the slow handler runs: %v, want bot.ErrInProgress", err)
	}
	close(gate.open)
	if err := <-done; err != nil {
		t.Fatalf("slow handler: %v", err)
	}
	if err := other.Handle(context.Background(), in); err != nil {
		t.Fatalf("redelivery after the answer: %v", err)
	}
	if n := len(rec.To(79)); n != 0 {
		t.Fatalf("the update was answered %d more times by the other handler", n)
	}
	if len(gate.To(79)) == 0 {
		t.Fatal("the slow handler's reply was not sent")
	}
}
