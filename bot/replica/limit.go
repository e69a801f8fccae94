package replica

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter keeps Telegram's flood limits for all replicas of one bot
// (telegram.Limiter). Each message reserves a slot with one script call:
// the later of the global slot (messages spaced evenly at GlobalRate,
// less a tenth: the sends of several replicas reach Telegram with the
// jitter of each, so exact spacing from Redis is not exact there) and
// the chat's slot (GCRA, a token bucket of PerChatBurst refilled once
// per PerChat, for private chats; a sliding window of GroupPerMinute for
// groups); the caller then sleeps until it. Time comes from Redis (TIME),
// so replicas with skewed clocks agree.
type Limiter struct {
	rdb redis.UniversalClient
	cfg Config

	globalKey, prefix           string
	globalUS, chatUS, chatTolUS int64
	groupUS                     int64
}

// NewLimiter returns a Limiter on rdb.
func NewLimiter(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// One hash tag for all limiter keys of a bot: the script touches the
	// global key and a chat key together.
	tag := "{" + cfg.Namespace + ":tglimit}"
	chat := time.Duration(float64(cfg.PerChat) * headroom)
	return &Limiter{
		rdb: rdb, cfg: cfg,
		globalKey: tag + ":global", prefix: tag + ":chat:",
		globalUS:  int64(math.Ceil(headroom * 1e6 / cfg.GlobalRate)),
		chatUS:    chat.Microseconds(),
		chatTolUS: chat.Microseconds() * int64(cfg.PerChatBurst-1),
		groupUS:   time.Duration(float64(cfg.GroupWindow) * headroom).Microseconds(),
	}, nil
}

// reserveScript reserves the earliest slot allowed by the global and the
// chat limit, unless it lies more than max_wait ahead. It returns
// {reserved (0/1), wait in microseconds}.
//
// KEYS[1] global key (string: the next free global slot, µs);
// KEYS[2] chat key (string: the chat's GCRA theoretical arrival time,
// or for a group a sorted set of reserved slots);
// ARGV: global interval, chat interval, chat tolerance, group (0/1),
// group n, group window, max wait (all µs), a unique member.
//
// Numbers are written with %.0f: Lua would print large ones in
// exponent form and lose precision.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local gi, ci, ctol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local group = ARGV[4] == '1'
local gn, gw, maxwait = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local tat
if group then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - gw))
  local n = redis.call('ZCARD', KEYS[2])
  if n >= gn then
    local r = redis.call('ZRANGE', KEYS[2], n - gn, n - gn, 'WITHSCORES')
    at = math.max(at, tonumber(r[2]) + gw)
  end
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] then at = math.max(at, tonumber(last[2])) end
else
  tat = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
  at = math.max(at, tat - ctol)
end
local wait = at - now
if wait > maxwait then return {0, string.format('%.0f', wait)} end

local g = at + gi
redis.call('SET', KEYS[1], string.format('%.0f', g), 'PX', string.format('%.0f', math.ceil((g - now) / 1000) + 1000))
if group then
  redis.call('ZADD', KEYS[2], string.format('%.0f', at), ARGV[8])
  redis.call('PEXPIRE', KEYS[2], string.format('%.0f', math.ceil((at - now + gw) / 1000) + 1000))
else
  local nt = math.max(tat, at) + ci
  redis.call('SET', KEYS[2], string.format('%.0f', nt), 'PX', string.format('%.0f', math.ceil((nt - now) / 1000) + 1000))
end
return {1, string.format('%.0f', wait)}
`)

// Wait reserves a slot for a message to chatID and sleeps until it
// (telegram.Limiter). Chat ids below zero are groups, as in Telegram.
func (l *Limiter) Wait(ctx context.Context, chatID int64) error {
	maxWait := l.cfg.MaxWait
	if dl, ok := ctx.Deadline(); ok {
		maxWait = min(maxWait, time.Until(dl))
	}
	group := "0"
	if chatID < 0 {
		group = "1"
	}
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	res, err := reserveScript.Run(cctx, l.rdb,
		[]string{l.globalKey, l.prefix + chatRef(l.cfg.Secret, chatID)},
		l.globalUS, l.chatUS, l.chatTolUS, group,
		l.cfg.GroupPerMinute, l.groupUS, maxWait.Microseconds(), token()).Int64Slice()
	cancel()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("script returned %d values", len(res))
	}
	if err != nil {
		err = unavailable(ctx, "rate limit", err)
		l.cfg.observe(PartLimiter, err)
		return err
	}
	l.cfg.observe(PartLimiter, nil)
	wait := time.Duration(res[1]) * time.Microsecond
	if res[0] == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("replica rate limit: next slot in %v, beyond the allowed wait of %v: %w", wait.Round(time.Millisecond), maxWait.Round(time.Millisecond), context.DeadlineExceeded)
	}
	return sleep(ctx, wait)
}
