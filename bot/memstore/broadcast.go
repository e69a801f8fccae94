package memstore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/broadcast"
)

// Broadcasts is the in-memory broadcast.Store: broadcasts and their
// recipient queues in one process, with the same semantics as the Redis
// store. Expiry follows the injected clock.
type Broadcasts struct {
	mu  sync.Mutex
	now func() time.Time
	bs  map[string]*bcItem
}

type bcItem struct {
	b         broadcast.Broadcast // Tally.Pending unused; derived
	expires   time.Time
	total     int
	milestone int
	all       map[int64]bool    // the snapshot's chats
	pending   map[int64]bcEntry // chat → entry (due)
	flight    map[int64]bcEntry // chat → entry (lease deadline)
	done      map[int64]bool    // finished chats: the "sent" markers
	tries     map[int64]int     // releases per chat
	order     map[int64]int     // enqueue sequence, for a stable claim order
	seq       int
}

type bcEntry struct {
	r  broadcast.Recipient
	at time.Time
}

var (
	_ broadcast.Store         = (*Broadcasts)(nil)
	_ broadcast.LeaseExtender = (*Broadcasts)(nil)
)

// NewBroadcasts returns an empty store. now is the clock for expiry
// (time.Now if nil).
func NewBroadcasts(now func() time.Time) *Broadcasts {
	if now == nil {
		now = time.Now
	}
	return &Broadcasts{now: now, bs: map[string]*bcItem{}}
}

// item returns the live broadcast id; m.mu is held.
func (m *Broadcasts) item(id string) (*bcItem, error) {
	it, ok := m.bs[id]
	if !ok {
		return nil, bot.ErrNotFound
	}
	if !m.now().Before(it.expires) {
		delete(m.bs, id)
		return nil, bot.ErrNotFound
	}
	return it, nil
}

func (it *bcItem) view() broadcast.Broadcast {
	b := it.b
	b.Texts = make(map[string]string, len(it.b.Texts))
	for l, s := range it.b.Texts {
		b.Texts[l] = s
	}
	b.Audience.Langs = append([]string(nil), it.b.Audience.Langs...)
	b.Tally.Pending = it.total - b.Tally.Delivered - b.Tally.Blocked - b.Tally.Failed
	return b
}

// Create implements broadcast.Store.
func (m *Broadcasts) Create(_ context.Context, b broadcast.Broadcast, ttl time.Duration) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("memstore: create broadcast: %w", err)
	}
	if ttl <= 0 {
		return fmt.Errorf("memstore: create broadcast: ttl %v: %w", ttl, bot.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	if _, err := m.item(b.ID); err == nil {
		return fmt.Errorf("memstore: create broadcast: id exists: %w", bot.ErrInvalid)
	}
	b.State, b.Started, b.Finished, b.Tally = broadcast.Draft, time.Time{}, time.Time{}, broadcast.Tally{}
	it := &bcItem{b: b, expires: m.now().Add(ttl)}
	it.b = it.view() // a copy of texts and languages
	it.b.Tally = broadcast.Tally{}
	m.bs[b.ID] = it
	return nil
}

// sweepLocked drops expired broadcasts; m.mu is held.
func (m *Broadcasts) sweepLocked() {
	now := m.now()
	for id, it := range m.bs {
		if !now.Before(it.expires) {
			delete(m.bs, id)
		}
	}
}

// Get implements broadcast.Store.
func (m *Broadcasts) Get(_ context.Context, id string) (broadcast.Broadcast, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return broadcast.Broadcast{}, fmt.Errorf("memstore: broadcast: %w", err)
	}
	return it.view(), nil
}

// SetState implements broadcast.Store.
func (m *Broadcasts) SetState(_ context.Context, id string, from, to broadcast.State, at time.Time) (broadcast.Broadcast, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return broadcast.Broadcast{}, fmt.Errorf("memstore: broadcast state: %w", err)
	}
	if !allowed(from, to) {
		return broadcast.Broadcast{}, fmt.Errorf("memstore: broadcast state %s → %s: %w", from, to, bot.ErrInvalid)
	}
	if it.b.State != from {
		return broadcast.Broadcast{}, fmt.Errorf("memstore: broadcast state is %s, not %s: %w", it.b.State, from, broadcast.ErrState)
	}
	it.b.State = to
	switch to {
	case broadcast.Confirmed:
		it.all, it.pending, it.flight = map[int64]bool{}, map[int64]bcEntry{}, map[int64]bcEntry{}
		it.done, it.tries, it.order = map[int64]bool{}, map[int64]int{}, map[int64]int{}
	case broadcast.Sending:
		it.b.Started = at
	case broadcast.Done, broadcast.Cancelled:
		it.b.Finished = at
		it.dropQueue()
	}
	return it.view(), nil
}

// allowed lists the transitions of broadcast.State.
func allowed(from, to broadcast.State) bool {
	switch to {
	case broadcast.Confirmed:
		return from == broadcast.Draft
	case broadcast.Sending:
		return from == broadcast.Confirmed
	case broadcast.Done:
		return from == broadcast.Sending
	case broadcast.Cancelled:
		return !from.Final()
	}
	return false
}

// dropQueue deletes the per-recipient records of an ended broadcast.
func (it *bcItem) dropQueue() {
	it.all, it.pending, it.flight, it.done, it.tries, it.order = nil, nil, nil, nil, nil, nil
}

// Active implements broadcast.Store.
func (m *Broadcasts) Active(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	var ids []string
	for id, it := range m.bs {
		if it.b.State == broadcast.Confirmed || it.b.State == broadcast.Sending {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Enqueue implements broadcast.Store.
func (m *Broadcasts) Enqueue(_ context.Context, id string, rs []broadcast.Recipient) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return 0, fmt.Errorf("memstore: enqueue: %w", err)
	}
	if it.b.State != broadcast.Confirmed {
		return 0, fmt.Errorf("memstore: enqueue in state %s: %w", it.b.State, broadcast.ErrState)
	}
	for _, r := range rs {
		if r.ChatID == 0 {
			return 0, fmt.Errorf("memstore: enqueue: chat id 0: %w", bot.ErrInvalid)
		}
	}
	added := 0
	for _, r := range rs {
		if it.all[r.ChatID] {
			continue
		}
		it.all[r.ChatID] = true
		it.seq++
		it.order[r.ChatID] = it.seq
		it.pending[r.ChatID] = bcEntry{r: r}
		it.total++
		added++
	}
	return added, nil
}

// Claim implements broadcast.Store.
func (m *Broadcasts) Claim(_ context.Context, id string, now time.Time, lease time.Duration, n int) ([]broadcast.Recipient, broadcast.ClaimStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return nil, 0, fmt.Errorf("memstore: claim: %w", err)
	}
	if it.b.State != broadcast.Sending {
		return nil, broadcast.Stopped, nil
	}
	for chat, e := range it.flight {
		if !e.at.After(now) {
			delete(it.flight, chat)
			it.pending[chat] = bcEntry{r: e.r, at: now}
		}
	}
	var due []int64
	for chat, e := range it.pending {
		if !e.at.After(now) {
			due = append(due, chat)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		a, b := it.pending[due[i]], it.pending[due[j]]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return it.order[due[i]] < it.order[due[j]]
	})
	if len(due) > n {
		due = due[:n]
	}
	out := make([]broadcast.Recipient, 0, len(due))
	for _, chat := range due {
		e := it.pending[chat]
		delete(it.pending, chat)
		it.flight[chat] = bcEntry{r: e.r, at: now.Add(lease)}
		out = append(out, e.r)
	}
	if len(out) == 0 && len(it.pending) == 0 && len(it.flight) == 0 {
		it.b.State, it.b.Finished = broadcast.Done, now
		it.dropQueue()
		return nil, broadcast.Finished, nil
	}
	return out, broadcast.More, nil
}

// Finish implements broadcast.Store.
func (m *Broadcasts) Finish(_ context.Context, id string, r broadcast.Recipient, o broadcast.Outcome) (bool, int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return false, 0, 0, fmt.Errorf("memstore: finish: %w", err)
	}
	counted := false
	switch {
	case it.b.State.Final():
		// The queue is gone: a send that was in flight when the
		// broadcast was cancelled still counts.
		counted = true
	case it.done != nil && !it.done[r.ChatID]:
		delete(it.flight, r.ChatID)
		delete(it.pending, r.ChatID)
		it.done[r.ChatID] = true
		counted = true
	}
	if counted {
		switch o {
		case broadcast.Delivered:
			it.b.Tally.Delivered++
		case broadcast.Blocked:
			it.b.Tally.Blocked++
		default:
			it.b.Tally.Failed++
		}
	}
	t := it.b.Tally
	return counted, t.Delivered + t.Blocked + t.Failed, it.total, nil
}

// Release implements broadcast.Store.
func (m *Broadcasts) Release(_ context.Context, id string, r broadcast.Recipient, due time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return 0, fmt.Errorf("memstore: release: %w", err)
	}
	if it.b.State.Final() || it.done[r.ChatID] {
		return 0, nil
	}
	if _, ok := it.flight[r.ChatID]; !ok {
		return it.tries[r.ChatID], nil // requeued already: not ours to move
	}
	delete(it.flight, r.ChatID)
	it.pending[r.ChatID] = bcEntry{r: r, at: due}
	it.tries[r.ChatID]++
	return it.tries[r.ChatID], nil
}

// Extend implements broadcast.LeaseExtender.
func (m *Broadcasts) Extend(_ context.Context, id string, r broadcast.Recipient, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return false, fmt.Errorf("memstore: extend: %w", err)
	}
	e, ok := it.flight[r.ChatID]
	if it.b.State != broadcast.Sending || !ok {
		return false, nil
	}
	e.at = until
	it.flight[r.ChatID] = e
	return true, nil
}

// Milestone implements broadcast.Store.
func (m *Broadcasts) Milestone(_ context.Context, id string, step int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.item(id)
	if err != nil {
		return false, fmt.Errorf("memstore: milestone: %w", err)
	}
	if step <= it.milestone {
		return false, nil
	}
	it.milestone = step
	return true, nil
}
