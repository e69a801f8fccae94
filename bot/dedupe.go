package bot

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ErrInProgress: another handler (this replica, another one, or one that
// died) holds the claim on an update. It wraps ErrUnavailable, so the
// transport retries the update later instead of confirming it.
var ErrInProgress = fmt.Errorf("update in progress: %w", ErrUnavailable)

// DefaultClaimLease is how long a claim on an update keeps a redelivery
// out (Config.ClaimLease) with a store that renews claims
// (ClaimRenewer): the handler renews it every third of the lease while
// it runs, so a slow reply keeps its claim, and an update whose handler
// died is handled again within a few seconds.
const DefaultClaimLease = 5 * time.Second

// UnrenewedClaimLease is the default lease with a store that cannot
// renew a claim: it must outlast the slowest reply, or the reply may be
// sent twice.
const UnrenewedClaimLease = 30 * time.Second

// defaultClaimLease is Config.ClaimLease's default for store.
func defaultClaimLease(store Store) time.Duration {
	if _, ok := store.(ClaimRenewer); ok {
		return DefaultClaimLease
	}
	return UnrenewedClaimLease
}

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
	// ClaimQueued: as ClaimNew, and an earlier handler of the update
	// queued (or was queueing) its reply in the outbox with a TurnQueuer
	// that is not atomic (Redis Cluster), then died or failed before it
	// marked the update done. The reply must go to the outbox again
	// (QueueTurn skips what is there), never be sent directly.
	ClaimQueued
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
	// meaningful only with ClaimNew and ClaimQueued (which only a
	// TurnQueuer that is not atomic returns).
	BeginClaim(ctx context.Context, updateID int64, lease time.Duration, user UserKey) (Claim, Session, error)
	// FinishUpdate marks updateID done for ttl. If s is not nil it also
	// saves *s for user with sessionTTL, in the same round trip.
	FinishUpdate(ctx context.Context, updateID int64, ttl time.Duration, user UserKey, s *Session, sessionTTL time.Duration) error
}

// ClaimRenewer is an optional capability of an UpdateClaimer: a
// heartbeat that keeps a claim while its handler runs, so the lease can
// be short (a few seconds) and bound the recovery from a dead handler
// rather than the duration of a slow one.
type ClaimRenewer interface {
	// RenewClaim extends the claim on updateID to lease from now. If the
	// record is gone (the lease ran out, say after a long stall, and
	// nobody claimed the update since) it claims the update again. It
	// reports false, and changes nothing, if the update is marked done:
	// the caller lost the claim to a handler that finished.
	RenewClaim(ctx context.Context, updateID int64, lease time.Duration) (bool, error)
}

// releaseTimeout bounds the release of a claim after a failed reply. The
// release runs even if the handler's context was cancelled (a timeout
// is the usual reason the reply failed).
const releaseTimeout = 2 * time.Second

// holdClaim renews the turn's claim every third of the lease until
// stopHolding, or until the turn's context ends (the transport bounds a
// handler's time, so a hung handler blocks its update for that long at
// most). Without ClaimRenewer the claim lives for its lease.
func (t *turn) holdClaim() {
	r, ok := t.b.cfg.Store.(ClaimRenewer)
	if !ok || !t.claimed {
		return
	}
	// Nearly every turn ends long before the first renewal, so the
	// renewals run from a timer rather than a goroutine of their own:
	// a turn that ends in time costs one timer, not a goroutine, a
	// ticker and two context switches.
	lease := t.b.cfg.ClaimLease
	every := max(lease/3, time.Millisecond)
	var (
		mu      sync.Mutex
		stopped bool
		cancel  context.CancelFunc // of the renewal under way, if any
		running sync.WaitGroup
		timer   *time.Timer
		due     = time.Now().Add(every)
	)
	renew := func() {
		mu.Lock()
		if stopped || t.ctx.Err() != nil {
			mu.Unlock()
			return
		}
		running.Add(1)
		defer running.Done()
		// A renewal must not take longer than the interval, or the
		// next one comes late.
		rctx, rcancel := context.WithTimeout(t.ctx, lease/3)
		cancel = rcancel
		mu.Unlock()
		held, err := r.RenewClaim(rctx, t.in.UpdateID, lease)
		rcancel()
		mu.Lock()
		defer mu.Unlock()
		cancel = nil
		switch {
		case stopped || t.ctx.Err() != nil:
			return
		case err != nil:
			// The lease covers two more tries.
			t.warn("renew claim failed", err)
		case !held:
			t.b.log.Warn("update claim lost to another handler", "kind", kindName(t.in.Kind))
			return
		}
		// Keep a ticker's schedule: skip the ticks a slow renewal missed.
		now := time.Now()
		for due = due.Add(every); !due.After(now); due = due.Add(every) {
		}
		timer.Reset(due.Sub(now))
	}
	mu.Lock()
	timer = time.AfterFunc(every, renew)
	mu.Unlock()
	t.stopHold = func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		if cancel != nil {
			cancel()
		}
		mu.Unlock()
		running.Wait()
	}
}

// stopHolding stops renewing the turn's claim (holdClaim); it may be
// called more than once.
func (t *turn) stopHolding() {
	if t.stopHold != nil {
		t.stopHold()
		t.stopHold = nil
	}
}

// finish marks the turn's update done, saving the session with it where
// it changed. Without a claim (a store that cannot claim, or a store that
// failed at the start) it only saves the session.
func (t *turn) finish() {
	t.stopHolding()
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
