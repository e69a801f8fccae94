package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/audience"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/ical"
)

// This file wires what surrounds the conversation: event subscriptions
// and the reminder scheduler, the anonymous indicators, the retention of
// closed requests and the calendar feeds.

// sides are the stores that go with the conversation store: Redis ones
// next to Redis (shared by every replica), in-memory ones otherwise.
type sides struct {
	subs  remind.Store
	queue remind.Queue
	mon   monitor.Store
	aud   bot.AudienceIndex // the broadcast audience index
	// batch, next to Redis, is mon: it writes the counters of a second
	// in one round trip instead of two or three per question (see
	// bot/monitor/batch.go for what a crash may lose).
	batch *monitor.Batcher
	lost  *batchLog
	// closeBatch writes what batch collected and stops batching, once:
	// a second caller waits for the first (nil without batch).
	closeBatch func()
}

func sideStores(store bot.Store, now func() time.Time) sides {
	if rs, ok := store.(*redisstore.Store); ok {
		lost := &batchLog{}
		batch := monitor.NewBatcher(rs.Monitor(), monitor.BatcherOptions{OnError: lost.report})
		closeBatch := sync.OnceFunc(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := batch.Close(ctx); err != nil {
				lost.warn("monitoring counters not written at shutdown", err)
			}
		})
		return sides{subs: rs, queue: rs, mon: batch, aud: rs, batch: batch, lost: lost, closeBatch: closeBatch}
	}
	r := memstore.NewReminders(now)
	return sides{subs: r, queue: r, mon: memstore.NewMonitor(now), aud: r}
}

// withSides adds the reminder and monitoring ports to a bot configuration.
func (s sides) withSides(c bot.Config) bot.Config {
	c.Reminders = remind.BotReminders{Subs: s.subs, KB: c.KB.Current, Queue: s.queue, Audience: s.aud}
	c.WhatsOn = remind.BotWhatsOn
	c.Monitor = s.mon
	if ob, ok := c.Store.(bot.Outbox); ok && c.Outbox == nil {
		// Replies that would wait for their chat's send slot are queued
		// there while a dispatcher (RunOutbox) runs (bot/outbox.go).
		c.Outbox = ob
	}
	return c
}

// startReminders runs the reminder scheduler until ctx ends; reminders go
// out through b, in each subscriber's language. It also writes the
// batched monitoring counters when ctx ends (later ones are written one
// by one) and logs batches that could not be written.
func (s sides) startReminders(ctx context.Context, b *bot.Bot, live *knowledge.Live, now func() time.Time, log *slog.Logger) error {
	if s.batch != nil {
		s.lost.log.Store(log)
		go func() {
			<-ctx.Done()
			s.closeMonitor()
		}()
	}
	sch, err := remind.New(remind.Config{
		Subs: s.subs, Queue: s.queue, KB: live.Current, Deliver: remind.BotDeliverer(b), Now: now, Log: log,
		Forget: s.aud.Leave,
	})
	if err != nil {
		return err
	}
	go func() {
		if err := sch.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("reminder scheduler stopped", "err", err)
		}
	}()
	return nil
}

// closeMonitor writes the batched monitoring counters and stops batching
// (later ones are written one by one); it returns when they are written,
// also if startReminders' call at the end of ctx came first. `lotse run`
// calls it before it closes the store, which that call would race.
func (s sides) closeMonitor() {
	if s.closeBatch != nil {
		s.closeBatch()
	}
}

// batchLog reports monitoring batches that could not be written, to the
// logger startReminders was given.
type batchLog struct{ log atomic.Pointer[slog.Logger] }

func (l *batchLog) warn(msg string, err error) {
	if log := l.log.Load(); log != nil {
		log.Warn(msg, "err", err)
	}
}

func (l *batchLog) report(err error, lost int) {
	if log := l.log.Load(); log != nil {
		log.Warn("monitoring counters not written", "items", lost, "err", err)
	}
}

// recipients lists a broadcast's audience: the audience index the bot
// keeps through c.Reminders, with the subscribers of districts, topics and
// events; only the subscribers without an index.
func recipients(c bot.Config, subs remind.Store) broadcast.Recipients {
	s := broadcast.Subscribers{Subs: subs, KB: c.KB.Current, Sessions: c.Store}
	if r, ok := c.Reminders.(remind.BotReminders); ok && r.Audience != nil {
		a := audience.Recipients{Index: r.Audience, Subscribers: s}
		if c.Staff != nil {
			a.Staff = c.Staff.IsStaff // staff are no refugees
		}
		return a
	}
	return s
}

// retainEvery redacts closed and cancelled requests older than keep,
// every interval, until ctx ends. Every replica may run it: redaction is
// an atomic, idempotent update.
func retainEvery(ctx context.Context, tickets bot.TicketStore, every, keep time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := tickets.PurgeClosed(ctx, now.Add(-keep))
			if err != nil && ctx.Err() == nil {
				log.Warn("retention run incomplete", "redacted", n, "err", err)
			} else if n > 0 {
				log.Info("retention run", "redacted", n)
			}
		}
	}
}

// publicHandlers are the public HTTP routes besides health and webhook:
// the district calendar feeds.
func publicHandlers(live *knowledge.Live) map[string]http.Handler {
	return map[string]http.Handler{ical.PathPrefix: ical.Handler(live, time.Now)}
}

// calendarURL is the public base of the calendar feeds, "" if unknown.
func calendarURL(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	for len(publicURL) > 0 && publicURL[len(publicURL)-1] == '/' {
		publicURL = publicURL[:len(publicURL)-1]
	}
	return publicURL + ical.PathPrefix
}
