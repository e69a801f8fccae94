package telegram_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// calls records which updates a handler saw, in order, per chat.
type calls struct {
	mu    sync.Mutex
	order map[int64][]int64 // chat -> update ids handled successfully
	tries map[int64]int     // update id -> handler calls
}

func newCalls() *calls { return &calls{order: map[int64][]int64{}, tries: map[int64]int{}} }

func (c *calls) try(in bot.Incoming) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries[in.UpdateID]++
	return c.tries[in.UpdateID]
}

func (c *calls) ok(in bot.Incoming) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order[in.ChatID] = append(c.order[in.ChatID], in.UpdateID)
}

func (c *calls) snapshot() (map[int64][]int64, map[int64]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	order := map[int64][]int64{}
	for k, v := range c.order {
		order[k] = slices.Clone(v)
	}
	tries := map[int64]int{}
	for k, v := range c.tries {
		tries[k] = v
	}
	return order, tries
}

// TestPollRedeliversUnavailable: an update whose handler reports
// bot.ErrUnavailable is not confirmed but handled again later; the later
// updates of its chat wait for it, other chats go on, and everything ends
// up confirmed, each update handled successfully once (a handler that
// de-duplicates drops the repeats of updates after the failed one).
func TestPollRedeliversUnavailable(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.Workers = 4
		cfg.RedeliveryBackoff = 10 * time.Millisecond
	})
	var ids []int
	for i := range 3 {
		for chat := int64(1); chat <= 3; chat++ {
			ids = append(ids, f.PushText(chat, chat, "de", fmt.Sprint(i)))
		}
	}
	flaky := int64(ids[3]) // chat 1's second update: busy twice
	rec := newCalls()
	var mu sync.Mutex
	handled := map[int64]bool{} // what a de-duplicating handler remembers
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		n := rec.try(in)
		if in.UpdateID == flaky && n <= 2 {
			return fmt.Errorf("store: %w", bot.ErrInProgress)
		}
		mu.Lock()
		dup := handled[in.UpdateID]
		handled[in.UpdateID] = true
		mu.Unlock()
		if !dup {
			rec.ok(in)
		}
		return nil
	})
	stop := poll(t, c, h)
	if err := f.WaitConfirmed(waitCtx(t), ids[len(ids)-1]); err != nil {
		t.Fatalf("not everything confirmed: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	order, tries := rec.snapshot()
	if tries[flaky] != 3 {
		t.Errorf("busy update tried %d times, want 3", tries[flaky])
	}
	for chat := int64(1); chat <= 3; chat++ {
		var want []int64
		for i := range 3 {
			want = append(want, int64(ids[i*3+int(chat)-1]))
		}
		if !slices.Equal(order[chat], want) {
			// Chat 1's last update must not overtake the busy one.
			t.Errorf("chat %d handled %v, want %v (each once, in order)", chat, order[chat], want)
		}
	}
	if p := f.Pending(); len(p) != 0 {
		t.Errorf("pending %v, want none", p)
	}
}

// TestPollGivesUpPoisonedUpdate: an update that never stops failing is
// confirmed after MaxRedeliveries attempts, and the queue moves on.
func TestPollGivesUpPoisonedUpdate(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.RedeliveryBackoff = time.Millisecond
		cfg.MaxRedeliveries = 4
	})
	poison := f.PushText(1, 1, "de", "poison")
	after := f.PushText(1, 1, "de", "after")
	other := f.PushText(2, 2, "de", "other")
	rec := newCalls()
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		rec.try(in)
		if in.UpdateID == int64(poison) {
			return bot.ErrUnavailable
		}
		rec.ok(in)
		return nil
	})
	stop := poll(t, c, h)
	if err := f.WaitConfirmed(waitCtx(t), after); err != nil {
		t.Fatalf("queue stuck behind the poisoned update: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	order, tries := rec.snapshot()
	if tries[int64(poison)] != 4 {
		t.Errorf("poisoned update tried %d times, want 4", tries[int64(poison)])
	}
	if !slices.Equal(order[1], []int64{int64(after)}) {
		t.Errorf("chat 1 handled %v, want only %d after the poisoned update was given up", order[1], after)
	}
	if len(order[2]) == 0 || order[2][0] != int64(other) {
		t.Errorf("chat 2 handled %v, want %d", order[2], other)
	}
}
