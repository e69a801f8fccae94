package redisstore

// The broadcast audience index (bot.AudienceIndex).
//
// # Keys
//
//	ns:{u:<user>}:aud     the member's JSON, SET PX until its Expires
//	ns:aud:all            ZSET index of everybody, all scores 0,
//	ns:aud:d:<district>   ZSET index of a district's members; members
//	                      "<expiry ms, 14 digits>:<user>", so that lexical
//	                      order is expiry order; PX the longest lifetime of
//	                      any member ever added (it only grows)
//
// Because an index member names its expiry, Join drops the expired ones of
// the indexes it writes with one ZREMRANGEBYLEX: inactive users leave the
// indexes by themselves, not only their records. A member joining again
// gets a later index member; the earlier one is removed by Join, or, if
// a crash came in between, skipped by readers (its expiry is not the
// record's) and removed by them. The indexes are written before the record,
// so a crash never leaves a record that no index lists.
//
// Pages are read with ZRANGE BYLEX from the last member returned: a
// member present during the whole iteration is never skipped; one that
// joined again meanwhile moves to the end and may be returned twice.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.AudienceIndex = (*Store)(nil)

const suffixAudience = "aud"

// audIndexScript adds a member to an audience index, drops the members
// that expired before now and makes the index live at least as long as
// the new member.
// KEYS[1] index; ARGV[1] member, ARGV[2] ttl ms, ARGV[3] "(<now member prefix>".
var audIndexScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('ZREMRANGEBYLEX', KEYS[1], '-', ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

func (s *Store) audIndexKeys(district string) []string {
	keys := []string{s.ns + ":aud:all"}
	if district != "" {
		keys = append(keys, s.ns+":aud:d:"+district)
	}
	return keys
}

// audStamp is the sortable expiry prefix of an index member.
func audStamp(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return fmt.Sprintf("%014d", ms)
}

func audMember(m bot.AudienceMember) string { return audStamp(m.Expires) + ":" + string(m.User) }

// audRecord reads user's record; ok is false if there is none (or it is
// unreadable).
func (s *Store) audRecord(ctx context.Context, key string) (bot.AudienceMember, bool, error) {
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return bot.AudienceMember{}, false, nil
	}
	if err != nil {
		return bot.AudienceMember{}, false, err
	}
	var m bot.AudienceMember
	if json.Unmarshal(raw, &m) != nil || m.Validate() != nil {
		return bot.AudienceMember{}, false, nil
	}
	return m, true, nil
}

// Join implements bot.AudienceIndex.
func (s *Store) Join(ctx context.Context, m bot.AudienceMember) error {
	const op = "join audience"
	if err := m.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	key, err := s.userKey(m.User, suffixAudience)
	if err != nil {
		return wrap(op, err)
	}
	now := s.now()
	ttl := m.Expires.Sub(now)
	if ttl < time.Millisecond {
		return fmt.Errorf("redisstore: %s: already expired: %w", op, bot.ErrInvalid)
	}
	m.Expires = m.Expires.Truncate(time.Millisecond) // as the index member has it
	raw, err := json.Marshal(m)
	if err != nil {
		return wrap(op+": encode", err)
	}
	old, hadOld, err := s.audRecord(ctx, key)
	if err != nil {
		return wrap(op, err)
	}
	member, ms, floor := audMember(m), ttl.Milliseconds(), "("+audStamp(now)
	for _, idx := range s.audIndexKeys(m.District) {
		if err := audIndexScript.Run(ctx, s.rdb, []string{idx}, member, ms, floor).Err(); err != nil {
			return wrap(op, err)
		}
	}
	if err := s.rdb.Set(ctx, key, raw, time.Duration(ms)*time.Millisecond).Err(); err != nil {
		return wrap(op, err)
	}
	if hadOld {
		if err := s.audUnindex(ctx, old, member); err != nil {
			return wrap(op, err)
		}
	}
	return nil
}

// audUnindex removes old's index members, except keep.
func (s *Store) audUnindex(ctx context.Context, old bot.AudienceMember, keep string) error {
	om := audMember(old)
	if om == keep {
		// Same expiry: only a district it left still lists it.
		if old.District == "" {
			return nil
		}
		return s.rdb.ZRem(ctx, s.ns+":aud:d:"+old.District, om).Err()
	}
	for _, idx := range s.audIndexKeys(old.District) {
		if err := s.rdb.ZRem(ctx, idx, om).Err(); err != nil {
			return err
		}
	}
	return nil
}

// Leave implements bot.AudienceIndex.
func (s *Store) Leave(ctx context.Context, user bot.UserKey) error {
	const op = "leave audience"
	key, err := s.userKey(user, suffixAudience)
	if err != nil {
		return wrap(op, err)
	}
	old, ok, err := s.audRecord(ctx, key)
	if err != nil {
		return wrap(op, err)
	}
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		return wrap(op, err)
	}
	if !ok {
		return nil // an index member left behind is skipped and dropped by readers
	}
	return wrap(op, s.audUnindex(ctx, old, ""))
}

// Members implements bot.AudienceIndex.
func (s *Store) Members(ctx context.Context, district, cursor string, limit int) ([]bot.AudienceMember, string, error) {
	const op = "audience members"
	if limit <= 0 {
		return nil, "", fmt.Errorf("redisstore: %s: limit %d: %w", op, limit, bot.ErrInvalid)
	}
	if strings.ContainsAny(district, "{}: ") {
		return nil, "", fmt.Errorf("redisstore: %s: district %q: %w", op, district, bot.ErrInvalid)
	}
	idx := s.audIndexKeys(district)[len(s.audIndexKeys(district))-1]
	now := s.now()
	// Members that expired are skipped without being read.
	start := "[" + audStamp(now)
	if cursor != "" && cursor > start[1:] {
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
	type item struct {
		member string
		stamp  string
		cmd    *redis.StringCmd
	}
	items := make([]item, 0, len(members))
	var stale []any
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, mem := range members {
			stamp, user, ok := strings.Cut(mem, ":")
			key, kerr := s.userKey(bot.UserKey(user), suffixAudience)
			if _, perr := strconv.ParseInt(stamp, 10, 64); !ok || kerr != nil || perr != nil {
				stale = append(stale, mem)
				continue
			}
			items = append(items, item{member: mem, stamp: stamp, cmd: p.Get(ctx, key)})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", wrap(op, err)
	}
	var out []bot.AudienceMember
	for _, it := range items {
		raw, err := it.cmd.Bytes()
		var m bot.AudienceMember
		switch {
		case errors.Is(err, redis.Nil):
			// Left, or a Join still writing its record: dropped once
			// expired (by Join), not here.
			continue
		case err != nil:
			return nil, "", wrap(op, err)
		case json.Unmarshal(raw, &m) != nil:
			stale = append(stale, it.member)
			continue
		}
		rec := audStamp(m.Expires)
		switch {
		case rec > it.stamp:
			stale = append(stale, it.member) // superseded by a later Join
			continue
		case rec < it.stamp, !m.Expires.After(now), district != "" && m.District != district:
			continue
		}
		out = append(out, m)
	}
	if len(stale) > 0 {
		if err := s.rdb.ZRem(ctx, idx, stale...).Err(); err != nil {
			return nil, "", wrap(op, err)
		}
	}
	return out, next, nil
}
