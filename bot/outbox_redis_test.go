package bot_test

import (
	"context"
	"fmt"
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

// newPacedBot is a bot on store (as Store and Outbox) sending through pr,
// with a dispatcher running until the returned stop.
func newPacedBot(t *testing.T, h *harness, store *redisstore.Store, pr *pacedRecorder, consumer string) (*bot.Bot, func()) {
	t.Helper()
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(h.kb), Store: store, Sender: pr, Catalog: h.cat,
		Now: time.Now, UserKeySecret: secret, Logger: newTestLogger(h.log), Outbox: store,
		Flood: bot.FloodLimit{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.RunOutbox(ctx, consumer); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return b, stop
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
