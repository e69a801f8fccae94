package broadcast

import (
	"context"
	"time"
)

// Recipients lists the chats of an audience. The subscription store is
// adapted to it when wiring.
type Recipients interface {
	// Recipients calls fn for every recipient of a (District, Role,
	// Topic, EventID; the engine applies Langs itself). A chat may be
	// passed more than once (e.g. subscribed to a district and a topic);
	// the engine delivers once per chat. If fn returns an error,
	// Recipients stops and returns it.
	Recipients(ctx context.Context, a Audience, fn func(Recipient) error) error
}

// Pacer spaces sends to at most a rate shared by every replica, so that
// replicas together stay under Telegram's overall limit (each replica's
// transport only knows its own sends).
type Pacer interface {
	// Wait blocks until one more message may be sent, or ctx is done.
	// Returns an error wrapping bot.ErrUnavailable if the shared state
	// cannot be reached.
	Wait(ctx context.Context) error
}

// Reporter tells the author how a broadcast is going. It is called about
// every tenth of the recipients and every Config.ReportEvery, and once
// more with the final tally (State Done or Cancelled). Errors are the
// reporter's to handle: a lost progress message must not stop delivery.
type Reporter interface {
	Progress(ctx context.Context, b Broadcast)
}

// ChatForgetter removes what Lotse stores about a chat whose user blocked
// the bot (subscriptions, session): data protection says we keep nothing
// we can no longer use. Forgetting an unknown chat is not an error.
type ChatForgetter interface {
	ForgetChat(ctx context.Context, chatID int64) error
}

// ClaimStatus says what Store.Claim found besides the claimed recipients.
type ClaimStatus int

// Results of Store.Claim.
const (
	// More: the broadcast is sending; recipients are claimed, or pending
	// later (backoff), or in flight at other workers.
	More ClaimStatus = iota + 1
	// Finished: this call found nothing pending or in flight and moved the
	// broadcast to Done. Exactly one caller gets it.
	Finished
	// Stopped: the broadcast is not sending (cancelled, done, missing).
	Stopped
)

// Store keeps broadcasts and their recipient queues, shared by all
// replicas. Every method is atomic on its own (one Lua script in Redis,
// one lock in memory). Times are passed in, so leases and due times
// follow the engine's clock; expiry follows the store's.
//
// Per recipient the store holds one of: pending (with a due time), in
// flight (with a lease deadline), or finished (a marker, so it is never
// claimed again). The markers and queues are deleted when the broadcast
// ends; only the broadcast and its tally remain until it expires.
type Store interface {
	// Create stores b, in state Draft, expiring after ttl; all its
	// records later expire with it. Returns bot.ErrInvalid if b does not
	// validate or its id exists.
	Create(ctx context.Context, b Broadcast, ttl time.Duration) error
	// Get returns broadcast id with its state, times and tally. Returns
	// bot.ErrNotFound if there is none (or it expired).
	Get(ctx context.Context, id string) (Broadcast, error)
	// SetState moves broadcast id from state from to state to, recording
	// at as Started (to Sending) or Finished (to Done or Cancelled).
	// Returns ErrState if the broadcast is not in from, bot.ErrNotFound
	// if there is none. Broadcasts entering Confirmed are listed by
	// Active until they end.
	SetState(ctx context.Context, id string, from, to State, at time.Time) (Broadcast, error)
	// Active returns the ids of broadcasts in Confirmed or Sending.
	Active(ctx context.Context) ([]string, error)
	// Enqueue adds recipients to the pending queue of a Confirmed
	// broadcast, due at once; chats already in the snapshot are skipped.
	// Returns how many were added, ErrState if the broadcast is not
	// Confirmed.
	Enqueue(ctx context.Context, id string, rs []Recipient) (int, error)
	// Claim first returns to the queue the recipients whose lease expired
	// before now (their worker died), then moves up to n recipients due
	// at now to in flight with a lease until now+lease, and returns them.
	// See ClaimStatus for the status.
	Claim(ctx context.Context, id string, now time.Time, lease time.Duration, n int) ([]Recipient, ClaimStatus, error)
	// Finish records the outcome of r: it leaves the queue and the
	// in-flight set, gets its marker and is counted, once, even if its
	// lease had expired meanwhile. It reports whether this call counted
	// it, and the number of recipients finished so far and in total.
	Finish(ctx context.Context, id string, r Recipient, o Outcome) (counted bool, finished, total int, err error)
	// Release returns in-flight r to the queue, due at due, because it
	// certainly was not delivered; it returns how often r was released.
	Release(ctx context.Context, id string, r Recipient, due time.Time) (int, error)
	// Milestone records step if it is higher than the highest recorded
	// for broadcast id, and reports whether it was, so that of several
	// replicas only one reports each step of progress.
	Milestone(ctx context.Context, id string, step int) (bool, error)
}

// LeaseExtender is an optional Store capability: it lets a worker keep
// its claim on a recipient while the send runs, so a send is never cut
// off mid-request (after Telegram may have accepted it) because a short
// lease ran out. Without it a send must end before the claim's lease.
type LeaseExtender interface {
	// Extend moves the lease deadline of in-flight r to until. It
	// reports false, changing nothing, if r is not in flight (finished,
	// released, or requeued after its lease expired) or the broadcast is
	// not sending; bot.ErrNotFound if there is no broadcast.
	Extend(ctx context.Context, id string, r Recipient, until time.Time) (bool, error)
}
