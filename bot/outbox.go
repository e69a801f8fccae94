package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the durable outbox: every message to staff about a ticket
// (new, handed over, escalated, the requester's reply) and every message
// to a requester about one (staff's answer, closed, still looking) is
// written to an Outbox first and delivered by RunOutbox, retried until
// Telegram accepts it, across crashes and outages, in order per chat.
//
// # Exactly once, and the one window left
//
// An entry is identified by an idempotency key (OutboxEntry.ID) derived
// from what caused it ("new:K-7F3Q", "ans:K-7F3Q:<update id>"), so doing
// the same step twice (a redelivered update, a restarted job) queues it
// once. A dispatcher delivers an entry under a lease, and after Telegram
// accepted it SettleOutbox writes the "sent" marker, deletes the personal
// payload and acknowledges the entry in one atomic step. A restart
// therefore never sends a settled entry again. What remains: a crash (or
// lost connection to the store) after Telegram accepted a message and
// before SettleOutbox reached the store. The entry is then delivered again by
// the next dispatcher; the window is one store round trip long and the
// dispatcher logs "outbox redelivery" whenever it picks up an entry that
// was leased before, so such duplicates can be counted.

// OutboxEntry is one message waiting for delivery. Msg holds personal
// data (a request's text, an answer); stores keep it only until the
// entry is settled or expires, and delete it when the user is forgotten.
type OutboxEntry struct {
	// ID is the idempotency key: an entry whose ID was queued before (and
	// has not expired) is not queued again. At most 200 bytes, no '{}'.
	ID string `json:"id"`
	// Order groups entries that must arrive in order: all entries with
	// the same Order (one per chat) are delivered one after another, in
	// the order they were queued. It must not reveal the chat id.
	Order string `json:"o"`
	// Ref is the ticket the message is about; with Link, the sent
	// message is linked to it so that a reply to it finds the ticket.
	Ref  string `json:"r,omitempty"`
	Link bool   `json:"lk,omitempty"`
	// Topic is what delivery does about Ref's forum topic in the chat
	// ("": nothing; TopicOpen, TopicIn, TopicClose: see forum.go).
	Topic string `json:"tp,omitempty"`
	// User is the requester whose personal data the message holds
	// ("" if none); Forget removes the user's entries.
	User UserKey `json:"u,omitempty"`
	// Msg is the message, with its ChatID.
	Msg Outgoing `json:"m"`
	// Queued is when the entry was queued (set by EnqueueOutbox if zero).
	Queued time.Time `json:"q"`
	// Redelivered is set by Outbox.TakeOutbox if an earlier Take of the entry
	// was neither settled nor released: that dispatcher died or lost its
	// lease during the send, so the message may have arrived already.
	Redelivered bool `json:"-"`
}

// OutboxItem is a queued entry as a dispatcher sees it before taking it:
// no personal data, only where it stands in the queue.
type OutboxItem struct {
	// Seq is the entry's position in the queue (a stream id in Redis).
	Seq string
	// ID and Order are those of the entry.
	ID, Order string
}

// TakeStatus says whether a dispatcher may deliver an item now.
type TakeStatus int

// Outcomes of Outbox.TakeOutbox.
const (
	// TakeReady: the caller holds the entry's lease and delivers it.
	TakeReady TakeStatus = iota
	// TakeWait: an earlier entry of the same Order is not settled yet, or
	// another dispatcher holds the lease; try again later.
	TakeWait
	// TakeGone: the entry was settled, forgotten or expired; it is
	// removed from the queue and there is nothing to deliver.
	TakeGone
)

// Settlement is how an entry ended.
type Settlement string

// Settlements.
const (
	// Delivered: Telegram accepted the message.
	Delivered Settlement = "sent"
	// Dropped: Telegram refused it for good (blocked bot, bad request).
	Dropped Settlement = "dropped"
)

// Outbox is a durable queue of messages (see OutboxEntry). It is safe for
// concurrent use by several dispatchers (processes). Every record it
// writes expires (entries after OutboxTTL unsettled; markers as long).
//
// Each Order (chat) is a queue of its own with a due time: due when an
// entry is queued or its predecessor settled, not due while a dispatcher
// holds the head's lease or after a failed attempt until the retry time
// given to ReleaseOutbox. So a chat that waits (paced, or failing) is
// never in the way of the others, and a dead dispatcher's chat is due
// again when its lease ends.
type Outbox interface {
	// EnqueueOutbox queues entries in the order given, skipping any whose ID
	// was queued before. It returns when the entries are stored durably.
	// Returns ErrInvalid for an entry without ID, Order or chat.
	EnqueueOutbox(ctx context.Context, entries ...OutboxEntry) error
	// FetchOutbox returns items of up to n chats that are due, the first
	// few entries of each in queue order, waiting up to wait if no chat
	// is due (for an enqueue, or until one becomes due). consumer names
	// the dispatcher.
	FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]OutboxItem, error)
	// TakeOutbox leases it to consumer for lease and returns its entry if it
	// is the oldest unsettled entry of its Order and no other consumer
	// holds its lease (TakeReady); see TakeStatus for the others.
	TakeOutbox(ctx context.Context, consumer string, it OutboxItem, lease time.Duration) (OutboxEntry, TakeStatus, error)
	// RenewOutbox extends consumer's lease on it to lease from now. It
	// reports false, changing nothing, if consumer does not hold it.
	RenewOutbox(ctx context.Context, consumer string, it OutboxItem, lease time.Duration) (bool, error)
	// SettleOutbox ends the entry: it records how it ended (the "sent" marker,
	// so it is never delivered again), deletes its payload and removes it
	// from the queue, atomically. The Order's next entry is due at once.
	SettleOutbox(ctx context.Context, it OutboxItem, how Settlement) error
	// ReleaseOutbox gives consumer's lease back after a failed (or paced)
	// attempt; the entry stays queued and its Order is due again after
	// after. A lease held by another consumer is left alone.
	ReleaseOutbox(ctx context.Context, consumer string, it OutboxItem, after time.Duration) error
	// ForgetOutbox deletes the queued entries holding user's data and
	// returns how many. Store.Forget calls it where the store is both.
	ForgetOutbox(ctx context.Context, user UserKey) (int, error)
}

// QueuedTurn is the end of a turn whose reply goes to the outbox: the
// update to mark done (for DoneTTL) and the session to save for User
// (nil: none).
type QueuedTurn struct {
	UpdateID   int64
	DoneTTL    time.Duration
	User       UserKey
	Session    *Session
	SessionTTL time.Duration
	// From is the index in the turn's reply of the first entry queued:
	// the messages before it were sent directly.
	From int
	// Lease is the update's claim lease (Config.ClaimLease), for a store
	// that keeps the claim while it queues in several steps; zero means
	// DefaultClaimLease.
	Lease time.Duration
}

// ErrTurnUnfinished is returned by TurnQueuer.QueueTurn when the entries
// were queued but the update could not be marked done (nor the session
// saved). The reply must not be sent directly then: the update is
// retried, its claim (ClaimQueued) says the reply was queued, and the
// retry queues nothing twice.
var ErrTurnUnfinished = errors.New("reply queued, update not marked done")

// TurnQueuer is an optional capability of an Outbox that is also the
// UpdateClaimer: it queues a turn's reply and finishes the turn
// (UpdateClaimer.FinishUpdate) in one step, so that a crash cannot leave
// the reply queued and the update unmarked, which would answer the
// redelivered update a second time beside the queued reply.
//
// Where the step cannot be atomic (Redis Cluster: the outbox, the update
// record and the session are in different slots), the store first turns
// the update's claim into a queued claim that outlives its lease, then
// queues, then marks the update done. A crash in between leaves the
// queued claim, and the redelivery gets ClaimQueued from BeginClaim.
type TurnQueuer interface {
	// QueueTurn is EnqueueOutbox of entries, one turn's reply in order,
	// plus FinishUpdate of qt. Entries before one that was queued
	// already are skipped too: an earlier attempt at the turn queued
	// from there on, so it sent those before directly. Returns
	// ErrTurnUnfinished if the entries are queued but the update is not
	// marked done.
	QueueTurn(ctx context.Context, qt QueuedTurn, entries ...OutboxEntry) error
}

// OutboxTTL is how long an unsettled entry, and an entry's idempotency
// marker, is kept: a message Telegram has refused for a week is no
// longer worth sending.
const OutboxTTL = 7 * 24 * time.Hour

// Dispatcher tuning.
const (
	outboxBatch   = 64 // chats per fetch at most
	outboxWait    = time.Second
	outboxWorkers = 16 // chats delivered at once
	// outboxLease is short and renewed every third of it while a send
	// runs (outboxHeartbeat), like an update's claim (DefaultClaimLease):
	// a dead dispatcher's chat is due again within seconds, a slow send
	// (Telegram's retries, outboxSendTime) keeps its lease.
	outboxLease     = 5 * time.Second
	outboxHeartbeat = outboxLease / 3
	outboxMinRetry  = time.Second
	outboxMaxRetry  = 30 * time.Second
	outboxSendTime  = 30 * time.Second
	// outboxIdlePoll is how often a dispatcher whose workers are all
	// busy looks for newly due chats.
	outboxIdlePoll = 100 * time.Millisecond
)

// ErrNoOutbox is returned by RunOutbox when no Outbox is configured.
var ErrNoOutbox = errors.New("no outbox configured")

// RunOutbox delivers the outbox until ctx ends. Every replica may run it
// under its own consumer name (e.g. host and process id): chats are
// shared out, each in order, and a dead replica's chats are taken over
// when their leases end. It returns ctx's error, or ErrNoOutbox.
//
// There are no rounds: each due chat gets a worker (up to
// outboxWorkers) that delivers its fetched entries in order and ends at
// the first that must wait; the loop fetches again whenever a worker is
// free, so one slow send or paced chat holds nothing but its own chat.
func (b *Bot) RunOutbox(ctx context.Context, consumer string) error {
	ob := b.cfg.Outbox
	if ob == nil {
		return ErrNoOutbox
	}
	d := &dispatcher{b: b, ob: ob, consumer: consumer, retry: map[string]retryState{},
		busy: map[string]bool{}, freed: make(chan struct{}, 1)}
	b.paced.dispatching(1)
	defer b.paced.dispatching(-1)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		free, running := d.free()
		if free == 0 {
			d.waitFreed(ctx, outboxWait)
			continue
		}
		wait := outboxWait
		if running > 0 {
			wait = 0 // a worker's end is what we wait for (waitFreed)
		}
		items, err := ob.FetchOutbox(ctx, consumer, min(free+running, outboxBatch), wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			b.log.Warn("outbox fetch failed", "error_class", errClass(err))
			sleepCtx(ctx, outboxMinRetry)
			continue
		}
		if started := d.start(ctx, &wg, items, free); started == 0 {
			// Nothing new: what is due runs already, or nothing is due.
			d.waitFreed(ctx, outboxIdlePoll)
		}
		d.prune()
	}
	return ctx.Err()
}

type retryState struct {
	next     time.Time
	attempts int
}

type dispatcher struct {
	b        *Bot
	ob       Outbox
	consumer string
	freed    chan struct{} // a worker ended

	mu    sync.Mutex
	retry map[string]retryState // entry id → backoff
	busy  map[string]bool       // orders with a worker
}

func (d *dispatcher) free() (free, running int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return outboxWorkers - len(d.busy), len(d.busy)
}

func (d *dispatcher) waitFreed(ctx context.Context, limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-d.freed:
	}
}

// start gives each of items' orders without a worker one (up to free),
// and returns how many it started.
func (d *dispatcher) start(ctx context.Context, wg *sync.WaitGroup, items []OutboxItem, free int) int {
	var orders []string
	byOrder := map[string][]OutboxItem{}
	for _, it := range items {
		if _, ok := byOrder[it.Order]; !ok {
			orders = append(orders, it.Order)
		}
		byOrder[it.Order] = append(byOrder[it.Order], it)
	}
	started := 0
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range orders {
		if started == free {
			break
		}
		if d.busy[o] {
			continue
		}
		d.busy[o] = true
		started++
		its := byOrder[o]
		wg.Go(func() {
			defer func() {
				d.mu.Lock()
				delete(d.busy, o)
				d.mu.Unlock()
				select {
				case d.freed <- struct{}{}:
				default:
				}
			}()
			for _, it := range its {
				if !d.deliver(ctx, it) {
					return // later entries of this chat wait for it
				}
			}
		})
	}
	return started
}

// prune forgets backoffs of entries settled elsewhere long ago.
func (d *dispatcher) prune() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, r := range d.retry {
		if time.Since(r.next) > 10*outboxMaxRetry {
			delete(d.retry, id)
		}
	}
}

// deliver tries one item and reports whether the next item of the same
// Order may be tried (it was settled or gone).
func (d *dispatcher) deliver(ctx context.Context, it OutboxItem) bool {
	d.mu.Lock()
	r := d.retry[it.ID]
	d.mu.Unlock()
	if wait := time.Until(r.next); wait > 0 {
		// Fetched again before its retry time (another dispatcher
		// released it sooner): put it back until then.
		d.release(ctx, it, wait)
		return false
	}
	e, st, err := d.ob.TakeOutbox(ctx, d.consumer, it, outboxLease)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			d.b.log.Warn("outbox take failed", "error_class", errClass(err))
		}
		return false
	case st == TakeGone:
		d.forget(it.ID)
		d.b.pacedSettled(it)
		return true
	case st == TakeWait:
		return false
	}
	if e.Redelivered {
		d.b.log.Warn("outbox redelivery", "reason", "lease expired or dispatcher died during a send")
	}
	id, err := d.sendHeld(ctx, it, e)
	switch {
	case errors.Is(err, ErrWouldWait):
		// The chat's slot is far: put it back without counting a
		// failure; the other chats go on meanwhile.
		d.release(ctx, it, outboxPaceRetry)
		return false
	case err == nil:
		// Link before settling: a crash in between then leaves a linked
		// copy (and at worst a second, also linked, copy after the
		// redelivery) instead of a single copy staff cannot reply to.
		if e.Link && id != 0 && e.Ref != "" && d.b.cfg.Tickets != nil {
			if err := d.b.cfg.Tickets.LinkMessage(ctx, d.b.linkChat(e.Msg.ChatID), id, e.Ref); err != nil && !errors.Is(err, ErrNotFound) {
				d.b.log.Warn("link message failed", "error_class", errClass(err))
			}
		}
		if err := d.settle(ctx, it, Delivered); err != nil {
			return false
		}
		return true
	case errors.Is(err, ErrBlocked):
		d.b.log.Info("outbox entry dropped", "reason", "blocked")
		return d.settle(ctx, it, Dropped) == nil
	case errors.Is(err, ErrUnavailable), ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		d.release(ctx, it, d.backoff(it.ID))
		return false
	default:
		// A bad request: retrying cannot help, and the chat's later
		// messages must not wait for it forever.
		d.b.log.Warn("outbox entry dropped", "reason", "refused", "error_class", errClass(err))
		return d.settle(ctx, it, Dropped) == nil
	}
}

// sendHeld sends e, renewing its lease every outboxHeartbeat while the
// send runs. A lost lease (the store was unreachable for a whole lease,
// and another dispatcher may have taken the entry) cancels the send.
func (d *dispatcher) sendHeld(ctx context.Context, it OutboxItem, e OutboxEntry) (int, error) {
	sctx, cancel := context.WithTimeout(ctx, outboxSendTime)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(outboxHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-sctx.Done():
				return
			case <-tick.C:
			}
			rctx, rcancel := context.WithTimeout(sctx, outboxHeartbeat)
			held, err := d.ob.RenewOutbox(rctx, d.consumer, it, outboxLease)
			rcancel()
			switch {
			case sctx.Err() != nil:
				return
			case err != nil:
				d.b.log.Warn("outbox lease renewal failed", "error_class", errClass(err))
			case !held:
				d.b.log.Warn("outbox lease lost during a send")
				cancel()
				return
			}
		}
	}()
	id, err := d.send(sctx, e)
	close(stop)
	<-done
	return id, err
}

func (d *dispatcher) release(ctx context.Context, it OutboxItem, after time.Duration) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.ob.ReleaseOutbox(rctx, d.consumer, it, after); err != nil {
		d.b.log.Warn("outbox release failed", "error_class", errClass(err))
	}
}

func (d *dispatcher) settle(ctx context.Context, it OutboxItem, how Settlement) error {
	// A settle cut off by shutdown would send the message again.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := d.ob.SettleOutbox(sctx, it, how)
	if err != nil {
		// The lease (no longer renewed) ends, and the entry is sent
		// again, marked redelivered.
		d.b.log.Warn("outbox settle failed", "error_class", errClass(err))
		d.backoff(it.ID)
		return err
	}
	d.forget(it.ID)
	d.b.pacedSettled(it)
	return nil
}

// send sends e's message (into its ticket's forum topic, if e.Topic says
// so: sendForum).
func (d *dispatcher) send(ctx context.Context, e OutboxEntry) (int, error) {
	if e.Topic != "" {
		return d.b.sendForum(ctx, e, d.sendMsg)
	}
	return d.sendMsg(ctx, e)
}

// sendMsg sends e's message, refusing (ErrWouldWait) while its chat's
// slot is more than outboxPaceWait away, unless it has waited in the
// queue for outboxPaceMax already.
func (d *dispatcher) sendMsg(ctx context.Context, e OutboxEntry) (int, error) {
	if ps, ok := d.b.cfg.Sender.(PacedSender); ok && d.b.now().Sub(e.Queued) < outboxPaceMax {
		return ps.SendWithin(ctx, e.Msg, outboxPaceWait)
	}
	return d.b.cfg.Sender.Send(ctx, e.Msg)
}

// backoff counts a failed attempt and returns how long to wait.
func (d *dispatcher) backoff(id string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.retry[id]
	r.attempts++
	wait := outboxMinRetry << min(r.attempts-1, 5)
	wait = min(wait, outboxMaxRetry)
	wait += time.Duration(rand.Int64N(int64(wait) / 4))
	r.next = time.Now().Add(wait)
	d.retry[id] = r
	return wait
}

func (d *dispatcher) forget(id string) {
	d.mu.Lock()
	delete(d.retry, id)
	d.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// outboxOrder is the Order of messages to chat: a keyed hash, so the
// queue never shows whose chat it is.
func (b *Bot) outboxOrder(chat int64) string {
	return "c" + strconv.FormatInt(b.linkChat(chat), 36)
}

// enqueue queues msgs for delivery. Without an Outbox (tests wiring only
// a sender), they are sent at once, linked as asked.
func (b *Bot) enqueue(ctx context.Context, entries ...OutboxEntry) error {
	for i := range entries {
		e := &entries[i]
		if e.Order == "" {
			e.Order = b.outboxOrder(e.Msg.ChatID)
		}
		if e.Queued.IsZero() {
			e.Queued = b.now()
		}
	}
	if b.cfg.Outbox != nil {
		if err := b.cfg.Outbox.EnqueueOutbox(ctx, entries...); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return nil
	}
	for _, e := range entries {
		var err error
		if e.Topic != "" {
			var id int
			id, err = b.sendForum(ctx, e, func(ctx context.Context, e OutboxEntry) (int, error) { return b.cfg.Sender.Send(ctx, e.Msg) })
			if err == nil && e.Link && id != 0 {
				if lerr := b.cfg.Tickets.LinkMessage(ctx, b.linkChat(e.Msg.ChatID), id, e.Ref); lerr != nil {
					b.log.Warn("link message failed", "error_class", errClass(lerr))
				}
			}
		} else if e.Link {
			err = b.sendLinked(ctx, e.Ref, e.Msg)
		} else {
			_, err = b.cfg.Sender.Send(ctx, e.Msg)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// idemKey is the idempotency key of a message caused by this update:
// Telegram's redelivery of the update queues nothing twice.
func (t *turn) idemKey(kind, ref string) string {
	return kind + ":" + ref + ":" + strconv.FormatInt(t.in.UpdateID, 36) + ":" + strconv.Itoa(t.in.MessageID)
}

// # Replies that would wait for their chat's send slot
//
// Telegram lets a bot send one message a second to a private chat (after
// a burst of three) and twenty a minute to a group. A reply that had to
// wait for that would hold its handler, and the transport finishes a
// batch of updates (long polling) only when its slowest handler returns:
// one user flooding the bot would delay everybody. So, with an Outbox and
// a Sender that can refuse to wait (PacedSender), a reply whose chat slot
// is more than paceWait away is queued in the outbox, with the rest of
// the turn's reply, and the handler returns. The dispatcher sends it when
// the slot comes.
//
// Why the outbox rather than a queue in the transport: the update may be
// confirmed to Telegram as soon as its reply is stored durably, and the
// outbox already keeps what a crash must not lose (idempotency keys by
// update id, per-chat order, leases, redelivery). Confirming an update
// whose reply sits only in memory would lose the reply in a crash;
// keeping it unconfirmed would hold the getUpdates offset, and so every
// chat, just the same.
//
// Order: while the outbox holds paced replies for a chat, the chat's
// later replies follow them through the outbox. Two records say so. The
// process that queued them counts them by id until they are settled
// (pacedChats). And the turn that queues them stores the time in the
// requester's session (Session.Paced), which the next turn loads anyway
// with its claim (no extra round trip): a process that did not queue
// them (a restart after a crash, another replica) sends the chat's
// replies through the outbox for pacedHold after that, unless it saw
// the chat's backlog drain since. (Group chats have no session of their
// own; for them only the process's record counts.)
//
// Exactly once: the turn's reply is queued and the update marked done in
// one step (TurnQueuer.QueueTurn, atomic in one Redis server), so a
// crash leaves either both (the redelivery is a duplicate and dropped)
// or neither (the redelivery is answered). The idempotency keys carry
// the update id and the message's index in the reply, and QueueTurn
// skips what an earlier attempt sent before the part it queued. Where
// the step is not atomic (Redis Cluster), QueueTurn first leaves a
// queued claim on the update (with the index it queues from), which a
// crash leaves behind: the redelivery is claimed as ClaimQueued and its
// reply goes through the outbox from that index on, where whatever the
// earlier attempt queued is skipped. A first claim (the usual case)
// costs nothing extra.

// paceWait is how long a reply may wait for its chat's send slot before
// it goes to the outbox. Short: the handler holds its batch that long.
const paceWait = 200 * time.Millisecond

// Pacing in the dispatcher: a paced or ticket message whose chat slot is
// more than outboxPaceWait away is put back and tried again after
// outboxPaceRetry, so that one chat's backlog never holds a worker (and
// the other chats); after outboxPaceMax in the queue it waits for its
// slot like any send.
const (
	outboxPaceWait  = time.Second
	outboxPaceRetry = 250 * time.Millisecond
	outboxPaceMax   = time.Minute
)

// pacedHold bounds how long a chat counts as holding paced replies
// without any of them being settled by this process (they may be settled
// by another replica's dispatcher), and how long after its session
// records paced replies another process routes its replies through the
// outbox. At one message a second per chat and the inbound flood limit
// (bot/flood.go), a backlog drains well within it.
const pacedHold = time.Minute

// pacedPrefix starts the idempotency key of a paced reply.
const pacedPrefix = "pace:"

// pacedChats records, per Order, the paced replies queued by this
// process and not yet settled, and when a chat's backlog last drained.
// The zero value is ready to use.
type pacedChats struct {
	mu sync.Mutex
	m  map[string]*pacedBacklog
	// dispatchers is how many RunOutbox calls are running: replies are
	// paced only while one is, so that none waits for a dispatcher that
	// this process never starts.
	dispatchers int
}

type pacedBacklog struct {
	ids     map[string]bool // queued by this process, not settled
	touched time.Time
	drained time.Time // when ids last became empty
}

func (p *pacedChats) dispatching(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dispatchers += n
}

// on reports whether replies may be paced.
func (p *pacedChats) on() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dispatchers > 0
}

// holds reports whether replies to order must go through the outbox:
// this process queued some that are not settled, or the chat's session
// says some were queued at since (by any process) and this process has
// not seen the backlog drain after that.
func (p *pacedChats) holds(order string, since, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[order]
	if ok && len(c.ids) > 0 && now.Sub(c.touched) < pacedHold {
		return true
	}
	if since.IsZero() || now.Sub(since) >= pacedHold {
		return false
	}
	return !ok || c.drained.Before(since)
}

// queued records ids as queued for order.
func (p *pacedChats) queued(order string, ids []string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*pacedBacklog{}
	}
	for o, c := range p.m { // bounded: only chats with a recent backlog
		if now.Sub(c.touched) >= pacedHold {
			delete(p.m, o)
		}
	}
	c := p.m[order]
	if c == nil {
		c = &pacedBacklog{ids: map[string]bool{}}
		p.m[order] = c
	}
	for _, id := range ids {
		c.ids[id] = true
	}
	c.touched = now
}

// settled records ids of order as gone from the outbox (or never
// queued); ids this process did not queue are ignored.
func (p *pacedChats) settled(order string, now time.Time, ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.m[order]
	if c == nil {
		return
	}
	n := len(c.ids)
	for _, id := range ids {
		delete(c.ids, id)
	}
	if n > 0 && len(c.ids) == 0 {
		c.drained, c.touched = now, now
	}
}

// sendOrQueue sends m, the turn's i-th message, or queues it and the
// rest of the turn's reply in the outbox: when the chat's earlier paced
// replies are still there, or when its send slot is more than paceWait
// away. queued: the reply is stored for delivery and nothing is left to
// send. Without an Outbox, a PacedSender or a running dispatcher
// (RunOutbox) it is a plain Send.
func (t *turn) sendOrQueue(i int, m Outgoing) (queued bool, err error) {
	b := t.b
	ps, ok := b.cfg.Sender.(PacedSender)
	// An earlier attempt at this update queued the reply (ClaimQueued):
	// queue it again, whether or not this process paces, so that what
	// is queued is skipped rather than sent a second time.
	requeue := t.requeue && b.cfg.Outbox != nil
	if !requeue && (!ok || b.cfg.Outbox == nil || !b.paced.on()) {
		_, err := b.cfg.Sender.Send(t.ctx, m)
		return false, err
	}
	order := b.outboxOrder(m.ChatID)
	now := b.now()
	held := requeue || b.paced.holds(order, t.orig.Paced, now)
	if !held {
		_, err := ps.SendWithin(t.ctx, m, paceWait)
		if !errors.Is(err, ErrWouldWait) {
			return false, err
		}
	}
	rest := make([]OutboxEntry, 0, len(t.out))
	ids := make([]string, 0, len(t.out))
	// A held chat queues the whole reply (i is 0): an earlier attempt at
	// this update that queued a later part of it matches, and QueueTurn
	// skips what that attempt sent directly.
	for k := i; k < len(t.out); k++ {
		msg := t.out[k]
		msg.ChatID = m.ChatID
		id := pacedPrefix + t.idemKey("r", strconv.Itoa(k))
		rest = append(rest, OutboxEntry{ID: id, Order: order, User: t.user, Msg: msg})
		ids = append(ids, id)
	}
	// Recorded before they are queued, so that a dispatcher settling
	// them at once cannot count them down first.
	b.paced.queued(order, ids, now)
	if err := t.queueReply(i, rest); err != nil {
		if errors.Is(err, ErrTurnUnfinished) {
			// Queued: sending it too would answer twice. The update is
			// retried, and the retry (ClaimQueued) finishes the turn.
			return false, fmt.Errorf("queue paced reply: %w", err)
		}
		b.paced.settled(order, b.now(), ids...)
		if held {
			// Sending now would overtake the queued replies; Telegram
			// delivers the update again (ErrUnavailable) or it fails.
			return false, fmt.Errorf("queue paced reply: %w", err)
		}
		// Answering late beats not answering: wait for the slot. The
		// rest of the reply goes out through send's loop, paced again.
		t.warn("queue paced reply failed; sending directly", err)
		_, err := b.cfg.Sender.Send(t.ctx, m)
		return false, err
	}
	t.outcome += "+paced"
	return true, nil
}

// queueReply queues the turn's paced reply. Where the outbox can
// (TurnQueuer) it also finishes the turn in the same step: the update's
// done mark and the session, which records the paced reply (Session.Paced)
// for whichever process handles the chat's next update.
func (t *turn) queueReply(from int, rest []OutboxEntry) error {
	b := t.b
	tq, ok := b.cfg.Outbox.(TurnQueuer)
	if !ok || !t.claimed {
		return b.enqueue(t.ctx, rest...)
	}
	qt := QueuedTurn{UpdateID: t.in.UpdateID, DoneTTL: b.cfg.DedupeTTL, User: t.user, SessionTTL: b.cfg.SessionTTL,
		From: from, Lease: b.cfg.ClaimLease}
	if !t.storeDown && !t.forgotten && t.in.ChatID == t.in.UserID {
		s := t.s
		s.Paced = t.now
		s.Updated = t.now
		qt.Session = &s
	}
	for i := range rest {
		e := &rest[i]
		if e.Queued.IsZero() {
			e.Queued = b.now()
		}
	}
	// The claim must not be renewed over the done mark; renewing it again
	// if queueing fails.
	t.stopHolding()
	if err := tq.QueueTurn(t.ctx, qt, rest...); err != nil {
		t.holdClaim()
		return fmt.Errorf("outbox: %w", err)
	}
	if qt.Session != nil {
		t.s, t.orig = *qt.Session, *qt.Session
	}
	t.finished = true
	return nil
}

// pacedSettled counts a paced reply of this process as gone from the
// outbox.
func (b *Bot) pacedSettled(it OutboxItem) {
	if strings.HasPrefix(it.ID, pacedPrefix) {
		b.paced.settled(it.Order, b.now(), it.ID)
	}
}
