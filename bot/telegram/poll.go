package telegram

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// Handler processes one incoming update. Its error is logged; the update
// counts as handled either way (it is not retried).
type Handler interface {
	Handle(ctx context.Context, in bot.Incoming) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, in bot.Incoming) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, in bot.Incoming) error { return f(ctx, in) }

// maxPollBackoff caps the wait between failed getUpdates calls.
const maxPollBackoff = 30 * time.Second

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
// Workers goroutines. Each batch is finished before the next is fetched.
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

	p := &poller{c: c, h: h, ctx: ctx, hctx: hctx, seed: maphash.MakeSeed()}
	p.start()
	defer p.stop()

	var offset, confirmed, failures, idle int
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
		offset = p.batch(fresh, offset)
	}
}

func (c *Client) pollSeconds() int { return int(c.cfg.PollTimeout / time.Second) }

func (c *Client) getUpdates(ctx context.Context, offset, limit, timeout int) ([]tgbotapi.Update, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second+c.cfg.CallTimeout)
	defer cancel()
	updates, err := c.botFor(rctx).GetUpdates(tgbotapi.UpdateConfig{
		Offset: offset, Limit: limit, Timeout: timeout, AllowedUpdates: c.cfg.AllowedUpdates,
	})
	if err == nil || ctx.Err() == nil {
		// A long poll cut short by our own cancellation says nothing
		// about Telegram.
		c.observe("getUpdates", err)
	}
	return updates, err
}

// poller runs the handler workers of one Poll call.
type poller struct {
	c         *Client
	h         Handler
	ctx, hctx context.Context
	seed      maphash.Seed
	shards    []chan job
	wg        sync.WaitGroup
}

type job struct {
	in   bot.Incoming
	done *bool
	wg   *sync.WaitGroup
}

func (p *poller) start() {
	p.shards = make([]chan job, p.c.cfg.Workers)
	for i := range p.shards {
		ch := make(chan job, 100)
		p.shards[i] = ch
		p.wg.Go(func() {
			for j := range ch {
				// An update not yet started when Poll is cancelled stays
				// unconfirmed and is delivered again after a restart.
				if p.ctx.Err() == nil {
					p.handle(j.in)
					*j.done = true
				}
				j.wg.Done()
			}
		})
	}
}

func (p *poller) stop() {
	for _, ch := range p.shards {
		close(ch)
	}
	p.wg.Wait()
}

// batch hands updates (ascending, all >= offset) to the workers, waits
// for all of them and returns the new offset: one past the last update
// of the longest handled prefix.
func (p *poller) batch(updates []tgbotapi.Update, offset int) int {
	sort.Slice(updates, func(i, j int) bool { return updates[i].UpdateID < updates[j].UpdateID })
	done := make([]bool, len(updates))
	var wg sync.WaitGroup
	for i, u := range updates {
		in, ok := ConvertFor(u, p.c.Username())
		if !ok {
			p.c.obs.Update(kindUnsupported, OutcomeIgnored, 0)
			done[i] = true // nothing to do: confirm it
			continue
		}
		key := in.ChatID
		if key == 0 {
			key = in.UserID
		}
		wg.Add(1)
		p.shards[p.shard(key)] <- job{in: in, done: &done[i], wg: &wg}
	}
	wg.Wait()
	for i, u := range updates {
		if !done[i] {
			break
		}
		offset = u.UpdateID + 1
	}
	return offset
}

func (p *poller) shard(chatID int64) int {
	return int(maphash.Comparable(p.seed, chatID) % uint64(len(p.shards)))
}

// handle runs the handler with a timeout, turning a panic into a logged
// error: a poisonous update must not stop the bot or come back forever.
func (p *poller) handle(in bot.Incoming) {
	ctx, cancel := context.WithTimeout(p.hctx, p.c.cfg.HandlerTimeout)
	defer cancel()
	p.c.runHandler(ctx, p.h, in)
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
		if errors.Is(err, context.Canceled) {
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
