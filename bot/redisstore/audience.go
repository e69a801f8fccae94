package redisstore

// The broadcast audience index (bot.AudienceIndex).
//
// # Keys
//
// All in one Cluster hash slot ({aud}), so that Join and Leave are one
// script each, one round trip, in a Cluster too:
//
//	ns:{aud}:r:<user>      the member's record: bot.AudienceMember as JSON,
//	                       plus "k", its index member; SET PX until Expires
//	ns:{aud}:all           ZSET index of everybody, all scores 0,
//	ns:{aud}:d:<district>  ZSET index of a district's members; members
//	                       "<expiry ms, 14 digits>:<user>", so that lexical
//	                       order is expiry order; PX the longest lifetime of
//	                       any member ever added (it only grows)
//	ns:{aud}:p:all, ns:{aud}:p:d:<district>
//	                       when the index is next pruned (ms, the store's
//	                       clock); PX audPruneEvery
//
// One slot is no hot spot: the bot joins a user again only when their
// language, role or district changed, or once a day to renew the entry
// (bot keepAudience), not on every message.
//
// Because an index member names its expiry, the expired ones are dropped
// with one ZREMRANGEBYLEX: by Join from the indexes it writes, at most
// once per audPruneEvery for each index, and by Members from the index
// it reads when an iteration starts. So inactive users leave the indexes
// by themselves, not only their records, and readers skip expired
// members without reading them meanwhile. A member joining again gets a
// later index member; Join removes the earlier one, which its record
// names, in the same script.
//
// Pages are read with ZRANGE BYLEX from the last member returned: a
// member present during the whole iteration is never skipped; one that
// joined again meanwhile moves to the end and may be returned twice.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.AudienceIndex = (*Store)(nil)

// audPruneEvery is how often Join drops an index's expired members at
// most.
const audPruneEvery = time.Minute

// audJoinScript writes a member's record and index members, removes the
// index members of its earlier record and, if due, drops the expired
// members of the indexes written. Keys not passed (the index of a
// district left) lie in the same slot, {aud}.
// KEYS[1] record, KEYS[2] all index, KEYS[3] its prune mark, KEYS[4]
// district index, KEYS[5] its prune mark (4 and 5 only with a district).
// ARGV[1] record, ARGV[2] ttl ms, ARGV[3] index member, ARGV[4] now ms,
// ARGV[5] "(<now stamp>", ARGV[6] prune every ms, ARGV[7] district index
// prefix.
var audJoinScript = redis.NewScript(`
local ttl, now, every = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[6])
local function index(idx, mark)
  redis.call('ZADD', idx, 0, ARGV[3])
  if redis.call('PTTL', idx) < ttl then
    redis.call('PEXPIRE', idx, ttl)
  end
  local due = tonumber(redis.call('GET', mark))
  if not due or due <= now then
    redis.call('ZREMRANGEBYLEX', idx, '-', ARGV[5])
    redis.call('SET', mark, now + every, 'PX', every)
  end
end
local old = redis.call('GET', KEYS[1])
index(KEYS[2], KEYS[3])
if KEYS[4] then
  index(KEYS[4], KEYS[5])
end
if old then
  local ok, o = pcall(cjson.decode, old)
  if ok and type(o) == 'table' and type(o.k) == 'string' then
    if o.k ~= ARGV[3] then
      redis.call('ZREM', KEYS[2], o.k)
    end
    if type(o.d) == 'string' and o.d ~= '' then
      local oidx = ARGV[7] .. o.d
      if o.k ~= ARGV[3] or oidx ~= KEYS[4] then
        redis.call('ZREM', oidx, o.k)
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
`)

// audLeaveScript deletes a member's record and the index members it
// names. KEYS[1] record, KEYS[2] all index; ARGV[1] district index prefix.
var audLeaveScript = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
if not old then
  return 0
end
redis.call('DEL', KEYS[1])
local ok, o = pcall(cjson.decode, old)
if ok and type(o) == 'table' and type(o.k) == 'string' then
  redis.call('ZREM', KEYS[2], o.k)
  if type(o.d) == 'string' and o.d ~= '' then
    redis.call('ZREM', ARGV[1] .. o.d, o.k)
  end
end
return 1
`)

// audRecord is a record as stored: the member and its index member.
type audRecord struct {
	bot.AudienceMember
	Member string `json:"k"`
}

func (s *Store) audPrefix() string { return s.ns + ":{aud}:" }

// audIndex is the index of district ("" for everybody).
func (s *Store) audIndex(district string) string {
	if district == "" {
		return s.audPrefix() + "all"
	}
	return s.audPrefix() + "d:" + district
}

// audRecordKey is user's record.
func (s *Store) audRecordKey(user bot.UserKey) (string, error) {
	if user == "" || strings.ContainsAny(string(user), "{}") {
		return "", errBadUserKey
	}
	return s.audPrefix() + "r:" + string(user), nil
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

// Join implements bot.AudienceIndex in one round trip.
func (s *Store) Join(ctx context.Context, m bot.AudienceMember) error {
	const op = "join audience"
	if err := m.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	key, err := s.audRecordKey(m.User)
	if err != nil {
		return wrap(op, err)
	}
	now := s.now()
	ttl := m.Expires.Sub(now)
	if ttl < time.Millisecond {
		return fmt.Errorf("redisstore: %s: already expired: %w", op, bot.ErrInvalid)
	}
	m.Expires = m.Expires.Truncate(time.Millisecond) // as the index member has it
	member := audMember(m)
	raw, err := json.Marshal(audRecord{AudienceMember: m, Member: member})
	if err != nil {
		return wrap(op+": encode", err)
	}
	all := s.audIndex("")
	keys := []string{key, all, s.audPrefix() + "p:all"}
	if m.District != "" {
		keys = append(keys, s.audIndex(m.District), s.audPrefix()+"p:d:"+m.District)
	}
	err = audJoinScript.Run(ctx, s.rdb, keys, raw, ttl.Milliseconds(), member, now.UnixMilli(),
		"("+audStamp(now), audPruneEvery.Milliseconds(), s.audPrefix()+"d:").Err()
	return wrap(op, err)
}

// Leave implements bot.AudienceIndex in one round trip.
func (s *Store) Leave(ctx context.Context, user bot.UserKey) error {
	const op = "leave audience"
	key, err := s.audRecordKey(user)
	if err != nil {
		return wrap(op, err)
	}
	err = audLeaveScript.Run(ctx, s.rdb, []string{key, s.audIndex("")}, s.audPrefix()+"d:").Err()
	return wrap(op, err)
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
	idx := s.audIndex(district)
	now := s.now()
	// Members that expired are skipped without being read.
	start := "[" + audStamp(now)
	if cursor != "" && cursor > start[1:] {
		start = "(" + cursor
	}
	var rng *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if cursor == "" {
			// An iteration starts: drop the expired members, which
			// the Joins of this index may not have for a while.
			p.ZRemRangeByLex(ctx, idx, "-", "("+audStamp(now))
		}
		rng = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: idx, Start: start, Stop: "+", ByLex: true, Count: int64(limit)})
		return nil
	})
	if err != nil {
		return nil, "", wrap(op, err)
	}
	members := rng.Val()
	next := ""
	if len(members) == limit {
		next = members[limit-1]
	}
	type item struct {
		member string
		stamp  string
	}
	items := make([]item, 0, len(members))
	keys := make([]string, 0, len(members))
	var stale []any
	for _, mem := range members {
		stamp, user, ok := strings.Cut(mem, ":")
		key, kerr := s.audRecordKey(bot.UserKey(user))
		if _, perr := strconv.ParseInt(stamp, 10, 64); !ok || kerr != nil || perr != nil {
			stale = append(stale, mem)
			continue
		}
		items = append(items, item{member: mem, stamp: stamp})
		keys = append(keys, key)
	}
	var vals []any
	if len(keys) > 0 {
		// The records share the index's slot: one MGET.
		if vals, err = s.rdb.MGet(ctx, keys...).Result(); err != nil {
			return nil, "", wrap(op, err)
		}
	}
	var out []bot.AudienceMember
	for i, it := range items {
		raw, found := vals[i].(string)
		var m bot.AudienceMember
		switch {
		case !found:
			// Left, or expired before its index member was dropped.
			continue
		case json.Unmarshal([]byte(raw), &m) != nil:
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
