// Package redisstore is a bot.Store on Redis (go-redis v9). It lets several
// replicas of a bot share state, and several bots share one Redis.
//
// # Key scheme
//
// ns is Options.Namespace, e.g. "lotse:123456" (bot id, never the token).
//
//	ns:upd:<update id>       "p", SET NX PX lease            BeginClaim (in progress), RenewClaim
//	                         "d", SET PX ttl                 FinishUpdate (done)
//	                         "1", SET NX PX ttl              FirstSeen, Begin (done)
//	                         "q:<lease end ms>:<from>",      QueueTurn in a Cluster (reply queued
//	                         SET PX ttl                      from message <from> on), RenewClaim
//	ns:{u:<user key>}:s      session JSON, SET PX ttl        SaveSession (TTL refreshed on every save)
//
// plus the ticket keys below.
//
// Every key is written together with its TTL in one command (or in one
// MULTI/EXEC), so no key can outlive its purpose even if the process dies
// between commands. A TTL of zero or less is rejected rather than passed
// on, because go-redis turns a zero expiration into "never expires".
//
// All keys of one user carry the Redis Cluster hash tag {u:<user key>}, so
// they live in one slot and multi-key commands on one user (Forget's DEL,
// later MULTI/Lua transitions) work in a cluster. Forget deletes the keys
// named by userKeySuffixes (a new per-user key must be added there),
// after redacting the user's tickets.
//
// # Ticket keys
//
//	ns:{tk}:t:<ref>          ticket JSON, SET PX TicketTTL             refreshed on every change
//	ns:{tk}:l:<ref>          SET of "<chat>:<msg>" linked to the ticket  PEXPIRE TicketTTL on every link
//	ns:{tk}:m:<chat>:<msg>   ref, SET PX TicketTTL                     LinkMessage
//	ns:{tk}:u:<user key>     SET of the user's refs (until redaction)   PEXPIRE TicketTTL on every add
//	ns:{tk}:a:<assignee>     SET of non-final refs assigned             PEXPIRE TicketTTL on every add
//	ns:{tk}:due              ZSET ref → Due (ms), tickets awaiting staff PEXPIRE TicketTTL on every add
//	ns:{tk}:closed           ZSET ref → Updated (ms), final, unredacted  PEXPIRE TicketTTL on every add
//	ns:absent:<staff id>     until (ms), SET PX until-now              SetAbsent
//
// The aggregates (indexes) get the ticket TTL again whenever a member is
// added, so they outlive every member's ticket and vanish when no ticket
// has changed for a whole TTL; a link set outlives its links the same way.
// Index entries of expired tickets are pruned when read.
//
// All ticket keys share the one hash tag {tk}, so they sit in one Cluster
// slot and every change of a ticket - the ticket, its indexes and, on
// redaction, its message links - is one MULTI/EXEC under WATCH, in a
// cluster too. Per-ticket tags ({t:<ref>}) would spread tickets over the
// cluster, but then the indexes would be updated outside the transaction
// and could go stale or miss a ticket after a crash, which for escalation
// means a forgotten request. A city has thousands of tickets, not
// millions; one slot carries them easily.
//
// Durability: CreateTicket returns after Redis acknowledged EXEC. Whether
// that survives a crash of Redis itself depends on Redis' persistence
// configuration: run it with appendonly yes (appendfsync always to lose
// nothing, everysec to lose at most a second) or with a replica.
//
// # Errors
//
// redis.Nil becomes bot.ErrNotFound. Connection failures, timeouts and
// transient server states (LOADING, READONLY, CLUSTERDOWN, TRYAGAIN,
// MASTERDOWN, OOM, max clients, pool timeout) wrap both bot.ErrUnavailable
// and the original error. Every error names the operation; none contains a
// user key.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
)

// Options configure a Store.
type Options struct {
	// Namespace prefixes every key, e.g. "lotse:<bot id>". Several bots
	// share one Redis, so it is required. It must not contain '{' or '}',
	// which would break the per-user Cluster hash tag.
	Namespace string
	// TicketTTL is how long a ticket and its links live after the
	// ticket's last change; zero means bot.DefaultTicketTTL.
	TicketTTL time.Duration
	// Now is the clock for absences and redaction events; nil means
	// time.Now. Key expiry itself follows Redis' clock.
	Now func() time.Time
}

// Store is a bot.Store on Redis. It is safe for concurrent use; all state
// lives in Redis.
type Store struct {
	rdb       redis.UniversalClient
	ns        string
	ticketTTL time.Duration
	now       func() time.Time
	// gc batches the per-update commands of concurrent updates.
	gc *groupCommit
}

var (
	_ bot.Store         = (*Store)(nil)
	_ bot.TicketStore   = (*Store)(nil)
	_ bot.UpdateClaimer = (*Store)(nil)
	_ bot.ClaimRenewer  = (*Store)(nil)
)

// Beginner is the optional capability Store offers the bot core (declared
// here as documentation; the core should declare it where it is used):
//
//	type Beginner interface {
//		Begin(ctx context.Context, updateID int64, ttl time.Duration, user bot.UserKey) (first bool, s bot.Session, err error)
//	}
//
// It does FirstSeen and Session in one round trip instead of two.
var _ interface {
	Begin(ctx context.Context, updateID int64, ttl time.Duration, user bot.UserKey) (bool, bot.Session, error)
} = (*Store)(nil)

// Suffixes of the per-user keys. Forget deletes exactly these, so every key
// the store writes for a user must have its suffix here.
const suffixSession = "s"

var userKeySuffixes = []string{suffixSession}

// New returns a Store using rdb. It panics if opts.Namespace is empty or
// contains '{' or '}': that is a wiring bug that would mix bots' data or
// break Cluster slot placement, and must not start up.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if opts.Namespace == "" || strings.ContainsAny(opts.Namespace, "{}") {
		panic(fmt.Sprintf("redisstore: invalid namespace %q: must be non-empty without '{' or '}'", opts.Namespace))
	}
	st := &Store{rdb: rdb, ns: opts.Namespace, ticketTTL: opts.TicketTTL, now: opts.Now, gc: &groupCommit{rdb: rdb}}
	if st.ticketTTL <= 0 {
		st.ticketTTL = bot.DefaultTicketTTL
	}
	if st.now == nil {
		st.now = time.Now
	}
	return st
}

// FirstSeen implements bot.Store with SET NX PX: atomic, so of several
// replicas receiving the same update exactly one sees true.
func (s *Store) FirstSeen(ctx context.Context, updateID int64, ttl time.Duration) (bool, error) {
	ttl, err := checkTTL(ttl)
	if err != nil {
		return false, wrap("first seen", err)
	}
	first, err := s.rdb.SetNX(ctx, s.updateKey(updateID), 1, ttl).Result()
	if err != nil {
		return false, wrap("first seen", err)
	}
	return first, nil
}

// Values of an update record. updQueued starts the record QueueTurn
// writes in a Cluster (see queuedScript), a claim that also says the
// reply is (being) queued in the outbox.
const (
	updInProgress = "p"
	updDone       = "d"
	updQueued     = "q:"
)

// releaseScript deletes an update record only while it is a claim: a
// handler whose lease ran out must not delete the done mark of the one
// that answered since. A queued claim (updQueued) stays: the reply may be
// in the outbox, and the redelivery must find that out (ClaimQueued).
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// ReleaseUpdate implements bot.UpdateReleaser: it forgets a claim on
// updateID, so a redelivery of an update whose answer could not be sent
// is handled again. Done marks (and FirstSeen records) stay.
func (s *Store) ReleaseUpdate(ctx context.Context, updateID int64) error {
	return wrap("release update", releaseScript.Run(ctx, s.rdb, []string{s.updateKey(updateID)}, updInProgress).Err())
}

// luaNowMs is the Redis clock in ms; queued claims keep their lease end
// in the value (their key lives as long as a done mark) and are only
// ever compared with the clock of the node that wrote them.
const luaNowMs = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// renewScript extends a claim (a queued claim's lease end included), or
// takes it again if the record is gone; it leaves a done mark (or a
// FirstSeen record) alone and returns 0.
var renewScript = redis.NewScript(luaNowMs + `
local v = redis.call("GET", KEYS[1])
if v == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
if not v then redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) return 1 end
local from = string.match(v, "^q:%d+:(%d+)$")
if from then
  redis.call("SET", KEYS[1], "q:" .. string.format("%.0f", nowms() + tonumber(ARGV[2])) .. ":" .. from, "KEEPTTL")
  return 1
end
return 0`)

// resumeScript takes over a queued claim (updQueued) whose lease ended:
// its handler died or failed between queueing the reply and marking the
// update done. It returns 3 (ClaimQueued, the record stays a queued claim
// with the caller's lease), 1 while the lease runs (busy), 2 for a done
// record, 0 if the record is gone (a fresh claim, taken).
var resumeScript = redis.NewScript(luaNowMs + `
local v = redis.call("GET", KEYS[1])
if not v then redis.call("SET", KEYS[1], "p", "PX", ARGV[1]) return 0 end
if v == "p" then return 1 end
local exp, from = string.match(v, "^q:(%d+):(%d+)$")
if not exp then return 2 end
local now = nowms()
if tonumber(exp) > now then return 1 end
redis.call("SET", KEYS[1], "q:" .. string.format("%.0f", now + tonumber(ARGV[1])) .. ":" .. from, "KEEPTTL")
return 3`)

// RenewClaim implements bot.ClaimRenewer in one script call.
func (s *Store) RenewClaim(ctx context.Context, updateID int64, lease time.Duration) (bool, error) {
	lease, err := checkTTL(lease)
	if err != nil {
		return false, wrap("renew claim", err)
	}
	n, err := renewScript.Run(ctx, s.rdb, []string{s.updateKey(updateID)}, updInProgress, lease.Milliseconds()).Int()
	if err != nil {
		return false, wrap("renew claim", err)
	}
	return n == 1, nil
}

// BeginClaim implements bot.UpdateClaimer in one pipelined round trip:
// SET NX of the claim, GET of the update record (the claim just set, or
// what stopped it) and GET of the session. Any record other than a claim
// counts as done, including FirstSeen's. A queued claim (written by
// QueueTurn in a Cluster only) takes a second round trip (resumeScript):
// bot.ClaimQueued once its lease ended, bot.ClaimBusy before.
func (s *Store) BeginClaim(ctx context.Context, updateID int64, lease time.Duration, user bot.UserKey) (bot.Claim, bot.Session, error) {
	key, err := s.userKey(user, suffixSession)
	if err != nil {
		return bot.ClaimBusy, bot.Session{}, wrap("begin claim", err)
	}
	if lease, err = checkTTL(lease); err != nil {
		return bot.ClaimBusy, bot.Session{}, wrap("begin claim", err)
	}
	ukey := s.updateKey(updateID)
	var claim *redis.StatusCmd
	var get *redis.StringCmd
	if err := s.gc.do(ctx, func(pipe redis.Pipeliner) {
		// SET NX GET (Redis >= 7.0) claims the update and returns what
		// was there before in one command: nil means the claim is ours.
		claim = pipe.SetArgs(ctx, ukey, updInProgress, redis.SetArgs{Mode: "NX", TTL: lease, Get: true})
		get = pipe.Get(ctx, key)
	}); err != nil {
		// The claim may still be taken; its lease frees the update.
		return bot.ClaimBusy, bot.Session{}, wrap("begin claim", err)
	}
	prev, err := claim.Result()
	switch {
	case errors.Is(err, redis.Nil): // the key was absent: claimed
	case err != nil:
		return bot.ClaimBusy, bot.Session{}, wrap("begin claim", err)
	case prev == updInProgress:
		return bot.ClaimBusy, bot.Session{}, nil
	case !strings.HasPrefix(prev, updQueued):
		return bot.ClaimDone, bot.Session{}, nil
	}
	claimed := bot.ClaimNew
	if prev != "" { // a queued claim
		n, err := resumeScript.Run(ctx, s.rdb, []string{ukey}, lease.Milliseconds()).Int()
		switch {
		case err != nil:
			return bot.ClaimBusy, bot.Session{}, wrap("begin claim", err)
		case n == 1:
			return bot.ClaimBusy, bot.Session{}, nil
		case n == 2:
			return bot.ClaimDone, bot.Session{}, nil
		case n == 3:
			claimed = bot.ClaimQueued
		}
	}
	raw, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return claimed, bot.Session{}, nil
	}
	if err != nil {
		// The claim is held: give it back, or the update would wait for
		// the lease although nobody handles it.
		if rerr := s.ReleaseUpdate(context.WithoutCancel(ctx), updateID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return bot.ClaimBusy, bot.Session{}, wrap("begin claim", err)
	}
	sess, err := decodeSession(raw)
	if errors.Is(err, bot.ErrNotFound) {
		return claimed, bot.Session{}, nil
	}
	return claimed, sess, err
}

// FinishUpdate implements bot.UpdateClaimer: the done mark, and the
// session if given, in one pipelined round trip.
func (s *Store) FinishUpdate(ctx context.Context, updateID int64, ttl time.Duration, user bot.UserKey, sess *bot.Session, sessionTTL time.Duration) error {
	ttl, err := checkTTL(ttl)
	if err != nil {
		return wrap("finish update", err)
	}
	ukey := s.updateKey(updateID)
	if sess == nil {
		var done *redis.StatusCmd
		if err := s.gc.do(ctx, func(pipe redis.Pipeliner) { done = pipe.Set(ctx, ukey, updDone, ttl) }); err != nil {
			return wrap("finish update", err)
		}
		return wrap("finish update", done.Err())
	}
	key, err := s.userKey(user, suffixSession)
	if err != nil {
		return wrap("finish update", err)
	}
	if sessionTTL, err = checkTTL(sessionTTL); err != nil {
		return wrap("finish update", err)
	}
	raw, err := encodeSession(sess)
	if err != nil {
		return wrap("finish update: encode", err)
	}
	var done, saved *redis.StatusCmd
	if err := s.gc.do(ctx, func(pipe redis.Pipeliner) {
		done = pipe.Set(ctx, ukey, updDone, ttl)
		saved = pipe.Set(ctx, key, raw, sessionTTL)
	}); err != nil {
		return wrap("finish update", err)
	}
	if err := done.Err(); err != nil {
		return wrap("finish update", err)
	}
	return wrap("finish update", saved.Err())
}

// Session implements bot.Store. A stored session that no longer decodes
// (e.g. after an incompatible change of bot.Session) is reported as
// bot.ErrNotFound, so the user starts afresh instead of being stuck with
// errors until the key expires; the next save overwrites it.
func (s *Store) Session(ctx context.Context, user bot.UserKey) (bot.Session, error) {
	key, err := s.userKey(user, suffixSession)
	if err != nil {
		return bot.Session{}, wrap("session", err)
	}
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return bot.Session{}, wrap("session", err)
	}
	return decodeSession(raw)
}

// SaveSession implements bot.Store; it replaces the whole session and
// restarts its TTL.
func (s *Store) SaveSession(ctx context.Context, user bot.UserKey, sess bot.Session, ttl time.Duration) error {
	key, err := s.userKey(user, suffixSession)
	if err != nil {
		return wrap("save session", err)
	}
	if ttl, err = checkTTL(ttl); err != nil {
		return wrap("save session", err)
	}
	raw, err := encodeSession(&sess)
	if err != nil {
		return wrap("save session: encode", err)
	}
	return wrap("save session", s.rdb.Set(ctx, key, raw, ttl).Err())
}

// Forget implements bot.Store: it redacts the user's tickets (see
// RedactTickets), then deletes all of the user's keys with one DEL, as
// they share a hash slot. If redaction fails nothing is deleted, so a
// retry still finds the tickets through the user's ticket index.
func (s *Store) Forget(ctx context.Context, user bot.UserKey) error {
	if _, err := s.RedactTickets(ctx, user); err != nil {
		return fmt.Errorf("redisstore: forget: %w", err)
	}
	keys := make([]string, 0, len(userKeySuffixes))
	for _, suf := range userKeySuffixes {
		k, err := s.userKey(user, suf)
		if err != nil {
			return wrap("forget", err)
		}
		keys = append(keys, k)
	}
	return wrap("forget", s.rdb.Del(ctx, keys...).Err())
}

// Begin combines FirstSeen(updateID, ttl) and Session(user) in one
// pipelined round trip. If the user has no (decodable) session, s is the
// zero Session and err is nil. The session is read even for a duplicate
// update; callers should ignore it then.
func (s *Store) Begin(ctx context.Context, updateID int64, ttl time.Duration, user bot.UserKey) (first bool, sess bot.Session, err error) {
	key, err := s.userKey(user, suffixSession)
	if err != nil {
		return false, bot.Session{}, wrap("begin", err)
	}
	if ttl, err = checkTTL(ttl); err != nil {
		return false, bot.Session{}, wrap("begin", err)
	}
	ukey := s.updateKey(updateID)
	var seen *redis.BoolCmd
	var get *redis.StringCmd
	if err := s.gc.do(ctx, func(pipe redis.Pipeliner) {
		seen = pipe.SetNX(ctx, ukey, 1, ttl)
		get = pipe.Get(ctx, key)
	}); err != nil {
		return false, bot.Session{}, wrap("begin", err)
	}
	if first, err = seen.Result(); err != nil {
		return false, bot.Session{}, wrap("begin", err)
	}
	raw, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return first, bot.Session{}, nil
	}
	if err != nil {
		return false, bot.Session{}, wrap("begin", err)
	}
	sess, err = decodeSession(raw)
	if errors.Is(err, bot.ErrNotFound) {
		return first, bot.Session{}, nil
	}
	return first, sess, err
}

func decodeSession(raw []byte) (bot.Session, error) {
	if sess, ok := decodeSessionFast(raw); ok {
		return sess, nil
	}
	var sess bot.Session
	if err := json.Unmarshal(raw, &sess); err != nil {
		return bot.Session{}, fmt.Errorf("redisstore: session: undecodable, treated as missing: %w", bot.ErrNotFound)
	}
	return sess, nil
}

func (s *Store) updateKey(id int64) string {
	return s.ns + ":upd:" + strconv.FormatInt(id, 10)
}

// errBadUserKey is returned for user keys that would break the hash tag or
// make two users' keys collide.
var errBadUserKey = errors.New("invalid user key")

// userKey returns the key of one of user's records. Braces are rejected:
// with none inside, ns:{u:<k>}:<suffix> is unambiguous and the hash tag is
// exactly u:<k>.
func (s *Store) userKey(user bot.UserKey, suffix string) (string, error) {
	if user == "" || strings.ContainsAny(string(user), "{}") {
		return "", errBadUserKey
	}
	return s.ns + ":{u:" + string(user) + "}:" + suffix, nil
}

// checkTTL rejects non-positive TTLs (go-redis would store the key without
// expiry) and rounds sub-millisecond TTLs up to Redis' resolution.
func checkTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl <= 0:
		return 0, fmt.Errorf("ttl %v: must be positive", ttl)
	case ttl < time.Millisecond:
		return time.Millisecond, nil
	}
	return ttl, nil
}

// unavailableError wraps both bot.ErrUnavailable and the cause, so
// errors.Is works for either.
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	return "redisstore: " + e.op + ": " + bot.ErrUnavailable.Error() + ": " + e.err.Error()
}

func (e *unavailableError) Unwrap() []error { return []error{bot.ErrUnavailable, e.err} }

// wrap adds the operation to err and maps it onto the bot's error
// vocabulary. It returns nil for nil.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("redisstore: %s: %w", op, bot.ErrNotFound)
	case errors.Is(err, bot.ErrNotFound):
		return err
	case transient(err):
		return &unavailableError{op: op, err: err}
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// transient reports whether err means Redis cannot be reached or cannot
// serve right now, as opposed to a bug or a misconfiguration. A cancelled
// context is the caller's decision and is not transient.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrClosed),
		redis.IsLoadingError(err),
		redis.IsReadOnlyError(err),
		redis.IsClusterDownError(err),
		redis.IsTryAgainError(err),
		redis.IsMasterDownError(err),
		redis.IsMaxClientsError(err),
		redis.IsOOMError(err):
		return true
	}
	return false
}
