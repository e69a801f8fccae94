package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/remind"
)

// This file wires the coordinators' broadcasts: the engine on the
// broadcast store next to the conversation store (Redis: shared by every
// replica, with the shared pacer), the subscriptions as recipients, and
// the bot for /broadcast, progress reports and forgetting blocked chats.

// broadcasts builds the engine into a bot configuration and runs it once
// the bot exists. The engine and the bot need each other (the bot's
// configuration holds the engine, the engine reports through the bot),
// so the engine reaches the bot through ref, set before anything runs.
type broadcasts struct {
	store broadcast.Store
	pacer broadcast.Pacer
	subs  remind.Store
	log   *slog.Logger
	now   func() time.Time
	ref   *botRef
	eng   *broadcast.Engine
	err   error // from with, reported by start
}

func newBroadcasts(store bot.Store, subs remind.Store, now func() time.Time, log *slog.Logger) *broadcasts {
	w := &broadcasts{subs: subs, log: log, now: now, ref: &botRef{}}
	if rs, ok := store.(*redisstore.Store); ok {
		w.store, w.pacer = rs.Broadcasts(), rs.Pacer(0)
	} else {
		w.store = memstore.NewBroadcasts(now)
	}
	return w
}

// with adds the broadcast port to c. Without coordinators (no staff
// directory) nobody may broadcast, and /broadcast stays unavailable. An
// error is reported by start, so that with wraps a configuration inline.
func (w *broadcasts) with(c bot.Config) bot.Config {
	if c.Staff == nil {
		return c
	}
	eng, err := broadcast.New(broadcast.Config{
		Store:       w.store,
		Recipients:  recipients(c, w.subs),
		Sender:      c.Sender,
		Forget:      w.ref,
		Coordinator: c.Staff.IsCoordinator,
		Pacer:       w.pacer,
		Reporter:    broadcast.BotReporter{Bot: w.ref, Logger: w.log},
		KB:          c.KB.Current,
		Now:         w.now,
		Logger:      w.log,
	})
	if err != nil {
		w.err = fmt.Errorf("broadcasts: %w", err)
		return c
	}
	w.eng = eng
	c.Broadcasts = broadcast.BotBroadcaster{Engine: eng}
	return c
}

// start delivers broadcasts until ctx ends: those left unfinished by a
// crash or restart first, then those confirmed here or at other replicas.
func (w *broadcasts) start(ctx context.Context, b *bot.Bot) error {
	w.ref.b = b
	if w.err != nil || w.eng == nil {
		return w.err
	}
	go func() {
		if err := w.eng.Run(ctx); err != nil {
			w.log.Error("broadcast engine stopped", "err", err)
		}
	}()
	return nil
}

// botRef is the bot as the engine's ChatForgetter and progress reporter.
type botRef struct{ b *bot.Bot }

// ForgetChat implements broadcast.ChatForgetter.
func (r *botRef) ForgetChat(ctx context.Context, chatID int64) error {
	return r.b.ForgetChat(ctx, chatID)
}

// BroadcastProgress reports to the broadcast's author.
func (r *botRef) BroadcastProgress(ctx context.Context, st bot.BroadcastStatus) error {
	return r.b.BroadcastProgress(ctx, st)
}
