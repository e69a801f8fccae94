package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Callback tokens (bot.TokenStore).

var _ bot.TokenStore = (*Store)(nil)

type tokenItem struct {
	ct      bot.CallbackToken
	expires time.Time
}

// PutTokens implements bot.TokenStore.
func (m *Store) PutTokens(_ context.Context, tokens map[string]bot.CallbackToken, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memstore: put tokens: ttl %v: %w", ttl, bot.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.tok == nil {
		m.tok = map[string]tokenItem{}
	}
	if len(m.tok) > 1024 {
		for k, it := range m.tok {
			if !now.Before(it.expires) {
				delete(m.tok, k)
			}
		}
	}
	for k, ct := range tokens {
		m.tok[k] = tokenItem{ct: ct, expires: now.Add(ttl)}
	}
	return nil
}

// CallbackToken implements bot.TokenStore.
func (m *Store) CallbackToken(_ context.Context, token string) (bot.CallbackToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.tok[token]
	if !ok || !m.now().Before(it.expires) {
		return bot.CallbackToken{}, bot.ErrNotFound
	}
	return it.ct, nil
}
