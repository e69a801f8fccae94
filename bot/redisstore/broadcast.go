package redisstore

// Broadcasts (broadcast.Store) and the shared broadcast pacer.
//
// # Keys
//
// Everything of one broadcast carries the hash tag {b:<id>}, so every
// transition is one Lua script, in a cluster too:
//
//	ns:{b:<id>}:m    HASH  j (JSON), st (state), ts/tf (started/finished ms),
//	                       n (recipients), d/bl/f (delivered/blocked/failed),
//	                       ms (highest progress step reported)
//	ns:{b:<id>}:all  SET   chat ids of the snapshot (dedup of Enqueue)
//	ns:{b:<id>}:p    ZSET  "<chat>|<lang>" → due (ms): pending
//	ns:{b:<id>}:l    ZSET  "<chat>|<lang>" → lease deadline (ms): in flight
//	ns:{b:<id>}:x    SET   chat ids finished: the markers that make a
//	                       recipient count once and never be queued again
//	ns:{b:<id>}:r    HASH  chat id → releases (attempts that failed)
//	ns:bc:active     SET   ids of broadcasts confirmed or sending
//	ns:bc:rate       GCRA  theoretical arrival time (µs, Redis' clock)
//
// The hash expires after the broadcast's TTL (set once at Create); every
// script that writes a recipient key gives it the hash's remaining TTL,
// so nothing outlives the broadcast. When the broadcast ends (done or
// cancelled) the recipient keys are deleted at once: only the tally is
// kept. The active set gets the longest TTL of its members and is
// pruned of ended or expired broadcasts when read.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/broadcast"
)

// Broadcasts is the broadcast.Store on Redis. Get it with
// Store.Broadcasts.
type Broadcasts struct {
	rdb redis.UniversalClient
	ns  string
}

var (
	_ broadcast.Store         = (*Broadcasts)(nil)
	_ broadcast.LeaseExtender = (*Broadcasts)(nil)
)

// Broadcasts returns the broadcast store sharing s's client and namespace.
func (s *Store) Broadcasts() *Broadcasts { return &Broadcasts{rdb: s.rdb, ns: s.ns} }

// bkeys are the keys of one broadcast, in the order the scripts take
// them.
func (b *Broadcasts) bkeys(id string) []string {
	p := b.ns + ":{b:" + id + "}:"
	return []string{p + "m", p + "all", p + "p", p + "l", p + "x", p + "r"}
}

func (b *Broadcasts) activeKey() string { return b.ns + ":bc:active" }

// checkID keeps ids to the form broadcast.NewID gives: anything else
// could break the hash tag.
func checkID(id string) error {
	if !broadcast.ValidID(id) {
		return fmt.Errorf("broadcast id %q: %w", id, bot.ErrInvalid)
	}
	return nil
}

func member(r broadcast.Recipient) string {
	return strconv.FormatInt(r.ChatID, 10) + "|" + r.Lang
}

func parseMember(m string) (broadcast.Recipient, error) {
	chat, lang, ok := strings.Cut(m, "|")
	id, err := strconv.ParseInt(chat, 10, 64)
	if !ok || err != nil {
		return broadcast.Recipient{}, fmt.Errorf("bad queue member")
	}
	return broadcast.Recipient{ChatID: id, Lang: lang}, nil
}

// refresh gives KEYS[i] the remaining TTL of the hash KEYS[1] (Lua).
const luaRefresh = `
local function refresh(...)
  local t = redis.call('PTTL', KEYS[1])
  if t > 0 then
    for _, k in ipairs({...}) do
      if redis.call('EXISTS', k) == 1 then redis.call('PEXPIRE', k, t) end
    end
  end
end
`

// bcCreateScript: KEYS[1] hash; ARGV[1] JSON, ARGV[2] ttl ms.
var bcCreateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'j', ARGV[1], 'st', 'draft', 'n', 0, 'd', 0, 'bl', 0, 'f', 0, 'ms', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// bcStateScript: KEYS = bkeys; ARGV[1] from, ARGV[2] to, ARGV[3] at ms.
// Returns {1} or {0, current state}; -1 if there is no broadcast.
var bcStateScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {-1} end
if st ~= ARGV[1] then return {0, st} end
redis.call('HSET', KEYS[1], 'st', ARGV[2])
if ARGV[2] == 'sending' then
  redis.call('HSET', KEYS[1], 'ts', ARGV[3])
elseif ARGV[2] == 'done' or ARGV[2] == 'cancelled' then
  redis.call('HSET', KEYS[1], 'tf', ARGV[3])
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
end
return {1}
`)

// bcActiveScript: KEYS[1] active set; ARGV[1] id, ARGV[2] ttl ms.
var bcActiveScript = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// bcEnqueueScript: KEYS = bkeys; ARGV pairs of chat id, member. Returns
// the number added, -1 without broadcast, -2 if not confirmed.
var bcEnqueueScript = redis.NewScript(luaRefresh + `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return -1 end
if st ~= 'confirmed' then return -2 end
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[3], 0, ARGV[i+1])
    added = added + 1
  end
end
redis.call('HINCRBY', KEYS[1], 'n', added)
refresh(KEYS[2], KEYS[3])
return added
`)

// bcClaimScript: KEYS = bkeys; ARGV[1] now ms, ARGV[2] lease deadline
// ms, ARGV[3] n. Returns {-1} without broadcast, {3} stopped, {2}
// finished (and moved to done), or {1, members...}.
var bcClaimScript = redis.NewScript(luaRefresh + `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {-1} end
if st ~= 'sending' then return {3} end
for _, m in ipairs(redis.call('ZRANGE', KEYS[4], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, 1000)) do
  redis.call('ZREM', KEYS[4], m)
  redis.call('ZADD', KEYS[3], ARGV[1], m)
end
local out = {1}
for _, m in ipairs(redis.call('ZRANGE', KEYS[3], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[3])) do
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZADD', KEYS[4], ARGV[2], m)
  out[#out + 1] = m
end
if #out == 1 and redis.call('ZCARD', KEYS[3]) == 0 and redis.call('ZCARD', KEYS[4]) == 0 then
  redis.call('HSET', KEYS[1], 'st', 'done', 'tf', ARGV[1])
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
  return {2}
end
refresh(KEYS[3], KEYS[4])
return out
`)

// bcFinishScript: KEYS = bkeys; ARGV[1] member, ARGV[2] chat id,
// ARGV[3] tally field. Returns {counted, finished, total} or {-1}.
var bcFinishScript = redis.NewScript(luaRefresh + `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {-1} end
local counted = 0
if st == 'done' or st == 'cancelled' then
  counted = 1
elseif redis.call('SADD', KEYS[5], ARGV[2]) == 1 then
  counted = 1
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  refresh(KEYS[5])
end
if counted == 1 then redis.call('HINCRBY', KEYS[1], ARGV[3], 1) end
local v = redis.call('HMGET', KEYS[1], 'd', 'bl', 'f', 'n')
return {counted, tonumber(v[1]) + tonumber(v[2]) + tonumber(v[3]), tonumber(v[4])}
`)

// bcReleaseScript: KEYS = bkeys; ARGV[1] member, ARGV[2] chat id,
// ARGV[3] due ms. Returns the releases of the chat, or -1.
var bcReleaseScript = redis.NewScript(luaRefresh + `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return -1 end
if st == 'done' or st == 'cancelled' then return 0 end
if redis.call('SISMEMBER', KEYS[5], ARGV[2]) == 1 then return 0 end
if redis.call('ZREM', KEYS[4], ARGV[1]) == 0 then
  return tonumber(redis.call('HGET', KEYS[6], ARGV[2]) or 0)
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
local n = redis.call('HINCRBY', KEYS[6], ARGV[2], 1)
refresh(KEYS[3], KEYS[6])
return n
`)

// bcExtendScript: KEYS = bkeys; ARGV[1] member, ARGV[2] new lease
// deadline (ms). Returns 1 if the recipient was in flight and now has
// the new deadline, 0 if not (finished, released, requeued after its
// lease expired, or the broadcast is not sending), -1 if there is no
// broadcast.
var bcExtendScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return -1 end
if st ~= 'sending' then return 0 end
if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[4], 'XX', ARGV[2], ARGV[1])
return 1
`)

// bcMilestoneScript: KEYS[1] hash; ARGV[1] step. Returns 1 if recorded.
var bcMilestoneScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'ms')
if not cur then return -1 end
if tonumber(ARGV[1]) <= tonumber(cur) then return 0 end
redis.call('HSET', KEYS[1], 'ms', ARGV[1])
return 1
`)

// Create implements broadcast.Store.
func (b *Broadcasts) Create(ctx context.Context, bc broadcast.Broadcast, ttl time.Duration) error {
	if err := bc.Validate(); err != nil {
		return fmt.Errorf("redisstore: create broadcast: %w", err)
	}
	ttl, err := checkTTL(ttl)
	if err != nil {
		return fmt.Errorf("redisstore: create broadcast: %w: %w", err, bot.ErrInvalid)
	}
	raw, err := json.Marshal(bc)
	if err != nil {
		return fmt.Errorf("redisstore: create broadcast: %w", err)
	}
	n, err := bcCreateScript.Run(ctx, b.rdb, b.bkeys(bc.ID)[:1], raw, ttl.Milliseconds()).Int()
	if err != nil {
		return wrap("create broadcast", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: create broadcast: id exists: %w", bot.ErrInvalid)
	}
	return nil
}

// Get implements broadcast.Store.
func (b *Broadcasts) Get(ctx context.Context, id string) (broadcast.Broadcast, error) {
	if err := checkID(id); err != nil {
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast: %w", err)
	}
	h, err := b.rdb.HGetAll(ctx, b.bkeys(id)[0]).Result()
	if err != nil {
		return broadcast.Broadcast{}, wrap("broadcast", err)
	}
	if len(h) == 0 {
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast: %w", bot.ErrNotFound)
	}
	var bc broadcast.Broadcast
	if err := json.Unmarshal([]byte(h["j"]), &bc); err != nil {
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast: undecodable: %w", err)
	}
	bc.State = broadcast.State(h["st"])
	bc.Started = msTime(h["ts"])
	bc.Finished = msTime(h["tf"])
	num := func(k string) int { n, _ := strconv.Atoi(h[k]); return n }
	bc.Tally = broadcast.Tally{Delivered: num("d"), Blocked: num("bl"), Failed: num("f")}
	bc.Tally.Pending = num("n") - bc.Tally.Delivered - bc.Tally.Blocked - bc.Tally.Failed
	return bc, nil
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s == "" {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// SetState implements broadcast.Store. A broadcast entering Confirmed is
// added to the active set first: a crash between the two steps leaves
// at most a stale member, which Active prunes, never a confirmed
// broadcast nobody delivers.
func (b *Broadcasts) SetState(ctx context.Context, id string, from, to broadcast.State, at time.Time) (broadcast.Broadcast, error) {
	if err := checkID(id); err != nil {
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast state: %w", err)
	}
	if !transitionAllowed(from, to) {
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast state %s → %s: %w", from, to, bot.ErrInvalid)
	}
	keys := b.bkeys(id)
	if to == broadcast.Confirmed {
		ttl, err := b.rdb.PTTL(ctx, keys[0]).Result()
		if err != nil {
			return broadcast.Broadcast{}, wrap("broadcast state", err)
		}
		if ttl <= 0 {
			return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast state: %w", bot.ErrNotFound)
		}
		if err := bcActiveScript.Run(ctx, b.rdb, []string{b.activeKey()}, id, ttl.Milliseconds()).Err(); err != nil {
			return broadcast.Broadcast{}, wrap("broadcast state: active", err)
		}
	}
	res, err := bcStateScript.Run(ctx, b.rdb, keys, string(from), string(to), at.UnixMilli()).Slice()
	if err != nil {
		return broadcast.Broadcast{}, wrap("broadcast state", err)
	}
	switch code, _ := res[0].(int64); code {
	case -1:
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast state: %w", bot.ErrNotFound)
	case 0:
		return broadcast.Broadcast{}, fmt.Errorf("redisstore: broadcast state is %v, not %s: %w", res[1], from, broadcast.ErrState)
	}
	return b.Get(ctx, id)
}

// transitionAllowed lists the transitions of broadcast.State.
func transitionAllowed(from, to broadcast.State) bool {
	switch to {
	case broadcast.Confirmed:
		return from == broadcast.Draft
	case broadcast.Sending:
		return from == broadcast.Confirmed
	case broadcast.Done:
		return from == broadcast.Sending
	case broadcast.Cancelled:
		return from == broadcast.Draft || from == broadcast.Confirmed || from == broadcast.Sending
	}
	return false
}

// Active implements broadcast.Store; it prunes ended and expired
// broadcasts from the active set.
func (b *Broadcasts) Active(ctx context.Context) ([]string, error) {
	ids, err := b.rdb.SMembers(ctx, b.activeKey()).Result()
	if err != nil {
		return nil, wrap("active broadcasts", err)
	}
	var out, stale []string
	for _, id := range ids {
		if checkID(id) != nil {
			stale = append(stale, id)
			continue
		}
		st, err := b.rdb.HGet(ctx, b.bkeys(id)[0], "st").Result()
		switch {
		case errors.Is(err, redis.Nil):
			stale = append(stale, id)
		case err != nil:
			return nil, wrap("active broadcasts", err)
		case st == string(broadcast.Confirmed), st == string(broadcast.Sending):
			out = append(out, id)
		case broadcast.State(st).Final():
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		if err := b.rdb.SRem(ctx, b.activeKey(), stale).Err(); err != nil {
			return nil, wrap("active broadcasts: prune", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Enqueue implements broadcast.Store.
func (b *Broadcasts) Enqueue(ctx context.Context, id string, rs []broadcast.Recipient) (int, error) {
	if err := checkID(id); err != nil {
		return 0, fmt.Errorf("redisstore: enqueue: %w", err)
	}
	const chunk = 500 // bounds how long one script blocks Redis
	added := 0
	for len(rs) > 0 {
		part := rs[:min(chunk, len(rs))]
		rs = rs[len(part):]
		args := make([]any, 0, 2*len(part))
		for _, r := range part {
			if r.ChatID == 0 || strings.Contains(r.Lang, "|") {
				return added, fmt.Errorf("redisstore: enqueue: bad recipient: %w", bot.ErrInvalid)
			}
			args = append(args, r.ChatID, member(r))
		}
		n, err := bcEnqueueScript.Run(ctx, b.rdb, b.bkeys(id), args...).Int()
		if err != nil {
			return added, wrap("enqueue", err)
		}
		switch n {
		case -1:
			return added, fmt.Errorf("redisstore: enqueue: %w", bot.ErrNotFound)
		case -2:
			return added, fmt.Errorf("redisstore: enqueue: not confirmed: %w", broadcast.ErrState)
		}
		added += n
	}
	return added, nil
}

// Claim implements broadcast.Store.
func (b *Broadcasts) Claim(ctx context.Context, id string, now time.Time, lease time.Duration, n int) ([]broadcast.Recipient, broadcast.ClaimStatus, error) {
	if err := checkID(id); err != nil {
		return nil, 0, fmt.Errorf("redisstore: claim: %w", err)
	}
	if n <= 0 || lease <= 0 {
		return nil, 0, fmt.Errorf("redisstore: claim: n %d, lease %v: %w", n, lease, bot.ErrInvalid)
	}
	res, err := bcClaimScript.Run(ctx, b.rdb, b.bkeys(id), now.UnixMilli(), now.Add(lease).UnixMilli(), n).Slice()
	if err != nil {
		return nil, 0, wrap("claim", err)
	}
	switch code, _ := res[0].(int64); code {
	case -1:
		return nil, 0, fmt.Errorf("redisstore: claim: %w", bot.ErrNotFound)
	case 2:
		return nil, broadcast.Finished, nil
	case 3:
		return nil, broadcast.Stopped, nil
	}
	out := make([]broadcast.Recipient, 0, len(res)-1)
	for _, v := range res[1:] {
		s, _ := v.(string)
		r, err := parseMember(s)
		if err != nil {
			return nil, 0, fmt.Errorf("redisstore: claim: %w", err)
		}
		out = append(out, r)
	}
	return out, broadcast.More, nil
}

// Finish implements broadcast.Store.
func (b *Broadcasts) Finish(ctx context.Context, id string, r broadcast.Recipient, o broadcast.Outcome) (bool, int, int, error) {
	if err := checkID(id); err != nil {
		return false, 0, 0, fmt.Errorf("redisstore: finish: %w", err)
	}
	field := map[broadcast.Outcome]string{broadcast.Delivered: "d", broadcast.Blocked: "bl", broadcast.Failed: "f"}[o]
	if field == "" {
		return false, 0, 0, fmt.Errorf("redisstore: finish: outcome %d: %w", o, bot.ErrInvalid)
	}
	res, err := bcFinishScript.Run(ctx, b.rdb, b.bkeys(id), member(r), r.ChatID, field).Int64Slice()
	if err != nil {
		return false, 0, 0, wrap("finish", err)
	}
	if res[0] == -1 {
		return false, 0, 0, fmt.Errorf("redisstore: finish: %w", bot.ErrNotFound)
	}
	return res[0] == 1, int(res[1]), int(res[2]), nil
}

// Release implements broadcast.Store.
func (b *Broadcasts) Release(ctx context.Context, id string, r broadcast.Recipient, due time.Time) (int, error) {
	if err := checkID(id); err != nil {
		return 0, fmt.Errorf("redisstore: release: %w", err)
	}
	n, err := bcReleaseScript.Run(ctx, b.rdb, b.bkeys(id), member(r), r.ChatID, due.UnixMilli()).Int()
	if err != nil {
		return 0, wrap("release", err)
	}
	if n == -1 {
		return 0, fmt.Errorf("redisstore: release: %w", bot.ErrNotFound)
	}
	return n, nil
}

// Extend implements broadcast.LeaseExtender.
func (b *Broadcasts) Extend(ctx context.Context, id string, r broadcast.Recipient, until time.Time) (bool, error) {
	if err := checkID(id); err != nil {
		return false, fmt.Errorf("redisstore: extend: %w", err)
	}
	n, err := bcExtendScript.Run(ctx, b.rdb, b.bkeys(id), member(r), until.UnixMilli()).Int()
	if err != nil {
		return false, wrap("extend", err)
	}
	if n == -1 {
		return false, fmt.Errorf("redisstore: extend: %w", bot.ErrNotFound)
	}
	return n == 1, nil
}

// Milestone implements broadcast.Store.
func (b *Broadcasts) Milestone(ctx context.Context, id string, step int) (bool, error) {
	if err := checkID(id); err != nil {
		return false, fmt.Errorf("redisstore: milestone: %w", err)
	}
	n, err := bcMilestoneScript.Run(ctx, b.rdb, b.bkeys(id)[:1], step).Int()
	if err != nil {
		return false, wrap("milestone", err)
	}
	if n == -1 {
		return false, fmt.Errorf("redisstore: milestone: %w", bot.ErrNotFound)
	}
	return n == 1, nil
}

// Pacer is a broadcast.Pacer shared by every replica using one Redis.
// Each Wait books the next free slot of an even spacing of 1/rate on
// Redis' own clock (so replicas' clocks need not agree) and sleeps until
// it: one round trip per message, no stampede of waiters retrying, and
// never two messages closer together than the interval, whichever
// replicas send them. A booked slot whose waiter gives up stays unused.
type Pacer struct {
	rdb      redis.UniversalClient
	key      string
	interval time.Duration
}

var _ broadcast.Pacer = (*Pacer)(nil)

// Pacer returns the shared pacer of perSecond messages per second
// (default 28).
func (s *Store) Pacer(perSecond float64) *Pacer {
	if perSecond <= 0 {
		perSecond = 28
	}
	return &Pacer{rdb: s.rdb, key: s.ns + ":bc:rate", interval: time.Duration(float64(time.Second) / perSecond)}
}

// pacerScript: KEYS[1] the next free slot (µs, Redis' clock); ARGV[1]
// interval µs. Books the next free slot and returns the µs until it.
var pacerScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or 0)
if slot < now then slot = now end
local nxt = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.floor((nxt - now) / 1000) + 1000)
return math.floor(slot - now)
`)

// maxRebook bounds the slots one Wait books after waking up late.
const maxRebook = 8

// Wait implements broadcast.Pacer. A waiter that wakes up more than an
// interval after its slot (the process was descheduled, a GC pause)
// does not send at once but books a new slot: otherwise every waiter of
// a stalled process would send together when it resumes, a burst that
// Telegram counts against its limit of 30 in any second.
func (p *Pacer) Wait(ctx context.Context) error {
	for range maxRebook {
		us, err := pacerScript.Run(ctx, p.rdb, []string{p.key}, p.interval.Microseconds()).Int64()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return wrap("pacer", err)
		}
		if us <= 0 {
			return nil
		}
		slot := time.Now().Add(time.Duration(us) * time.Microsecond)
		t := time.NewTimer(time.Until(slot))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if time.Since(slot) <= p.interval {
			return nil
		}
	}
	return nil
}
