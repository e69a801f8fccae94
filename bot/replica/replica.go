// Package replica is what several Lotse replicas share through Redis
// besides conversation state: Telegram's flood limits (Limiter, one
// round trip per message) and a short per-chat lock for webhook mode
// (Locks). It implements telegram.Limiter and telegram.ChatLocker
// without importing the transport.
//
// Chat ids never appear in key names: they are replaced by an HMAC keyed
// with Config.Secret, like user ids in the state store. Every key has a
// TTL, so nothing outlives its use. All limiter keys of one bot share a
// hash tag, so the limiter's script works on Redis Cluster (one slot
// carries the limiter's traffic: at most ~30 scripts/s, well within one
// node's means).
//
// When Redis does not answer within Config.CallTimeout both report
// bot.ErrUnavailable; the transport then falls back to its in-process
// limits and lock, so sending and answering never wait for a broken
// Redis. Config.Observer hears of every such fallback
// (lotse_replica_fallbacks_total in bot/metrics).
package replica

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Config configures a Limiter and Locks. Zero values mean the defaults
// noted, which are Telegram's limits as the transport keeps them.
type Config struct {
	// Namespace prefixes every key (default "lotse"); replicas of one bot
	// must use the same, two bots on one Redis different ones.
	Namespace string
	// Secret keys the hash that replaces chat ids in key names; at least
	// 16 bytes, the same on every replica (LOTSE_SECRET).
	Secret []byte

	// GlobalRate is the overall message rate in messages/s (default 30),
	// spaced evenly.
	GlobalRate float64
	// PerChat is the interval between messages to one private chat
	// (default 1s) after a burst of PerChatBurst (default 3).
	PerChat      time.Duration
	PerChatBurst int
	// GroupPerMinute messages per GroupWindow (default 20 per minute) in
	// a group.
	GroupPerMinute int
	GroupWindow    time.Duration
	// MaxWait is the longest wait for a slot when ctx has no deadline
	// (default 1 minute); a longer wait fails the send.
	MaxWait time.Duration

	// LockTTL is the lease of a chat lock (default 5s). A holder renews
	// it every third of the lease while it handles the update, so a slow
	// update keeps its chat; a replica that dies frees the chat after at
	// most LockTTL.
	LockTTL time.Duration
	// LockWait bounds the wait for a chat lock (default 20s); the
	// webhook then answers 503 and Telegram delivers the update again.
	LockWait time.Duration

	// CallTimeout bounds one Redis round trip (default 500ms); beyond
	// it Redis counts as unavailable.
	CallTimeout time.Duration
	// Observer, if set, hears whether each call reached Redis (e.g.
	// metrics.Metrics, for alerts on a fallback to local limits).
	Observer Observer
}

// Observer hears the outcome of each call to Redis by the Limiter
// ("limiter") and Locks ("lock"). ok false means Redis did not answer:
// the call returned bot.ErrUnavailable and the transport falls back to
// its in-process limits (for a while) or lock (for that update). Calls
// that end for other reasons (the caller's context, a busy chat) are
// not reported. It must be cheap and safe for concurrent use.
type Observer interface {
	SharedCall(part string, ok bool)
}

// Parts reported to Observer.
const (
	PartLimiter = "limiter"
	PartLock    = "lock"
)

// observe reports a call's outcome: err nil is success, an error
// wrapping bot.ErrUnavailable a fallback, anything else nothing.
func (c Config) observe(part string, err error) {
	if c.Observer == nil {
		return
	}
	switch {
	case err == nil:
		c.Observer.SharedCall(part, true)
	case errors.Is(err, bot.ErrUnavailable):
		c.Observer.SharedCall(part, false)
	}
}

// headroom stretches the intervals as the transport's own limiter does
// (see bot.TelegramLimitHeadroom).
const headroom = bot.TelegramLimitHeadroom

func (c Config) withDefaults() (Config, error) {
	if len(c.Secret) < 16 {
		return c, errors.New("replica: secret must have at least 16 bytes")
	}
	if c.Namespace == "" {
		c.Namespace = "lotse"
	}
	if c.GlobalRate <= 0 {
		c.GlobalRate = bot.TelegramGlobalRate
	}
	if c.PerChat <= 0 {
		c.PerChat = bot.TelegramPerChat
	}
	if c.PerChatBurst <= 0 {
		c.PerChatBurst = bot.TelegramPerChatBurst
	}
	if c.GroupPerMinute <= 0 {
		c.GroupPerMinute = bot.TelegramGroupPerMinute
	}
	if c.GroupWindow <= 0 {
		c.GroupWindow = bot.TelegramGroupWindow
	}
	if c.MaxWait <= 0 {
		c.MaxWait = time.Minute
	}
	if c.LockTTL <= 0 {
		c.LockTTL = 5 * time.Second
	}
	if c.LockWait <= 0 {
		c.LockWait = 20 * time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 500 * time.Millisecond
	}
	return c, nil
}

// chatRef is the key-name form of a chat id: an HMAC, so a Redis dump
// does not list who talks to the bot.
func chatRef(secret []byte, chat int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("lotse replica chat "))
	m.Write(strconv.AppendInt(nil, chat, 10))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// unavailable wraps a Redis error as bot.ErrUnavailable unless ctx
// itself ended. The Redis error is flattened (%v): the caller's ctx
// decides whether a deadline is the caller's own.
func unavailable(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("replica %s: %w", what, ctx.Err())
	}
	return fmt.Errorf("replica %s: %w: %v", what, bot.ErrUnavailable, err)
}

// token returns a random value that identifies one reservation or lock.
func token() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleep waits for d or until ctx is done.
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
