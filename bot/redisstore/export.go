package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.TicketLister = (*Store)(nil)

// TicketsOf implements bot.TicketLister for /mydata: every ticket in the
// user's ticket index that still belongs to them, final ones included
// (redaction removes a ticket from the index), oldest first. It only
// reads; stale index entries are pruned by OpenTicketsOf.
func (s *Store) TicketsOf(ctx context.Context, user bot.UserKey) ([]bot.Ticket, error) {
	key, err := s.userTicketsKey(user)
	if err != nil {
		return nil, wrap("tickets of", err)
	}
	refs, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil || len(refs) == 0 {
		return nil, wrap("tickets of", err)
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = s.ticketKey(r)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, wrap("tickets of", err)
	}
	var out []bot.Ticket
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok {
			continue // expired
		}
		t, err := decodeTicket(refs[i], []byte(raw))
		if err != nil {
			return nil, wrap("tickets of", err)
		}
		if t.Requester == user && !t.Redacted {
			out = append(out, t)
		}
	}
	sortTickets(out)
	return out, nil
}

var _ bot.AudienceReader = (*Store)(nil)

// AudienceOf implements bot.AudienceReader: user's record in the
// broadcast audience index (ns:{aud}:r:<user>, audience.go), for /mydata.
func (s *Store) AudienceOf(ctx context.Context, user bot.UserKey) (bot.AudienceMember, bool, error) {
	key, err := s.audRecordKey(user)
	if err != nil {
		return bot.AudienceMember{}, false, wrap("audience of", err)
	}
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return bot.AudienceMember{}, false, nil
	}
	if err != nil {
		return bot.AudienceMember{}, false, wrap("audience of", err)
	}
	var m bot.AudienceMember
	if err := json.Unmarshal(raw, &m); err != nil {
		return bot.AudienceMember{}, false, fmt.Errorf("redisstore: audience of: %w", err)
	}
	return m, true, nil
}
