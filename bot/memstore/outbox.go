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

// The outbox (bot.Outbox) in memory, with the semantics of redisstore's
// stream: entries in queue order, idempotency markers, per-Order
// delivery in order, leases, and a dispatcher that has not fetched for
// outboxIdle presumed dead so its entries pass to another.

var _ bot.Outbox = (*Store)(nil)

// outboxIdle is how long a dispatcher may leave its entries untouched
// before another takes them over.
const outboxIdle = time.Minute

// maxOutboxID bounds an entry's idempotency key.
const maxOutboxID = 200

type outboxData struct {
	seq     int64
	queue   []*obEntry           // unsettled, in queue order
	marks   map[string]obMark    // id → idempotency marker
	touched map[string]time.Time // consumer → last fetch
	changed chan struct{}        // closed and replaced on enqueue
}

type obEntry struct {
	seq      int64
	e        bot.OutboxEntry
	owner    string    // consumer it was fetched by
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
		m.ob.touched = map[string]time.Time{}
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
	now := m.now()
	ob := m.outboxLocked()
	m.sweepOutboxLocked(now)
	added := false
	for _, e := range entries {
		if mk, ok := ob.marks[e.ID]; ok && now.Before(mk.expires) {
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
	return nil
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
		ob.touched[consumer] = now
		var items []bot.OutboxItem
		for _, x := range ob.queue {
			if len(items) == n {
				break
			}
			if x.owner != "" && x.owner != consumer && now.Sub(ob.touched[x.owner]) < outboxIdle {
				continue // a live dispatcher's
			}
			x.owner = consumer
			items = append(items, bot.OutboxItem{Seq: strconv.FormatInt(x.seq, 10), ID: x.e.ID, Order: x.e.Order})
		}
		changed := ob.changed
		m.mu.Unlock()
		if len(items) > 0 || wait <= 0 {
			return items, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, nil
		case <-changed:
		}
	}
}

// findLocked returns the queued entry of it, or nil.
func (ob *outboxData) findLocked(it bot.OutboxItem) (int, *obEntry) {
	for i, x := range ob.queue {
		if x.e.ID == it.ID && strconv.FormatInt(x.seq, 10) == it.Seq {
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
	if x.leaseBy != "" && x.leaseBy != consumer && now.Before(x.leaseTo) {
		return bot.OutboxEntry{}, bot.TakeWait, nil
	}
	e := cloneEntry(x.e)
	e.Redelivered = x.inflight
	x.leaseBy, x.leaseTo, x.inflight = consumer, now.Add(lease), true
	return e, bot.TakeReady, nil
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
	return nil
}

// ReleaseOutbox implements bot.Outbox.
func (m *Store) ReleaseOutbox(_ context.Context, it bot.OutboxItem) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, x := m.outboxLocked().findLocked(it); x != nil {
		x.leaseBy, x.leaseTo, x.inflight = "", time.Time{}, false
	}
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
}
