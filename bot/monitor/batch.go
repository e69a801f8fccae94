package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Batching: every question a user asks records a question count, an
// active-user mark and, if unanswered, the question's text. Written one
// by one, that is two or three store round trips per question on top of
// the conversation's own. A Batcher collects them in memory and writes
// what gathered in one call to the store (for Redis, one MULTI/EXEC)
// at most FlushEvery after the first of them.
//
// The price is durability: what was collected and not yet written is
// lost if the process dies (kill -9, a crash, an out-of-memory kill),
// at most FlushEvery of counts. The counters are anonymous aggregates
// for a monthly report and an active-user estimate that already has
// 0.81 % standard error, so losing up to a second of them at a crash is
// accepted; Close writes them on an orderly stop. A failed write drops
// its batch, as a failed single write drops its count.

// DefaultFlushEvery is how long a Batcher keeps recordings at most.
const DefaultFlushEvery = time.Second

// Batch is what a Batcher collected between two writes.
type Batch struct {
	// Questions are question counts by dimensions and day; Q.Day is the
	// time of one of them. Each dimensions-and-day appears once.
	Questions []QCount
	// Active are users active on a day, each user and day once.
	Active []ActiveMark
	// Unanswered are unanswered questions, cleaned (CleanText), in the
	// order they were recorded.
	Unanswered []UnansweredMark
}

// QCount is N questions with the same dimensions on Q.Day's date.
type QCount struct {
	Q Q
	N int64
}

// ActiveMark notes that User was active at At (see Recorder.Active).
type ActiveMark struct {
	User string
	At   time.Time
}

// UnansweredMark is an unanswered question (see Recorder.Unanswered).
type UnansweredMark struct {
	Text, Lang string
	At         time.Time
}

// Len is the number of items in b.
func (b Batch) Len() int { return len(b.Questions) + len(b.Active) + len(b.Unanswered) }

// BatchRecorder writes a whole batch, with the same validation,
// retention and limits as the single recordings it replaces. Returns
// ErrInvalid if an item breaks a documented limit (nothing is written
// then).
type BatchRecorder interface {
	RecordBatch(ctx context.Context, b Batch) error
}

// BatchStore is a Store that can also write batches.
type BatchStore interface {
	Store
	BatchRecorder
}

// BatcherOptions configure a Batcher.
type BatcherOptions struct {
	// FlushEvery is the longest a recording waits (DefaultFlushEvery if
	// zero).
	FlushEvery time.Duration
	// MaxPending items start a write at once (default 10,000); ten
	// times as many, while writes fail or lag, drop new recordings
	// (ErrBatchFull), so memory stays bounded.
	MaxPending int
	// WriteTimeout bounds one write (default 5 s).
	WriteTimeout time.Duration
	// OnError, if set, learns of writes that failed and how many items
	// they lost. It is called from the Batcher's own goroutines.
	OnError func(err error, lost int)
}

// ErrBatchFull: a Batcher dropped a recording because too many are
// waiting for a write that fails or lags.
var ErrBatchFull = errors.New("monitor: too many recordings waiting")

// Batcher is a Store that collects questions, active users and
// unanswered texts in memory and writes them to its store in one call,
// at most FlushEvery after the first. Tickets, reminders and broadcasts
// (rare) are written at once. Reading flushes first, so a report sees
// what this process recorded. Safe for concurrent use.
type Batcher struct {
	inner BatchStore
	opt   BatcherOptions

	mu        sync.Mutex
	questions map[qBatchKey]int // index into pending.Questions
	active    map[activeBatchKey]struct{}
	pending   Batch
	scheduled bool // a timer will flush
	urgent    bool // a write was started for MaxPending
	closed    bool // Close was called: record directly

	// flushMu keeps writes in order (unanswered texts keep their order).
	flushMu sync.Mutex
}

type qBatchKey struct {
	QKey
	day string
}

type activeBatchKey struct{ user, day string }

var _ Store = (*Batcher)(nil)

// NewBatcher returns a Batcher writing to inner.
func NewBatcher(inner BatchStore, opt BatcherOptions) *Batcher {
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = DefaultFlushEvery
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 10000
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 5 * time.Second
	}
	return &Batcher{inner: inner, opt: opt, questions: map[qBatchKey]int{}, active: map[activeBatchKey]struct{}{}}
}

// add runs fn under the lock to collect a recording, unless the Batcher
// is closed (direct is then used) or full.
func (b *Batcher) add(ctx context.Context, fn func(), direct func(context.Context) error) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return direct(ctx)
	}
	n := b.pending.Len()
	if n >= 10*b.opt.MaxPending {
		b.mu.Unlock()
		return ErrBatchFull
	}
	fn()
	if !b.scheduled {
		b.scheduled = true
		time.AfterFunc(b.opt.FlushEvery, b.flushInBackground)
	}
	if n+1 >= b.opt.MaxPending && !b.urgent {
		b.urgent = true
		go b.flushInBackground()
	}
	b.mu.Unlock()
	return nil
}

// Question implements Recorder: counted in memory.
func (b *Batcher) Question(ctx context.Context, q Q) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("monitor: question: %w", err)
	}
	k := qBatchKey{QKey{Topic: q.Topic, District: q.District, Lang: q.Lang, Answered: q.Answered}, DayKey(q.Day)}
	return b.add(ctx, func() {
		if i, ok := b.questions[k]; ok {
			b.pending.Questions[i].N++
			return
		}
		b.questions[k] = len(b.pending.Questions)
		b.pending.Questions = append(b.pending.Questions, QCount{Q: q, N: 1})
	}, func(ctx context.Context) error { return b.inner.Question(ctx, q) })
}

// Active implements Recorder: kept in memory, each user once a day.
func (b *Batcher) Active(ctx context.Context, user string, at time.Time) error {
	if user == "" {
		return fmt.Errorf("monitor: active: empty user: %w", ErrInvalid)
	}
	k := activeBatchKey{user, DayKey(at)}
	return b.add(ctx, func() {
		if _, ok := b.active[k]; ok {
			return
		}
		b.active[k] = struct{}{}
		b.pending.Active = append(b.pending.Active, ActiveMark{User: user, At: at})
	}, func(ctx context.Context) error { return b.inner.Active(ctx, user, at) })
}

// Unanswered implements Recorder: kept in memory, cleaned.
func (b *Batcher) Unanswered(ctx context.Context, text, lang string, at time.Time) error {
	if !ValidDim(lang) {
		return fmt.Errorf("monitor: unanswered: language is not a short id: %w", ErrInvalid)
	}
	clean := CleanText(text)
	if clean == "" {
		return nil
	}
	return b.add(ctx, func() {
		b.pending.Unanswered = append(b.pending.Unanswered, UnansweredMark{Text: clean, Lang: lang, At: at})
	}, func(ctx context.Context) error { return b.inner.Unanswered(ctx, text, lang, at) })
}

// Ticket implements Recorder: written at once.
func (b *Batcher) Ticket(ctx context.Context, ev TicketEvent) error { return b.inner.Ticket(ctx, ev) }

// Reminder implements Recorder: written at once.
func (b *Batcher) Reminder(ctx context.Context, n int, at time.Time) error {
	return b.inner.Reminder(ctx, n, at)
}

// Broadcast implements Recorder: written at once.
func (b *Batcher) Broadcast(ctx context.Context, delivered, blocked, failed int, at time.Time) error {
	return b.inner.Broadcast(ctx, delivered, blocked, failed, at)
}

// Figures implements Reader, after writing what was collected.
func (b *Batcher) Figures(ctx context.Context, from, to time.Time) (Figures, error) {
	b.flushReporting(ctx)
	return b.inner.Figures(ctx, from, to)
}

// UnansweredTexts implements Reader, after writing what was collected.
func (b *Batcher) UnansweredTexts(ctx context.Context, from, to time.Time) ([]Unanswered, error) {
	b.flushReporting(ctx)
	return b.inner.UnansweredTexts(ctx, from, to)
}

// flushReporting writes what was collected before a read; a failure is
// reported as any other, and the read goes on.
func (b *Batcher) flushReporting(ctx context.Context) {
	if n, err := b.Flush(ctx); err != nil && b.opt.OnError != nil {
		b.opt.OnError(err, n)
	}
}

// flushInBackground is a timer's or a full buffer's write.
func (b *Batcher) flushInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), b.opt.WriteTimeout)
	defer cancel()
	b.flushReporting(ctx)
}

// Flush writes what was collected now. On error the batch is dropped
// and n is how many items it held.
func (b *Batcher) Flush(ctx context.Context) (n int, err error) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending = Batch{}
	clear(b.questions)
	clear(b.active)
	b.scheduled, b.urgent = false, false
	b.mu.Unlock()
	if batch.Len() == 0 {
		return 0, nil
	}
	if err := b.inner.RecordBatch(ctx, batch); err != nil {
		return batch.Len(), err
	}
	return 0, nil
}

// Close writes what was collected; recordings after it are written one
// by one, so handlers still finishing after an orderly stop began lose
// nothing. The Batcher stays usable.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	_, err := b.Flush(ctx)
	return err
}
