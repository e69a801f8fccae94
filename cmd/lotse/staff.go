package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// loadStaff reads LOTSE_STAFF_FILE; without it, "ask a person" shows the
// central contact (nil directory).
func loadStaff(cfg Config, kb *knowledge.KB) (*bot.StaffDirectory, error) {
	if cfg.StaffFile == "" {
		return nil, nil
	}
	return staffconfig.Load(cfg.StaffFile, kb)
}

// staffReloader returns what SIGHUP does for the staff file after the
// knowledge base was reloaded (nil without LOTSE_STAFF_FILE): read it
// again, check it against the knowledge base in force and put it in force;
// staff no longer in it (or no longer on a request's desk) lose their
// claimed requests to the queue, and the open requests of a desk whose
// chat changed are posted in the new chat (bot.Bot.RequeueAll). A broken
// file is refused with every problem (file:line) in the log, and the last
// good staff stay in force.
func staffReloader(ctx context.Context, b *bot.Bot, path string, live *knowledge.Live, log *slog.Logger) func() {
	if path == "" {
		return nil
	}
	return func() {
		staff, err := staffconfig.Load(path, live.Current())
		if err == nil {
			err = b.SetStaff(staff)
		}
		if err != nil {
			log.Error("staff file reload refused; the previous staff stay in force", "problems", err.Error())
			return
		}
		r, err := b.RequeueAll(ctx)
		if err != nil {
			// The new staff are in force; the next start-up or reload
			// returns or moves the rest.
			log.Warn("staff file reloaded; returning or moving requests incomplete", "requests_returned", r.Returned, "requests_moved", r.Moved, "err", err)
			return
		}
		log.Info("staff file reloaded", "requests_returned", r.Returned, "requests_moved", r.Moved)
	}
}

// chatStaff makes the terminal user the staff of every desk, in the same
// chat, so the whole request flow can be tried alone: staff messages
// start with 📨, 💬 or ⏰ and carry the staff buttons.
func chatStaff(kb *knowledge.KB, user, chat int64) *bot.StaffDirectory {
	if len(kb.RoutingTargets()) == 0 {
		return nil
	}
	d, err := staffconfig.Console(kb, user, chat)
	if err != nil {
		return nil
	}
	return d
}

// escalateEvery runs the escalation job until ctx ends. Every replica may
// run it: each step is an atomic update that re-checks the due time.
func escalateEvery(ctx context.Context, b *bot.Bot, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := b.Escalate(ctx, now)
			if err != nil && ctx.Err() == nil {
				log.Warn("escalation run incomplete", "acted", n, "err", err)
			} else if n > 0 {
				log.Info("escalation run", "acted", n)
			}
		}
	}
}

// outboxOf is the store's outbox when requests go to staff: messages
// about tickets then survive crashes and Telegram outages.
func outboxOf(store bot.Store, staff *bot.StaffDirectory) bot.Outbox {
	if ob, ok := store.(bot.Outbox); ok && staff != nil {
		return ob
	}
	return nil
}

// tokensOf is the store's callback token store when requests go to
// staff: ticket buttons then carry opaque tokens.
func tokensOf(store bot.Store, staff *bot.StaffDirectory) bot.TokenStore {
	if ts, ok := store.(bot.TokenStore); ok && staff != nil {
		return ts
	}
	return nil
}

// startTickets returns the tickets of staff no longer configured to the
// queue, moves those of desks whose chat changed while Lotse was down, and
// starts this replica's outbox dispatcher, which also delivers
// replies queued to wait for their chat's send slot (so it runs without
// staff too).
func startTickets(ctx context.Context, b *bot.Bot, staff *bot.StaffDirectory, log *slog.Logger) {
	if staff != nil {
		if n, err := b.Requeue(ctx); err != nil {
			log.Warn("returning tickets of removed staff to the queue incomplete", "moved", n, "err", err)
		}
	}
	host, _ := os.Hostname()
	consumer := fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano())
	go func() {
		if err := b.RunOutbox(ctx, consumer); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, bot.ErrNoOutbox) {
			log.Error("outbox dispatcher stopped", "err", err)
		}
	}()
}
