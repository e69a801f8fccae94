package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
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
type Outbox interface {
	// EnqueueOutbox queues entries in the order given, skipping any whose ID
	// was queued before. It returns when the entries are stored durably.
	// Returns ErrInvalid for an entry without ID, Order or chat.
	EnqueueOutbox(ctx context.Context, entries ...OutboxEntry) error
	// FetchOutbox returns up to n unsettled items for dispatcher consumer, in
	// queue order: those it fetched before and has not settled, new
	// ones (waiting up to wait for any), and those of dispatchers that
	// have not touched theirs for the store's idle limit (presumed dead).
	FetchOutbox(ctx context.Context, consumer string, n int, wait time.Duration) ([]OutboxItem, error)
	// TakeOutbox leases it to consumer for lease and returns its entry if it
	// is the oldest unsettled entry of its Order and no other consumer
	// holds its lease (TakeReady); see TakeStatus for the others.
	TakeOutbox(ctx context.Context, consumer string, it OutboxItem, lease time.Duration) (OutboxEntry, TakeStatus, error)
	// SettleOutbox ends the entry: it records how it ended (the "sent" marker,
	// so it is never delivered again), deletes its payload and removes it
	// from the queue, atomically.
	SettleOutbox(ctx context.Context, it OutboxItem, how Settlement) error
	// ReleaseOutbox gives the lease back after a failed attempt; the entry
	// stays queued.
	ReleaseOutbox(ctx context.Context, it OutboxItem) error
	// ForgetOutbox deletes the queued entries holding user's data and
	// returns how many. Store.Forget calls it where the store is both.
	ForgetOutbox(ctx context.Context, user UserKey) (int, error)
}

// OutboxTTL is how long an unsettled entry, and an entry's idempotency
// marker, is kept: a message Telegram has refused for a week is no
// longer worth sending.
const OutboxTTL = 7 * 24 * time.Hour

// Dispatcher tuning.
const (
	outboxBatch    = 64
	outboxWait     = time.Second
	outboxLease    = 45 * time.Second // longer than a send with its retries (outboxSendTime)
	outboxWorkers  = 16
	outboxMinRetry = time.Second
	outboxMaxRetry = 30 * time.Second
	outboxSendTime = 30 * time.Second
)

// ErrNoOutbox is returned by RunOutbox when no Outbox is configured.
var ErrNoOutbox = errors.New("no outbox configured")

// RunOutbox delivers the outbox until ctx ends. Every replica may run it
// under its own consumer name (e.g. host and process id): entries are
// shared out, in order per chat, and a dead replica's entries are taken
// over. It returns ctx's error, or ErrNoOutbox.
func (b *Bot) RunOutbox(ctx context.Context, consumer string) error {
	ob := b.cfg.Outbox
	if ob == nil {
		return ErrNoOutbox
	}
	d := &dispatcher{b: b, ob: ob, consumer: consumer, retry: map[string]retryState{}}
	for ctx.Err() == nil {
		items, err := ob.FetchOutbox(ctx, consumer, outboxBatch, outboxWait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			b.log.Warn("outbox fetch failed", "error_class", errClass(err))
			sleepCtx(ctx, outboxMinRetry)
			continue
		}
		if progress := d.round(ctx, items); !progress && len(items) > 0 {
			// Everything is waiting (a retry's backoff, an earlier entry
			// elsewhere): do not spin on the store.
			sleepCtx(ctx, 100*time.Millisecond)
		}
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
	mu       sync.Mutex
	retry    map[string]retryState // entry id → backoff
}

// round delivers items, one goroutine per Order (bounded), each Order in
// queue order; it reports whether anything was settled.
func (d *dispatcher) round(ctx context.Context, items []OutboxItem) bool {
	var orders []string
	byOrder := map[string][]OutboxItem{}
	for _, it := range items {
		if _, ok := byOrder[it.Order]; !ok {
			orders = append(orders, it.Order)
		}
		byOrder[it.Order] = append(byOrder[it.Order], it)
	}
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, outboxWorkers)
		progress sync.Once
		moved    bool
	)
	for _, o := range orders {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, it := range byOrder[o] {
				done, ok := d.deliver(ctx, it)
				if done {
					progress.Do(func() { moved = true })
				}
				if !ok {
					return // later entries of this chat wait for it
				}
			}
		})
	}
	wg.Wait()
	d.mu.Lock()
	for id, r := range d.retry {
		if time.Since(r.next) > 10*outboxMaxRetry {
			delete(d.retry, id) // settled elsewhere, long ago
		}
	}
	d.mu.Unlock()
	return moved
}

// deliver tries one item. done: it was settled or gone; ok: the next
// item of the same Order may be tried.
func (d *dispatcher) deliver(ctx context.Context, it OutboxItem) (done, ok bool) {
	d.mu.Lock()
	r := d.retry[it.ID]
	d.mu.Unlock()
	if time.Now().Before(r.next) {
		return false, false
	}
	e, st, err := d.ob.TakeOutbox(ctx, d.consumer, it, outboxLease)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			d.b.log.Warn("outbox take failed", "error_class", errClass(err))
		}
		return false, false
	case st == TakeGone:
		d.forget(it.ID)
		return true, true
	case st == TakeWait:
		return false, false
	}
	if e.Redelivered {
		d.b.log.Warn("outbox redelivery", "reason", "lease expired or dispatcher died during a send")
	}
	sctx, cancel := context.WithTimeout(ctx, outboxSendTime)
	id, err := d.b.cfg.Sender.Send(sctx, e.Msg)
	cancel()
	switch {
	case err == nil:
		if err := d.settle(ctx, it, Delivered); err != nil {
			return false, false
		}
		if e.Link && id != 0 && e.Ref != "" && d.b.cfg.Tickets != nil {
			if err := d.b.cfg.Tickets.LinkMessage(ctx, d.b.linkChat(e.Msg.ChatID), id, e.Ref); err != nil && !errors.Is(err, ErrNotFound) {
				d.b.log.Warn("link message failed", "error_class", errClass(err))
			}
		}
		return true, true
	case errors.Is(err, ErrBlocked):
		d.b.log.Info("outbox entry dropped", "reason", "blocked")
		return d.settle(ctx, it, Dropped) == nil, true
	case errors.Is(err, ErrUnavailable), ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		d.backoff(it.ID)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := d.ob.ReleaseOutbox(rctx, it); err != nil {
			d.b.log.Warn("outbox release failed", "error_class", errClass(err))
		}
		cancel()
		return false, false
	default:
		// A bad request: retrying cannot help, and the chat's later
		// messages must not wait for it forever.
		d.b.log.Warn("outbox entry dropped", "reason", "refused", "error_class", errClass(err))
		return d.settle(ctx, it, Dropped) == nil, true
	}
}

func (d *dispatcher) settle(ctx context.Context, it OutboxItem, how Settlement) error {
	// A settle cut off by shutdown would send the message again.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := d.ob.SettleOutbox(sctx, it, how)
	if err != nil {
		d.b.log.Warn("outbox settle failed", "error_class", errClass(err))
		d.backoff(it.ID)
		return err
	}
	d.forget(it.ID)
	return nil
}

func (d *dispatcher) backoff(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.retry[id]
	r.attempts++
	wait := outboxMinRetry << min(r.attempts-1, 5)
	wait = min(wait, outboxMaxRetry)
	wait += time.Duration(rand.Int64N(int64(wait) / 4))
	r.next = time.Now().Add(wait)
	d.retry[id] = r
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
		if e.Link {
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
