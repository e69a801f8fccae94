package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// ticketData is the tickets part of Store, guarded by Store.mu. Expiry
// mirrors redisstore: a ticket lives bot.DefaultTicketTTL after its last
// change, a message link as long after it was made, and a ref stays taken
// while a link to it lives, so an old message never leads to a new ticket.
type ticketData struct {
	tickets  map[string]ticketItem // ref →
	links    map[string]linkItem   // "<chat>:<msg>" →
	refLinks map[string]time.Time  // ref → expiry of its newest link
	absent   map[string]time.Time  // staff id → until
}

type ticketItem struct {
	t       bot.Ticket
	expires time.Time
}

type linkItem struct {
	ref     string
	expires time.Time
}

func newTicketData() ticketData {
	return ticketData{
		tickets:  map[string]ticketItem{},
		links:    map[string]linkItem{},
		refLinks: map[string]time.Time{},
		absent:   map[string]time.Time{},
	}
}

const ticketTTL = bot.DefaultTicketTTL

func link(chatID int64, messageID int) string {
	return strconv.FormatInt(chatID, 10) + ":" + strconv.Itoa(messageID)
}

// ticketLocked returns the live ticket ref (canonical).
func (m *Store) ticketLocked(ref string, now time.Time) (ticketItem, bool) {
	it, ok := m.tk.tickets[ref]
	if !ok || !now.Before(it.expires) {
		return ticketItem{}, false
	}
	return it, true
}

// refTakenLocked reports whether ref has a live ticket or live links.
func (m *Store) refTakenLocked(ref string, now time.Time) bool {
	if _, ok := m.ticketLocked(ref, now); ok {
		return true
	}
	exp, ok := m.tk.refLinks[ref]
	return ok && now.Before(exp)
}

// CreateTicket implements bot.TicketStore.
func (m *Store) CreateTicket(_ context.Context, t bot.Ticket) (bot.Ticket, error) {
	t = t.Clone()
	t.Ref = ""
	if t.State != bot.TicketOpen || t.Redacted {
		return bot.Ticket{}, fmt.Errorf("memstore: create ticket: state %q: %w", t.State, bot.ErrInvalid)
	}
	if err := t.Validate(); err != nil {
		return bot.Ticket{}, fmt.Errorf("memstore: create ticket: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	for attempt := range 12 {
		digits := bot.RefDigits + attempt/4
		t.Ref = bot.NewRef(digits)
		if m.refTakenLocked(t.Ref, now) {
			continue
		}
		m.tk.tickets[t.Ref] = ticketItem{t: t.Clone(), expires: now.Add(ticketTTL)}
		return t, nil
	}
	return bot.Ticket{}, errors.New("memstore: create ticket: no free reference")
}

// Ticket implements bot.TicketStore.
func (m *Store) Ticket(_ context.Context, ref string) (bot.Ticket, error) {
	canon, ok := bot.ParseRef(ref)
	if !ok {
		return bot.Ticket{}, fmt.Errorf("memstore: ticket: malformed ref: %w", bot.ErrNotFound)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.ticketLocked(canon, m.now())
	if !ok {
		return bot.Ticket{}, fmt.Errorf("memstore: ticket %s: %w", canon, bot.ErrNotFound)
	}
	return it.t.Clone(), nil
}

// UpdateTicket implements bot.TicketStore. fn runs under the store's
// lock, which makes the update atomic; it must not call the store.
func (m *Store) UpdateTicket(_ context.Context, ref string, fn func(*bot.Ticket) error) (bot.Ticket, error) {
	canon, ok := bot.ParseRef(ref)
	if !ok {
		return bot.Ticket{}, fmt.Errorf("memstore: update ticket: malformed ref: %w", bot.ErrNotFound)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.updateLocked(canon, m.now(), fn)
	if err != nil {
		return t, fmt.Errorf("memstore: update ticket %s: %w", canon, err)
	}
	return t, nil
}

func (m *Store) updateLocked(ref string, now time.Time, fn func(*bot.Ticket) error) (bot.Ticket, error) {
	it, ok := m.ticketLocked(ref, now)
	if !ok {
		return bot.Ticket{}, bot.ErrNotFound
	}
	old := it.t
	cur := old.Clone()
	if err := fn(&cur); err != nil {
		return old.Clone(), err
	}
	cur.Ref = ref
	if err := cur.Validate(); err != nil {
		return old.Clone(), err
	}
	// Compare as redisstore does, by encoding: "unchanged" means nothing
	// is written and the TTL is not refreshed.
	a, errA := json.Marshal(old)
	b, errB := json.Marshal(cur)
	if errA == nil && errB == nil && bytes.Equal(a, b) {
		return old.Clone(), nil
	}
	if cur.Redacted && !old.Redacted {
		for l, li := range m.tk.links {
			if li.ref == ref {
				delete(m.tk.links, l)
			}
		}
		delete(m.tk.refLinks, ref)
	}
	m.tk.tickets[ref] = ticketItem{t: cur.Clone(), expires: now.Add(ticketTTL)}
	return cur, nil
}

// OpenTicketsOf implements bot.TicketStore.
func (m *Store) OpenTicketsOf(_ context.Context, user bot.UserKey) ([]bot.Ticket, error) {
	if user == "" {
		return nil, nil
	}
	return m.openWhere(func(t *bot.Ticket) bool { return t.Requester == user }), nil
}

// AssignedTickets implements bot.TicketStore.
func (m *Store) AssignedTickets(_ context.Context, assignee string) ([]bot.Ticket, error) {
	if assignee == "" {
		return nil, fmt.Errorf("memstore: assigned tickets: empty assignee: %w", bot.ErrInvalid)
	}
	return m.openWhere(func(t *bot.Ticket) bool { return t.Assignee == assignee }), nil
}

func (m *Store) openWhere(match func(*bot.Ticket) bool) []bot.Ticket {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []bot.Ticket
	for _, it := range m.tk.tickets {
		if now.Before(it.expires) && !it.t.State.Final() && match(&it.t) {
			out = append(out, it.t.Clone())
		}
	}
	slices.SortFunc(out, func(a, b bot.Ticket) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Ref, b.Ref)
	})
	return out
}

// LinkMessage implements bot.TicketStore.
func (m *Store) LinkMessage(_ context.Context, chatID int64, messageID int, ref string) error {
	if chatID == 0 || messageID <= 0 {
		return fmt.Errorf("memstore: link message: chat %d message %d: %w", chatID, messageID, bot.ErrInvalid)
	}
	canon, ok := bot.ParseRef(ref)
	if !ok {
		return fmt.Errorf("memstore: link message: malformed ref: %w", bot.ErrNotFound)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	it, ok := m.ticketLocked(canon, now)
	if !ok || it.t.Redacted {
		return fmt.Errorf("memstore: link message: ticket %s: %w", canon, bot.ErrNotFound)
	}
	exp := now.Add(ticketTTL)
	m.tk.links[link(chatID, messageID)] = linkItem{ref: canon, expires: exp}
	m.tk.refLinks[canon] = exp
	return nil
}

// TicketForMessage implements bot.TicketStore.
func (m *Store) TicketForMessage(_ context.Context, chatID int64, messageID int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	li, ok := m.tk.links[link(chatID, messageID)]
	if !ok || !m.now().Before(li.expires) {
		return "", fmt.Errorf("memstore: ticket for message: %w", bot.ErrNotFound)
	}
	return li.ref, nil
}

// DueTickets implements bot.TicketStore.
func (m *Store) DueTickets(_ context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clock := m.now()
	var due []bot.Ticket
	for _, it := range m.tk.tickets {
		if clock.Before(it.expires) && it.t.Overdue(now) {
			due = append(due, it.t)
		}
	}
	slices.SortFunc(due, func(a, b bot.Ticket) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return strings.Compare(a.Ref, b.Ref)
	})
	out := make([]string, 0, min(limit, len(due)))
	for _, t := range due[:min(limit, len(due))] {
		out = append(out, t.Ref)
	}
	return out, nil
}

// SetAbsent implements bot.TicketStore.
func (m *Store) SetAbsent(_ context.Context, staffID string, until time.Time) error {
	if staffID == "" {
		return fmt.Errorf("memstore: set absent: empty staff id: %w", bot.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := until.Sub(m.now())
	switch {
	case until.IsZero() || d <= 0:
		delete(m.tk.absent, staffID)
	case d > bot.MaxAbsence:
		return fmt.Errorf("memstore: set absent: %v is longer than %v: %w", d, bot.MaxAbsence, bot.ErrInvalid)
	default:
		m.tk.absent[staffID] = until
	}
	return nil
}

// Absent implements bot.TicketStore.
func (m *Store) Absent(_ context.Context, staffID string, now time.Time) (bool, error) {
	if staffID == "" {
		return false, fmt.Errorf("memstore: absent: empty staff id: %w", bot.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.tk.absent[staffID]
	return ok && now.Before(until), nil
}

// RedactTickets implements bot.TicketStore.
func (m *Store) RedactTickets(_ context.Context, user bot.UserKey) (int, error) {
	if user == "" {
		return 0, fmt.Errorf("memstore: redact tickets: empty user: %w", bot.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.redactTicketsLocked(user), nil
}

func (m *Store) redactTicketsLocked(user bot.UserKey) int {
	if user == "" {
		return 0
	}
	m.forgetOutboxLocked(user) // queued messages hold the user's texts
	return m.redactWhereLocked(bot.ActorRequester, "forget", func(t *bot.Ticket) bool { return t.Requester == user })
}

// redactWhereLocked redacts every live, unredacted ticket that matches.
func (m *Store) redactWhereLocked(actor bot.Actor, note string, match func(*bot.Ticket) bool) int {
	now := m.now()
	var refs []string
	for ref, it := range m.tk.tickets {
		if now.Before(it.expires) && !it.t.Redacted && match(&it.t) {
			refs = append(refs, ref)
		}
	}
	n := 0
	for _, ref := range refs {
		_, err := m.updateLocked(ref, now, func(t *bot.Ticket) error {
			return t.Apply(bot.TicketEvent{At: now, Kind: bot.EventRedacted, Actor: actor, Note: note})
		})
		if err == nil {
			n++
		}
	}
	return n
}

// PurgeClosed implements bot.TicketStore.
func (m *Store) PurgeClosed(_ context.Context, olderThan time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.redactWhereLocked(bot.ActorSystem, "retention", func(t *bot.Ticket) bool {
		return t.State.Final() && t.Updated.Before(olderThan)
	}), nil
}

// sweepTicketsLocked drops expired tickets, links and absences.
func (m *Store) sweepTicketsLocked(now time.Time) {
	for ref, it := range m.tk.tickets {
		if !now.Before(it.expires) {
			delete(m.tk.tickets, ref)
		}
	}
	for l, li := range m.tk.links {
		if !now.Before(li.expires) {
			delete(m.tk.links, l)
		}
	}
	for ref, exp := range m.tk.refLinks {
		if !now.Before(exp) {
			delete(m.tk.refLinks, ref)
		}
	}
	for id, until := range m.tk.absent {
		if !now.Before(until) {
			delete(m.tk.absent, id)
		}
	}
}
