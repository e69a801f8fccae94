package remind

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Job is one reminder to deliver: user's reminder Offset before the
// occurrence of Event starting at Start. It carries no chat id or
// language: those are read from the user's subscription at delivery, so
// that the queue holds no more personal data than the pseudonymous key,
// and a user who unsubscribed or was forgotten meanwhile gets nothing.
type Job struct {
	// ID is JobID(User, Event, Start, Offset).
	ID     string        `json:"id"`
	User   bot.UserKey   `json:"u"`
	Event  string        `json:"e"`
	Start  time.Time     `json:"s"`
	Offset time.Duration `json:"o"`
	// Due is when the reminder should go out: Start-Offset, or later for
	// a retry.
	Due time.Time `json:"d"`
	// Expires is when the job, its lease and its "sent" marker may be
	// forgotten: after the occurrence began, plus a margin for clock skew
	// between replicas. Stores expire their records of the job then.
	Expires time.Time `json:"x"`
	// Attempts counts deliveries that failed transiently.
	Attempts int `json:"a,omitempty"`
}

// JobID is the idempotency key of a reminder: the same user, occurrence and
// offset always give the same id, whichever replica plans it and however
// often. Event ids and user keys contain no '|' (Target.Validate,
// Subscription.Validate).
func JobID(user bot.UserKey, event string, start time.Time, offset time.Duration) string {
	return event + "|" + strconv.FormatInt(start.Unix(), 10) + "|" + strconv.FormatInt(int64(offset/time.Second), 10) + "|" + string(user)
}

// Validate reports an error wrapping bot.ErrInvalid if j is inconsistent.
func (j Job) Validate() error {
	switch {
	case j.ID != JobID(j.User, j.Event, j.Start, j.Offset):
		return fmt.Errorf("job: id does not match: %w", bot.ErrInvalid)
	case j.User == "" || j.Event == "" || strings.ContainsAny(string(j.User)+j.Event, "|{} "):
		return fmt.Errorf("job: invalid user or event: %w", bot.ErrInvalid)
	case !j.Expires.After(j.Due):
		return fmt.Errorf("job: expires before due: %w", bot.ErrInvalid)
	}
	return nil
}

// Queue is the durable job queue shared by all replicas. Every method is
// atomic on its own; the stores implement them as single Lua scripts or
// under one lock. Times are passed in (the scheduler's clock) rather than
// read by the store, so that scores follow one clock. Records expire at
// the job's Expires.
type Queue interface {
	// Enqueue adds the jobs that are not yet known: neither queued, nor in
	// flight, nor marked as sent. It returns how many were added. Jobs
	// already expired at now are skipped. Returns an error wrapping
	// bot.ErrInvalid if a job does not validate (and then adds none).
	Enqueue(ctx context.Context, now time.Time, jobs []Job) (int, error)
	// Claim moves up to n jobs due at now to "in flight" with a lease until
	// now+lease and returns them, earliest due first. A claimed job is
	// returned to no other caller until its lease expires.
	Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]Job, error)
	// Recover handles jobs whose lease expired before now: a job without
	// a "sent" marker is queued again (its replica died before sending);
	// a job with a marker is dropped (it may have been sent; at most once).
	Recover(ctx context.Context, now time.Time) (requeued, abandoned int, err error)
	// Mark writes job id's "sent" marker, expiring at expires, and reports
	// whether it was absent. Only the caller that got true may deliver.
	Mark(ctx context.Context, now time.Time, id string, expires time.Time) (bool, error)
	// Ack finishes job id: it leaves the queue and the in-flight set; its
	// marker, if any, stays until it expires so that the job is not
	// enqueued again. Acking an unknown job is not an error.
	Ack(ctx context.Context, id string) error
	// Retry puts an in-flight job back in the queue, due at j.Due, with
	// its payload replaced by j (e.g. Attempts incremented) and its marker
	// removed, because the delivery certainly did not happen.
	Retry(ctx context.Context, now time.Time, j Job) error
}
