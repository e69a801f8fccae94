package telegram_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// TestSendWithinRefusesFarSlot: SendWithin sends while the chat's slot
// is near and refuses, sending nothing, when it is far; other chats are
// not affected; groups likewise.
func TestSendWithinRefusesFarSlot(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.PerChat, cfg.PerChatBurst = time.Hour, 3 // after the burst, the slot is an hour away
		cfg.GroupPerMinute, cfg.GroupWindow = 2, time.Hour
	})
	f.AddChat(1, "private")
	f.AddChat(2, "private")
	f.AddChat(-100, "group")
	send := func(chat int64) error {
		_, err := c.SendWithin(t.Context(), bot.Outgoing{ChatID: chat, Text: "x"}, 200*time.Millisecond)
		return err
	}
	for i := range 3 {
		if err := send(1); err != nil {
			t.Fatalf("send %d within the burst: %v", i+1, err)
		}
	}
	if err := send(1); !errors.Is(err, bot.ErrWouldWait) {
		t.Fatalf("send after the burst = %v, want ErrWouldWait", err)
	}
	if err := send(2); err != nil {
		t.Fatalf("another chat: %v", err)
	}
	for range 2 {
		if err := send(-100); err != nil {
			t.Fatalf("group within its window: %v", err)
		}
	}
	if err := send(-100); !errors.Is(err, bot.ErrWouldWait) {
		t.Fatalf("group over its window = %v, want ErrWouldWait", err)
	}
	if n := len(f.Sent(1)); n != 3 {
		t.Errorf("chat 1 got %d messages, want 3 (a refused send sends nothing)", n)
	}
	if n := len(f.Sent(-100)); n != 2 {
		t.Errorf("group got %d messages, want 2", n)
	}
}

// TestPollSlowChatHoldsNoOtherChat: one chat of a batch whose handler
// does not return (a flood, a slow reply) holds one worker, never the
// other chats of the batch: they are all handled while it waits. (With
// chats hash-sharded onto two workers, some of the eight others would
// share its worker and wait behind it.)
func TestPollSlowChatHoldsNoOtherChat(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.Workers = 2 })
	const slow, others, floodN = 1, 8, 20
	var ids []int
	for range floodN {
		ids = append(ids, f.PushText(slow, slow, "de", "flood"))
	}
	for chat := int64(2); chat < 2+others; chat++ {
		ids = append(ids, f.PushText(chat, chat, "de", "hello"))
	}
	var (
		mu         sync.Mutex
		order      = map[int64][]int64{}
		othersLeft = others
		othersDone = make(chan struct{})
		held       = true // the slow chat's first update waited for all others
	)
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		mu.Lock()
		first := in.ChatID == slow && len(order[slow]) == 0
		mu.Unlock()
		if first {
			select {
			case <-othersDone:
			case <-time.After(10 * time.Second):
				mu.Lock()
				held = false
				mu.Unlock()
			}
		}
		mu.Lock()
		defer mu.Unlock()
		order[in.ChatID] = append(order[in.ChatID], in.UpdateID)
		if in.ChatID != slow {
			if othersLeft--; othersLeft == 0 {
				close(othersDone)
			}
		}
		return nil
	})
	stop := poll(t, c, h)
	if err := f.WaitConfirmed(waitCtx(t), ids[len(ids)-1]); err != nil {
		t.Errorf("last update not confirmed: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !held {
		t.Error("other chats waited for the slow chat's handler")
	}
	if got := order[slow]; len(got) != floodN || !slices.IsSorted(got) {
		t.Errorf("slow chat: updates %v, want %d in order", got, floodN)
	}
	for chat := int64(2); chat < 2+others; chat++ {
		if len(order[chat]) != 1 {
			t.Errorf("chat %d handled %d times, want once", chat, len(order[chat]))
		}
	}
}

// fetchSignal is the memstore's outbox, closing first when the
// dispatcher fetches for the first time.
type fetchSignal struct {
	*memstore.Store
	once  sync.Once
	first chan struct{}
}

func (f *fetchSignal) FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	f.once.Do(func() { close(f.first) })
	return f.Store.FetchOutbox(ctx, consumer, n, wait)
}

// TestPollFloodDoesNotHoldBatch runs the bot: one user floods while
// their chat's send slot is far (after Telegram's burst of three, the
// next is ten seconds away). The bot queues those replies in the outbox,
// so the batch, eight other users' answers included, is handled and
// confirmed while the flooder has got no more than the burst.
func TestPollFloodDoesNotHoldBatch(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.Workers = 2
		cfg.PerChat, cfg.PerChatBurst = 10*time.Second, 3
	})
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New(time.Now)
	ob := &fetchSignal{Store: mem, first: make(chan struct{})}
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(kb), Store: mem, Sender: c, Catalog: cat,
		UserKeySecret: []byte("pace-test-secret-0123456789"), Outbox: ob, Logger: slog.New(bottest.LogHandler(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	const flooder, others, floodN = 500, 8, 30
	var last int
	for range floodN {
		last = f.PushText(flooder, flooder, "de", "Jobcenter")
	}
	for u := int64(1); u <= others; u++ {
		last = f.PushText(u, u, "de", "Jobcenter")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go b.RunOutbox(ctx, "test")
	select { // replies are paced only while a dispatcher runs
	case <-ob.first:
	case <-waitCtx(t).Done():
		t.Fatal("the outbox dispatcher did not start")
	}
	stop := poll(t, c, b)
	if err := f.WaitConfirmed(waitCtx(t), last); err != nil {
		t.Fatalf("the batch was not confirmed: %v", err)
	}
	got := len(f.Sent(flooder))
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	if got > 3 {
		t.Errorf("flooder got %d messages before the batch was confirmed, want at most the burst of 3 (the rest queued)", got)
	}
	for u := int64(1); u <= others; u++ {
		if len(f.Sent(u)) == 0 {
			t.Errorf("user %d got no answer", u)
		}
	}
	if v := f.Violations(); len(v) != 0 {
		t.Errorf("flood limit violations: %v", v)
	}
}

// countingLimiter is a shared Limiter that allows everything at once and
// counts its calls.
type countingLimiter struct {
	mu sync.Mutex
	n  int
}

func (l *countingLimiter) Wait(context.Context, int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return nil
}

// TestSendWithinSharedLimiter: with a shared Limiter, which decides the
// overall and per-chat limits in one step, SendWithin judges the chat's
// own limit by this process's sends (plain Sends included), refuses
// without asking the Limiter, and otherwise waits for the Limiter
// without a bound.
func TestSendWithinSharedLimiter(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	lim := &countingLimiter{}
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.PerChat, cfg.PerChatBurst = time.Hour, 3
		cfg.Limiter = lim
	})
	f.AddChat(1, "private")
	msg := bot.Outgoing{ChatID: 1, Text: "x"}
	if _, err := c.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := c.SendWithin(t.Context(), msg, 200*time.Millisecond); err != nil {
			t.Fatalf("send %d within the burst: %v", i+2, err)
		}
	}
	if _, err := c.SendWithin(t.Context(), msg, 200*time.Millisecond); !errors.Is(err, bot.ErrWouldWait) {
		t.Fatalf("send after the burst = %v, want ErrWouldWait", err)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if lim.n != 3 || len(f.Sent(1)) != 3 {
		t.Errorf("shared limiter asked %d times, %d messages sent; want 3 and 3", lim.n, len(f.Sent(1)))
	}
}
