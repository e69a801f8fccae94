package redisstore

// Callback tokens (bot.TokenStore).
//
//	ns:cb:<token>   CallbackToken JSON, SET PX ttl
//
// One key per token, no hash tag: tokens are written and read one
// message at a time, never together with other keys.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.TokenStore = (*Store)(nil)

func (s *Store) tokenKey(tok string) (string, error) {
	if tok == "" || len(tok) > 64 || strings.ContainsAny(tok, "{}: ") {
		return "", fmt.Errorf("token: %w", bot.ErrInvalid)
	}
	return s.ns + ":cb:" + tok, nil
}

// PutTokens implements bot.TokenStore, in one pipeline.
func (s *Store) PutTokens(ctx context.Context, tokens map[string]bot.CallbackToken, ttl time.Duration) error {
	ttl, err := checkTTL(ttl)
	if err != nil {
		return fmt.Errorf("redisstore: put tokens: %w", err)
	}
	if len(tokens) == 0 {
		return nil
	}
	p := s.rdb.Pipeline()
	for tok, ct := range tokens {
		key, err := s.tokenKey(tok)
		if err != nil {
			return fmt.Errorf("redisstore: put tokens: %w", err)
		}
		raw, err := json.Marshal(ct)
		if err != nil {
			return fmt.Errorf("redisstore: put tokens: %w", err)
		}
		p.Set(ctx, key, raw, ttl)
	}
	_, err = p.Exec(ctx)
	return wrap("put tokens", err)
}

// CallbackToken implements bot.TokenStore.
func (s *Store) CallbackToken(ctx context.Context, tok string) (bot.CallbackToken, error) {
	key, err := s.tokenKey(tok)
	if err != nil {
		return bot.CallbackToken{}, bot.ErrNotFound
	}
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return bot.CallbackToken{}, wrap("callback token", err)
	}
	var ct bot.CallbackToken
	if err := json.Unmarshal(raw, &ct); err != nil {
		return bot.CallbackToken{}, fmt.Errorf("redisstore: callback token: %w", err)
	}
	return ct, nil
}
