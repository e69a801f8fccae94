package telegram

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/lotse-bot/lotse/bot"
)

// limiter keeps outgoing messages within Telegram's flood limits (Bots
// FAQ): about 30 messages per second overall, one per second in a
// private chat ("short bursts" tolerated), 20 per minute in a group.
//
// Private chats get a token bucket: PerChatBurst messages at once (so a
// three-part answer is not dribbled out second by second), refilled at
// one per PerChat. Groups get an exact sliding window, because a bucket
// with a burst of 20 would allow 40 messages within one minute. The
// global limit is a bucket with a burst of one, which spaces messages
// evenly and never exceeds GlobalRate in any one-second window.
//
// Telegram chat ids tell the kind of chat: users (private chats) are
// positive, groups, supergroups and channels negative.
type limiter struct {
	global *rate.Limiter

	perChat     rate.Limit
	burst       int
	groupN      int
	groupWindow time.Duration

	mu        sync.Mutex
	chats     map[int64]*rate.Limiter
	groups    map[int64][]time.Time
	lastSweep time.Time
}

// headroom stretches the per-chat interval and the group window (see
// bot.TelegramLimitHeadroom).
const headroom = bot.TelegramLimitHeadroom

// sweepEvery bounds how long idle per-chat state is kept: an entry that
// has fully recovered is equivalent to a new one and can be dropped.
const sweepEvery = 5 * time.Minute

func newLimiter(cfg Config) *limiter {
	return &limiter{
		global:      rate.NewLimiter(rate.Limit(cfg.GlobalRate), 1),
		perChat:     rate.Every(time.Duration(float64(cfg.PerChat) * headroom)),
		burst:       cfg.PerChatBurst,
		groupN:      cfg.GroupPerMinute,
		groupWindow: time.Duration(float64(cfg.GroupWindow) * headroom),
		chats:       make(map[int64]*rate.Limiter),
		groups:      make(map[int64][]time.Time),
		lastSweep:   time.Now(),
	}
}

// wait blocks until a message to chatID may be sent, or ctx is done.
func (l *limiter) wait(ctx context.Context, chatID int64) error {
	if chatID < 0 {
		if err := l.waitGroup(ctx, chatID); err != nil {
			return err
		}
	} else if err := l.chat(chatID).Wait(ctx); err != nil {
		return ctxErr(ctx, err)
	}
	if err := l.global.Wait(ctx); err != nil {
		return ctxErr(ctx, err)
	}
	return nil
}

// ctxErr prefers the context's own error: rate.Limiter.Wait also fails
// early when the deadline is too close, with an error of its own.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (l *limiter) chat(id int64) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(time.Now())
	lim, ok := l.chats[id]
	if !ok {
		lim = rate.NewLimiter(l.perChat, l.burst)
		l.chats[id] = lim
	}
	return lim
}

// takeGroupSlot takes a slot in group id's window if one is free now
// (and returns 0), or returns how long until the oldest slot frees.
func (l *limiter) takeGroupSlot(id int64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.sweep(now)
	times := l.groups[id]
	cutoff := now.Add(-l.groupWindow)
	for len(times) > 0 && !times[0].After(cutoff) {
		times = times[1:]
	}
	var d time.Duration
	if len(times) < l.groupN {
		times = append(times, now)
	} else {
		d = times[0].Sub(cutoff)
	}
	l.groups[id] = times
	return d
}

func (l *limiter) waitGroup(ctx context.Context, id int64) error {
	for {
		d := l.takeGroupSlot(id)
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sweep drops state that no longer restricts anything. l.mu is held.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for id, lim := range l.chats {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.chats, id)
		}
	}
	cutoff := now.Add(-l.groupWindow)
	for id, times := range l.groups {
		if len(times) == 0 || !times[len(times)-1].After(cutoff) {
			delete(l.groups, id)
		}
	}
}

// sleep waits for d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
