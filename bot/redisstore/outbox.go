package redisstore

// The outbox (bot.Outbox): per-chat queues with a due index and leases.
//
// # Keys
//
// All under the hash tag {ob}, so every transition is one atomic script,
// in a cluster too.
//
//	ns:{ob}:r          ZSET order → due (ms, Redis clock): chats with unsettled entries   PEXPIRE OutboxTTL on every add
//	ns:{ob}:c:<order>  ZSET id → counter: unsettled entries of one chat, in queue order    PEXPIRE OutboxTTL on every add
//	ns:{ob}:n          counter of queued entries (INCR), the order within a chat
//	ns:{ob}:s          STREAM of wake-ups (no data), MAXLEN ~ outboxWakeLen              PEXPIRE OutboxTTL on every add
//	ns:{ob}:p:<id>     entry JSON (personal data), SET PX OutboxTTL             deleted on settle and forget
//	ns:{ob}:k:<id>     idempotency marker "q" | "sent" | "dropped", PX OutboxTTL
//	ns:{ob}:l:<id>     lease: consumer name, SET PX lease (renewed by RenewOutbox)
//	ns:{ob}:f:<id>     "taken and not settled or released", PX OutboxTTL
//	ns:{ob}:u:<user>   SET of ids holding the user's data                       PEXPIRE OutboxTTL on every add
//
// No key holds personal data except p:<id>: ids are made of references
// and update ids, orders are keyed hashes of chats.
//
// # Why a due index and not a consumer group
//
// An earlier version read a stream with a consumer group. A dispatcher
// then saw its own pending entries first and read nothing new while any
// waited, so one slow chat (a staff group at 20 messages a minute) held
// every other chat's new entries; it took over a dead dispatcher's
// entries only while it held fewer than a batch of its own, which could
// deadlock (its own entries waiting behind the dead one's); and a dead
// dispatcher's entries waited for the group's idle limit. Exclusion and
// order never came from the group anyway, but from the leases and the
// per-chat ZSETs.
//
// Now every chat with unsettled entries is in r, scored by when its
// head may be tried next: now when queued or after a settle, the end of
// the lease while a dispatcher holds it (TakeOutbox, RenewOutbox), the
// retry time after a failed or paced attempt (ReleaseOutbox). FetchOutbox
// returns the heads of the chats that are due, oldest due first, so a
// chat that waits is simply not due and never in anybody's way, and a
// dead dispatcher's chat is due again when its lease (seconds, renewed
// while a send runs) ends. The stream only wakes blocked dispatchers.

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

var (
	_ bot.Outbox     = (*Store)(nil)
	_ bot.TurnQueuer = (*Store)(nil)
)

const (
	outboxWakeLen = 1000
	maxOutboxID   = 200
	// outboxPerOrder is how many entries of one chat FetchOutbox returns
	// at most (the head and those after it).
	outboxPerOrder = 4
)

func (s *Store) ob(suffix string) string { return s.ns + ":{ob}:" + suffix }

// luaNow is the Redis clock in ms, for due scores: every dispatcher
// compares against the same clock.
const luaNow = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// enqueueOutboxScript: KEYS[1] due index, KEYS[2] counter, KEYS[3]
// wake stream, optionally KEYS[4] an update record to mark done and
// KEYS[5] a session to save. ARGV: prefix, ttl ms, skip ("1": skip the
// entries before the last one queued already), done ttl ms, session,
// session ttl ms, then id, order, user, payload per entry.
var enqueueOutboxScript = redis.NewScript(luaNow + `
local p, ttl, skip = ARGV[1], ARGV[2], ARGV[3]
local first = 7
if skip == '1' then
  for i = #ARGV - 3, 7, -4 do
    if redis.call('EXISTS', p .. 'k:' .. ARGV[i]) == 1 then
      first = i + 4
      break
    end
  end
end
local added = 0
local now = nowms()
for i = first, #ARGV, 4 do
  local id, order, user, payload = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  if redis.call('SET', p .. 'k:' .. id, 'q', 'NX', 'PX', ttl) then
    local n = redis.call('INCR', KEYS[2])
    redis.call('SET', p .. 'p:' .. id, payload, 'PX', ttl)
    redis.call('ZADD', p .. 'c:' .. order, n, id)
    redis.call('PEXPIRE', p .. 'c:' .. order, ttl)
    redis.call('ZADD', KEYS[1], 'NX', now, order)
    if user ~= '' then
      redis.call('SADD', p .. 'u:' .. user, id)
      redis.call('PEXPIRE', p .. 'u:' .. user, ttl)
    end
    added = added + 1
  end
end
if added > 0 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ` + strconv.Itoa(outboxWakeLen) + `, '*', 'w', '1')
  for k = 1, 3 do redis.call('PEXPIRE', KEYS[k], ttl) end
end
if KEYS[4] then redis.call('SET', KEYS[4], 'd', 'PX', ARGV[4]) end
if KEYS[5] then redis.call('SET', KEYS[5], ARGV[5], 'PX', ARGV[6]) end
return added
`)

// EnqueueOutbox implements bot.Outbox.
func (s *Store) EnqueueOutbox(ctx context.Context, entries ...bot.OutboxEntry) error {
	return wrap("enqueue", s.enqueue(ctx, false, nil, "", "", 0, entries))
}

// enqueue runs enqueueOutboxScript; extra are the keys after the three
// outbox ones (an update record, a session), with their values.
func (s *Store) enqueue(ctx context.Context, skip bool, extra []string, doneTTL, session string, sessionTTL int64, entries []bot.OutboxEntry) error {
	if len(entries) == 0 && len(extra) == 0 {
		return nil
	}
	sk := "0"
	if skip {
		sk = "1"
	}
	args := []any{s.ob(""), bot.OutboxTTL.Milliseconds(), sk, doneTTL, session, sessionTTL}
	for _, e := range entries {
		if err := checkOutboxEntry(e); err != nil {
			return err
		}
		if e.Queued.IsZero() {
			e.Queued = s.now()
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("redisstore: enqueue: %w", err)
		}
		args = append(args, e.ID, e.Order, string(e.User), raw)
	}
	keys := append([]string{s.ob("r"), s.ob("n"), s.ob("s")}, extra...)
	return enqueueOutboxScript.Run(ctx, s.rdb, keys, args...).Err()
}

// QueueTurn implements bot.TurnQueuer. On one Redis server (or a
// Sentinel group) it is one script: the entries, the update's done mark
// and the session are written together or not at all.
//
// In a Cluster the update record and the session live in other slots
// than the outbox, so it is three steps (queueTurnCluster): the claim
// becomes a queued claim, the entries are queued, the update is marked
// done with the session. A crash after the first step leaves the queued
// claim, so the redelivery is claimed as bot.ClaimQueued (once the lease
// ended) and queues its reply again from the same message on, which
// skips what is queued: nothing is sent twice, and a first claim costs
// no extra round trip.
func (s *Store) QueueTurn(ctx context.Context, qt bot.QueuedTurn, entries ...bot.OutboxEntry) error {
	doneTTL, err := checkTTL(qt.DoneTTL)
	if err != nil {
		return wrap("queue turn", err)
	}
	var sessKey, raw string
	var sessTTL time.Duration
	if qt.Session != nil {
		if sessKey, err = s.userKey(qt.User, suffixSession); err != nil {
			return wrap("queue turn", err)
		}
		if sessTTL, err = checkTTL(qt.SessionTTL); err != nil {
			return wrap("queue turn", err)
		}
		b, err := json.Marshal(qt.Session)
		if err != nil {
			return wrap("queue turn: encode", err)
		}
		raw = string(b)
	}
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		return s.queueTurnCluster(ctx, qt, doneTTL, sessTTL, entries)
	}
	extra := []string{s.updateKey(qt.UpdateID)}
	if sessKey != "" {
		extra = append(extra, sessKey)
	}
	err = s.enqueue(ctx, true, extra, strconv.FormatInt(doneTTL.Milliseconds(), 10), raw, sessTTL.Milliseconds(), entries)
	return wrap("queue turn", err)
}

// queuedScript turns the claim on an update (KEYS[1]) into a queued
// claim, "q:<lease end ms>:<from>", kept for the done TTL so that it
// outlives a crash; the lease end keeps redeliveries out meanwhile
// (BeginClaim). A queued claim left by an earlier attempt keeps its
// from: that attempt sent the messages before it directly. ARGV: from,
// lease ms, done ttl ms. Returns from, or -1 (changing nothing) if the
// update is marked done: the claim was lost to a handler that answered.
var queuedScript = redis.NewScript(luaNowMs + `
local v = redis.call('GET', KEYS[1])
if v and v ~= 'p' and string.sub(v, 1, 2) ~= 'q:' then return -1 end
local from = ARGV[1]
if v then from = string.match(v, '^q:%d+:(%d+)$') or from end
redis.call('SET', KEYS[1], 'q:' .. string.format('%.0f', nowms() + tonumber(ARGV[2])) .. ':' .. from, 'PX', ARGV[3])
return tonumber(from)
`)

// queueTurnCluster is QueueTurn in a Cluster: the queued claim, the
// entries, the done mark and session, in that order.
func (s *Store) queueTurnCluster(ctx context.Context, qt bot.QueuedTurn, doneTTL, sessTTL time.Duration, entries []bot.OutboxEntry) error {
	for _, e := range entries {
		if err := checkOutboxEntry(e); err != nil {
			return err
		}
	}
	lease := qt.Lease
	if lease <= 0 {
		lease = bot.DefaultClaimLease
	}
	from, err := queuedScript.Run(ctx, s.rdb, []string{s.updateKey(qt.UpdateID)}, max(qt.From, 0),
		max(lease.Milliseconds(), 1), doneTTL.Milliseconds()).Int()
	switch {
	case err != nil:
		return wrap("queue turn", err)
	case from < 0:
		return nil // answered by another handler: queue nothing
	}
	// The earlier attempt that queued from a later message sent the
	// ones before directly.
	entries = entries[min(max(from-qt.From, 0), len(entries)):]
	if err := s.enqueue(ctx, true, nil, "", "", 0, entries); err != nil {
		return wrap("queue turn", err)
	}
	if err := s.FinishUpdate(ctx, qt.UpdateID, doneTTL, qt.User, qt.Session, sessTTL); err != nil {
		return fmt.Errorf("redisstore: queue turn: %w: %w", bot.ErrTurnUnfinished, err)
	}
	return nil
}

func checkOutboxEntry(e bot.OutboxEntry) error {
	bad := func(s string) bool { return s == "" || len(s) > maxOutboxID || strings.ContainsAny(s, "{} ") }
	switch {
	case bad(e.ID):
		return fmt.Errorf("redisstore: outbox entry id: %w", bot.ErrInvalid)
	case bad(e.Order):
		return fmt.Errorf("redisstore: outbox entry order: %w", bot.ErrInvalid)
	case e.Msg.ChatID == 0:
		return fmt.Errorf("redisstore: outbox entry without chat: %w", bot.ErrInvalid)
	case strings.ContainsAny(string(e.User), "{} "):
		return fmt.Errorf("redisstore: outbox entry user: %w", bot.ErrInvalid)
	}
	return nil
}

// fetchScript: KEYS[1] due index, KEYS[2] wake stream; ARGV prefix, n
// chats, entries per chat. Returns {seq, id, order, ...}, the ms until
// the next chat is due (-1: none) and the wake stream's last id.
var fetchScript = redis.NewScript(luaNow + `
local p, n, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = nowms()
local out = {}
local orders = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, n)
for _, o in ipairs(orders) do
  local ids = redis.call('ZRANGE', p .. 'c:' .. o, 0, per - 1, 'WITHSCORES')
  if #ids == 0 then
    redis.call('ZREM', KEYS[1], o) -- settled, or expired
  end
  for j = 1, #ids, 2 do
    table.insert(out, ids[j+1])
    table.insert(out, ids[j])
    table.insert(out, o)
  end
end
local next = -1
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then next = math.max(tonumber(head[2]) - now, 0) end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local lastid = '0-0'
if last[1] then lastid = last[1][1] end
return {out, next, lastid}
`)

// FetchOutbox implements bot.Outbox: the first outboxPerOrder entries of
// up to n chats that are due, waiting up to wait if none is (for an
// enqueue, or for the next chat to become due). consumer is not needed:
// what a dispatcher holds is what it has leased.
func (s *Store) FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	if n <= 0 {
		return nil, nil
	}
	deadline := time.Now().Add(wait)
	for {
		items, next, last, err := s.fetch(ctx, n)
		if err != nil || len(items) > 0 {
			return items, err
		}
		block := time.Until(deadline)
		if next >= 0 && next < block {
			block = next
		}
		if block < time.Millisecond {
			if next == 0 && time.Now().Before(deadline) {
				continue // due now; raced with a settle
			}
			return nil, nil
		}
		err = s.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{s.ob("s"), last}, Count: 1, Block: block}).Err()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap("fetch outbox", err)
		}
	}
}

func (s *Store) fetch(ctx context.Context, n int) (items []bot.OutboxItem, next time.Duration, last string, err error) {
	res, err := fetchScript.Run(ctx, s.rdb, []string{s.ob("r"), s.ob("s")}, s.ob(""), n, outboxPerOrder).Slice()
	if err != nil {
		return nil, 0, "", wrap("fetch outbox", err)
	}
	flat, _ := res[0].([]any)
	for i := 0; i+2 < len(flat); i += 3 {
		seq, _ := flat[i].(string)
		id, _ := flat[i+1].(string)
		order, _ := flat[i+2].(string)
		items = append(items, bot.OutboxItem{Seq: seq, ID: id, Order: order})
	}
	ms, _ := res[1].(int64)
	next = time.Duration(ms) * time.Millisecond
	if ms < 0 {
		next = -1
	}
	last, _ = res[2].(string)
	return items, next, last, nil
}

// takeScript: KEYS[1] due index; ARGV prefix, id, order, consumer, lease
// ms, ttl ms. Returns {0, payload, redelivered} ready, {1} wait, {2}
// gone.
var takeScript = redis.NewScript(luaNow + `
local p, id, order, c = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = nowms()
local st = redis.call('GET', p .. 'k:' .. id)
local payload = redis.call('GET', p .. 'p:' .. id)
if (st and st ~= 'q') or not payload then
  redis.call('ZREM', p .. 'c:' .. order, id)
  redis.call('DEL', p .. 'l:' .. id, p .. 'f:' .. id)
  if redis.call('EXISTS', p .. 'c:' .. order) == 0 then
    redis.call('ZREM', KEYS[1], order)
  end
  return {2}
end
-- Skip heads that can never be delivered (forgotten or expired).
while true do
  local head = redis.call('ZRANGE', p .. 'c:' .. order, 0, 0)[1]
  if not head or head == id then break end
  if redis.call('EXISTS', p .. 'p:' .. head) == 1 then return {1} end
  redis.call('ZREM', p .. 'c:' .. order, head)
  redis.call('DEL', p .. 'l:' .. head, p .. 'f:' .. head)
end
local l = redis.call('GET', p .. 'l:' .. id)
if l and l ~= c then return {1} end
redis.call('SET', p .. 'l:' .. id, c, 'PX', ARGV[5])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), order)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local first = redis.call('SET', p .. 'f:' .. id, '1', 'NX', 'PX', ARGV[6])
local re = 1
if first then re = 0 end
if l == c then re = 0 end
return {0, payload, re}
`)

// TakeOutbox implements bot.Outbox. While the lease runs, the chat is
// not due (FetchOutbox does not return it).
func (s *Store) TakeOutbox(ctx context.Context, consumer string, it bot.OutboxItem, lease time.Duration) (bot.OutboxEntry, bot.TakeStatus, error) {
	lease, err := checkTTL(lease)
	if err != nil {
		return bot.OutboxEntry{}, bot.TakeWait, err
	}
	res, err := takeScript.Run(ctx, s.rdb, []string{s.ob("r")}, s.ob(""), it.ID, it.Order, consumer,
		lease.Milliseconds(), bot.OutboxTTL.Milliseconds()).Slice()
	if err != nil {
		return bot.OutboxEntry{}, bot.TakeWait, wrap("take outbox entry", err)
	}
	code, _ := res[0].(int64)
	switch code {
	case 1:
		return bot.OutboxEntry{}, bot.TakeWait, nil
	case 2:
		return bot.OutboxEntry{}, bot.TakeGone, nil
	}
	raw, _ := res[1].(string)
	var e bot.OutboxEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return bot.OutboxEntry{}, bot.TakeWait, fmt.Errorf("redisstore: take outbox entry: %w", err)
	}
	re, _ := res[2].(int64)
	e.Redelivered = re == 1
	return e, bot.TakeReady, nil
}

// renewScript: KEYS[1] due index; ARGV prefix, id, order, consumer,
// lease ms.
var renewOutboxScript = redis.NewScript(luaNow + `
local p, id, order, c = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('GET', p .. 'l:' .. id) ~= c then return 0 end
redis.call('PEXPIRE', p .. 'l:' .. id, ARGV[5])
redis.call('ZADD', KEYS[1], 'XX', nowms() + tonumber(ARGV[5]), order)
return 1
`)

// RenewOutbox implements bot.Outbox.
func (s *Store) RenewOutbox(ctx context.Context, consumer string, it bot.OutboxItem, lease time.Duration) (bool, error) {
	lease, err := checkTTL(lease)
	if err != nil {
		return false, wrap("renew outbox lease", err)
	}
	n, err := renewOutboxScript.Run(ctx, s.rdb, []string{s.ob("r")}, s.ob(""), it.ID, it.Order, consumer,
		lease.Milliseconds()).Int()
	return n == 1, wrap("renew outbox lease", err)
}

// settleScript: KEYS[1] due index; ARGV prefix, id, order, how, ttl ms.
var settleScript = redis.NewScript(luaNow + `
local p, id, order = ARGV[1], ARGV[2], ARGV[3]
redis.call('SET', p .. 'k:' .. id, ARGV[4], 'PX', ARGV[5])
redis.call('DEL', p .. 'p:' .. id, p .. 'l:' .. id, p .. 'f:' .. id)
redis.call('ZREM', p .. 'c:' .. order, id)
if redis.call('EXISTS', p .. 'c:' .. order) == 0 then
  redis.call('ZREM', KEYS[1], order)
else
  redis.call('ZADD', KEYS[1], 'XX', nowms(), order)
end
return 1
`)

// SettleOutbox implements bot.Outbox; the chat's next entry is due at
// once.
func (s *Store) SettleOutbox(ctx context.Context, it bot.OutboxItem, how bot.Settlement) error {
	err := settleScript.Run(ctx, s.rdb, []string{s.ob("r")}, s.ob(""), it.ID, it.Order, string(how),
		bot.OutboxTTL.Milliseconds()).Err()
	return wrap("settle outbox entry", err)
}

// releaseScript: KEYS[1] due index; ARGV prefix, id, order, consumer,
// after ms.
var releaseOutboxScript = redis.NewScript(luaNow + `
local p, id, order, c = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local l = redis.call('GET', p .. 'l:' .. id)
if l and l ~= c then return 0 end
redis.call('DEL', p .. 'l:' .. id, p .. 'f:' .. id)
redis.call('ZADD', KEYS[1], 'XX', nowms() + tonumber(ARGV[5]), order)
return 1
`)

// ReleaseOutbox implements bot.Outbox.
func (s *Store) ReleaseOutbox(ctx context.Context, consumer string, it bot.OutboxItem, after time.Duration) error {
	err := releaseOutboxScript.Run(ctx, s.rdb, []string{s.ob("r")}, s.ob(""), it.ID, it.Order, consumer,
		max(after, 0).Milliseconds()).Err()
	return wrap("release outbox entry", err)
}

var forgetOutboxScript = redis.NewScript(`
local p = ARGV[1]
local ids = redis.call('SMEMBERS', KEYS[1])
local n = 0
for _, id in ipairs(ids) do
  n = n + redis.call('DEL', p .. 'p:' .. id)
end
redis.call('DEL', KEYS[1])
return n
`)

// ForgetOutbox implements bot.Outbox: the payloads go at once; the ids
// in the chats' queues, which hold no personal data, are dropped when a
// dispatcher reaches them.
func (s *Store) ForgetOutbox(ctx context.Context, user bot.UserKey) (int, error) {
	if user == "" || strings.ContainsAny(string(user), "{} ") {
		return 0, fmt.Errorf("redisstore: forget outbox: %w", bot.ErrInvalid)
	}
	n, err := forgetOutboxScript.Run(ctx, s.rdb, []string{s.ob("u:" + string(user))}, s.ob("")).Int()
	return n, wrap("forget outbox", err)
}
