package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// scriptedLimiter answers Wait with err and counts the calls.
type scriptedLimiter struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (l *scriptedLimiter) Wait(context.Context, int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	return l.err
}

func TestSharedLimiterContract(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantCalls int // for 3 messages
		wantSent  int
	}{
		{"consulted for every message", nil, 3, 3},
		{"unavailable: per-process limits, asked again only later", fmt.Errorf("down: %w", bot.ErrUnavailable), 1, 3},
		{"refusal fails the send", context.DeadlineExceeded, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := bottest.NewFakeAPI(t)
			lim := &scriptedLimiter{err: tc.err}
			c := mustClient(t, f, func(cfg *telegram.Config) { cfg.Limiter = lim })
			f.AddChat(5, "private")
			sent := 0
			for i := range 3 {
				if _, err := c.Send(context.Background(), bot.Outgoing{ChatID: 5, Text: fmt.Sprint("m", i)}); err == nil {
					sent++
				} else if tc.err == nil || errors.Is(tc.err, bot.ErrUnavailable) {
					t.Errorf("send %d: %v", i, err)
				}
			}
			if lim.calls != tc.wantCalls || sent != tc.wantSent {
				t.Errorf("limiter asked %d times, %d sent; want %d, %d", lim.calls, sent, tc.wantCalls, tc.wantSent)
			}
			if v := f.Violations(); len(v) != 0 {
				t.Errorf("violations: %+v", v)
			}
		})
	}
}
