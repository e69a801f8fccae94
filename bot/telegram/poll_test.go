package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// poll runs c.Poll(h) in the background; stop cancels it and returns
// Poll's result.
func poll(t *testing.T, c *telegram.Client, h telegram.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() { res <- c.Poll(ctx, h) }()
	return func() error {
		cancel()
		select {
		case err := <-res:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Poll did not return after cancel")
			return nil
		}
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPollOrderAndConcurrency: every update is handled exactly once, in
// order within its chat, while chats run concurrently; everything ends
// up confirmed.
func TestPollOrderAndConcurrency(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.Workers = 8 })
	const chats, perChat = 16, 10 // 160 updates: more than one batch of 100
	var ids []int
	for i := range perChat {
		for chat := range chats {
			ids = append(ids, f.PushText(int64(1000+chat), int64(1000+chat), "de", fmt.Sprint(i)))
		}
	}

	var (
		mu              sync.Mutex
		seen            = map[int64]int{}
		order           = map[int64][]int64{}
		active, maxSeen int
		all             = make(chan struct{})
	)
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		mu.Lock()
		seen[in.UpdateID]++
		order[in.ChatID] = append(order[in.ChatID], in.UpdateID)
		active++
		maxSeen = max(maxSeen, active)
		first := len(order[in.ChatID]) == 1
		if len(seen) == len(ids) {
			close(all)
		}
		mu.Unlock()
		if first {
			time.Sleep(20 * time.Millisecond) // overlap the chats' first updates
		}
		mu.Lock()
		active--
		mu.Unlock()
		return nil
	})
	stop := poll(t, c, h)
	select {
	case <-all:
	case <-waitCtx(t).Done():
		t.Fatal("not all updates handled")
	}
	if err := f.WaitConfirmed(waitCtx(t), ids[len(ids)-1]); err != nil {
		t.Errorf("last update not confirmed: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("update %d handled %d times", id, n)
		}
	}
	for chat, got := range order {
		if !slices.IsSorted(got) || len(got) != perChat {
			t.Errorf("chat %d: updates %v, want %d in ascending order", chat, got, perChat)
		}
	}
	if maxSeen < 2 {
		t.Errorf("at most %d handler ran at a time, want chats in parallel", maxSeen)
	}
	if p := f.Pending(); len(p) != 0 {
		t.Errorf("pending updates %v, want none", p)
	}
}

// TestPollConfirmsOnlyAfterHandling stops Poll while a handler runs: the
// running handler finishes with a live context, updates not yet started
// stay unconfirmed and are delivered by the next Poll.
func TestPollConfirmsOnlyAfterHandling(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, nil)
	u1 := f.PushText(1, 1, "uk", "a")
	u2 := f.PushText(1, 1, "uk", "b")
	u3 := f.PushText(1, 1, "uk", "c")

	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var handled []int64
	var ctxErrAfterRelease error
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		if in.UpdateID == int64(u2) {
			close(started)
			<-release
			ctxErrAfterRelease = ctx.Err()
		}
		mu.Lock()
		handled = append(handled, in.UpdateID)
		mu.Unlock()
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() { res <- c.Poll(ctx, h) }()
	<-started
	if p := f.Pending(); !slices.Contains(p, u1) {
		t.Errorf("update %d confirmed before its batch finished; pending %v", u1, p)
	}
	cancel() // u3 has not started: it must not run now
	close(release)
	if err := <-res; err != nil {
		t.Errorf("Poll = %v", err)
	}
	if ctxErrAfterRelease != nil {
		t.Errorf("running handler's context was cancelled at once: %v", ctxErrAfterRelease)
	}
	if p := f.Pending(); !slices.Equal(p, []int{u3}) {
		t.Errorf("pending after stop = %v, want [%d]", p, u3)
	}
	mu.Lock()
	if !slices.Equal(handled, []int64{int64(u1), int64(u2)}) {
		t.Errorf("handled %v, want [%d %d]", handled, u1, u2)
	}
	mu.Unlock()

	// The next run picks up what was left.
	got := make(chan int64, 10)
	stop := poll(t, c, telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		got <- in.UpdateID
		return nil
	}))
	select {
	case id := <-got:
		if id != int64(u3) {
			t.Errorf("redelivered %d, want %d", id, u3)
		}
	case <-waitCtx(t).Done():
		t.Fatal("unconfirmed update not redelivered")
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
}

// TestPollHandlerFailures: errors and panics are logged without personal
// data and do not hold back confirmation.
func TestPollHandlerFailures(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	var logs bytes.Buffer
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.Logger = slog.New(bottest.LogHandler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})
	const chat = 777000111
	secret := "geheime Frage " + bottest.CanaryText
	f.PushText(chat, chat, "fa", secret)
	last := f.PushText(chat, chat, "fa", "zweite Frage")
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		if in.Text == secret {
			return errors.New("store down")
		}
		panic("boom")
	})
	stop := poll(t, c, h)
	if err := f.WaitConfirmed(waitCtx(t), last); err != nil {
		t.Fatalf("failed updates not confirmed: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "store down") || !strings.Contains(out, "boom") {
		t.Errorf("handler failures not logged: %s", out)
	}
	for _, leak := range []string{"geheime", bottest.CanaryText, "777000111", "Test", f.Token()} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q: %s", leak, out)
		}
	}
}

// TestPollNoHotLoop: against a server that ignores the long-poll timeout,
// Poll backs off instead of calling getUpdates in a tight loop.
func TestPollNoHotLoop(t *testing.T) {
	f := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.IgnoreTimeout = true })
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.PollTimeout = 10 * time.Second })
	stop := poll(t, c, telegram.HandlerFunc(func(context.Context, bot.Incoming) error { return nil }))
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	// Idle delays of 250ms, 500ms, ... allow about 3 calls per second; a
	// hot loop makes thousands.
	if n := len(f.Calls("getUpdates")); n > 6 {
		t.Errorf("%d getUpdates calls in 1s against a non-long-polling server", n)
	}
}

// TestPollErrors: 429 retry_after is honoured, 5xx and dropped
// connections are retried, the token never reaches the log, and a
// revoked token ends Poll with an error.
func TestPollErrors(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	var logs bytes.Buffer
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.Logger = slog.New(bottest.LogHandler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})
	f.FailNext("getUpdates",
		bottest.Fault{Status: 429, RetryAfter: 1},
		bottest.Fault{Status: 502, HTML: true},
		bottest.Fault{Drop: true})
	id := f.PushText(5, 5, "en", "hi")
	got := make(chan int64, 1)
	stop := poll(t, c, telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		got <- in.UpdateID
		return nil
	}))
	select {
	case u := <-got:
		if u != int64(id) {
			t.Errorf("got update %d, want %d", u, id)
		}
	case <-waitCtx(t).Done():
		t.Fatal("update not delivered after errors")
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	calls := f.Calls("getUpdates")
	if len(calls) < 4 {
		t.Fatalf("%d getUpdates calls, want at least 4", len(calls))
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
		t.Errorf("retried %v after 429 retry_after=1", gap)
	}
	if strings.Contains(logs.String(), f.Token()) || strings.Contains(logs.String(), "TEST-token") {
		t.Errorf("token in log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "getUpdates failed") {
		t.Errorf("errors not logged: %s", logs.String())
	}

	// Several, so that a late call of the poll stopped above (seen once
	// on a loaded CI machine) cannot take the only one.
	f.FailNext("getUpdates", bottest.Fault{Status: 401}, bottest.Fault{Status: 401}, bottest.Fault{Status: 401})
	err := c.Poll(waitCtx(t), telegram.HandlerFunc(func(context.Context, bot.Incoming) error { return nil }))
	var te *telegram.Error
	if !errors.As(err, &te) || te.Code != 401 {
		t.Errorf("Poll after 401 = %v, want a 401 *Error", err)
	}
}
