package bot_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/knowledge"
)

// pacedRecorder is a PacedSender whose chats in busy have their send
// slot far away: SendWithin refuses them, Send (which waits) does not.
type pacedRecorder struct {
	*bottest.Recorder
	mu      sync.Mutex
	busy    map[int64]bool
	refused int
}

func (p *pacedRecorder) setBusy(chat int64, busy bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[chat] = busy
}

func (p *pacedRecorder) SendWithin(ctx context.Context, m bot.Outgoing, _ time.Duration) (int, error) {
	p.mu.Lock()
	busy := p.busy[m.ChatID]
	if busy {
		p.refused++
	}
	p.mu.Unlock()
	if busy {
		return 0, fmt.Errorf("test: %w", bot.ErrWouldWait)
	}
	return p.Recorder.Send(ctx, m)
}

// gatedOutbox is the memstore's outbox with a pause: while the test
// holds mu, the dispatcher waits before its next fetch. It counts
// fetches and settled entries.
type gatedOutbox struct {
	*memstore.Store
	mu               sync.Mutex
	fetches, settled atomic.Int64
}

func (g *gatedOutbox) FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	g.fetches.Add(1)
	g.mu.Lock()
	g.mu.Unlock()
	return g.Store.FetchOutbox(ctx, consumer, n, wait)
}

func (g *gatedOutbox) SettleOutbox(ctx context.Context, it bot.OutboxItem, how bot.Settlement) error {
	err := g.Store.SettleOutbox(ctx, it, how)
	if err == nil {
		g.settled.Add(1)
	}
	return err
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 300 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestPacedRepliesGoThroughOutbox: a reply whose chat slot is far goes
// to the outbox and the handler returns; the chat's later replies follow
// it there while it holds any, in order; other chats are answered
// directly meanwhile; a redelivered update queues nothing twice; once
// the outbox is empty the chat is answered directly again.
func TestPacedRepliesGoThroughOutbox(t *testing.T) {
	kb := mustTestKB(t)
	h := &harness{t: t, cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	pr := &pacedRecorder{Recorder: bottest.NewRecorder(), busy: map[int64]bool{}}
	h.rec = pr.Recorder
	mem := memstore.New(func() time.Time { return testNow })
	h.store = &countingStore{Store: mem}
	ob := &gatedOutbox{Store: mem}
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(kb), Store: h.store, Sender: pr, Catalog: h.cat,
		Now: func() time.Time { return testNow }, UserKeySecret: secret, Logger: newTestLogger(h.log),
		Outbox: ob, Flood: bot.FloodLimit{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	h.bot = b
	// A dispatcher runs (replies are paced only then), paused.
	paused := false
	pause := func(p bool) {
		if p != paused {
			paused = p
			if p {
				ob.mu.Lock()
			} else {
				ob.mu.Unlock()
			}
		}
	}
	pause(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.RunOutbox(ctx, "test"); close(done) }()
	defer func() { pause(false); cancel(); <-done }()
	waitFor(t, "the dispatcher", func() bool { return ob.fetches.Load() > 0 })
	flooder, calm := h.user(700, "de"), h.user(701, "de")
	flooder.say("/start")
	calm.say("/start")
	want1 := allText(calm.say("Wohngeld"))
	want2 := allText(calm.say("Jobcenter"))
	if want1 == "" || want2 == "" || want1 == want2 {
		t.Fatal("the reference answers are empty or equal")
	}

	// The flooder's slot is far: nothing is sent now, the reply waits.
	pr.setBusy(flooder.id, true)
	in1 := flooder.incoming(bot.InText)
	in1.Text = "Wohngeld"
	if got := flooder.send(in1); len(got) != 0 {
		t.Fatalf("%d messages sent while the chat's slot is far, want 0 (queued)", len(got))
	}
	// The slot is free again, but an earlier reply is still queued: the
	// next reply must not overtake it.
	pr.setBusy(flooder.id, false)
	if got := flooder.say("Jobcenter"); len(got) != 0 {
		t.Fatalf("%d messages sent directly while earlier replies are queued, want 0", len(got))
	}
	// Others are answered directly meanwhile.
	if got := allText(calm.say("Wohngeld")); got != want1 {
		t.Fatalf("other chat got %q, want the answer at once", got)
	}
	// A redelivery of the first update is a duplicate: nothing more.
	if got := flooder.send(in1); len(got) != 0 {
		t.Fatalf("redelivery sent %d messages", len(got))
	}

	// The dispatcher delivers both, in order, each once.
	n := len(pr.To(flooder.id))
	pause(false)
	waitFor(t, "two settled entries", func() bool { return ob.settled.Load() >= 2 })
	// The next fetch starts after the round that settled them ended.
	f0 := ob.fetches.Load()
	waitFor(t, "the next fetch", func() bool { return ob.fetches.Load() > f0 })
	pause(true)
	got := pr.To(flooder.id)[n:]
	if len(got) != 2 || got[0].Text != want1 || got[1].Text != want2 {
		t.Fatalf("outbox delivered %d messages %q, want the two answers in order", len(got), allText(got))
	}
	// The outbox holds nothing for the chat: direct again (the
	// dispatcher is paused, so only a direct send can arrive).
	if got := allText(flooder.say("Wohngeld")); got != want1 {
		t.Fatalf("after the backlog: got %q, want the answer directly", got)
	}
	for _, p := range pr.Problems() {
		t.Error(p)
	}
}
