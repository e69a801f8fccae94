package remind

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file adapts remind to the small ports the bot core declares (the
// core must not import remind): bot.Reminders for the conversation's
// subscription buttons, bot.WhatsOnFunc for /events, and a Deliverer that
// lets the bot render reminders in the subscriber's language.

// Forgetter is the optional capability of a job queue to drop a user's
// pending reminders (both shipped stores have it).
type Forgetter interface {
	ForgetUser(ctx context.Context, user bot.UserKey) error
}

// BotReminders implements bot.Reminders on a subscription Store.
type BotReminders struct {
	Subs Store
	// KB is the current knowledge base (knowledge.Live.Current).
	KB func() *knowledge.KB
	// Queue, if it implements Forgetter, also loses the user's pending
	// jobs on ForgetSubscriptions. May be nil.
	Queue any
	// Audience is the broadcast audience index the bot keeps users in
	// (bot.AudienceKeeper); nil keeps nobody.
	Audience bot.AudienceIndex
}

var (
	_ bot.Reminders      = BotReminders{}
	_ bot.AudienceKeeper = BotReminders{}
)

// SubscribeEvent implements bot.Reminders.
func (r BotReminders) SubscribeEvent(ctx context.Context, user bot.UserKey, chatID int64, lang, eventID string, now time.Time) (string, error) {
	s, err := NewEventSubscription(r.KB(), user, chatID, lang, eventID, now)
	if err != nil {
		return "", mapErr(err)
	}
	if err := r.Subs.Subscribe(ctx, s); err != nil {
		return "", mapErr(err)
	}
	return s.ID, nil
}

// SubscribeDistrict implements bot.Reminders.
func (r BotReminders) SubscribeDistrict(ctx context.Context, user bot.UserKey, chatID int64, lang, district, topic string, now time.Time) (string, error) {
	s, err := NewDistrictSubscription(r.KB(), user, chatID, lang, district, topic, now)
	if err != nil {
		return "", mapErr(err)
	}
	if err := r.Subs.Subscribe(ctx, s); err != nil {
		return "", mapErr(err)
	}
	return s.ID, nil
}

// KeepAudience implements bot.AudienceKeeper. The bot keeps the entry
// when the user is active (at most about once a day unless something
// changed), which is also when their subscriptions are renewed (Renew):
// a followed district lives DistrictTTL after the last activity.
func (r BotReminders) KeepAudience(ctx context.Context, m bot.AudienceMember) error {
	var err error
	if r.Audience != nil {
		err = r.Audience.Join(ctx, m)
	}
	if r.Subs != nil && r.KB != nil && !m.Seen.IsZero() {
		err = errors.Join(err, Renew(ctx, r.Subs, r.KB(), m.User, m.Seen))
	}
	return err
}

// LeaveAudience implements bot.AudienceKeeper.
func (r BotReminders) LeaveAudience(ctx context.Context, user bot.UserKey) error {
	if r.Audience == nil {
		return nil
	}
	return r.Audience.Leave(ctx, user)
}

// Unsubscribe implements bot.Reminders.
func (r BotReminders) Unsubscribe(ctx context.Context, user bot.UserKey, id string) error {
	return r.Subs.Unsubscribe(ctx, user, id)
}

// Subscriptions implements bot.Reminders.
func (r BotReminders) Subscriptions(ctx context.Context, user bot.UserKey) ([]bot.Subscription, error) {
	subs, err := r.Subs.SubscriptionsOf(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]bot.Subscription, 0, len(subs))
	for _, s := range subs {
		out = append(out, bot.Subscription{ID: s.ID, Event: s.Target.Event, District: s.Target.District,
			Topic: s.Target.Topic, Created: s.Created, Expires: s.Expires})
	}
	return out, nil
}

// ForgetSubscriptions implements bot.Reminders.
func (r BotReminders) ForgetSubscriptions(ctx context.Context, user bot.UserKey) error {
	err := r.Subs.ForgetUser(ctx, user)
	if f, ok := r.Queue.(Forgetter); ok && f != any(r.Subs) {
		err = errors.Join(err, f.ForgetUser(ctx, user))
	}
	return err
}

// mapErr adds the bot's sentinel to remind's own errors, keeping both.
func mapErr(err error) error {
	switch {
	case errors.Is(err, ErrTooMany):
		return fmt.Errorf("%w: %w", bot.ErrTooMany, err)
	case errors.Is(err, ErrNoUpcoming):
		return fmt.Errorf("%w: %w", bot.ErrNoUpcoming, err)
	}
	return err
}

// BotWhatsOn is WhatsOn as a bot.WhatsOnFunc.
func BotWhatsOn(kb *knowledge.KB, now time.Time, days int, district string, audience knowledge.Audience) []bot.EventDate {
	items := WhatsOn(kb, now, days, district, audience)
	out := make([]bot.EventDate, len(items))
	for i, it := range items {
		out[i] = bot.EventDate{Entry: it.Entry, Occurrence: it.Occurrence}
	}
	return out
}

// BotDeliverer delivers reminders through the bot, which renders them in
// the subscriber's language with an unsubscribe button.
func BotDeliverer(b interface {
	DeliverReminder(ctx context.Context, chatID int64, lang string, r bot.ReminderNote) error
}) Deliverer {
	return DeliverFunc(func(ctx context.Context, chatID int64, lang string, r Reminder) error {
		return b.DeliverReminder(ctx, chatID, lang, bot.ReminderNote{
			Event: r.Event, Occurrence: r.Occurrence, SubscriptionID: r.SubscriptionID, Before: r.Before,
		})
	})
}
