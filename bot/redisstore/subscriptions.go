package redisstore

// Subscriptions (remind.Store).
//
// # Keys
//
//	ns:{u:<user>}:sub:<id>   subscription JSON, SET PX until Expires
//	ns:{u:<user>}:subs       SET of the user's subscription ids; PX the longest
//	                         of its subscriptions' remaining lifetimes
//	ns:subs:e:<event id>     ZSET index of an event's subscribers, all scores 0,
//	ns:subs:d:<district id>  members "<id>:<user>"; PX the longest lifetime of
//	                         any subscription ever added (it only grows)
//
// A user's keys share the user's hash slot, so the per-user limit is
// checked and the subscription written atomically by one script. The
// indexes live in other slots and are written first: a crash in between
// leaves an index member whose subscription does not exist, which readers
// skip and remove, rather than a subscription the planner cannot see.
//
// Indexes are paged with ZRANGE BYLEX from the last member returned: unlike
// SSCAN this never returns a member twice and never skips one present
// during the whole iteration, at any size (10,000 subscribers of a
// district are read page by page, not into memory at once).
//
// Store.Forget does not touch subscriptions; /forget calls ForgetUser too.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/remind"
)

var _ remind.Store = (*Store)(nil)

const suffixSubs = "subs"

// subIndexScript adds a member to an index and makes sure the index lives
// at least as long as the subscription.
// KEYS[1] index; ARGV[1] member, ARGV[2] ttl ms.
var subIndexScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], 0, ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// subscribeScript writes a subscription unless the user already has the
// maximum number of other live ones, pruning ids whose subscription has
// expired. Returns 1 if written, 0 if the limit was hit.
// KEYS[1] the user's id set, KEYS[2] the subscription;
// ARGV[1] id, ARGV[2] JSON, ARGV[3] ttl ms, ARGV[4] limit, ARGV[5] key
// prefix of the user's subscriptions (same slot).
var subscribeScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  local live = 0
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if redis.call('EXISTS', ARGV[5] .. id) == 1 then
      live = live + 1
    else
      redis.call('SREM', KEYS[1], id)
    end
  end
  if live >= tonumber(ARGV[4]) then
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`)

func (s *Store) subIndexKey(t remind.Target) string {
	if t.Event != "" {
		return s.ns + ":subs:e:" + t.Event
	}
	return s.ns + ":subs:d:" + t.District
}

func subMember(sub remind.Subscription) string { return sub.ID + ":" + string(sub.User) }

// Subscribe implements remind.Store.
func (s *Store) Subscribe(ctx context.Context, sub remind.Subscription) error {
	const op = "subscribe"
	if err := sub.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	set, err := s.userKey(sub.User, suffixSubs)
	if err != nil {
		return wrap(op, err)
	}
	prefix, _ := s.userKey(sub.User, "sub:")
	ttl := sub.Expires.Sub(s.now())
	if ttl < time.Millisecond {
		return fmt.Errorf("redisstore: %s: already expired: %w", op, bot.ErrInvalid)
	}
	raw, err := json.Marshal(sub)
	if err != nil {
		return wrap(op+": encode", err)
	}
	ms := ttl.Milliseconds()
	idx := s.subIndexKey(sub.Target)
	if err := subIndexScript.Run(ctx, s.rdb, []string{idx}, subMember(sub), ms).Err(); err != nil {
		return wrap(op, err)
	}
	ok, err := subscribeScript.Run(ctx, s.rdb, []string{set, prefix + sub.ID}, sub.ID, raw, ms, remind.MaxPerUser, prefix).Int()
	if err != nil {
		return wrap(op, err)
	}
	if ok == 0 {
		// The id was not the user's (else no limit applies), so the index
		// member is ours to take back.
		if err := s.rdb.ZRem(ctx, idx, subMember(sub)).Err(); err != nil {
			return wrap(op, err)
		}
		return fmt.Errorf("redisstore: %s: %w", op, remind.ErrTooMany)
	}
	return nil
}

// Unsubscribe implements remind.Store.
func (s *Store) Unsubscribe(ctx context.Context, user bot.UserKey, id string) error {
	const op = "unsubscribe"
	set, err := s.userKey(user, suffixSubs)
	if err != nil {
		return wrap(op, err)
	}
	if id == "" || strings.ContainsAny(id, "{}:") {
		return fmt.Errorf("redisstore: %s: %w", op, bot.ErrNotFound)
	}
	prefix, _ := s.userKey(user, "sub:")
	raw, err := s.rdb.Get(ctx, prefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		if err := s.rdb.SRem(ctx, set, id).Err(); err != nil {
			return wrap(op, err)
		}
		return fmt.Errorf("redisstore: %s: %w", op, bot.ErrNotFound)
	}
	if err != nil {
		return wrap(op, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, prefix+id)
		p.SRem(ctx, set, id)
		return nil
	})
	if err != nil {
		return wrap(op, err)
	}
	var sub remind.Subscription
	if json.Unmarshal(raw, &sub) != nil || sub.Target.Validate() != nil {
		return nil // the index member is pruned when next read
	}
	return wrap(op, s.rdb.ZRem(ctx, s.subIndexKey(sub.Target), subMember(sub)).Err())
}

// SubscriptionsOf implements remind.Store.
func (s *Store) SubscriptionsOf(ctx context.Context, user bot.UserKey) ([]remind.Subscription, error) {
	const op = "subscriptions"
	subs, _, err := s.loadSubs(ctx, op, user)
	return subs, err
}

// loadSubs returns user's live subscriptions and the ids whose
// subscription is gone (already removed from the set).
func (s *Store) loadSubs(ctx context.Context, op string, user bot.UserKey) ([]remind.Subscription, []string, error) {
	set, err := s.userKey(user, suffixSubs)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	prefix, _ := s.userKey(user, "sub:")
	ids, err := s.rdb.SMembers(ctx, set).Result()
	if err != nil || len(ids) == 0 {
		return nil, nil, wrap(op, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = prefix + id
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	now := s.now()
	var (
		out   []remind.Subscription
		stale []string
	)
	for i, v := range vals {
		str, ok := v.(string)
		var sub remind.Subscription
		if !ok || json.Unmarshal([]byte(str), &sub) != nil {
			stale = append(stale, ids[i])
			continue
		}
		if sub.Expires.After(now) {
			out = append(out, sub)
		}
	}
	if len(stale) > 0 {
		if err := s.rdb.SRem(ctx, set, stale).Err(); err != nil {
			return nil, nil, wrap(op, err)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, stale, nil
}

// ForgetUser implements remind.Store: one DEL removes the user's
// subscriptions (they share a slot), then the index members go.
func (s *Store) ForgetUser(ctx context.Context, user bot.UserKey) error {
	const op = "forget subscriptions"
	set, err := s.userKey(user, suffixSubs)
	if err != nil {
		return wrap(op, err)
	}
	prefix, _ := s.userKey(user, "sub:")
	subs, stale, err := s.loadSubs(ctx, op, user)
	if err != nil {
		return err
	}
	keys := []string{set}
	for _, sub := range subs {
		keys = append(keys, prefix+sub.ID)
	}
	for _, id := range stale {
		keys = append(keys, prefix+id)
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return wrap(op, err)
	}
	for _, sub := range subs {
		if err := s.rdb.ZRem(ctx, s.subIndexKey(sub.Target), subMember(sub)).Err(); err != nil {
			return wrap(op, err)
		}
	}
	return nil
}

// SubscribersOf implements remind.Store.
func (s *Store) SubscribersOf(ctx context.Context, t remind.Target, cursor string, limit int) ([]remind.Subscription, string, error) {
	const op = "subscribers"
	if err := t.Validate(); err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("redisstore: %s: limit %d: %w", op, limit, bot.ErrInvalid)
	}
	idx := s.subIndexKey(t)
	start := "-"
	if cursor != "" {
		start = "(" + cursor
	}
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: idx, Start: start, Stop: "+", ByLex: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, "", wrap(op, err)
	}
	next := ""
	if len(members) == limit {
		next = members[limit-1]
	}
	// One GET per member: in a cluster the users' keys lie in different
	// slots, and go-redis splits a pipeline by slot.
	cmds := make([]*redis.StringCmd, 0, len(members))
	valid := make([]string, 0, len(members))
	var stale []any
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range members {
			id, user, ok := strings.Cut(m, ":")
			key, kerr := s.userKey(bot.UserKey(user), "sub:"+id)
			if !ok || kerr != nil {
				stale = append(stale, m)
				continue
			}
			valid = append(valid, m)
			cmds = append(cmds, p.Get(ctx, key))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", wrap(op, err)
	}
	now := s.now()
	var out []remind.Subscription
	for i, cmd := range cmds {
		raw, err := cmd.Bytes()
		var sub remind.Subscription
		switch {
		case errors.Is(err, redis.Nil):
			stale = append(stale, valid[i])
			continue
		case err != nil:
			return nil, "", wrap(op, err)
		case json.Unmarshal(raw, &sub) != nil:
			stale = append(stale, valid[i])
			continue
		}
		if !sub.Expires.After(now) {
			continue
		}
		if t.Event == "" && t.Topic != "" && sub.Target.Topic != "" && sub.Target.Topic != t.Topic {
			continue
		}
		out = append(out, sub)
	}
	if len(stale) > 0 {
		if err := s.rdb.ZRem(ctx, idx, stale...).Err(); err != nil {
			return nil, "", wrap(op, err)
		}
	}
	return out, next, nil
}
