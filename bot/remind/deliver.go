package remind

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/knowledge"
)

// Reminder is what a subscriber is reminded of.
type Reminder struct {
	// JobID identifies the reminder, e.g. for logs.
	JobID string
	// SubscriptionID is the subscription that asked for it, so a message
	// can offer an "unsubscribe" button.
	SubscriptionID string
	// Event is the event entry.
	Event *knowledge.Entry
	// Occurrence is the date, in the city's time zone, as it stands at
	// delivery (a moved date has Changed set and its note).
	Occurrence knowledge.Occurrence
	// Before is the configured offset that triggered it (24 h, 1 h, ...).
	Before time.Duration
}

// Deliverer sends reminders. Deliver returns an error wrapping
// bot.ErrBlocked if the chat cannot be reached (the user's subscriptions
// are then removed), an error wrapping bot.ErrUnavailable if nothing was
// sent and a later attempt may succeed, any other error if the outcome is
// unknown (the reminder is not tried again: at most once).
type Deliverer interface {
	Deliver(ctx context.Context, chatID int64, lang string, r Reminder) error
}

// DeliverFunc adapts a function to Deliverer.
type DeliverFunc func(ctx context.Context, chatID int64, lang string, r Reminder) error

// Deliver calls f.
func (f DeliverFunc) Deliver(ctx context.Context, chatID int64, lang string, r Reminder) error {
	return f(ctx, chatID, lang, r)
}

// SenderDeliverer delivers reminders as text messages through a bot.Sender.
type SenderDeliverer struct {
	Sender bot.Sender
	// Render builds the message; nil means Message.
	Render func(chatID int64, lang string, r Reminder) bot.Outgoing
}

// Deliver implements Deliverer. The Sender's errors already follow the
// contract (bot.ErrBlocked, bot.ErrUnavailable).
func (d SenderDeliverer) Deliver(ctx context.Context, chatID int64, lang string, r Reminder) error {
	render := d.Render
	if render == nil {
		render = Message
	}
	if _, err := d.Sender.Send(ctx, render(chatID, lang, r)); err != nil {
		return fmt.Errorf("deliver reminder: %w", err)
	}
	return nil
}

// rtlLangs are the shipped right-to-left languages.
var rtlLangs = map[string]bool{"ar": true, "fa": true}

// Message is the default rendering of a reminder: Text as a plain message.
func Message(chatID int64, lang string, r Reminder) bot.Outgoing {
	return bot.Outgoing{ChatID: chatID, Text: Text(lang, r), RTL: rtlLangs[lang]}
}

// Text is the default, language-neutral reminder text until the bot core
// renders reminders with its UI messages: a bell, the event's title in
// lang with the official German name, and the date and time in German
// numeric notation (which every user sees on official letters), e.g.
//
//	⏰ Integration conference Mitte (Integrationskonferenz Mitte)
//	📅 Do 03.12.2026, 18:00–20:30
//
// A moved date adds "⚠" and the change note in lang.
func Text(lang string, r Reminder) string {
	var b strings.Builder
	b.WriteString("⏰ ")
	if r.Event != nil {
		title, _ := r.Event.Title.In(lang)
		switch {
		case title == "" || title == r.Event.NameDE:
			b.WriteString(r.Event.NameDE)
		default:
			b.WriteString(title + " (" + r.Event.NameDE + ")")
		}
	}
	o := r.Occurrence
	fmt.Fprintf(&b, "\n📅 %s %s, %s–%s", weekdayDE[o.Start.Weekday()], o.Start.Format("02.01.2006"), o.Start.Format("15:04"), o.End.Format("15:04"))
	if o.Changed {
		b.WriteString("\n⚠")
		if note, _ := o.Note.In(lang); note != "" {
			b.WriteString(" " + note)
		}
	}
	return b.String()
}

var weekdayDE = [...]string{"So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"}
