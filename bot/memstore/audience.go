package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/lotse-bot/lotse/bot"
)

// The broadcast audience index (bot.AudienceIndex) of a single process,
// kept beside the subscriptions it is wired with.

var _ bot.AudienceIndex = (*Reminders)(nil)

// audPruneSample is how many entries a Join looks at for expired ones.
const audPruneSample = 8

// Join implements bot.AudienceIndex.
func (r *Reminders) Join(_ context.Context, m bot.AudienceMember) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("memstore: join audience: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !m.Expires.After(now) {
		return fmt.Errorf("memstore: join audience: already expired: %w", bot.ErrInvalid)
	}
	// Drop a few expired entries: a bounded amount of work per Join,
	// not a pass over everybody (Members drops those it passes).
	checked := 0
	for u, x := range r.aud {
		if checked++; checked > audPruneSample {
			break
		}
		if !x.Expires.After(now) {
			delete(r.aud, u)
		}
	}
	r.aud[m.User] = m
	return nil
}

// Leave implements bot.AudienceIndex.
func (r *Reminders) Leave(_ context.Context, user bot.UserKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.aud, user)
	return nil
}

// Members implements bot.AudienceIndex: pages in order of user key, the
// cursor being the last key returned.
func (r *Reminders) Members(_ context.Context, district, cursor string, limit int) ([]bot.AudienceMember, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("memstore: audience members: limit %d: %w", limit, bot.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []bot.AudienceMember
	for u, m := range r.aud {
		if !m.Expires.After(now) {
			delete(r.aud, u)
			continue
		}
		if string(u) > cursor && (district == "" || m.District == district) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	return out, string(out[limit-1].User), nil
}
