package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.TicketLister = (*Store)(nil)

// TicketsOf implements bot.TicketLister for /mydata: every live ticket of
// user that still holds personal content, final ones included, oldest
// first.
func (m *Store) TicketsOf(_ context.Context, user bot.UserKey) ([]bot.Ticket, error) {
	if user == "" {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []bot.Ticket
	for _, it := range m.tk.tickets {
		if now.Before(it.expires) && !it.t.Redacted && it.t.Requester == user {
			out = append(out, it.t.Clone())
		}
	}
	slices.SortFunc(out, func(a, b bot.Ticket) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Ref, b.Ref)
	})
	return out, nil
}

var _ bot.AudienceReader = (*Reminders)(nil)

// AudienceOf implements bot.AudienceReader: user's live entry in the
// broadcast audience index, for /mydata.
func (r *Reminders) AudienceOf(_ context.Context, user bot.UserKey) (bot.AudienceMember, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.aud[user]
	if !ok || !m.Expires.After(r.now()) {
		return bot.AudienceMember{}, false, nil
	}
	return m, true, nil
}
