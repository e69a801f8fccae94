package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// This file is the bounded send (bot.PacedSender). Telegram lets a bot
// send one message per second to a private chat (after a short burst)
// and 20 a minute to a group; Send waits for the chat's slot. A handler
// that waits there holds its update, and with long polling the whole
// batch behind it (see Poll). SendWithin instead refuses, sending
// nothing, when the chat's slot is further away than the caller allows;
// the bot then queues the reply in its durable outbox and returns.

var _ bot.PacedSender = (*Client)(nil)

// slotKey marks a context whose first rate-limit wait for chat was
// already taken by SendWithin.
type slotKey struct{}

type slotTaken struct {
	chat int64
	used atomic.Bool
}

// SendWithin is Send, if the first message of msg may leave within wait
// under the flood limits for msg.ChatID; otherwise it sends nothing and
// returns an error wrapping bot.ErrWouldWait. The slot it checks is then
// not used up. Later parts of a long text wait for their slots as in
// Send.
//
// With the in-process limiter only the chat's own limit counts against
// wait (the overall 30 messages/s is everybody's queue, and waiting in it
// is fair). A shared Limiter (Config.Limiter) reserves both in one step,
// so there a long overall queue can refuse too.
func (c *Client) SendWithin(ctx context.Context, msg bot.Outgoing, wait time.Duration) (int, error) {
	if err := c.reserveWithin(ctx, msg.ChatID, wait); err != nil {
		return 0, err
	}
	return c.Send(context.WithValue(ctx, slotKey{}, &slotTaken{chat: msg.ChatID}), msg)
}

// waitSlot is waitLimit, except for the first call under a context of
// SendWithin, whose slot is reserved already. While a shared Limiter
// decides, the in-process limiter is not used; waitSlot then notes each
// send there, so that SendWithin can tell how far this process has used
// up the chat's own limit.
func (c *Client) waitSlot(ctx context.Context, chatID int64) error {
	if s, ok := ctx.Value(slotKey{}).(*slotTaken); ok && s.chat == chatID && s.used.CompareAndSwap(false, true) {
		return nil
	}
	shared := c.sharedUp()
	if err := c.waitLimit(ctx, chatID); err != nil {
		return err
	}
	if shared && c.sharedUp() {
		c.lim.note(chatID)
	}
	return nil
}

func (c *Client) sharedUp() bool {
	return c.cfg.Limiter != nil && time.Now().UnixNano() >= c.sharedDown.Load()
}

// errWouldWait is what SendWithin returns when the slot is too far.
func errWouldWait(wait time.Duration) error {
	return fmt.Errorf("telegram send: %w (more than %v)", bot.ErrWouldWait, wait)
}

// reserveWithin takes a send slot for chatID if the chat's own limit
// lets it come within wait, and waits for it.
//
// A shared Limiter reserves the chat's slot and the overall one in one
// step, so a deadline on it would also refuse when only the overall
// queue is long, which is everybody's and fair to wait in. So the chat's
// own limit is judged by this process's record of its sends to the chat
// (exact for one polling process; with webhook replicas, which share a
// chat's updates, an estimate), and the shared Limiter is then waited
// for without a bound.
func (c *Client) reserveWithin(ctx context.Context, chatID int64, wait time.Duration) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !c.sharedUp() {
		return c.lim.reserveWithin(ctx, chatID, wait, true)
	}
	if err := c.lim.reserveWithin(ctx, chatID, wait, false); err != nil {
		return err
	}
	err := c.cfg.Limiter.Wait(ctx, chatID)
	if err == nil || !errors.Is(err, bot.ErrUnavailable) || ctx.Err() != nil {
		return ctxErr(ctx, err)
	}
	if prev := c.sharedDown.Swap(time.Now().UnixNano() + int64(sharedRetry)); prev <= time.Now().UnixNano() {
		c.log.LogAttrs(ctx, slog.LevelWarn, "shared rate limiter unavailable; keeping the limits per process",
			slog.Duration("retry_in", sharedRetry), slog.String("err", c.redact(err.Error())))
	}
	// The chat's slot is taken in the in-process limiter already.
	if err := c.lim.global.Wait(ctx); err != nil {
		return ctxErr(ctx, err)
	}
	return nil
}

// reserveWithin is wait, refusing (errWouldWait, nothing reserved) when
// the chat's own limit would make it wait longer than bound. Without
// global, the overall limit is left to the caller, and the chat's slot
// is taken without waiting for it (it is only a record, see
// Client.reserveWithin).
func (l *limiter) reserveWithin(ctx context.Context, chatID int64, bound time.Duration, global bool) error {
	if chatID < 0 {
		if err := l.groupWithin(ctx, chatID, bound, global); err != nil {
			return err
		}
	} else {
		r := l.chat(chatID).Reserve()
		if d := r.Delay(); !r.OK() || d > bound {
			r.Cancel()
			return errWouldWait(bound)
		} else if global {
			if err := sleep(ctx, d); err != nil {
				r.Cancel()
				return err
			}
		}
	}
	if !global {
		return nil
	}
	if err := l.global.Wait(ctx); err != nil {
		return ctxErr(ctx, err)
	}
	return nil
}

// note records a send to chatID that another limiter allowed.
func (l *limiter) note(chatID int64) {
	if chatID >= 0 {
		l.chat(chatID).Reserve()
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groups[chatID] = append(l.groups[chatID], time.Now())
}

// groupWithin is waitGroup, refusing when the group's window is full for
// longer than bound.
func (l *limiter) groupWithin(ctx context.Context, id int64, bound time.Duration, wait bool) error {
	for {
		d := l.takeGroupSlot(id)
		if d <= 0 {
			return nil
		}
		if d > bound {
			return errWouldWait(bound)
		}
		if !wait {
			// Only a record: take the slot it would have been.
			l.mu.Lock()
			l.groups[id] = append(l.groups[id], time.Now().Add(d))
			l.mu.Unlock()
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		bound -= d
	}
}
