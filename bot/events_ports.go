package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	// SubscribeDistrict subscribes user to every event of district (and
	// the city-wide ones), of topic only unless topic is "", and returns
	// the subscription id. Subscribing again renews it. Returns an error
	// wrapping ErrNotFound if there is no such district or topic,
	// ErrTooMany if the user has too many subscriptions.
	SubscribeDistrict(ctx context.Context, user UserKey, chatID int64, lang, district, topic string, now time.Time) (string, error)
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

// AudienceMember is a user as broadcast audiences see them: reachable in
// ChatID (their private chat), reading Lang, with their Role ("" or
// RoleVolunteer) and District ("" if unknown) as their session has them.
// It is personal data under the same retention as the session: it expires
// at Expires unless the user is active again.
type AudienceMember struct {
	User     UserKey   `json:"u"`
	ChatID   int64     `json:"c"`
	Lang     string    `json:"l"`
	Role     string    `json:"r,omitempty"`
	District string    `json:"d,omitempty"`
	Expires  time.Time `json:"x"`
	// Seen is the time of the turn that keeps the entry (the user was
	// active then). It is not stored: the keeper uses it to renew the
	// user's subscriptions, which live as long after the last activity.
	Seen time.Time `json:"-"`
}

// Validate reports an error wrapping ErrInvalid if m is incomplete or has
// ids the stores cannot key by (see validID; the user key is hex).
func (m AudienceMember) Validate() error {
	switch {
	case m.User == "" || len(m.User) > maxIDLen || strings.ContainsAny(string(m.User), "{}:| "):
		return fmt.Errorf("audience member: invalid user key: %w", ErrInvalid)
	case m.ChatID == 0:
		return fmt.Errorf("audience member: no chat: %w", ErrInvalid)
	case m.Lang == "" || len(m.Lang) > 16:
		return fmt.Errorf("audience member: invalid language: %w", ErrInvalid)
	case m.Role != "" && !validID(m.Role), m.District != "" && !validID(m.District):
		return fmt.Errorf("audience member: invalid role or district: %w", ErrInvalid)
	case m.Expires.IsZero():
		return fmt.Errorf("audience member: no expiry: %w", ErrInvalid)
	}
	return nil
}

// AudienceIndex is the pseudonymous index of the people a broadcast can
// reach, by district: Lotse keeps no register of its users, only this
// index of those active within the conversation retention. Stores
// implement it (memstore.Reminders, redisstore.Store); every record
// expires with its member.
type AudienceIndex interface {
	// Join adds m, replacing user's earlier entry (also in the index of a
	// district they left). Returns an error wrapping ErrInvalid if m does
	// not validate or has expired.
	Join(ctx context.Context, m AudienceMember) error
	// Leave removes user's entry; a user without one is not an error.
	Leave(ctx context.Context, user UserKey) error
	// Members returns one page of at most limit live members of district
	// ("" for everybody), starting after cursor ("" for the first page),
	// and the cursor of the next page ("" after the last). Every member
	// present and unchanged during the whole iteration is returned at
	// least once; one that joined again meanwhile may be returned twice.
	Members(ctx context.Context, district, cursor string, limit int) (members []AudienceMember, next string, err error)
}

// AudienceKeeper is an optional capability of Reminders: keeping the user
// in the broadcast audience index. The bot joins users with the session
// it saves, when their language, role or district changed and at least
// daily (so the entry lives as long as the session), and removes them on
// /forget and when they blocked the bot.
type AudienceKeeper interface {
	KeepAudience(ctx context.Context, m AudienceMember) error
	LeaveAudience(ctx context.Context, user UserKey) error
}
