package redisstore

// The outbox (bot.Outbox): a Redis stream with a consumer group.
//
// # Keys
//
// All under the hash tag {ob}, so every transition is one atomic script,
// in a cluster too.
//
//	ns:{ob}:s          STREAM of entries: fields i (id), o (order); group "d"   PEXPIRE OutboxTTL on every add
//	ns:{ob}:n          counter of queued entries (INCR), the order within a chat
//	ns:{ob}:c:<order>  ZSET id → counter: unsettled entries of one chat         PEXPIRE OutboxTTL on every add
//	ns:{ob}:p:<id>     entry JSON (personal data), SET PX OutboxTTL             deleted on settle and forget
//	ns:{ob}:k:<id>     idempotency marker "q" | "sent" | "dropped", PX OutboxTTL
//	ns:{ob}:l:<id>     lease: consumer name, SET PX lease
//	ns:{ob}:f:<id>     "taken and not settled or released", PX OutboxTTL
//	ns:{ob}:u:<user>   SET of ids holding the user's data                       PEXPIRE OutboxTTL on every add
//
// The stream holds no personal data, only ids (made of references and
// update ids) and order keys (keyed hashes of chats). Settled entries
// are acknowledged and deleted from the stream (XACK + XDEL) in the
// same script that writes the "sent" marker and deletes the payload.
// MAXLEN ~ outboxMaxLen bounds the stream against a runaway producer;
// it is far above any real backlog.
//
// # Consumers
//
// FetchOutbox reads the consumer's own pending entries first (re-reading them
// keeps them from looking idle), then takes over entries other consumers
// have left idle for outboxIdle (XAUTOCLAIM: a dead replica's), then
// waits for new ones (XREADGROUP >). Order per chat and exclusive
// delivery are enforced by TakeOutbox (the chat's ZSET and the lease), not by
// the group, since entries of one chat may sit with different consumers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
)

var _ bot.Outbox = (*Store)(nil)

const (
	outboxGroup  = "d"
	outboxIdle   = 30 * time.Second
	outboxMaxLen = 100_000
	maxOutboxID  = 200
)

func (s *Store) ob(suffix string) string { return s.ns + ":{ob}:" + suffix }

var enqueueOutboxScript = redis.NewScript(`
local p, ttl, maxlen = ARGV[1], ARGV[2], ARGV[3]
local added = 0
for i = 4, #ARGV, 4 do
  local id, order, user, payload = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  if redis.call('SET', p .. 'k:' .. id, 'q', 'NX', 'PX', ttl) then
    local n = redis.call('INCR', KEYS[2])
    redis.call('SET', p .. 'p:' .. id, payload, 'PX', ttl)
    redis.call('ZADD', p .. 'c:' .. order, n, id)
    redis.call('PEXPIRE', p .. 'c:' .. order, ttl)
    if user ~= '' then
      redis.call('SADD', p .. 'u:' .. user, id)
      redis.call('PEXPIRE', p .. 'u:' .. user, ttl)
    end
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'i', id, 'o', order)
    added = added + 1
  end
end
if added > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return added
`)

// EnqueueOutbox implements bot.Outbox.
func (s *Store) EnqueueOutbox(ctx context.Context, entries ...bot.OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	args := []any{s.ob(""), bot.OutboxTTL.Milliseconds(), outboxMaxLen}
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
	err := enqueueOutboxScript.Run(ctx, s.rdb, []string{s.ob("s"), s.ob("n")}, args...).Err()
	return wrap("enqueue", err)
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

// ensureGroup creates the consumer group (and the stream, with a TTL,
// so that no key lives forever) if it does not exist.
func (s *Store) ensureGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.ob("s"), outboxGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return wrap("create outbox group", err)
	}
	// PEXPIRE NX: only a stream that has no TTL yet (just made).
	if err := s.rdb.Do(ctx, "PEXPIRE", s.ob("s"), bot.OutboxTTL.Milliseconds(), "NX").Err(); err != nil {
		return wrap("create outbox group", err)
	}
	return nil
}

func isNoGroup(err error) bool { return err != nil && strings.Contains(err.Error(), "NOGROUP") }

// FetchOutbox implements bot.Outbox.
func (s *Store) FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	if n <= 0 {
		return nil, nil
	}
	items, err := s.fetch(ctx, consumer, n, wait)
	if isNoGroup(err) {
		if err := s.ensureGroup(ctx); err != nil {
			return nil, err
		}
		items, err = s.fetch(ctx, consumer, n, wait)
	}
	return items, err
}

func (s *Store) fetch(ctx context.Context, consumer string, n int, wait time.Duration) ([]bot.OutboxItem, error) {
	stream := s.ob("s")
	var items []bot.OutboxItem
	var gone []string
	add := func(msgs []redis.XMessage) {
		for _, m := range msgs {
			id, _ := m.Values["i"].(string)
			order, _ := m.Values["o"].(string)
			if id == "" || order == "" {
				gone = append(gone, m.ID) // deleted meanwhile
				continue
			}
			items = append(items, bot.OutboxItem{Seq: m.ID, ID: id, Order: order})
		}
	}
	own, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outboxGroup, Consumer: consumer,
		Streams: []string{stream, "0"}, Count: int64(n), Block: -1}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("fetch outbox", err)
	}
	for _, st := range own {
		add(st.Messages)
	}
	if len(items) < n {
		msgs, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: outboxGroup,
			Consumer: consumer, MinIdle: outboxIdle, Start: "0-0", Count: int64(n - len(items))}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap("claim outbox", err)
		}
		add(msgs)
	}
	if len(items) == 0 {
		block := time.Duration(-1)
		if wait > 0 {
			block = wait
		}
		fresh, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outboxGroup, Consumer: consumer,
			Streams: []string{stream, ">"}, Count: int64(n), Block: block}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap("fetch outbox", err)
		}
		for _, st := range fresh {
			add(st.Messages)
		}
	}
	if len(gone) > 0 {
		if err := s.rdb.XAck(ctx, stream, outboxGroup, gone...).Err(); err != nil {
			return nil, wrap("fetch outbox", err)
		}
	}
	return items, nil
}

// takeScript: KEYS[1] stream; ARGV prefix, id, order, consumer, lease ms,
// ttl ms, group, stream id. Returns {0, payload, redelivered} ready,
// {1} wait, {2} gone.
var takeScript = redis.NewScript(`
local p, id, order, c = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local st = redis.call('GET', p .. 'k:' .. id)
local payload = redis.call('GET', p .. 'p:' .. id)
if (st and st ~= 'q') or not payload then
  redis.call('ZREM', p .. 'c:' .. order, id)
  redis.call('DEL', p .. 'l:' .. id, p .. 'f:' .. id)
  redis.call('XACK', KEYS[1], ARGV[7], ARGV[8])
  redis.call('XDEL', KEYS[1], ARGV[8])
  return {2}
end
-- Skip heads that can never be delivered (forgotten or expired).
while true do
  local head = redis.call('ZRANGE', p .. 'c:' .. order, 0, 0)[1]
  if not head or head == id then break end
  if redis.call('EXISTS', p .. 'p:' .. head) == 1 then return {1} end
  redis.call('ZREM', p .. 'c:' .. order, head)
end
local l = redis.call('GET', p .. 'l:' .. id)
if l and l ~= c then return {1} end
redis.call('SET', p .. 'l:' .. id, c, 'PX', ARGV[5])
local first = redis.call('SET', p .. 'f:' .. id, '1', 'NX', 'PX', ARGV[6])
local re = 1
if first then re = 0 end
if l == c then re = 0 end
return {0, payload, re}
`)

// TakeOutbox implements bot.Outbox.
func (s *Store) TakeOutbox(ctx context.Context, consumer string, it bot.OutboxItem, lease time.Duration) (bot.OutboxEntry, bot.TakeStatus, error) {
	lease, err := checkTTL(lease)
	if err != nil {
		return bot.OutboxEntry{}, bot.TakeWait, err
	}
	res, err := takeScript.Run(ctx, s.rdb, []string{s.ob("s")}, s.ob(""), it.ID, it.Order, consumer,
		lease.Milliseconds(), bot.OutboxTTL.Milliseconds(), outboxGroup, it.Seq).Slice()
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

// settleScript: KEYS[1] stream; ARGV prefix, id, order, how, ttl ms,
// group, stream id.
var settleScript = redis.NewScript(`
local p, id = ARGV[1], ARGV[2]
redis.call('SET', p .. 'k:' .. id, ARGV[4], 'PX', ARGV[5])
redis.call('DEL', p .. 'p:' .. id, p .. 'l:' .. id, p .. 'f:' .. id)
redis.call('ZREM', p .. 'c:' .. ARGV[3], id)
redis.call('XACK', KEYS[1], ARGV[6], ARGV[7])
redis.call('XDEL', KEYS[1], ARGV[7])
return 1
`)

// SettleOutbox implements bot.Outbox.
func (s *Store) SettleOutbox(ctx context.Context, it bot.OutboxItem, how bot.Settlement) error {
	err := settleScript.Run(ctx, s.rdb, []string{s.ob("s")}, s.ob(""), it.ID, it.Order, string(how),
		bot.OutboxTTL.Milliseconds(), outboxGroup, it.Seq).Err()
	return wrap("settle outbox entry", err)
}

// ReleaseOutbox implements bot.Outbox.
func (s *Store) ReleaseOutbox(ctx context.Context, it bot.OutboxItem) error {
	return wrap("release outbox entry", s.rdb.Del(ctx, s.ob("l:"+it.ID), s.ob("f:"+it.ID)).Err())
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

// ForgetOutbox implements bot.Outbox: the payloads go at once; the
// stream entries, which hold no personal data, are dropped when a
// dispatcher reaches them.
func (s *Store) ForgetOutbox(ctx context.Context, user bot.UserKey) (int, error) {
	if user == "" || strings.ContainsAny(string(user), "{} ") {
		return 0, fmt.Errorf("redisstore: forget outbox: %w", bot.ErrInvalid)
	}
	n, err := forgetOutboxScript.Run(ctx, s.rdb, []string{s.ob("u:" + string(user))}, s.ob("")).Int()
	return n, wrap("forget outbox", err)
}
