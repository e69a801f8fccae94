package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/remind"
)

// Reminders is the in-memory remind.Store and remind.Queue: subscriptions
// and the reminder job queue of a single process. It is separate from
// Store because the two are wired separately (the scheduler needs no
// sessions); /forget must call both Store.Forget and ForgetUser.
type Reminders struct {
	mu  sync.Mutex
	now func() time.Time
	// subs by user, then id.
	subs map[bot.UserKey]map[string]remind.Subscription
	// index: target index key -> member ("<id>:<user>"), as in Redis.
	index map[string]map[string]struct{}

	due    map[string]remind.Job // queued, by id
	flight map[string]flight     // claimed, by id
	marks  map[string]time.Time  // "sent" markers: id -> expiry

	aud map[bot.UserKey]bot.AudienceMember // broadcast audience index (audience.go)

	lastSweep time.Time
}

type flight struct {
	job   remind.Job
	lease time.Time
}

var (
	_ remind.Store = (*Reminders)(nil)
	_ remind.Queue = (*Reminders)(nil)
)

// NewReminders returns empty subscriptions and an empty queue. now is the
// clock for expiry (time.Now if nil).
func NewReminders(now func() time.Time) *Reminders {
	if now == nil {
		now = time.Now
	}
	return &Reminders{
		now: now, subs: map[bot.UserKey]map[string]remind.Subscription{}, index: map[string]map[string]struct{}{},
		due: map[string]remind.Job{}, flight: map[string]flight{}, marks: map[string]time.Time{},
		aud: map[bot.UserKey]bot.AudienceMember{},
	}
}

// indexKey names the index a subscription is listed in: its event, or its
// district (all topics together; SubscribersOf filters).
func indexKey(t remind.Target) string {
	if t.Event != "" {
		return "e:" + t.Event
	}
	return "d:" + t.District
}

func member(s remind.Subscription) string { return s.ID + ":" + string(s.User) }

// Subscribe implements remind.Store.
func (r *Reminders) Subscribe(_ context.Context, s remind.Subscription) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("memstore: subscribe: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !s.Expires.After(now) {
		return fmt.Errorf("memstore: subscribe: already expired: %w", bot.ErrInvalid)
	}
	r.sweepSubsLocked(now)
	mine := r.liveSubsLocked(s.User, now)
	if _, ok := mine[s.ID]; !ok && len(mine) >= remind.MaxPerUser {
		return fmt.Errorf("memstore: subscribe: %w", remind.ErrTooMany)
	}
	if mine == nil {
		mine = map[string]remind.Subscription{}
		r.subs[s.User] = mine
	}
	mine[s.ID] = s
	k := indexKey(s.Target)
	if r.index[k] == nil {
		r.index[k] = map[string]struct{}{}
	}
	r.index[k][member(s)] = struct{}{}
	return nil
}

// sweepSubsLocked drops expired subscriptions at most once a minute, so
// memory stays bounded by what is live even for users who never return.
func (r *Reminders) sweepSubsLocked(now time.Time) {
	if now.Sub(r.lastSweep) < time.Minute {
		return
	}
	r.lastSweep = now
	for u := range r.subs {
		r.liveSubsLocked(u, now)
	}
}

// liveSubsLocked returns user's subscriptions after dropping expired ones.
func (r *Reminders) liveSubsLocked(user bot.UserKey, now time.Time) map[string]remind.Subscription {
	mine := r.subs[user]
	for id, s := range mine {
		if !s.Expires.After(now) {
			r.dropLocked(s)
			delete(mine, id)
		}
	}
	if mine != nil && len(mine) == 0 {
		delete(r.subs, user)
		return nil
	}
	return mine
}

func (r *Reminders) dropLocked(s remind.Subscription) {
	k := indexKey(s.Target)
	delete(r.index[k], member(s))
	if len(r.index[k]) == 0 {
		delete(r.index, k)
	}
}

// Unsubscribe implements remind.Store.
func (r *Reminders) Unsubscribe(_ context.Context, user bot.UserKey, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	mine := r.liveSubsLocked(user, r.now())
	s, ok := mine[id]
	if !ok {
		return fmt.Errorf("memstore: unsubscribe: %w", bot.ErrNotFound)
	}
	r.dropLocked(s)
	delete(mine, id)
	if len(mine) == 0 {
		delete(r.subs, user)
	}
	return nil
}

// SubscriptionsOf implements remind.Store.
func (r *Reminders) SubscriptionsOf(_ context.Context, user bot.UserKey) ([]remind.Subscription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []remind.Subscription
	for _, s := range r.liveSubsLocked(user, r.now()) {
		out = append(out, s)
	}
	sortSubs(out)
	return out, nil
}

func sortSubs(out []remind.Subscription) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
}

// ForgetUser implements remind.Store.
func (r *Reminders) ForgetUser(_ context.Context, user bot.UserKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.subs[user] {
		r.dropLocked(s)
	}
	delete(r.subs, user)
	return nil
}

// SubscribersOf implements remind.Store. Members are ordered as strings,
// like Redis' lexicographic range, and the cursor is the last member
// returned.
func (r *Reminders) SubscribersOf(_ context.Context, t remind.Target, cursor string, limit int) ([]remind.Subscription, string, error) {
	if err := t.Validate(); err != nil {
		return nil, "", fmt.Errorf("memstore: subscribers: %w", err)
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("memstore: subscribers: limit %d: %w", limit, bot.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.sweepSubsLocked(now)
	var members []string
	for m := range r.index[indexKey(t)] {
		if m > cursor {
			members = append(members, m)
		}
	}
	slices.Sort(members)
	next := ""
	if len(members) > limit {
		members = members[:limit]
		next = members[limit-1]
	}
	var out []remind.Subscription
	for _, m := range members {
		id, user, _ := strings.Cut(m, ":")
		s, ok := r.subs[bot.UserKey(user)][id]
		if !ok || !s.Expires.After(now) {
			continue
		}
		if t.Event == "" && t.Topic != "" && s.Target.Topic != "" && s.Target.Topic != t.Topic {
			continue
		}
		out = append(out, s)
	}
	return out, next, nil
}

// Enqueue implements remind.Queue.
func (r *Reminders) Enqueue(_ context.Context, now time.Time, jobs []remind.Job) (int, error) {
	for _, j := range jobs {
		if err := j.Validate(); err != nil {
			return 0, fmt.Errorf("memstore: enqueue: %w", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepJobsLocked(now)
	n := 0
	for _, j := range jobs {
		if !j.Expires.After(now) {
			continue
		}
		_, queued := r.due[j.ID]
		_, inFlight := r.flight[j.ID]
		_, marked := r.marks[j.ID]
		if queued || inFlight || marked {
			continue
		}
		r.due[j.ID] = j
		n++
	}
	return n, nil
}

// sweepJobsLocked forgets expired jobs and markers.
func (r *Reminders) sweepJobsLocked(now time.Time) {
	for id, j := range r.due {
		if !j.Expires.After(now) {
			delete(r.due, id)
		}
	}
	for id, f := range r.flight {
		if !f.job.Expires.After(now) {
			delete(r.flight, id)
		}
	}
	for id, exp := range r.marks {
		if !exp.After(now) {
			delete(r.marks, id)
		}
	}
}

// Claim implements remind.Queue.
func (r *Reminders) Claim(_ context.Context, now time.Time, lease time.Duration, n int) ([]remind.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepJobsLocked(now)
	var ready []remind.Job
	for _, j := range r.due {
		if !j.Due.After(now) {
			ready = append(ready, j)
		}
	}
	sort.Slice(ready, func(i, k int) bool {
		if !ready[i].Due.Equal(ready[k].Due) {
			return ready[i].Due.Before(ready[k].Due)
		}
		return ready[i].ID < ready[k].ID
	})
	if len(ready) > n {
		ready = ready[:max(n, 0)]
	}
	for _, j := range ready {
		delete(r.due, j.ID)
		r.flight[j.ID] = flight{job: j, lease: now.Add(lease)}
	}
	return ready, nil
}

// Recover implements remind.Queue.
func (r *Reminders) Recover(_ context.Context, now time.Time) (requeued, abandoned int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepJobsLocked(now)
	for id, f := range r.flight {
		if f.lease.After(now) {
			continue
		}
		delete(r.flight, id)
		if _, marked := r.marks[id]; marked {
			abandoned++
			continue
		}
		r.due[id] = f.job
		requeued++
	}
	return requeued, abandoned, nil
}

// Mark implements remind.Queue.
func (r *Reminders) Mark(_ context.Context, now time.Time, id string, expires time.Time) (bool, error) {
	if !expires.After(now) {
		return false, fmt.Errorf("memstore: mark: expiry %v not after now: %w", expires, bot.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if exp, ok := r.marks[id]; ok && exp.After(now) {
		return false, nil
	}
	r.marks[id] = expires
	return true, nil
}

// Ack implements remind.Queue.
func (r *Reminders) Ack(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.flight, id)
	delete(r.due, id)
	return nil
}

// Retry implements remind.Queue.
func (r *Reminders) Retry(_ context.Context, now time.Time, j remind.Job) error {
	if err := j.Validate(); err != nil {
		return fmt.Errorf("memstore: retry: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.flight, j.ID)
	delete(r.marks, j.ID)
	if j.Expires.After(now) {
		r.due[j.ID] = j
	}
	return nil
}
