package loadtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/internal/loadtest"
)

// TestConnectionsKeptAlive: in a closed loop of 100 users, with every
// worker sending at once, the transport reuses its connections: it opens
// about one per worker and the long poll, not one per call (Go's default
// keeps only two idle connections per host and closes the rest, and a
// response not read to its end closes its connection).
func TestConnectionsKeptAlive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const workers = 8
	h, err := loadtest.New(ctx, loadtest.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pctx, stop := context.WithCancel(ctx)
	wait := h.Serve(pctx, telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		// Two calls per update, as a reply and a callback answer.
		for range 2 {
			if _, err := h.TG.Send(ctx, bot.Outgoing{ChatID: in.ChatID, Text: in.Text}); err != nil {
				return err
			}
		}
		return nil
	}))
	defer func() { stop(); wait() }()
	const total = 4000
	sum, _, err := h.RunClosedLoop(ctx, 100, 1, total, func(user int64, step int) (loadtest.Step, bool) {
		return loadtest.Step{Lang: "en", Text: "hello"}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Updates != total {
		t.Fatalf("%d updates handled, want %d", sum.Updates, total)
	}
	// Workers, the poll, getMe and a margin for a connection the server
	// closed while idle.
	t.Logf("%d connections for %d calls", h.API.Conns(), 2*total)
	if n := h.API.Conns(); n > workers+4 {
		t.Errorf("%d connections opened for %d calls by %d workers; want at most %d", n, 2*total, workers, workers+4)
	}
}
