package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// The outbox (bot.Outbox) in memory, with the semantics of redisstore's:
// entries in queue order, idempotency markers, per-Order queues with a
// due time (not due while leased or put back), leases. Leases and due
// times follow the real clock, as Redis' do, not the store's clock (which
// tests may stop): they measure whether a dispatcher is alive.

var (
	_ bot.Outbox     = (*Store)(nil)
	_ bot.TurnQueuer = (*Store)(nil)
)

// maxOutboxID bounds an entry's idempotency key.
const maxOutboxID = 200

// outboxPerOrder is how many entries of one Order FetchOutbox returns.
const outboxPerOrder = 4

type outboxData struct {
	seq     int64
	queue   []*obEntry           // unsettled, in queue order
	marks   map[string]obMark    // id → idempotency marker
	due     map[string]time.Time // order → not before (absent: due)
	changed chan struct{}        // closed and replaced on enqueue
}

type obEntry struct {
	seq      int64
	e        bot.OutboxEntry
	leaseBy  string    // consumer holding the lease
	leaseTo  time.Time // lease end
	inflight bool      // taken and neither settled nor released
	expires  time.Time
}

type obMark struct {
	state   string // "q" queued, or a bot.Settlement
	expires time.Time
}

func (m *Store) outboxLocked() *outboxData {
	if m.ob.marks == nil {
		m.ob.marks = map[string]obMark{}
		m.ob.due = map[string]time.Time{}
		m.ob.changed = make(chan struct{})
	}
	return &m.ob
}

func checkEntry(e bot.OutboxEntry) error {
	switch {
	case e.ID == "" || len(e.ID) > maxOutboxID || strings.ContainsAny(e.ID, "{}"):
		return fmt.Errorf("memstore: outbox entry id: %w", bot.ErrInvalid)
	case e.Order == "" || len(e.Order) > maxOutboxID || strings.ContainsAny(e.Order, "{}"):
		return fmt.Errorf("memstore: outbox entry order: %w", bot.ErrInvalid)
	case e.Msg.ChatID == 0:
		return fmt.Errorf("memstore: outbox entry without chat: %w", bot.ErrInvalid)
	}
	return nil
}

// EnqueueOutbox implements bot.Outbox.
func (m *Store) EnqueueOutbox(_ context.Context, entries ...bot.OutboxEntry) error {
	for _, e := range entries {
		if err := checkEntry(e); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enqueueLocked(entries, false)
	return nil
}

// QueueTurn implements bot.TurnQueuer, atomically.
func (m *Store) QueueTurn(_ context.Context, qt bot.QueuedTurn, entries ...bot.OutboxEntry) error {
	for _, e := range entries {
		if err := checkEntry(e); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enqueueLocked(entries, true)
	now := m.now()
	m.updates[qt.UpdateID] = updateItem{done: true, expires: now.Add(qt.DoneTTL)}
	if qt.Session != nil {
		m.sessions[qt.User] = sessionItem{s: cloneSession(*qt.Session), expires: now.Add(qt.SessionTTL)}
	}
	return nil
}

// enqueueLocked queues entries; skip: not those before the last one
// queued already (bot.TurnQueuer).
func (m *Store) enqueueLocked(entries []bot.OutboxEntry, skip bool) {
	now := m.now()
	ob := m.outboxLocked()
	m.sweepOutboxLocked(now)
	known := func(id string) bool {
		mk, ok := ob.marks[id]
		return ok && now.Before(mk.expires)
	}
	if skip {
		for i := len(entries) - 1; i >= 0; i-- {
			if known(entries[i].ID) {
				entries = entries[i+1:]
				break
			}
		}
	}
	added := false
	for _, e := range entries {
		if known(e.ID) {
			continue
		}
		if e.Queued.IsZero() {
			e.Queued = now
		}
		e.Redelivered = false
		ob.seq++
		ob.marks[e.ID] = obMark{state: "q", expires: now.Add(bot.OutboxTTL)}
		ob.queue = append(ob.queue, &obEntry{seq: ob.seq, e: cloneEntry(e), expires: now.Add(bot.OutboxTTL)})
		added = true
	}
	if added {
		close(ob.changed)
		ob.changed = make(chan struct{})
	}
}

func cloneEntry(e bot.OutboxEntry) bot.OutboxEntry {
	e.Msg.Buttons = slices.Clone(e.Msg.Buttons)
	for i := range e.Msg.Buttons {
		e.Msg.Buttons[i] = slices.Clone(e.Msg.Buttons[i])
	}
	if f := e.Msg.File; f != nil {
		c := *f
		e.Msg.File = &c
	}
	if v := e.Msg.Venue; v != nil {
		c := *v
		e.Msg.Venue = &c
	}
	if d := e.Msg.Document; d != nil {
		c := *d
		c.Content = slices.Clone(d.Content)
		e.Msg.Document = &c
	}
	return e
}

// FetchOutbox implements bot.Outbox.
func (m *Store) FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		now := m.now()
		ob := m.outboxLocked()
		m.sweepOutboxLocked(now)
		real := time.Now()
		var items []bot.OutboxItem
		per := map[string]int{}
		var next time.Time // when the next order not due now is
		for _, x := range ob.queue {
			o := x.e.Order
			if due, ok := ob.due[o]; ok && real.Before(due) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				continue
			}
			if _, seen := per[o]; !seen && len(per) == n {
				continue
			}
			if per[o] == outboxPerOrder {
				continue
			}
			per[o]++
			items = append(items, bot.OutboxItem{Seq: strconv.FormatInt(x.seq, 10), ID: x.e.ID, Order: o})
		}
		changed := ob.changed
		m.mu.Unlock()
		if len(items) > 0 || wait <= 0 || n <= 0 {
			return items, nil
		}
		var dueC <-chan time.Time
		if !next.IsZero() {
			t := time.NewTimer(max(next.Sub(real), time.Millisecond))
			defer t.Stop()
			dueC = t.C
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, nil
		case <-changed:
		case <-dueC:
		}
	}
}

// findLocked returns the queued entry of it, or nil.
func (ob *outboxData) findLocked(it bot.OutboxItem) (int, *obEntry) {
	for i, x := range ob.queue {
		if x.e.ID == it.ID && x.e.Order == it.Order {
			return i, x
		}
	}
	return -1, nil
}

// TakeOutbox implements bot.Outbox.
func (m *Store) TakeOutbox(_ context.Context, consumer string, it bot.OutboxItem, lease time.Duration) (bot.OutboxEntry, bot.TakeStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	ob := m.outboxLocked()
	m.sweepOutboxLocked(now)
	_, x := ob.findLocked(it)
	if x == nil {
		return bot.OutboxEntry{}, bot.TakeGone, nil
	}
	for _, y := range ob.queue {
		if y.e.Order == x.e.Order {
			if y != x {
				return bot.OutboxEntry{}, bot.TakeWait, nil
			}
			break
		}
	}
	real := time.Now()
	if x.leaseBy != "" && x.leaseBy != consumer && real.Before(x.leaseTo) {
		return bot.OutboxEntry{}, bot.TakeWait, nil
	}
	e := cloneEntry(x.e)
	// Redelivered unless consumer takes again what it holds.
	e.Redelivered = x.inflight && (x.leaseBy != consumer || !real.Before(x.leaseTo))
	x.leaseBy, x.leaseTo, x.inflight = consumer, real.Add(lease), true
	ob.due[x.e.Order] = x.leaseTo
	return e, bot.TakeReady, nil
}

// RenewOutbox implements bot.Outbox.
func (m *Store) RenewOutbox(_ context.Context, consumer string, it bot.OutboxItem, lease time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	real := time.Now()
	ob := m.outboxLocked()
	_, x := ob.findLocked(it)
	if x == nil || x.leaseBy != consumer || !real.Before(x.leaseTo) {
		return false, nil
	}
	x.leaseTo = real.Add(lease)
	ob.due[x.e.Order] = x.leaseTo
	return true, nil
}

// SettleOutbox implements bot.Outbox.
func (m *Store) SettleOutbox(_ context.Context, it bot.OutboxItem, how bot.Settlement) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	ob := m.outboxLocked()
	ob.marks[it.ID] = obMark{state: string(how), expires: now.Add(bot.OutboxTTL)}
	if i, _ := ob.findLocked(it); i >= 0 {
		ob.queue = slices.Delete(ob.queue, i, i+1)
	}
	delete(ob.due, it.Order)
	return nil
}

// ReleaseOutbox implements bot.Outbox.
func (m *Store) ReleaseOutbox(_ context.Context, consumer string, it bot.OutboxItem, after time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	real := time.Now()
	ob := m.outboxLocked()
	_, x := ob.findLocked(it)
	if x == nil || (x.leaseBy != "" && x.leaseBy != consumer && real.Before(x.leaseTo)) {
		return nil
	}
	x.leaseBy, x.leaseTo, x.inflight = "", time.Time{}, false
	ob.due[it.Order] = real.Add(max(after, 0))
	return nil
}

// ForgetOutbox implements bot.Outbox.
func (m *Store) ForgetOutbox(_ context.Context, user bot.UserKey) (int, error) {
	if user == "" {
		return 0, fmt.Errorf("memstore: forget outbox: empty user: %w", bot.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.forgetOutboxLocked(user), nil
}

func (m *Store) forgetOutboxLocked(user bot.UserKey) int {
	ob := m.outboxLocked()
	n := len(ob.queue)
	ob.queue = slices.DeleteFunc(ob.queue, func(x *obEntry) bool { return x.e.User == user })
	return n - len(ob.queue)
}

func (m *Store) sweepOutboxLocked(now time.Time) {
	ob := &m.ob
	ob.queue = slices.DeleteFunc(ob.queue, func(x *obEntry) bool { return !now.Before(x.expires) })
	for id, mk := range ob.marks {
		if !now.Before(mk.expires) {
			delete(ob.marks, id)
		}
	}
	real := time.Now()
	for o, due := range ob.due {
		if !real.Before(due) {
			delete(ob.due, o)
		}
	}
}
