package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/knowledge"
)

// Outbox tests against real Redis: the dispatcher and the paced replies
// with redisstore as Store and Outbox.

func TestMain(m *testing.M) { bottest.Main(m) }

func mustRedisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	rdb := bottest.Redis(t)
	return redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb), Now: time.Now})
}

// startedOutbox is a store as Outbox that tells when a dispatcher first
// fetched: it runs then, and the bot paces replies.
type startedOutbox struct {
	*redisstore.Store
	once    sync.Once
	started chan struct{}
}

func newStartedOutbox(s *redisstore.Store) *startedOutbox {
	return &startedOutbox{Store: s, started: make(chan struct{})}
}

func (s *startedOutbox) FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	s.once.Do(func() { close(s.started) })
	return s.Store.FetchOutbox(ctx, consumer, n, wait)
}

// run runs b's dispatcher until the returned stop (or the test's end),
// returning once it runs.
func (s *startedOutbox) run(t *testing.T, b *bot.Bot, consumer string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.RunOutbox(ctx, consumer); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	select {
	case <-s.started:
	case <-done:
		t.Fatal("the dispatcher ended at once")
	}
	return stop
}

// newPacedBot is a bot on store (as Store and Outbox) sending through pr,
// with a dispatcher running until the returned stop.
func newPacedBot(t *testing.T, h *harness, store *redisstore.Store, pr *pacedRecorder, consumer string) (*bot.Bot, func()) {
	t.Helper()
	ob := newStartedOutbox(store)
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(h.kb), Store: store, Sender: pr, Catalog: h.cat,
		Now: time.Now, UserKeySecret: secret, Logger: newTestLogger(h.log), Outbox: ob,
		Flood: bot.FloodLimit{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	return b, ob.run(t, b, consumer)
}

// TestOutboxSlowChatHoldsNoOther: a group chat whose send slot stays
// far (a staff group over its 20 messages a minute) with a long backlog
// queued first does not delay the private chats queued after it: they
// are all delivered while the group's entries are still waiting.
func TestOutboxSlowChatHoldsNoOther(t *testing.T) {
	store := mustRedisStore(t)
	h := &harness{t: t, cat: mustCatalog(t), kb: mustTestKB(t), log: &syncBuffer{}}
	pr := &pacedRecorder{Recorder: bottest.NewRecorder(), busy: map[int64]bool{-100: true}}
	const group, private = 150, 40
	var backlog []bot.OutboxEntry
	for i := range group {
		backlog = append(backlog, bot.OutboxEntry{ID: fmt.Sprintf("new:K-%d", i), Order: "cgroup",
			Msg: bot.Outgoing{ChatID: -100, Text: fmt.Sprint(i)}})
	}
	ctx := context.Background()
	if err := store.EnqueueOutbox(ctx, backlog...); err != nil {
		t.Fatal(err)
	}
	for i := range private {
		chat := int64(1000 + i)
		if err := store.EnqueueOutbox(ctx, bot.OutboxEntry{ID: fmt.Sprintf("ans:%d", i), Order: fmt.Sprintf("c%d", chat),
			Msg: bot.Outgoing{ChatID: chat, Text: "answer"}}); err != nil {
			t.Fatal(err)
		}
	}
	newPacedBot(t, h, store, pr, "d1")
	waitFor(t, "every private chat's entry", func() bool {
		for i := range private {
			if len(pr.To(int64(1000+i))) != 1 {
				return false
			}
		}
		return true
	})
	pr.mu.Lock()
	refused := pr.refused
	pr.mu.Unlock()
	if n := len(pr.To(-100)); n != 0 || refused == 0 {
		t.Fatalf("group chat got %d messages, %d refused sends; want 0 sent and its head tried", n, refused)
	}
	// Once its slot is near, the group's backlog goes out in order.
	pr.setBusy(-100, false)
	waitFor(t, "the group's backlog", func() bool { return len(pr.To(-100)) == group })
	for i, m := range pr.To(-100) {
		if m.Text != fmt.Sprint(i) {
			t.Fatalf("group message %d is %q, want in queue order", i, m.Text)
		}
	}
}

// TestPacedReplyRedeliveredAfterCrash: a reply queued because its chat
// slot was far is queued and its update marked done in one step, so a
// redelivery of the update (the transport's retry after a crash) is a
// duplicate and sends nothing. A new process, which never saw that
// reply queued, routes the chat's next reply through the outbox behind
// it (the session says so), so the chat gets both, each once, in order.
func TestPacedReplyRedeliveredAfterCrash(t *testing.T) {
	store := mustRedisStore(t)
	h := &harness{t: t, cat: mustCatalog(t), kb: mustTestKB(t), log: &syncBuffer{}}
	pr := &pacedRecorder{Recorder: bottest.NewRecorder(), busy: map[int64]bool{}}
	h.rec = pr.Recorder
	b1, stop1 := newPacedBot(t, h, store, pr, "p1")
	h.bot = b1
	calm, u := h.user(801, "de"), h.user(800, "de")
	calm.say("/start")
	want1, want2 := allText(calm.say("Wohngeld")), allText(calm.say("Jobcenter"))
	if want1 == "" || want2 == "" || want1 == want2 {
		t.Fatal("the reference answers are empty or equal")
	}
	u.say("/start")
	before := len(pr.To(u.id))

	pr.setBusy(u.id, true)
	in := u.incoming(bot.InText)
	in.Text = "Wohngeld"
	if got := u.send(in); len(got) != 0 {
		t.Fatalf("%d messages sent while the slot is far, want 0 (queued)", len(got))
	}
	// The process dies (its dispatcher stops); Telegram delivers the
	// update again to a new process.
	stop1()
	pr.setBusy(u.id, false)
	b2, _ := newPacedBot(t, h, store, pr, "p2")
	h.bot = b2
	if got := u.send(in); len(got) != 0 {
		t.Fatalf("the redelivered update sent %d messages directly, want 0 (a duplicate)", len(got))
	}
	// The new process's next reply to the chat must not overtake the
	// queued one, although its slot is free and it queued nothing itself.
	pr.setBusy(u.id, true) // hold the queue until both are in it
	if got := u.say("Jobcenter"); len(got) != 0 {
		t.Fatalf("%d messages sent directly while an earlier reply is queued, want 0", len(got))
	}
	pr.setBusy(u.id, false)
	waitFor(t, "both replies", func() bool { return len(pr.To(u.id)) >= before+2 })
	time.Sleep(300 * time.Millisecond) // anything sent twice would arrive by now
	got := pr.To(u.id)[before:]
	if len(got) != 2 || got[0].Text != want1 || got[1].Text != want2 {
		var texts []string
		for _, m := range got {
			texts = append(texts, m.Text[:min(len(m.Text), 30)])
		}
		t.Fatalf("chat got %d messages %q, want the two answers once each, in order", len(got), texts)
	}
}

// killedSender is the dying process's connection to Telegram: nothing
// leaves it once kill fired.
type killedSender struct {
	*pacedRecorder
	kill *bottest.KillHook
}

func (k killedSender) Send(ctx context.Context, m bot.Outgoing) (int, error) {
	if k.kill.Dead() {
		return 0, bottest.ErrKilled
	}
	return k.pacedRecorder.Send(ctx, m)
}

func (k killedSender) SendWithin(ctx context.Context, m bot.Outgoing, wait time.Duration) (int, error) {
	if k.kill.Dead() {
		return 0, bottest.ErrKilled
	}
	return k.pacedRecorder.SendWithin(ctx, m, wait)
}

// newLeaseBot is a bot on store (as Store and Outbox) with a claim lease
// of lease; start runs its dispatcher until the test ends.
func newLeaseBot(t *testing.T, h *harness, store *redisstore.Store, s bot.Sender, lease time.Duration) (b *bot.Bot, start func(consumer string)) {
	t.Helper()
	ob := newStartedOutbox(store)
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(h.kb), Store: store, Sender: s, Catalog: h.cat,
		Now: time.Now, UserKeySecret: secret, Logger: newTestLogger(h.log), Outbox: ob,
		Flood: bot.FloodLimit{Off: true}, ClaimLease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return b, func(consumer string) { ob.run(t, b, consumer) }
}

// TestPacedReplyKilledInCluster: in a Redis Cluster the outbox, the
// update record and the session are in different slots, so queueing a
// paced reply and marking its update done are separate steps. A process
// killed right after the outbox write (kill -9: its Redis connection and
// its sends end there) leaves a queued claim; the update, redelivered to
// a new process that does not pace (no dispatcher yet) while the chat's
// slot is free, is not answered directly: the reply is queued already.
// The chat gets it exactly once, and the update is done.
func TestPacedReplyKilledInCluster(t *testing.T) {
	rdb := bottest.Cluster(t)
	ns := bottest.Namespace(t, rdb)
	h := &harness{t: t, cat: mustCatalog(t), kb: mustTestKB(t), log: &syncBuffer{}}
	pr := &pacedRecorder{Recorder: bottest.NewRecorder(), busy: map[int64]bool{}}
	h.rec = pr.Recorder
	const lease = 300 * time.Millisecond

	// Only the enqueue script names the outbox's counter.
	kill := &bottest.KillHook{After: func(args []any) bool { return slices.Contains(args, any(ns+":{ob}:n")) }}
	dying := redisstore.New(bottest.DyingCluster(t, rdb, kill), redisstore.Options{Namespace: ns, Now: time.Now})
	b1, start1 := newLeaseBot(t, h, dying, killedSender{pr, kill}, lease)
	start1("k1")
	h.bot = b1
	calm, u := h.user(811, "de"), h.user(810, "de")
	calm.say("/start")
	want := allText(calm.say("Wohngeld"))
	if want == "" {
		t.Fatal("the reference answer is empty")
	}
	u.say("/start")
	before := len(pr.To(u.id))

	pr.setBusy(u.id, true)
	in := u.incoming(bot.InText)
	in.Text = "Wohngeld"
	_ = b1.Handle(context.Background(), in) // the process dies inside
	if !kill.Dead() {
		t.Fatal("the reply was not queued: the process was not killed at the outbox write")
	}
	if n := len(pr.To(u.id)) - before; n != 0 {
		t.Fatalf("%d messages sent before the kill, want 0 (queued)", n)
	}

	pr.setBusy(u.id, false)
	store := redisstore.New(rdb, redisstore.Options{Namespace: ns, Now: time.Now})
	b2, start2 := newLeaseBot(t, h, store, pr, lease)
	var err error
	for range 200 { // until the dead handler's lease ended
		if err = b2.Handle(context.Background(), in); !errors.Is(err, bot.ErrInProgress) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if n := len(pr.To(u.id)) - before; n != 0 {
		t.Fatalf("the redelivered update sent %d messages directly, want 0 (its reply is queued)", n)
	}
	start2("p2")
	waitFor(t, "the queued reply", func() bool { return len(pr.To(u.id)) > before })
	waitFor(t, "an empty outbox", func() bool {
		items, err := store.FetchOutbox(context.Background(), "probe", 100, 0)
		return err == nil && len(items) == 0
	})
	h.bot = b2
	if got := u.send(in); len(got) != 0 {
		t.Fatalf("a further redelivery sent %d messages, want 0 (a duplicate)", len(got))
	}
	got := pr.To(u.id)[before:]
	if len(got) != 1 || got[0].Text != want {
		t.Fatalf("chat got %d messages, want the answer exactly once", len(got))
	}
}
