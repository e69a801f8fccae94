package telegram

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Limiter decides when a message may be sent, so that several replicas
// together keep Telegram's flood limits (about 30 messages/s per bot,
// one per second per private chat, 20 per minute per group). Without
// one (Config.Limiter nil) every Client keeps the limits on its own,
// which is exact for a single replica only. bot/replica implements it
// on Redis.
type Limiter interface {
	// Wait blocks until a message to chatID may be sent and reserves
	// that slot. It returns an error wrapping bot.ErrUnavailable when
	// it cannot decide (its backend is unreachable or slow): the Client
	// then falls back to its in-process limiter for a while, so sending
	// never waits for a broken backend. Any other error (ctx ended, the
	// wait would outlast ctx's deadline) fails the send.
	Wait(ctx context.Context, chatID int64) error
}

// ChatLocker serialises the handling of one chat across replicas in
// webhook mode: Telegram may deliver two updates of one chat to two
// replicas at the same time. bot/replica implements it on Redis.
type ChatLocker interface {
	// Lock waits until no other holder has chat's lock, or ctx ends,
	// and returns the function that releases it. It returns an error
	// wrapping bot.ErrUnavailable when it cannot decide (its backend is
	// unreachable): the webhook then handles the update under its
	// in-process lock only, because answering beats strict order. Any
	// other error (ctx ended, the wait was too long) makes the webhook
	// answer 503, so Telegram delivers the update again later.
	Lock(ctx context.Context, chat int64) (unlock func(), err error)
}

// sharedRetry is how long the Client keeps to its in-process limiter
// after the shared one failed, before it asks the shared one again: a
// broken backend costs one failed call per period, not one per message.
const sharedRetry = 5 * time.Second

// waitLimit waits for the shared limiter if there is one and it works,
// else for the in-process limiter.
func (c *Client) waitLimit(ctx context.Context, chatID int64) error {
	if c.cfg.Limiter == nil {
		return c.lim.wait(ctx, chatID)
	}
	now := time.Now().UnixNano()
	if now >= c.sharedDown.Load() {
		err := c.cfg.Limiter.Wait(ctx, chatID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, bot.ErrUnavailable) || ctx.Err() != nil {
			return ctxErr(ctx, err)
		}
		if prev := c.sharedDown.Swap(now + int64(sharedRetry)); prev <= now {
			// Once per period: the log must not grow with the traffic.
			c.log.LogAttrs(ctx, slog.LevelWarn, "shared rate limiter unavailable; keeping the limits per process",
				slog.Duration("retry_in", sharedRetry), slog.String("err", c.redact(err.Error())))
		}
	}
	return c.lim.wait(ctx, chatID)
}

// lockShared takes the shared per-chat lock if there is one. It returns
// a no-op unlock when there is none or it is unavailable.
func (c *Client) lockShared(ctx context.Context, chat int64) (func(), error) {
	if c.cfg.ChatLocker == nil {
		return func() {}, nil
	}
	unlock, err := c.cfg.ChatLocker.Lock(ctx, chat)
	switch {
	case err == nil:
		return unlock, nil
	case errors.Is(err, bot.ErrUnavailable) && ctx.Err() == nil:
		now := time.Now().UnixNano()
		if prev := c.lockDown.Swap(now + int64(sharedRetry)); prev <= now {
			c.log.LogAttrs(ctx, slog.LevelWarn, "shared chat lock unavailable; updates of one chat may be handled concurrently by two replicas",
				slog.String("err", c.redact(err.Error())))
		}
		return func() {}, nil
	default:
		return nil, err
	}
}
