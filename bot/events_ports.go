package bot

import (
	"context"
	"errors"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// Errors of the reminder port, besides ErrNotFound, ErrInvalid and
// ErrUnavailable.
var (
	// ErrTooMany: the user has as many subscriptions as allowed.
	ErrTooMany = errors.New("too many subscriptions")
	// ErrNoUpcoming: the event has no date left to be reminded of.
	ErrNoUpcoming = errors.New("event has no upcoming date")
)

// Reminders is what the conversation needs of the subscription store
// (package remind, which imports bot, adapts its stores to it). Every
// method is keyed by the pseudonymous UserKey.
type Reminders interface {
	// SubscribeEvent subscribes user, reachable in chatID and reading
	// lang, to the event eventID, and returns the subscription id (at
	// most 16 bytes, for callback data). Subscribing again renews the
	// subscription. Returns an error wrapping ErrNotFound if there is no
	// such event, ErrNoUpcoming if it has no date left, ErrTooMany if the
	// user has too many subscriptions.
	SubscribeEvent(ctx context.Context, user UserKey, chatID int64, lang, eventID string, now time.Time) (string, error)
	// Unsubscribe deletes user's subscription id. Returns ErrNotFound if
	// there is none.
	Unsubscribe(ctx context.Context, user UserKey, id string) error
	// Subscriptions lists user's live subscriptions, oldest first.
	Subscriptions(ctx context.Context, user UserKey) ([]Subscription, error)
	// ForgetSubscriptions deletes all of user's subscriptions (and their
	// pending reminders). A user without any is not an error.
	ForgetSubscriptions(ctx context.Context, user UserKey) error
}

// Subscription is one of a user's subscriptions as the conversation shows
// it: to an event, or to a district's events (of a topic, if set).
type Subscription struct {
	ID       string
	Event    string
	District string
	Topic    string
	Created  time.Time
	Expires  time.Time
}

// EventDate is one date of an event in a "what's on" listing.
type EventDate struct {
	Entry      *knowledge.Entry
	Occurrence knowledge.Occurrence // Cancelled and Changed say how to show it
}

// WhatsOnFunc lists the dates of events from now until the end of the
// days-th calendar day in the city's time zone, for a district ("" for
// all; the district's and the city-wide events otherwise) and an audience
// ("" for all), sorted by start. Past dates are never listed; cancelled
// and moved ones are, flagged. remind.WhatsOn is adapted to it.
type WhatsOnFunc func(kb *knowledge.KB, now time.Time, days int, district string, audience knowledge.Audience) []EventDate

// ReminderNote is one reminder to deliver: the event, its date as it
// stands now, the subscription that asked for it and how long before the
// date it is sent.
type ReminderNote struct {
	Event          *knowledge.Entry
	Occurrence     knowledge.Occurrence
	SubscriptionID string
	Before         time.Duration
}
