package redisstore

// Tickets (bot.TicketStore); the key scheme is in the package doc.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
)

const (
	// maxTxAttempts bounds optimistic retries of one change; beyond it
	// the change is reported as ErrUnavailable (lasting contention).
	maxTxAttempts = 64
	// maxCreateAttempts bounds ref collisions; refs get longer as
	// attempts fail (refDigits), so exhausting them means a broken
	// random source or a full key space, not bad luck.
	maxCreateAttempts = 12
	// purgeBatch is how many closed tickets PurgeClosed reads at once.
	purgeBatch = 100
)

var (
	errFnFailed  = errors.New("update function failed")
	errCollision = errors.New("ref collision")
	errSkip      = errors.New("skip")
)

func (s *Store) tk(kind, id string) string   { return s.ns + ":{tk}:" + kind + ":" + id }
func (s *Store) ticketKey(ref string) string { return s.tk("t", ref) }
func (s *Store) linksKey(ref string) string  { return s.tk("l", ref) }
func (s *Store) msgKey(link string) string   { return s.tk("m", link) }
func (s *Store) dueKey() string              { return s.ns + ":{tk}:due" }
func (s *Store) closedKey() string           { return s.ns + ":{tk}:closed" }
func (s *Store) absentKey(id string) string  { return s.ns + ":absent:" + id }

func (s *Store) userTicketsKey(user bot.UserKey) (string, error) {
	if user == "" || strings.ContainsAny(string(user), "{}") {
		return "", errBadUserKey
	}
	return s.tk("u", string(user)), nil
}

func (s *Store) assigneeKey(a string) string { return s.tk("a", a) }

func link(chatID int64, messageID int) string {
	return strconv.FormatInt(chatID, 10) + ":" + strconv.Itoa(messageID)
}

func ms(t time.Time) float64 { return float64(t.UnixMilli()) }

// refDigits lengthens refs after repeated collisions.
func refDigits(attempt int) int {
	switch {
	case attempt < 6:
		return bot.RefDigits
	case attempt < 9:
		return bot.RefDigits + 1
	}
	return bot.RefDigits + 2
}

// CreateTicket implements bot.TicketStore. The ref is reserved and the
// ticket with all its index entries written in one transaction, retried
// with a new ref if the ref is taken (or still has message links).
func (s *Store) CreateTicket(ctx context.Context, t bot.Ticket) (bot.Ticket, error) {
	t = t.Clone()
	t.Ref = ""
	if t.State != bot.TicketOpen || t.Redacted {
		return bot.Ticket{}, fmt.Errorf("redisstore: create ticket: state %q: %w", t.State, bot.ErrInvalid)
	}
	if err := t.Validate(); err != nil {
		return bot.Ticket{}, fmt.Errorf("redisstore: create ticket: %w", err)
	}
	if err := checkKeyParts(t.Requester, t.Assignee); err != nil {
		return bot.Ticket{}, fmt.Errorf("redisstore: create ticket: %w", err)
	}
	for attempt := range maxCreateAttempts {
		t.Ref = bot.NewRef(refDigits(attempt))
		raw, err := json.Marshal(t)
		if err != nil {
			return bot.Ticket{}, fmt.Errorf("redisstore: create ticket: encode: %w", err)
		}
		key, lkey := s.ticketKey(t.Ref), s.linksKey(t.Ref)
		err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Exists(ctx, key, lkey).Result()
			if err != nil {
				return err
			}
			if n > 0 {
				return errCollision
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				return s.writeTicket(ctx, p, nil, &t, raw, nil)
			})
			return err
		}, key, lkey)
		switch {
		case err == nil:
			return t, nil
		case errors.Is(err, errCollision), errors.Is(err, redis.TxFailedErr):
			continue
		}
		return bot.Ticket{}, wrap("create ticket", err)
	}
	return bot.Ticket{}, fmt.Errorf("redisstore: create ticket: no free reference after %d attempts", maxCreateAttempts)
}

// checkKeyParts rejects ids that become part of key names and could
// collide with other keys.
func checkKeyParts(user bot.UserKey, assignee string) error {
	if user == "" || strings.ContainsAny(string(user), "{}") {
		return fmt.Errorf("requester: %w: %w", errBadUserKey, bot.ErrInvalid)
	}
	if !validID(assignee) {
		return fmt.Errorf("assignee id malformed: %w", bot.ErrInvalid)
	}
	return nil
}

// validID accepts ids of people (knowledge base entry ids): short,
// printable, without spaces or braces.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if r == '{' || r == '}' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// writeTicket queues the commands storing t (previously old, nil when
// new) and keeping every index consistent with it. links are the
// ticket's message links, deleted when t has just been redacted.
func (s *Store) writeTicket(ctx context.Context, p redis.Pipeliner, old, t *bot.Ticket, raw []byte, links []string) error {
	ttl := s.ticketTTL
	ref := t.Ref
	p.Set(ctx, s.ticketKey(ref), raw, ttl)

	if t.AwaitsStaff() && !t.Due.IsZero() {
		p.ZAdd(ctx, s.dueKey(), redis.Z{Score: ms(t.Due), Member: ref})
		p.PExpire(ctx, s.dueKey(), ttl)
	} else {
		p.ZRem(ctx, s.dueKey(), ref)
	}
	if t.State.Final() && !t.Redacted {
		p.ZAdd(ctx, s.closedKey(), redis.Z{Score: ms(t.Updated), Member: ref})
		p.PExpire(ctx, s.closedKey(), ttl)
	} else {
		p.ZRem(ctx, s.closedKey(), ref)
	}

	if old != nil && old.Requester != "" && old.Requester != t.Requester {
		k, err := s.userTicketsKey(old.Requester)
		if err != nil {
			return err
		}
		p.SRem(ctx, k, ref)
	}
	if t.Requester != "" {
		k, err := s.userTicketsKey(t.Requester)
		if err != nil {
			return err
		}
		p.SAdd(ctx, k, ref)
		p.PExpire(ctx, k, ttl)
	}

	if old != nil && !old.State.Final() && (old.Assignee != t.Assignee || t.State.Final()) {
		p.SRem(ctx, s.assigneeKey(old.Assignee), ref)
	}
	if !t.State.Final() {
		p.SAdd(ctx, s.assigneeKey(t.Assignee), ref)
		p.PExpire(ctx, s.assigneeKey(t.Assignee), ttl)
	}

	if t.Redacted && (old == nil || !old.Redacted) {
		for _, l := range links {
			p.Del(ctx, s.msgKey(l))
		}
		p.Del(ctx, s.linksKey(ref))
	}
	return nil
}

// Ticket implements bot.TicketStore.
func (s *Store) Ticket(ctx context.Context, ref string) (bot.Ticket, error) {
	canon, ok := bot.ParseRef(ref)
	if !ok {
		return bot.Ticket{}, fmt.Errorf("redisstore: ticket: malformed ref: %w", bot.ErrNotFound)
	}
	raw, err := s.rdb.Get(ctx, s.ticketKey(canon)).Bytes()
	if err != nil {
		return bot.Ticket{}, wrap("ticket "+canon, err)
	}
	return decodeTicket(canon, raw)
}

func decodeTicket(ref string, raw []byte) (bot.Ticket, error) {
	var t bot.Ticket
	if err := json.Unmarshal(raw, &t); err != nil {
		return bot.Ticket{}, fmt.Errorf("redisstore: ticket %s: undecodable: %w", ref, err)
	}
	return t, nil
}

// UpdateTicket implements bot.TicketStore with WATCH on the ticket and its
// link set and one MULTI/EXEC for the ticket and its indexes.
func (s *Store) UpdateTicket(ctx context.Context, ref string, fn func(*bot.Ticket) error) (bot.Ticket, error) {
	canon, ok := bot.ParseRef(ref)
	if !ok {
		return bot.Ticket{}, fmt.Errorf("redisstore: update ticket: malformed ref: %w", bot.ErrNotFound)
	}
	key, lkey := s.ticketKey(canon), s.linksKey(canon)
	var (
		result bot.Ticket
		fnErr  error
	)
	txf := func(tx *redis.Tx) error {
		raw, err := tx.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		old, err := decodeTicket(canon, raw)
		if err != nil {
			return err
		}
		cur := old.Clone()
		if err := fn(&cur); err != nil {
			result, fnErr = old, err
			return errFnFailed
		}
		cur.Ref = canon
		if err := cur.Validate(); err != nil {
			result, fnErr = old, err
			return errFnFailed
		}
		if cur.Requester != old.Requester && cur.Requester != "" || cur.Assignee != old.Assignee {
			user := cur.Requester
			if user == "" {
				user = old.Requester // redacted; only the assignee is checked
			}
			if err := checkKeyParts(user, cur.Assignee); err != nil {
				result, fnErr = old, err
				return errFnFailed
			}
		}
		newRaw, err := json.Marshal(cur)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if bytes.Equal(newRaw, raw) {
			result = old
			return nil
		}
		var links []string
		if cur.Redacted && !old.Redacted {
			if links, err = tx.SMembers(ctx, lkey).Result(); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			return s.writeTicket(ctx, p, &old, &cur, newRaw, links)
		})
		if err == nil {
			result = cur
		}
		return err
	}
	for attempt := range maxTxAttempts {
		err := s.rdb.Watch(ctx, txf, key, lkey)
		switch {
		case err == nil:
			return result, nil
		case errors.Is(err, errFnFailed):
			return result, fmt.Errorf("redisstore: update ticket %s: %w", canon, fnErr)
		case errors.Is(err, redis.TxFailedErr):
			if err := backoff(ctx, attempt); err != nil {
				return bot.Ticket{}, wrap("update ticket "+canon, err)
			}
			continue
		}
		return bot.Ticket{}, wrap("update ticket "+canon, err)
	}
	return bot.Ticket{}, &unavailableError{op: "update ticket " + canon, err: fmt.Errorf("still contended after %d attempts", maxTxAttempts)}
}

// backoff waits a little, growing with attempt, with jitter so that
// contending writers spread out instead of colliding again in lockstep.
func backoff(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return nil
	}
	d := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// OpenTicketsOf implements bot.TicketStore.
func (s *Store) OpenTicketsOf(ctx context.Context, user bot.UserKey) ([]bot.Ticket, error) {
	key, err := s.userTicketsKey(user)
	if err != nil {
		return nil, wrap("open tickets", err)
	}
	ts, err := s.indexed(ctx, key, func(t *bot.Ticket) bool { return t.Requester == user })
	return ts, wrap("open tickets", err)
}

// AssignedTickets implements bot.TicketStore.
func (s *Store) AssignedTickets(ctx context.Context, assignee string) ([]bot.Ticket, error) {
	if !validID(assignee) {
		return nil, fmt.Errorf("redisstore: assigned tickets: assignee id malformed: %w", bot.ErrInvalid)
	}
	ts, err := s.indexed(ctx, s.assigneeKey(assignee), func(t *bot.Ticket) bool { return t.Assignee == assignee })
	return ts, wrap("assigned tickets", err)
}

// indexed returns the non-final tickets listed in the set key for which
// belongs holds, oldest first. It removes entries whose ticket expired or
// no longer belongs (a ref reused after expiry), so stale entries can
// never show someone else's ticket.
func (s *Store) indexed(ctx context.Context, key string, belongs func(*bot.Ticket) bool) ([]bot.Ticket, error) {
	refs, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = s.ticketKey(r)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var out []bot.Ticket
	var stale []any
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok {
			stale = append(stale, refs[i])
			continue
		}
		t, err := decodeTicket(refs[i], []byte(raw))
		if err != nil {
			return nil, err
		}
		if !belongs(&t) {
			stale = append(stale, refs[i])
			continue
		}
		if !t.State.Final() {
			out = append(out, t)
		}
	}
	if len(stale) > 0 {
		// Best effort: a failure only leaves entries to prune next time.
		_ = s.rdb.SRem(ctx, key, stale...).Err()
	}
	sortTickets(out)
	return out, nil
}

func sortTickets(ts []bot.Ticket) {
	slices.SortFunc(ts, func(a, b bot.Ticket) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Ref, b.Ref)
	})
}

// LinkMessage implements bot.TicketStore. It watches the ticket, so a
// link cannot slip in after a concurrent redaction deleted the links.
func (s *Store) LinkMessage(ctx context.Context, chatID int64, messageID int, ref string) error {
	if chatID == 0 || messageID <= 0 {
		return fmt.Errorf("redisstore: link message: chat %d message %d: %w", chatID, messageID, bot.ErrInvalid)
	}
	canon, ok := bot.ParseRef(ref)
	if !ok {
		return fmt.Errorf("redisstore: link message: malformed ref: %w", bot.ErrNotFound)
	}
	key, lkey, l := s.ticketKey(canon), s.linksKey(canon), link(chatID, messageID)
	for attempt := range maxTxAttempts {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			raw, err := tx.Get(ctx, key).Bytes()
			if err != nil {
				return err
			}
			t, err := decodeTicket(canon, raw)
			if err != nil {
				return err
			}
			if t.Redacted {
				return fmt.Errorf("ticket redacted: %w", bot.ErrNotFound)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, s.msgKey(l), canon, s.ticketTTL)
				p.SAdd(ctx, lkey, l)
				p.PExpire(ctx, lkey, s.ticketTTL)
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			if err := backoff(ctx, attempt); err != nil {
				return wrap("link message", err)
			}
			continue
		}
		return wrap("link message", err)
	}
	return &unavailableError{op: "link message", err: fmt.Errorf("still contended after %d attempts", maxTxAttempts)}
}

// TicketForMessage implements bot.TicketStore.
func (s *Store) TicketForMessage(ctx context.Context, chatID int64, messageID int) (string, error) {
	ref, err := s.rdb.Get(ctx, s.msgKey(link(chatID, messageID))).Result()
	if err != nil {
		return "", wrap("ticket for message", err)
	}
	return ref, nil
}

// DueTickets implements bot.TicketStore. Entries of expired tickets are
// removed on the way.
func (s *Store) DueTickets(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	for range 8 {
		refs, err := s.rdb.ZRangeByScore(ctx, s.dueKey(), &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit),
		}).Result()
		if err != nil || len(refs) == 0 {
			return nil, wrap("due tickets", err)
		}
		pipe := s.rdb.Pipeline()
		exists := make([]*redis.IntCmd, len(refs))
		for i, r := range refs {
			exists[i] = pipe.Exists(ctx, s.ticketKey(r))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, wrap("due tickets", err)
		}
		var stale []any
		live := refs[:0]
		for i, r := range refs {
			if exists[i].Val() == 0 {
				stale = append(stale, r)
			} else {
				live = append(live, r)
			}
		}
		if len(stale) == 0 {
			return live, nil
		}
		if err := s.rdb.ZRem(ctx, s.dueKey(), stale...).Err(); err != nil {
			return nil, wrap("due tickets", err)
		}
	}
	return nil, fmt.Errorf("redisstore: due tickets: too many expired entries")
}

// SetAbsent implements bot.TicketStore. The key expires when the absence
// ends.
func (s *Store) SetAbsent(ctx context.Context, staffID string, until time.Time) error {
	if !validID(staffID) {
		return fmt.Errorf("redisstore: set absent: staff id malformed: %w", bot.ErrInvalid)
	}
	key := s.absentKey(staffID)
	d := until.Sub(s.now())
	switch {
	case until.IsZero() || d <= 0:
		return wrap("set absent", s.rdb.Del(ctx, key).Err())
	case d > bot.MaxAbsence:
		return fmt.Errorf("redisstore: set absent: %v is longer than %v: %w", d, bot.MaxAbsence, bot.ErrInvalid)
	}
	ttl, _ := checkTTL(d)
	return wrap("set absent", s.rdb.Set(ctx, key, until.UnixMilli(), ttl).Err())
}

// Absent implements bot.TicketStore.
func (s *Store) Absent(ctx context.Context, staffID string, now time.Time) (bool, error) {
	if !validID(staffID) {
		return false, fmt.Errorf("redisstore: absent: staff id malformed: %w", bot.ErrInvalid)
	}
	until, err := s.rdb.Get(ctx, s.absentKey(staffID)).Int64()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap("absent", err)
	}
	return now.UnixMilli() < until, nil
}

// RedactTickets implements bot.TicketStore.
func (s *Store) RedactTickets(ctx context.Context, user bot.UserKey) (int, error) {
	key, err := s.userTicketsKey(user)
	if err != nil {
		return 0, wrap("redact tickets", err)
	}
	// Queued messages hold the user's texts too.
	if _, err := s.ForgetOutbox(ctx, user); err != nil {
		return 0, fmt.Errorf("redisstore: redact tickets: %w", err)
	}
	refs, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return 0, wrap("redact tickets", err)
	}
	n := 0
	for _, ref := range refs {
		ok, err := s.redact(ctx, ref, bot.ActorRequester, "forget", func(t *bot.Ticket) bool { return t.Requester == user })
		if err != nil {
			return n, fmt.Errorf("redisstore: redact tickets: %w", err)
		}
		if ok {
			n++
		}
	}
	// Redaction removed the refs; what is left are entries of expired or
	// reused refs.
	return n, wrap("redact tickets", s.rdb.Del(ctx, key).Err())
}

// redact applies EventRedacted to ticket ref if eligible, reporting
// whether it did. A missing ticket is not an error.
func (s *Store) redact(ctx context.Context, ref string, actor bot.Actor, note string, eligible func(*bot.Ticket) bool) (bool, error) {
	_, err := s.UpdateTicket(ctx, ref, func(t *bot.Ticket) error {
		if t.Redacted || !eligible(t) {
			return errSkip
		}
		return t.Apply(bot.TicketEvent{At: s.now(), Kind: bot.EventRedacted, Actor: actor, Note: note})
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errSkip), errors.Is(err, bot.ErrNotFound):
		return false, nil
	}
	return false, err
}

// PurgeClosed implements bot.TicketStore.
func (s *Store) PurgeClosed(ctx context.Context, olderThan time.Time) (int, error) {
	n, skipped := 0, 0
	seen := map[string]bool{}
	for {
		refs, err := s.rdb.ZRangeByScore(ctx, s.closedKey(), &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(olderThan.UnixMilli(), 10),
			Offset: int64(skipped), Count: purgeBatch,
		}).Result()
		if err != nil {
			return n, wrap("purge closed", err)
		}
		progress := false
		for _, ref := range refs {
			if seen[ref] {
				continue
			}
			seen[ref], progress = true, true
			ok, err := s.redact(ctx, ref, bot.ActorSystem, "retention", func(t *bot.Ticket) bool {
				return t.State.Final() && t.Updated.Before(olderThan)
			})
			if err != nil {
				return n, fmt.Errorf("redisstore: purge closed: %w", err)
			}
			if ok {
				n++
				continue
			}
			// Expired, or closed at olderThan's millisecond but not before
			// it: drop expired entries only.
			if _, err := s.Ticket(ctx, ref); errors.Is(err, bot.ErrNotFound) {
				if err := s.rdb.ZRem(ctx, s.closedKey(), ref).Err(); err != nil {
					return n, wrap("purge closed", err)
				}
			} else {
				skipped++
			}
		}
		if !progress {
			return n, nil
		}
	}
}
