package bot

import (
	"context"
	"errors"
	"time"
)

// Errors of the bot's ports.
var (
	// ErrNotFound: the requested item does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrBlocked: the user blocked the bot or the chat is gone; do not retry.
	ErrBlocked = errors.New("chat unreachable")
	// ErrUnavailable: a dependency (store, Telegram) is unavailable; the
	// operation may succeed later.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Sender delivers messages to chats.
type Sender interface {
	// Send delivers msg and returns the id of the (last) message sent.
	// Returns an error wrapping ErrBlocked if the chat cannot be reached.
	Send(ctx context.Context, msg Outgoing) (int, error)
	// AnswerCallback acknowledges a button press, optionally with a short
	// notice (at most 200 characters) shown to the user.
	AnswerCallback(ctx context.Context, callbackID, notice string) error
}

// Store keeps per-user state. Implementations must be safe for concurrent
// use; every key they write expires.
type Store interface {
	// FirstSeen records an update id and reports whether it was new.
	// The record expires after ttl.
	FirstSeen(ctx context.Context, updateID int64, ttl time.Duration) (bool, error)
	// Session returns the session of user. Returns ErrNotFound if there is none.
	Session(ctx context.Context, user UserKey) (Session, error)
	// SaveSession stores s for user; it expires after ttl without use.
	SaveSession(ctx context.Context, user UserKey, s Session, ttl time.Duration) error
	// Forget deletes everything stored about user. Forgetting a user with
	// no data is not an error.
	Forget(ctx context.Context, user UserKey) error
}

// SessionBeginner is an optional Store capability: FirstSeen and Session
// in one round trip. A user without a session gets the zero Session and no
// error; a duplicate update reports first == false.
type SessionBeginner interface {
	Begin(ctx context.Context, updateID int64, ttl time.Duration, user UserKey) (first bool, s Session, err error)
}

// UpdateReleaser is an optional Store capability: it forgets a recorded
// update id. The bot releases an update whose reply could not be sent,
// so that Telegram's redelivery (webhook retry, unconfirmed poll) is
// answered instead of being dropped as a duplicate.
type UpdateReleaser interface {
	ReleaseUpdate(ctx context.Context, updateID int64) error
}

// UserKey is a pseudonymous, stable key for a user: a keyed hash of the
// Telegram user id. Raw ids never reach the store or the logs.
type UserKey string

// Session is what Lotse remembers about a user between messages. Keep it
// minimal: it is personal data.
type Session struct {
	// Lang is the user's language (base code, "de", "ar", ...).
	Lang string `json:"l,omitempty"`
	// LangChosen is true once the user picked Lang explicitly.
	LangChosen bool `json:"lc,omitempty"`
	// Role is "" (refugee / general), "volunteer" or "staff".
	Role string `json:"r,omitempty"`
	// NoticeShown is true once the first-contact privacy notice was shown.
	NoticeShown bool `json:"n,omitempty"`
	// State is the step of a multi-step conversation ("" when idle).
	State string `json:"s,omitempty"`
	// Results are the entry ids of the last answer's alternatives, so
	// "more" buttons can refer to them by index.
	Results []string `json:"res,omitempty"`
	// Entry is the entry last shown.
	Entry string `json:"e,omitempty"`
	// District the user chose, if they agreed to have it remembered.
	District string `json:"d,omitempty"`
	// Draft is a request for a person being put together (nil when
	// none); it is never modified in place, only replaced.
	Draft *Draft `json:"dr,omitempty"`
	// Paced is when a reply to the user was last queued in the outbox to
	// wait for the chat's send slot: until that backlog is gone, later
	// replies follow it (outbox.go).
	Paced time.Time `json:"pc,omitzero"`
	// Audience is when the user's entry in the broadcast audience index
	// was last written (zero: never), so that it is written again only
	// when due (keepAudience, events_follow.go), without reading it.
	Audience time.Time `json:"au,omitzero"`
	// Updated is when the session last changed.
	Updated time.Time `json:"u"`
}

// ErrWouldWait: a PacedSender sent nothing because the chat's next send
// slot under Telegram's flood limits is further away than allowed.
var ErrWouldWait = errors.New("send slot further away than allowed")

// PacedSender is an optional Sender capability: a send that does not
// wait long for its chat's send slot. The bot uses it for replies, so
// that a chat over its limit (a flood) does not hold its handler, and
// with it the other chats the transport handles alongside it: such
// replies go to the Outbox instead (see outbox.go).
type PacedSender interface {
	// SendWithin is Send if the (first) message to msg.ChatID may leave
	// within wait; otherwise it sends nothing and returns an error
	// wrapping ErrWouldWait.
	SendWithin(ctx context.Context, msg Outgoing, wait time.Duration) (int, error)
}
