package remind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/knowledge"
)

// Defaults and bounds of Config.
const (
	DefaultPoll      = 5 * time.Second
	DefaultPlanEvery = 5 * time.Minute
	DefaultHorizon   = 48 * time.Hour
	DefaultLease     = 2 * time.Minute
	DefaultBatch     = 100
	// MinPoll and MaxPoll bound the poll interval: polling faster only
	// loads Redis, slower delays reminders noticeably.
	MinPoll = time.Millisecond
	MaxPoll = time.Minute
	// maxAttempts bounds retries of transiently failed deliveries.
	maxAttempts = 5
	// expiryMargin keeps a job's records past the occurrence's start, so
	// that replicas with somewhat skewed clocks agree it is over before it
	// is forgotten (and could be planned again).
	expiryMargin = 6 * time.Hour
	// pageSize is the planner's SubscribersOf page.
	pageSize = 500
	// maxPages bounds one target's iteration (pageSize*maxPages
	// subscribers), so a broken store cursor cannot loop for ever.
	maxPages = 10000
	// opTimeout bounds the bookkeeping done after the caller's context
	// ended (acks, releases on shutdown).
	opTimeout = 5 * time.Second
)

// DefaultOffsets are the reminders sent before each date.
var DefaultOffsets = []time.Duration{24 * time.Hour, time.Hour}

// Config configures a Scheduler. Subs, Queue, KB and Deliver are required.
type Config struct {
	Subs    Store
	Queue   Queue
	KB      func() *knowledge.KB // the current knowledge base (knowledge.Live.Current)
	Deliver Deliverer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Offsets are how long before a date reminders go out (positive,
	// distinct); nil means DefaultOffsets.
	Offsets []time.Duration
	// Poll is how often Run looks for due jobs (bounded by MinPoll and
	// MaxPoll); PlanEvery how often it plans; Horizon how far ahead it
	// plans (at least the longest offset); Lease how long a claimed job is
	// reserved for its replica; Batch how many jobs one claim takes.
	// Zero means the default.
	Poll, PlanEvery, Horizon, Lease time.Duration
	Batch                           int
	// Log receives operational messages (no user data); nil discards.
	Log *slog.Logger
	// Forget, if set, is called besides Subs.ForgetUser when a reminder
	// finds that the user blocked the bot, to remove what else is kept
	// about them (e.g. bot.AudienceIndex.Leave).
	Forget func(ctx context.Context, user bot.UserKey) error
}

// Stats count what a Scheduler did since it was created.
type Stats struct {
	Planned   atomic.Int64 // jobs added to the queue
	Delivered atomic.Int64 // reminders delivered
	Skipped   atomic.Int64 // jobs dropped: date cancelled, moved or begun, user unsubscribed
	Duplicate atomic.Int64 // jobs found already marked as sent
	Blocked   atomic.Int64 // deliveries to chats that blocked the bot
	Retried   atomic.Int64 // transient delivery failures put back
	Failed    atomic.Int64 // deliveries that failed for good or ambiguously
	Requeued  atomic.Int64 // expired leases without marker, queued again
	Abandoned atomic.Int64 // expired leases with marker: maybe sent, not repeated
}

// Scheduler plans and delivers reminders. Run one per replica; they share
// the Queue and coordinate only through it.
type Scheduler struct {
	cfg     Config
	offsets []time.Duration // descending
	log     *slog.Logger
	// Stats may be read at any time.
	Stats Stats
}

// New validates cfg and returns a Scheduler.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Subs == nil || cfg.Queue == nil || cfg.KB == nil || cfg.Deliver == nil {
		return nil, fmt.Errorf("remind: Subs, Queue, KB and Deliver are required: %w", bot.ErrInvalid)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	offs := slices.Clone(cfg.Offsets)
	if offs == nil {
		offs = slices.Clone(DefaultOffsets)
	}
	slices.SortFunc(offs, func(a, b time.Duration) int { return int((b - a) / time.Second) })
	for i, o := range offs {
		if o <= 0 || o%time.Second != 0 || i > 0 && o == offs[i-1] {
			return nil, fmt.Errorf("remind: offsets must be positive, distinct whole seconds, got %v: %w", cfg.Offsets, bot.ErrInvalid)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	cfg.Poll = min(max(cfg.Poll, MinPoll), MaxPoll)
	def(&cfg.PlanEvery, DefaultPlanEvery)
	def(&cfg.Horizon, DefaultHorizon)
	def(&cfg.Lease, DefaultLease)
	if len(offs) > 0 && cfg.Horizon < offs[0] {
		return nil, fmt.Errorf("remind: horizon %v shorter than offset %v: %w", cfg.Horizon, offs[0], bot.ErrInvalid)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg, offsets: offs, log: log}, nil
}

// Run plans and dispatches until ctx is done, then returns nil. Claimed
// jobs not yet handled when ctx ends are put back for another replica.
// Errors (Redis unavailable, ...) are logged and retried on the next tick.
func (s *Scheduler) Run(ctx context.Context) error {
	plan := time.NewTicker(s.cfg.PlanEvery)
	defer plan.Stop()
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	s.plan(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-plan.C:
			s.plan(ctx)
		case <-poll.C:
			// Drain what is due, but a bounded number of batches per tick
			// so planning and shutdown are never starved.
			for range 100 {
				n, err := s.Dispatch(ctx)
				if err != nil {
					if ctx.Err() == nil {
						s.log.Warn("remind: dispatch", "err", err)
					}
					break
				}
				if n < s.cfg.Batch {
					break
				}
			}
		}
	}
}

func (s *Scheduler) plan(ctx context.Context) {
	if _, err := s.Plan(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("remind: plan", "err", err)
	}
}

// Plan enqueues the reminders for all occurrences starting within the
// horizon, for every live matching subscription, and returns how many
// jobs were new. Occurrences that are cancelled or have begun are skipped,
// and so are reminders due before the subscription was made or too late
// to be useful (see superseded). Plan is idempotent and safe to run on
// several replicas at once.
func (s *Scheduler) Plan(ctx context.Context) (int, error) {
	kb := s.cfg.KB()
	now := s.cfg.Now()
	var districts []string
	for _, d := range kb.OfKind(knowledge.KindDistrict) {
		districts = append(districts, d.ID)
	}
	var (
		batch []Job
		added int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := s.cfg.Queue.Enqueue(ctx, now, batch)
		batch = batch[:0]
		added += n
		s.Stats.Planned.Add(int64(n))
		return err
	}
	for _, e := range kb.OfKind(knowledge.KindEvent) {
		var occs []knowledge.Occurrence
		for _, o := range kb.Occurrences(e, now, now.Add(s.cfg.Horizon)) {
			if !o.Cancelled && o.Start.After(now) {
				occs = append(occs, o)
			}
		}
		if len(occs) == 0 {
			continue
		}
		targets := []Target{EventTarget(e.ID)}
		if e.District != "" {
			targets = append(targets, DistrictTarget(e.District, ""))
		} else {
			for _, d := range districts {
				targets = append(targets, DistrictTarget(d, ""))
			}
		}
		for _, t := range targets {
			cursor := ""
			for range maxPages {
				subs, next, err := s.cfg.Subs.SubscribersOf(ctx, t, cursor, pageSize)
				if err != nil {
					return added, fmt.Errorf("remind: plan: %w", err)
				}
				for _, sub := range subs {
					if !sub.Target.Matches(e) || !sub.Expires.After(now) {
						continue
					}
					for _, o := range occs {
						batch = s.appendJobs(batch, sub, e.ID, o.Start, now)
					}
				}
				if len(batch) >= pageSize {
					if err := flush(); err != nil {
						return added, fmt.Errorf("remind: plan: %w", err)
					}
				}
				if next == "" {
					break
				}
				cursor = next
			}
		}
	}
	if err := flush(); err != nil {
		return added, fmt.Errorf("remind: plan: %w", err)
	}
	return added, nil
}

// appendJobs adds sub's reminders for the occurrence starting at start.
func (s *Scheduler) appendJobs(jobs []Job, sub Subscription, event string, start, now time.Time) []Job {
	for _, off := range s.offsets {
		due := start.Add(-off)
		if due.Before(sub.Created) || s.superseded(start, off, now) {
			continue
		}
		jobs = append(jobs, Job{
			ID: JobID(sub.User, event, start, off), User: sub.User, Event: event,
			Start: start, Offset: off, Due: due, Expires: start.Add(expiryMargin),
		})
	}
	return jobs
}

// superseded reports whether the reminder off before start is pointless at
// now: the date has begun, or the reminder is so late that the next closer
// one is nearer in time (past the midpoint between the two due times). A
// replica down for a day thus sends the 1-hour reminder, not both, while a
// 24-hour reminder delayed by minutes or a few hours still goes out.
func (s *Scheduler) superseded(start time.Time, off time.Duration, now time.Time) bool {
	if !now.Before(start) {
		return true
	}
	// s.offsets is sorted descending: the first smaller one is the next.
	for _, o := range s.offsets {
		if o < off {
			return !now.Before(start.Add(-off).Add((off - o) / 2))
		}
	}
	return false
}

// Dispatch recovers expired leases, claims one batch of due jobs and
// handles them, and returns how many it claimed. If ctx ends meanwhile the
// unhandled jobs are put back in the queue.
func (s *Scheduler) Dispatch(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	req, ab, err := s.cfg.Queue.Recover(ctx, now)
	s.Stats.Requeued.Add(int64(req))
	s.Stats.Abandoned.Add(int64(ab))
	if err != nil {
		return 0, fmt.Errorf("remind: recover: %w", err)
	}
	jobs, err := s.cfg.Queue.Claim(ctx, now, s.cfg.Lease, s.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("remind: claim: %w", err)
	}
	for i, j := range jobs {
		if ctx.Err() != nil {
			s.release(ctx, jobs[i:])
			return len(jobs), ctx.Err()
		}
		s.handle(ctx, j)
	}
	return len(jobs), nil
}

// release puts claimed jobs that were not handled back, due as before.
func (s *Scheduler) release(ctx context.Context, jobs []Job) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	now := s.cfg.Now()
	for _, j := range jobs {
		if err := s.cfg.Queue.Retry(bg, now, j); err != nil {
			// The lease expires and Recover re-queues it.
			s.log.Warn("remind: release job", "err", err)
		}
	}
}

// handle delivers one claimed job, or drops it if it is no longer wanted.
func (s *Scheduler) handle(ctx context.Context, j Job) {
	now := s.cfg.Now()
	kb := s.cfg.KB()
	e, ok := kb.Entry(j.Event)
	var occ knowledge.Occurrence
	if ok {
		occ, ok = occurrenceAt(kb, e, j.Start)
	}
	if !ok || s.superseded(j.Start, j.Offset, now) {
		s.Stats.Skipped.Add(1)
		s.ack(ctx, j)
		return
	}
	subs, err := s.cfg.Subs.SubscriptionsOf(ctx, j.User)
	if err != nil {
		s.retry(ctx, j, now, err)
		return
	}
	sub, ok := subscriptionFor(subs, e, now)
	if !ok {
		s.Stats.Skipped.Add(1)
		s.ack(ctx, j)
		return
	}
	first, err := s.cfg.Queue.Mark(ctx, now, j.ID, j.Expires)
	if err != nil {
		s.retry(ctx, j, now, err)
		return
	}
	if !first {
		s.Stats.Duplicate.Add(1)
		s.ack(ctx, j)
		return
	}
	err = s.cfg.Deliver.Deliver(ctx, sub.ChatID, sub.Lang, Reminder{JobID: j.ID, SubscriptionID: sub.ID, Event: e, Occurrence: occ, Before: j.Offset})
	switch {
	case err == nil:
		s.Stats.Delivered.Add(1)
		s.ack(ctx, j)
	case errors.Is(err, bot.ErrBlocked):
		s.Stats.Blocked.Add(1)
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		if ferr := s.cfg.Subs.ForgetUser(bg, j.User); ferr != nil {
			s.log.Warn("remind: removing subscriptions of a blocked chat", "err", ferr)
		}
		if s.cfg.Forget != nil {
			if ferr := s.cfg.Forget(bg, j.User); ferr != nil {
				s.log.Warn("remind: forgetting a blocked chat", "err", ferr)
			}
		}
		cancel()
		s.ack(ctx, j)
	case errors.Is(err, bot.ErrUnavailable):
		s.retry(ctx, j, now, err)
	default:
		// The message may have gone out: at most once.
		s.Stats.Failed.Add(1)
		s.log.Warn("remind: delivery failed", "err", err)
		s.ack(ctx, j)
	}
}

// retry puts j back with exponential backoff (1, 2, 4, ... minutes), or
// gives up once it has failed maxAttempts times or would be too late.
func (s *Scheduler) retry(ctx context.Context, j Job, now time.Time, cause error) {
	j.Attempts++
	j.Due = now.Add(time.Minute << (j.Attempts - 1))
	if j.Attempts >= maxAttempts || s.superseded(j.Start, j.Offset, j.Due) {
		s.Stats.Failed.Add(1)
		s.log.Warn("remind: giving up on a reminder", "attempts", j.Attempts, "err", cause)
		s.ack(ctx, j)
		return
	}
	s.Stats.Retried.Add(1)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if err := s.cfg.Queue.Retry(bg, now, j); err != nil {
		s.log.Warn("remind: retry", "err", err)
	}
}

// ack finishes j even if ctx has ended: the work is done, and an
// unacknowledged job would only wait for its lease to expire.
func (s *Scheduler) ack(ctx context.Context, j Job) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if err := s.cfg.Queue.Ack(bg, j.ID); err != nil {
		s.log.Warn("remind: ack", "err", err)
	}
}

// occurrenceAt returns e's occurrence starting at start as the knowledge
// base has it now; ok is false if it was cancelled or moved meanwhile.
func occurrenceAt(kb *knowledge.KB, e *knowledge.Entry, start time.Time) (knowledge.Occurrence, bool) {
	for _, o := range kb.Occurrences(e, start, start.Add(time.Second)) {
		if o.Start.Equal(start) && !o.Cancelled {
			return o, true
		}
	}
	return knowledge.Occurrence{}, false
}

// subscriptionFor picks the live subscription that asks for reminders of
// e, preferring one to the event itself.
func subscriptionFor(subs []Subscription, e *knowledge.Entry, now time.Time) (Subscription, bool) {
	var found *Subscription
	for i := range subs {
		s := &subs[i]
		if !s.Expires.After(now) || !s.Target.Matches(e) {
			continue
		}
		if s.Target.Event != "" {
			return *s, true
		}
		if found == nil {
			found = s
		}
	}
	if found == nil {
		return Subscription{}, false
	}
	return *found, true
}
