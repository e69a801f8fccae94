package remind

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/knowledge"
)

// Errors of subscriptions, besides bot.ErrInvalid, bot.ErrNotFound and
// bot.ErrUnavailable.
var (
	// ErrTooMany: the user already has MaxPerUser subscriptions.
	ErrTooMany = errors.New("too many subscriptions")
	// ErrNoUpcoming: the event has no date left to be reminded of.
	ErrNoUpcoming = errors.New("event has no upcoming date")
)

// Limits and lifetimes of subscriptions.
const (
	// MaxPerUser bounds one user's subscriptions. Nobody follows more than a
	// few dozen events by hand; the bound keeps a script or a stuck client
	// from filling the store and the planner.
	MaxPerUser = 50
	// EventGrace is how long an event subscription outlives the end of the
	// last date known when it was made or renewed, so that "what's next"
	// questions right after an event still find it.
	EventGrace = 30 * 24 * time.Hour
	// DistrictTTL is how long a district subscription lives after the user
	// was last active (see Renew).
	DistrictTTL = 180 * 24 * time.Hour
	// eventLookahead bounds how far ahead NewEventSubscription looks for an
	// event's last date: an event recurring without end date is treated
	// as ending this far ahead, so that its subscription still expires
	// unless the user comes back.
	eventLookahead = 180 * 24 * time.Hour
	// maxIDLen bounds entry, district and topic ids.
	maxIDLen = 64
)

// Target is what a subscription follows: either one event (Event set), or
// the events of a district (District set), optionally only those of one
// topic. A district subscription includes city-wide events (those without
// a district) of the topic.
type Target struct {
	Event    string `json:"e,omitempty"`
	District string `json:"d,omitempty"`
	Topic    string `json:"t,omitempty"`
}

// EventTarget is the target of a subscription to one event.
func EventTarget(eventID string) Target { return Target{Event: eventID} }

// DistrictTarget is the target of a subscription to a district's events,
// restricted to topic unless it is "".
func DistrictTarget(district, topic string) Target { return Target{District: district, Topic: topic} }

// String is a stable, unambiguous form of t, used in ids.
func (t Target) String() string {
	if t.Event != "" {
		return "e:" + t.Event
	}
	return "d:" + t.District + "/" + t.Topic
}

// Validate reports an error wrapping bot.ErrInvalid unless t names exactly
// one event, or one district with an optional topic, with ids that are
// non-empty, at most 64 bytes and free of spaces and of the separators
// ':', '|', '/', '{' and '}' that the stores use in keys.
func (t Target) Validate() error {
	switch {
	case t.Event != "" && (t.District != "" || t.Topic != ""):
		return fmt.Errorf("subscription target: event and district both set: %w", bot.ErrInvalid)
	case t.Event == "" && t.District == "":
		return fmt.Errorf("subscription target: neither event nor district: %w", bot.ErrInvalid)
	}
	for _, id := range []string{t.Event, t.District, t.Topic} {
		if id == "" {
			continue
		}
		if len(id) > maxIDLen || strings.ContainsAny(id, " \t\r\n:|/{}") {
			return fmt.Errorf("subscription target: invalid id %q: %w", id, bot.ErrInvalid)
		}
	}
	return nil
}

// Matches reports whether an event entry is covered by t: the event
// itself, or an event in t's district (or city-wide) with t's topic.
func (t Target) Matches(e *knowledge.Entry) bool {
	if e == nil || e.Event == nil {
		return false
	}
	if t.Event != "" {
		return t.Event == e.ID
	}
	if e.District != "" && e.District != t.District {
		return false
	}
	if t.Topic == "" {
		return true
	}
	for _, tp := range e.Topics {
		if tp == t.Topic {
			return true
		}
	}
	return false
}

// Subscription is a user's wish to be reminded. It is personal data: it
// holds only what delivery needs.
type Subscription struct {
	// ID is SubscriptionID(User, Target): one subscription per user and
	// target, short enough for callback data ("unsub:<id>").
	ID     string      `json:"id"`
	User   bot.UserKey `json:"u"`
	ChatID int64       `json:"c"`
	Lang   string      `json:"l"`
	Target Target      `json:"tg"`
	// Created is when the user subscribed. No reminder is due before it:
	// subscribing ten hours before an event does not trigger the 24-hour
	// reminder at once.
	Created time.Time `json:"cr"`
	// Expires is when the subscription is deleted unless renewed.
	Expires time.Time `json:"x"`
}

// SubscriptionID derives the id of user's subscription to t: 16 hex
// digits of a hash, so that the id reveals neither and fits callback data.
func SubscriptionID(user bot.UserKey, t Target) string {
	h := sha256.Sum256([]byte(string(user) + "\x00" + t.String()))
	return hex.EncodeToString(h[:8])
}

// Validate reports an error wrapping bot.ErrInvalid if s is incomplete or
// inconsistent. Stores call it before writing.
func (s Subscription) Validate() error {
	if err := s.Target.Validate(); err != nil {
		return err
	}
	switch {
	case s.User == "" || strings.ContainsAny(string(s.User), "{}:| "):
		return fmt.Errorf("subscription: invalid user key: %w", bot.ErrInvalid)
	case s.ChatID == 0:
		return fmt.Errorf("subscription: no chat: %w", bot.ErrInvalid)
	case s.Lang == "" || len(s.Lang) > 16:
		return fmt.Errorf("subscription: invalid language: %w", bot.ErrInvalid)
	case s.ID != SubscriptionID(s.User, s.Target):
		return fmt.Errorf("subscription: id does not match user and target: %w", bot.ErrInvalid)
	case s.Created.IsZero() || !s.Expires.After(s.Created):
		return fmt.Errorf("subscription: expires %v not after created %v: %w", s.Expires, s.Created, bot.ErrInvalid)
	}
	return nil
}

// NewEventSubscription returns user's subscription to the event with id
// eventID. It expires EventGrace after the end of the event's last date
// within the next 180 days (an open-ended weekly event counts as ending
// 180 days from now). Returns an error wrapping bot.ErrNotFound if there is
// no such event, or ErrNoUpcoming if it has no date left that is not
// cancelled.
func NewEventSubscription(kb *knowledge.KB, user bot.UserKey, chatID int64, lang, eventID string, now time.Time) (Subscription, error) {
	e, ok := kb.Entry(eventID)
	if !ok || e.Event == nil {
		return Subscription{}, fmt.Errorf("subscribe to %q: %w", eventID, bot.ErrNotFound)
	}
	exp, ok := EventExpiry(kb, e, now)
	if !ok {
		return Subscription{}, fmt.Errorf("subscribe to %q: %w", eventID, ErrNoUpcoming)
	}
	t := EventTarget(eventID)
	s := Subscription{ID: SubscriptionID(user, t), User: user, ChatID: chatID, Lang: lang, Target: t, Created: now, Expires: exp}
	return s, s.Validate()
}

// EventExpiry is when a subscription to e made at now expires: EventGrace
// after the end of its last date that is not cancelled and ends within the
// next 180 days, or after now+180 days if it still recurs then. ok is false
// if e has no such date left.
func EventExpiry(kb *knowledge.KB, e *knowledge.Entry, now time.Time) (time.Time, bool) {
	horizon := now.Add(eventLookahead)
	var last time.Time
	for _, o := range kb.Occurrences(e, now, horizon) {
		if !o.Cancelled && o.End.After(last) {
			last = o.End
		}
	}
	if last.IsZero() {
		if _, ok := kb.NextOccurrence(e, now); !ok {
			return time.Time{}, false
		}
		last = horizon // next date lies beyond the lookahead
	}
	if last.After(horizon) {
		last = horizon
	}
	return last.Add(EventGrace), true
}

// NewDistrictSubscription returns user's subscription to the events of a
// district (of one topic unless topic is ""), expiring DistrictTTL after
// now. Returns an error wrapping bot.ErrNotFound if kb has no such district
// or topic.
func NewDistrictSubscription(kb *knowledge.KB, user bot.UserKey, chatID int64, lang, district, topic string, now time.Time) (Subscription, error) {
	if d, ok := kb.Entry(district); !ok || d.Kind != knowledge.KindDistrict {
		return Subscription{}, fmt.Errorf("subscribe to district %q: %w", district, bot.ErrNotFound)
	}
	if topic != "" {
		if _, ok := kb.Topic(topic); !ok {
			return Subscription{}, fmt.Errorf("subscribe to topic %q: %w", topic, bot.ErrNotFound)
		}
	}
	t := DistrictTarget(district, topic)
	s := Subscription{ID: SubscriptionID(user, t), User: user, ChatID: chatID, Lang: lang, Target: t, Created: now, Expires: now.Add(DistrictTTL)}
	return s, s.Validate()
}

// Store keeps subscriptions. Implementations are safe for concurrent use,
// and every record they write expires by Subscription.Expires at the
// latest.
type Store interface {
	// Subscribe stores s, replacing the user's subscription with the same
	// id (so re-subscribing updates the chat, the language and the expiry).
	// Returns an error wrapping bot.ErrInvalid if s does not validate or
	// has expired, or ErrTooMany if the user has MaxPerUser other
	// subscriptions.
	Subscribe(ctx context.Context, s Subscription) error
	// Unsubscribe deletes user's subscription id. Returns bot.ErrNotFound
	// if there is none.
	Unsubscribe(ctx context.Context, user bot.UserKey, id string) error
	// SubscriptionsOf returns user's live subscriptions ordered by Created,
	// then ID; none is no error.
	SubscriptionsOf(ctx context.Context, user bot.UserKey) ([]Subscription, error)
	// ForgetUser deletes all of user's subscriptions. Forgetting a user
	// without any is not an error.
	ForgetUser(ctx context.Context, user bot.UserKey) error
	// SubscribersOf returns one page of at most limit live subscriptions
	// to t, starting after cursor ("" for the first page), and the cursor
	// of the next page ("" after the last). For an event target it lists
	// the event's subscribers; for a district target with Topic "" every
	// subscription to the district (all topics), with a topic those to the
	// district with that topic or without any. Every subscription present
	// during the whole iteration is returned exactly once; ones added or
	// removed meanwhile may or may not be. A page may be shorter than
	// limit before the end.
	SubscribersOf(ctx context.Context, t Target, cursor string, limit int) (subs []Subscription, next string, err error)
}

// Renew extends the expiry of user's subscriptions as if they were made
// at now (an event subscription by EventExpiry, a district subscription by
// DistrictTTL); the bot calls it when the user is active. Subscriptions to
// events that no longer exist or have no date left are removed. Expiries
// are never shortened.
func Renew(ctx context.Context, st Store, kb *knowledge.KB, user bot.UserKey, now time.Time) error {
	subs, err := st.SubscriptionsOf(ctx, user)
	if err != nil {
		return fmt.Errorf("renew subscriptions: %w", err)
	}
	for _, s := range subs {
		exp := now.Add(DistrictTTL)
		if s.Target.Event != "" {
			e, ok := kb.Entry(s.Target.Event)
			var ok2 bool
			if ok {
				exp, ok2 = EventExpiry(kb, e, now)
			}
			if !ok || !ok2 {
				if err := st.Unsubscribe(ctx, user, s.ID); err != nil && !errors.Is(err, bot.ErrNotFound) {
					return fmt.Errorf("renew subscriptions: %w", err)
				}
				continue
			}
		}
		if !exp.After(s.Expires) {
			continue
		}
		s.Expires = exp
		if err := st.Subscribe(ctx, s); err != nil {
			return fmt.Errorf("renew subscriptions: %w", err)
		}
	}
	return nil
}
