// Package memstore is an in-memory bot.Store: the embedded default when no
// Redis is configured, and a fast test double. State is lost on restart.
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Store keeps state in process memory. Expired items are dropped lazily
// and by a periodic sweep on writes.
type Store struct {
	mu        sync.Mutex
	now       func() time.Time
	updates   map[int64]updateItem
	sessions  map[bot.UserKey]sessionItem
	lastSweep time.Time
	tk        ticketData           // tickets.go
	ob        outboxData           // outbox.go
	tok       map[string]tokenItem // token.go
}

// updateItem is an update's de-duplication record: a claim (in progress)
// or a done mark, until expires.
type updateItem struct {
	done    bool
	expires time.Time
}

type sessionItem struct {
	s       bot.Session
	expires time.Time
}

var (
	_ bot.Store         = (*Store)(nil)
	_ bot.TicketStore   = (*Store)(nil)
	_ bot.UpdateClaimer = (*Store)(nil)
	_ bot.ClaimRenewer  = (*Store)(nil)
)

// New returns an empty store. now is the clock (time.Now if nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, updates: map[int64]updateItem{}, sessions: map[bot.UserKey]sessionItem{}, tk: newTicketData()}
}

// FirstSeen implements bot.Store.
func (m *Store) FirstSeen(_ context.Context, updateID int64, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	if it, ok := m.updates[updateID]; ok && now.Before(it.expires) {
		return false, nil
	}
	m.updates[updateID] = updateItem{done: true, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseUpdate implements bot.UpdateReleaser: it deletes a claim, never
// a done mark (a handler whose lease ran out must not reopen an update
// another one has answered since).
func (m *Store) ReleaseUpdate(_ context.Context, updateID int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if it, ok := m.updates[updateID]; ok && !it.done {
		delete(m.updates, updateID)
	}
	return nil
}

// BeginClaim implements bot.UpdateClaimer.
func (m *Store) BeginClaim(_ context.Context, updateID int64, lease time.Duration, user bot.UserKey) (bot.Claim, bot.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	if it, ok := m.updates[updateID]; ok && now.Before(it.expires) {
		if it.done {
			return bot.ClaimDone, bot.Session{}, nil
		}
		return bot.ClaimBusy, bot.Session{}, nil
	}
	m.updates[updateID] = updateItem{expires: now.Add(lease)}
	it, ok := m.sessions[user]
	if !ok || !now.Before(it.expires) {
		return bot.ClaimNew, bot.Session{}, nil
	}
	return bot.ClaimNew, cloneSession(it.s), nil
}

// RenewClaim implements bot.ClaimRenewer.
func (m *Store) RenewClaim(_ context.Context, updateID int64, lease time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if it, ok := m.updates[updateID]; ok && it.done && now.Before(it.expires) {
		return false, nil
	}
	m.updates[updateID] = updateItem{expires: now.Add(lease)}
	return true, nil
}

// FinishUpdate implements bot.UpdateClaimer.
func (m *Store) FinishUpdate(_ context.Context, updateID int64, ttl time.Duration, user bot.UserKey, s *bot.Session, sessionTTL time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.updates[updateID] = updateItem{done: true, expires: now.Add(ttl)}
	if s != nil {
		m.sessions[user] = sessionItem{s: cloneSession(*s), expires: now.Add(sessionTTL)}
	}
	return nil
}

// Session implements bot.Store.
func (m *Store) Session(_ context.Context, user bot.UserKey) (bot.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.sessions[user]
	if !ok || !m.now().Before(it.expires) {
		return bot.Session{}, bot.ErrNotFound
	}
	return cloneSession(it.s), nil
}

// SaveSession implements bot.Store.
func (m *Store) SaveSession(_ context.Context, user bot.UserKey, s bot.Session, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	m.sessions[user] = sessionItem{s: cloneSession(s), expires: now.Add(ttl)}
	return nil
}

// Forget implements bot.Store; it also redacts the user's tickets (see
// RedactTickets).
func (m *Store) Forget(_ context.Context, user bot.UserKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, user)
	m.redactTicketsLocked(user)
	return nil
}

// sweepLocked drops expired items at most once a minute, so memory stays
// bounded by what is live.
func (m *Store) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < time.Minute {
		return
	}
	m.lastSweep = now
	for id, it := range m.updates {
		if !now.Before(it.expires) {
			delete(m.updates, id)
		}
	}
	for k, it := range m.sessions {
		if !now.Before(it.expires) {
			delete(m.sessions, k)
		}
	}
	m.sweepTicketsLocked(now)
}

// cloneSession copies the slices so callers cannot alias stored state.
func cloneSession(s bot.Session) bot.Session {
	s.Results = append([]string(nil), s.Results...)
	return s
}
