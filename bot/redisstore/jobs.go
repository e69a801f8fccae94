package redisstore

// The reminder job queue (remind.Queue).
//
// # Keys
//
// All under the hash tag {rq}, so every transition is one atomic script
// even in a cluster (the queue is small: reminders of the next two days).
//
//	ns:{rq}:due        ZSET job id -> due time (Unix ms)
//	ns:{rq}:lease      ZSET job id -> lease deadline (Unix ms): in flight
//	ns:{rq}:job:<id>   job JSON, PX until the job's Expires
//	ns:{rq}:sent:<id>  "sent" marker, SET NX PX until the job's Expires
//
// The two sets' TTLs are raised to the longest TTL of a job put in them,
// so they expire once every job in them has.
//
// # Transitions
//
//	Enqueue  absent (no marker, not in flight, not queued) -> due
//	Claim    due (score <= now) -> lease (now+lease)
//	Recover  lease (deadline <= now) -> due if unmarked; dropped if marked
//	Mark     SET NX of the marker; only its winner delivers
//	Ack      due/lease -> gone; the marker stays, so planning again adds nothing
//	Retry    lease -> due, marker removed
//
// Scores use the caller's clock; key expiry uses Redis' clock.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/remind"
)

var _ remind.Queue = (*Store)(nil)

// enqueueChunk bounds the jobs one script call adds, so that a big plan
// does not block Redis for long.
const enqueueChunk = 500

// recoverChunk bounds the expired leases one Recover handles.
const recoverChunk = 1000

// enqueueScript: KEYS[1] due, KEYS[2] lease; ARGV[1] key prefix
// "ns:{rq}:", then per job: id, JSON, due ms, ttl ms. Returns the number
// added.
var enqueueScript = redis.NewScript(`
local added, maxttl = 0, 0
for i = 2, #ARGV, 4 do
  local id, ttl = ARGV[i], tonumber(ARGV[i+3])
  if redis.call('EXISTS', ARGV[1] .. 'sent:' .. id) == 0
     and not redis.call('ZSCORE', KEYS[2], id)
     and redis.call('ZADD', KEYS[1], 'NX', ARGV[i+2], id) == 1 then
    redis.call('SET', ARGV[1] .. 'job:' .. id, ARGV[i+1], 'PX', ttl)
    added = added + 1
    if ttl > maxttl then maxttl = ttl end
  end
end
if maxttl > 0 and redis.call('PTTL', KEYS[1]) < maxttl then
  redis.call('PEXPIRE', KEYS[1], maxttl)
end
return added
`)

// claimScript: KEYS[1] due, KEYS[2] lease; ARGV[1] prefix, ARGV[2] now
// ms, ARGV[3] lease deadline ms, ARGV[4] n. Returns the claimed jobs'
// JSON; ids whose job expired are dropped.
var claimScript = redis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], '-inf', ARGV[2], 'BYSCORE', 'LIMIT', 0, ARGV[4])) do
  redis.call('ZREM', KEYS[1], id)
  local jk = ARGV[1] .. 'job:' .. id
  local p = redis.call('GET', jk)
  if p then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    local t = redis.call('PTTL', jk)
    if redis.call('PTTL', KEYS[2]) < t then
      redis.call('PEXPIRE', KEYS[2], t)
    end
    out[#out + 1] = p
  end
end
return out
`)

// recoverScript: KEYS[1] due, KEYS[2] lease; ARGV[1] prefix, ARGV[2] now
// ms, ARGV[3] limit. Returns {requeued, abandoned}.
var recoverScript = redis.NewScript(`
local req, ab = 0, 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], '-inf', ARGV[2], 'BYSCORE', 'LIMIT', 0, ARGV[3])) do
  redis.call('ZREM', KEYS[2], id)
  local jk = ARGV[1] .. 'job:' .. id
  if redis.call('EXISTS', ARGV[1] .. 'sent:' .. id) == 1 then
    redis.call('DEL', jk)
    ab = ab + 1
  elseif redis.call('EXISTS', jk) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    local t = redis.call('PTTL', jk)
    if redis.call('PTTL', KEYS[1]) < t then
      redis.call('PEXPIRE', KEYS[1], t)
    end
    req = req + 1
  end
end
return {req, ab}
`)

// retryScript: KEYS[1] due, KEYS[2] lease, KEYS[3] job, KEYS[4] marker;
// ARGV[1] id, ARGV[2] JSON, ARGV[3] due ms, ARGV[4] ttl ms (<= 0: the job
// has expired and is only removed).
var retryScript = redis.NewScript(`
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
local ttl = tonumber(ARGV[4])
if ttl <= 0 then
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

func (s *Store) jobPrefix() string { return s.ns + ":{rq}:" }
func (s *Store) jobQueueKeys() []string {
	p := s.jobPrefix()
	return []string{p + "due", p + "lease"}
}

func unixMs(t time.Time) int64 { return t.UnixMilli() }

// Enqueue implements remind.Queue.
func (s *Store) Enqueue(ctx context.Context, now time.Time, jobs []remind.Job) (int, error) {
	const op = "enqueue"
	for _, j := range jobs {
		if err := j.Validate(); err != nil {
			return 0, fmt.Errorf("redisstore: %s: %w", op, err)
		}
	}
	added := 0
	for len(jobs) > 0 {
		chunk := jobs[:min(len(jobs), enqueueChunk)]
		jobs = jobs[len(chunk):]
		args := make([]any, 0, 1+4*len(chunk))
		args = append(args, s.jobPrefix())
		for _, j := range chunk {
			ttl := j.Expires.Sub(now).Milliseconds()
			if ttl <= 0 {
				continue
			}
			raw, err := json.Marshal(j)
			if err != nil {
				return added, wrap(op+": encode", err)
			}
			args = append(args, j.ID, raw, unixMs(j.Due), ttl)
		}
		if len(args) == 1 {
			continue
		}
		n, err := enqueueScript.Run(ctx, s.rdb, s.jobQueueKeys(), args...).Int()
		if err != nil {
			return added, wrap(op, err)
		}
		added += n
	}
	return added, nil
}

// Claim implements remind.Queue.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]remind.Job, error) {
	const op = "claim"
	if n <= 0 || lease <= 0 {
		return nil, fmt.Errorf("redisstore: %s: n %d, lease %v: %w", op, n, lease, bot.ErrInvalid)
	}
	raws, err := claimScript.Run(ctx, s.rdb, s.jobQueueKeys(), s.jobPrefix(), unixMs(now), unixMs(now.Add(lease)), n).StringSlice()
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]remind.Job, 0, len(raws))
	for _, raw := range raws {
		var j remind.Job
		if err := json.Unmarshal([]byte(raw), &j); err != nil {
			// Left in flight: its lease expires and Recover re-queues it,
			// where it fails again until it expires. Only a bug or an
			// incompatible version writes such a job.
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

// Recover implements remind.Queue.
func (s *Store) Recover(ctx context.Context, now time.Time) (requeued, abandoned int, err error) {
	res, err := recoverScript.Run(ctx, s.rdb, s.jobQueueKeys(), s.jobPrefix(), unixMs(now), recoverChunk).Int64Slice()
	if err != nil {
		return 0, 0, wrap("recover", err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("redisstore: recover: unexpected reply %v", res)
	}
	return int(res[0]), int(res[1]), nil
}

// Mark implements remind.Queue.
func (s *Store) Mark(ctx context.Context, now time.Time, id string, expires time.Time) (bool, error) {
	ttl := expires.Sub(now)
	if ttl < time.Millisecond {
		return false, fmt.Errorf("redisstore: mark: expiry not after now: %w", bot.ErrInvalid)
	}
	first, err := s.rdb.SetNX(ctx, s.jobPrefix()+"sent:"+id, 1, ttl).Result()
	if err != nil {
		return false, wrap("mark", err)
	}
	return first, nil
}

// Ack implements remind.Queue.
func (s *Store) Ack(ctx context.Context, id string) error {
	keys := s.jobQueueKeys()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, keys[0], id)
		p.ZRem(ctx, keys[1], id)
		p.Del(ctx, s.jobPrefix()+"job:"+id)
		return nil
	})
	return wrap("ack", err)
}

// Retry implements remind.Queue.
func (s *Store) Retry(ctx context.Context, now time.Time, j remind.Job) error {
	const op = "retry"
	if err := j.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return wrap(op+": encode", err)
	}
	p := s.jobPrefix()
	keys := append(s.jobQueueKeys(), p+"job:"+j.ID, p+"sent:"+j.ID)
	ttl := j.Expires.Sub(now).Milliseconds()
	return wrap(op, retryScript.Run(ctx, s.rdb, keys, j.ID, raw, unixMs(j.Due), strconv.FormatInt(ttl, 10)).Err())
}
