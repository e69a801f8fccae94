package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// Handler processes one incoming update. Its error is logged. An error
// wrapping bot.ErrUnavailable (the store is down, the update is being
// handled elsewhere: bot.ErrInProgress) asks for the update again later:
// Poll leaves it unconfirmed and retries it (see Poll), the webhook
// answers 503. Any other error counts as handled (it is not retried).
type Handler interface {
	Handle(ctx context.Context, in bot.Incoming) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, in bot.Incoming) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, in bot.Incoming) error { return f(ctx, in) }

// maxPollBackoff caps the wait between failed getUpdates calls.
const maxPollBackoff = 30 * time.Second

// Defaults of Config.RedeliveryBackoff and Config.MaxRedeliveries.
const (
	DefaultRedeliveryBackoff = time.Second
	DefaultMaxRedeliveries   = 8
)

// idle delays apply when getUpdates returns nothing long before the
// long-poll timeout: the server does not long-poll (a proxy, a test
// server, short polling), and asking again at once would be a hot loop.
const (
	minIdleDelay = 250 * time.Millisecond
	maxIdleDelay = 5 * time.Second
)

// Poll receives updates by long polling and passes them to h until ctx
// is cancelled; then it waits for running handlers (at most
// ShutdownGrace, after which their context is cancelled) and returns
// nil. It returns an error only if polling cannot work at all (the
// token was revoked, the endpoint is wrong).
//
// An update is confirmed to Telegram (by the offset of the next
// getUpdates) only after its handler returned, so updates lost in a
// crash or a shutdown come back; the handler may therefore see an update
// twice and should de-duplicate by UpdateID. Updates of one chat are
// handled one at a time in order; different chats run concurrently on
// Workers goroutines, which take turns over the chats (see batch). Each
// batch is finished before the next is fetched.
//
// An update whose handler reports bot.ErrUnavailable stays unconfirmed,
// and so do the later updates of its chat in the batch, which are not
// handled, to keep the chat's order. Only the handled prefix of the
// batch is confirmed; after a backoff (RedeliveryBackoff, doubling up to
// 30 s) the rest is fetched again. Updates after the failed one that
// were handled come back too, and the handler drops them as duplicates.
// An update that failed MaxRedeliveries times is logged and confirmed,
// so that one poisoned update cannot hold up the queue for ever.
func (c *Client) Poll(ctx context.Context, h Handler) error {
	// Handlers get a context that survives ctx by ShutdownGrace, so a
	// shutdown does not abort a half-sent answer.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(c.cfg.ShutdownGrace)
			defer t.Stop()
			select {
			case <-t.C:
				hcancel()
			case <-hctx.Done():
			}
		case <-hctx.Done():
		}
	}()

	p := &poller{c: c, h: h, ctx: ctx, hctx: hctx, attempts: map[int]int{}}

	var offset, confirmed, failures, idle, deferrals int
	for {
		if ctx.Err() != nil {
			p.confirm(offset, confirmed)
			return nil
		}
		began := time.Now()
		updates, err := c.getUpdates(ctx, offset, 100, c.pollSeconds())
		if err != nil {
			if ctx.Err() != nil {
				p.confirm(offset, confirmed)
				return nil
			}
			f := classify(err)
			e := c.apiError("getUpdates", err, f)
			if f == fatal {
				return e
			}
			failures++
			wait := e.RetryAfter
			if wait <= 0 {
				wait = min(c.cfg.RetryBase<<min(failures-1, 16), maxPollBackoff)
				wait = wait/2 + rand.N(wait/2+1)
			}
			c.log.LogAttrs(ctx, slog.LevelWarn, "telegram getUpdates failed",
				slog.Int("code", e.Code), slog.String("err", e.Error()), slog.Duration("retry_in", wait))
			if sleep(ctx, wait) != nil {
				p.confirm(offset, confirmed)
				return nil
			}
			continue
		}
		failures = 0
		confirmed = offset
		fresh := updates[:0]
		for _, u := range updates {
			if u.UpdateID >= offset {
				fresh = append(fresh, u)
			}
		}
		if len(fresh) == 0 {
			if time.Since(began) < c.cfg.PollTimeout/2 || c.cfg.PollTimeout == 0 {
				idle++
				if sleep(ctx, min(minIdleDelay<<min(idle-1, 8), maxIdleDelay)) != nil {
					p.confirm(offset, confirmed)
					return nil
				}
			}
			continue
		}
		idle = 0
		var complete bool
		offset, complete = p.batch(fresh, offset)
		p.forget(offset)
		if complete || ctx.Err() != nil {
			deferrals = 0
			continue
		}
		// Some update asked to come back later: confirm the handled
		// prefix with the next getUpdates, after a pause that gives the
		// store (or a dead replica's lease) time to recover.
		deferrals++
		if sleep(ctx, min(c.redeliveryBackoff()<<min(deferrals-1, 16), maxPollBackoff)) != nil {
			p.confirm(offset, confirmed)
			return nil
		}
	}
}

func (c *Client) redeliveryBackoff() time.Duration {
	if c.cfg.RedeliveryBackoff > 0 {
		return c.cfg.RedeliveryBackoff
	}
	return DefaultRedeliveryBackoff
}

func (c *Client) maxRedeliveries() int {
	if c.cfg.MaxRedeliveries > 0 {
		return c.cfg.MaxRedeliveries
	}
	return DefaultMaxRedeliveries
}

func (c *Client) pollSeconds() int { return int(c.cfg.PollTimeout / time.Second) }

func (c *Client) getUpdates(ctx context.Context, offset, limit, timeout int) ([]update, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second+c.cfg.CallTimeout)
	defer cancel()
	// The library's GetUpdates, decoded here to keep the forum topic
	// fields it does not know (forum.go).
	var updates []update
	resp, err := c.botFor(rctx).Request(tgbotapi.UpdateConfig{
		Offset: offset, Limit: limit, Timeout: timeout, AllowedUpdates: c.cfg.AllowedUpdates,
	})
	if err == nil {
		updates, err = decodeUpdates(resp.Result)
	}
	if err == nil || ctx.Err() == nil {
		// A long poll cut short by our own cancellation says nothing
		// about Telegram.
		c.observe("getUpdates", err)
	}
	return updates, err
}

// poller runs the handlers of one Poll call.
type poller struct {
	c         *Client
	h         Handler
	ctx, hctx context.Context

	mu       sync.Mutex
	attempts map[int]int // update id -> handler calls that asked to retry
}

// chatQueue is one chat's updates of a batch, in order. next is the
// first not yet handled.
type chatQueue struct {
	jobs []job
	next int
}

type job struct {
	id, idx int // update id, index in the batch
	in      bot.Incoming
}

// run handles one job of a batch and reports whether the update may be
// confirmed; blocked: the chat's later updates of the batch must wait
// for a redelivery of this one.
func (p *poller) run(j job) (ok, blocked bool) {
	err := p.handle(j.in)
	if !errors.Is(err, bot.ErrUnavailable) {
		return true, false
	}
	p.mu.Lock()
	p.attempts[j.id]++
	n := p.attempts[j.id]
	p.mu.Unlock()
	if n >= p.c.maxRedeliveries() {
		p.c.log.LogAttrs(p.ctx, slog.LevelError, "telegram update given up",
			slog.String("chat", p.c.ref(j.in.ChatID)), slog.String("kind", kindName(j.in.Kind)),
			slog.Int("attempts", n))
		return true, false
	}
	return false, true
}

// forget drops the retry counts of confirmed updates.
func (p *poller) forget(offset int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.attempts {
		if id < offset {
			delete(p.attempts, id)
		}
	}
}

// chatKey is what orders updates: the chat, or the user where there is
// no chat.
func chatKey(in bot.Incoming) int64 {
	if in.ChatID != 0 {
		return in.ChatID
	}
	return in.UserID
}

// batch handles updates (ascending, all >= offset), waits for all of
// them and returns the new offset, one past the last update of the
// longest handled prefix, and whether every update was handled.
//
// Each chat's updates form a queue, handled one at a time in order.
// Up to Workers goroutines take turns over the chats: a worker handles
// the next update of one chat and puts the chat back at the end of the
// line, so a chat with many updates (a flood) or a slow one holds one
// worker at a time and never the chats behind it. (Hash-sharding chats
// onto workers would make every chat that shares a worker with a slow
// one wait for it.) The batch as a whole still ends with its slowest
// chat, because getUpdates confirms a prefix of the queue; handlers
// therefore must not wait long, which is why the bot sends replies that
// would wait for their chat's send slot through the outbox (bot.PacedSender).
func (p *poller) batch(updates []update, offset int) (int, bool) {
	sort.Slice(updates, func(i, j int) bool { return updates[i].UpdateID < updates[j].UpdateID })
	done := make([]bool, len(updates))
	queues := map[int64]*chatQueue{}
	var line []*chatQueue
	for i, u := range updates {
		in, ok := convertUpdate(u, p.c.Username())
		if !ok {
			p.c.obs.Update(kindUnsupported, OutcomeIgnored, 0)
			done[i] = true // nothing to do: confirm it
			continue
		}
		q := queues[chatKey(in)]
		if q == nil {
			q = &chatQueue{}
			queues[chatKey(in)] = q
			line = append(line, q)
		}
		q.jobs = append(q.jobs, job{id: u.UpdateID, idx: i, in: in})
	}
	if len(line) > 0 {
		// Every chat is in ready at most once, so it never blocks.
		ready := make(chan *chatQueue, len(line))
		for _, q := range line {
			ready <- q
		}
		var (
			mu   sync.Mutex
			left = len(line) // chats not finished
			wg   sync.WaitGroup
		)
		finish := func() {
			mu.Lock()
			defer mu.Unlock()
			if left--; left == 0 {
				close(ready)
			}
		}
		for range min(max(p.c.cfg.Workers, 1), len(line)) {
			wg.Go(func() {
				for q := range ready {
					// An update not yet started when Poll is cancelled
					// stays unconfirmed and is delivered again after a
					// restart; so do the chat's later ones.
					if p.ctx.Err() != nil {
						finish()
						continue
					}
					j := q.jobs[q.next]
					q.next++
					ok, blocked := p.run(j)
					done[j.idx] = ok
					if blocked || q.next == len(q.jobs) {
						finish()
						continue
					}
					ready <- q
				}
			})
		}
		wg.Wait()
	}
	complete := true
	for i, u := range updates {
		if !done[i] {
			complete = false
			break
		}
		offset = u.UpdateID + 1
	}
	return offset, complete
}

// handle runs the handler with a timeout, turning a panic into a logged
// error: a poisonous update must not stop the bot or come back forever.
func (p *poller) handle(in bot.Incoming) error {
	ctx, cancel := context.WithTimeout(p.hctx, p.c.cfg.HandlerTimeout)
	defer cancel()
	return p.c.runHandler(ctx, p.h, in)
}

// errPanic marks a handler panic turned into an error.
var errPanic = errors.New("handler panic")

// runHandler calls h, recovering a panic, and logs and observes the
// result.
func (c *Client) runHandler(ctx context.Context, h Handler, in bot.Incoming) error {
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", errPanic, r)
			}
		}()
		return h.Handle(ctx, in)
	}()
	outcome := outcomeOf(err)
	c.obs.Update(kindName(in.Kind), outcome, time.Since(start))
	if err != nil {
		level := slog.LevelError
		if errors.Is(err, context.Canceled) || errors.Is(err, bot.ErrUnavailable) {
			// Retried later; the final give-up is logged as an error.
			level = slog.LevelWarn
		}
		c.log.LogAttrs(ctx, level, "telegram update handler failed",
			slog.String("chat", c.ref(in.ChatID)), slog.String("kind", kindName(in.Kind)),
			slog.String("outcome", outcome), slog.String("err", c.redact(err.Error())))
	}
	return err
}

// confirm tells Telegram about handled updates that no getUpdates call
// has confirmed yet, so they are not delivered again after a restart.
// It is best-effort: at worst they come back and are de-duplicated.
func (p *poller) confirm(offset, confirmed int) {
	if offset <= confirmed {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5*time.Second)
	defer cancel()
	if _, err := p.c.getUpdates(ctx, offset, 1, 0); err != nil {
		p.c.log.LogAttrs(ctx, slog.LevelWarn, "telegram final confirmation failed",
			slog.String("err", p.c.apiError("getUpdates", err, classify(err)).Error()))
	}
}
