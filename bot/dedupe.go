package bot

import (
	"context"
	"fmt"
	"time"
)

// ErrInProgress: another handler (this replica, another one, or one that
// died) holds the claim on an update. It wraps ErrUnavailable, so the
// transport retries the update later instead of confirming it.
var ErrInProgress = fmt.Errorf("update in progress: %w", ErrUnavailable)

// DefaultClaimLease is how long a claim on an update keeps a redelivery
// out (Config.ClaimLease).
const DefaultClaimLease = 30 * time.Second

// Claim is the state of an update's de-duplication record.
type Claim int

// Claims.
const (
	// ClaimNew: the caller now holds the claim and must handle the update.
	ClaimNew Claim = iota
	// ClaimBusy: someone holds an unexpired claim; try again later.
	ClaimBusy
	// ClaimDone: the update was handled; drop it.
	ClaimDone
)

// UpdateClaimer is an optional Store capability: two-phase
// de-duplication, so that a crash between receiving an update and
// answering it does not lose the answer.
//
// An update is claimed for a short lease before it is handled and marked
// done after the reply went out. A redelivery that finds the done mark is
// a duplicate; one that finds a claim is retried later by the transport
// (ErrInProgress), and handled once the lease expired, which is what
// happens when the claimant died. FirstSeen shares the records and counts
// as done. ReleaseUpdate (UpdateReleaser, which a claimer must implement)
// deletes a claim but never a done mark.
//
// The one window left: a crash after Telegram accepted the reply and
// before the done mark was written answers the redelivery a second time.
type UpdateClaimer interface {
	UpdateReleaser
	// BeginClaim claims updateID for lease unless it is claimed or done,
	// and loads user's session, in one round trip. A user without a
	// (decodable) session gets the zero Session; the session is
	// meaningful only with ClaimNew.
	BeginClaim(ctx context.Context, updateID int64, lease time.Duration, user UserKey) (Claim, Session, error)
	// FinishUpdate marks updateID done for ttl. If s is not nil it also
	// saves *s for user with sessionTTL, in the same round trip.
	FinishUpdate(ctx context.Context, updateID int64, ttl time.Duration, user UserKey, s *Session, sessionTTL time.Duration) error
}

// releaseTimeout bounds the release of a claim after a failed reply. The
// release runs even if the handler's context was cancelled (a timeout
// is the usual reason the reply failed).
const releaseTimeout = 2 * time.Second

// finish marks the turn's update done, saving the session with it where
// it changed. Without a claim (a store that cannot claim, or a store that
// failed at the start) it only saves the session.
func (t *turn) finish() {
	c, ok := t.b.cfg.Store.(UpdateClaimer)
	if !ok || !t.claimed {
		t.saveSession()
		return
	}
	var save *Session
	if s, ok := t.sessionToSave(); ok {
		save = &s
	}
	// The reply is out: the mark must be written even if the handler's
	// context ends right now, or the redelivery would answer twice.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), releaseTimeout)
	defer cancel()
	if err := c.FinishUpdate(ctx, t.in.UpdateID, t.b.cfg.DedupeTTL, t.user, save, t.b.cfg.SessionTTL); err != nil {
		t.warn("finish update failed", err)
	}
}
