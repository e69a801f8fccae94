package monitor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/monitor"
)

// replaying is a BatchStore on the in-memory monitor: RecordBatch
// replays a batch as single recordings, after gate (if set) lets it.
type replaying struct {
	*memstore.Monitor
	gate    chan struct{}
	fail    error
	mu      sync.Mutex
	batches []monitor.Batch
	written chan struct{} // receives after each batch, if set
}

func (r *replaying) RecordBatch(ctx context.Context, b monitor.Batch) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
	defer func() {
		if r.written != nil {
			r.written <- struct{}{}
		}
	}()
	if r.fail != nil {
		return r.fail
	}
	for _, q := range b.Questions {
		for range q.N {
			if err := r.Question(ctx, q.Q); err != nil {
				return err
			}
		}
	}
	for _, a := range b.Active {
		if err := r.Active(ctx, a.User, a.At); err != nil {
			return err
		}
	}
	for _, u := range b.Unanswered {
		if err := r.Unanswered(ctx, u.Text, u.Lang, u.At); err != nil {
			return err
		}
	}
	return nil
}

func (r *replaying) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

var day = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newReplaying() *replaying {
	return &replaying{Monitor: memstore.NewMonitor(func() time.Time { return day.Add(time.Hour) })}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBatcherAggregates: repeated questions become one count, repeated
// activity of a user on a day one mark, and a read writes the batch first.
func TestBatcherAggregates(t *testing.T) {
	ctx := context.Background()
	inner := newReplaying()
	b := monitor.NewBatcher(inner, monitor.BatcherOptions{FlushEvery: time.Hour})
	q := monitor.Q{Topic: "work", Lang: "ar", Answered: true, Day: day}
	for range 5 {
		mustNil(t, b.Question(ctx, q))
		mustNil(t, b.Active(ctx, "u1", day))
	}
	mustNil(t, b.Active(ctx, "u1", day.AddDate(0, 0, 1)))
	mustNil(t, b.Unanswered(ctx, "call 0171 2345678", "ar", day))
	mustNil(t, b.Unanswered(ctx, " \t ", "ar", day)) // nothing left to keep
	if n := inner.count(); n != 0 {
		t.Fatalf("%d batches written before any flush", n)
	}
	f, err := b.Figures(ctx, day, day)
	mustNil(t, err)
	if n := inner.count(); n != 1 {
		t.Fatalf("%d batches written by a read, want 1", n)
	}
	got := inner.batches[0]
	if len(got.Questions) != 1 || got.Questions[0].N != 5 || len(got.Active) != 2 || len(got.Unanswered) != 1 {
		t.Fatalf("batch = %+v; want one question count of 5, two active marks, one text", got)
	}
	if got.Unanswered[0].Text != "call [Nummer]" {
		t.Errorf("kept text %q, want it cleaned", got.Unanswered[0].Text)
	}
	if len(f.Days) != 1 || f.Days[0].Questions[monitor.QKey{Topic: "work", Lang: "ar", Answered: true}] != 5 {
		t.Errorf("figures after the read: %+v", f)
	}
	if len(f.Weeks) != 1 || f.Weeks[0].Users != 1 {
		t.Errorf("active users: %+v, want 1 in the week", f.Weeks)
	}
	if _, err := b.Figures(ctx, day, day); err != nil || inner.count() != 1 {
		t.Errorf("a read with nothing collected wrote a batch (%d) or failed: %v", inner.count(), err)
	}
}

// TestBatcherInvalid: invalid recordings are refused at once, as by a
// store, and never reach a batch.
func TestBatcherInvalid(t *testing.T) {
	ctx := context.Background()
	b := monitor.NewBatcher(newReplaying(), monitor.BatcherOptions{FlushEvery: time.Hour})
	for name, err := range map[string]error{
		"question":   b.Question(ctx, monitor.Q{Topic: "Wohnung in der Nordstraße 5", Day: day}),
		"active":     b.Active(ctx, "", day),
		"unanswered": b.Unanswered(ctx, "wo?", "de|x", day),
	} {
		if !errors.Is(err, monitor.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n, err := b.Flush(ctx); n != 0 || err != nil {
		t.Errorf("Flush = %d, %v; want nothing to write", n, err)
	}
}

// TestBatcherTimer: what is collected is written without a read, after
// FlushEvery.
func TestBatcherTimer(t *testing.T) {
	inner := newReplaying()
	inner.written = make(chan struct{}, 1)
	b := monitor.NewBatcher(inner, monitor.BatcherOptions{FlushEvery: time.Millisecond})
	mustNil(t, b.Question(context.Background(), monitor.Q{Lang: "de", Day: day}))
	select {
	case <-inner.written:
	case <-time.After(time.Minute):
		t.Fatal("no batch written a minute after FlushEvery")
	}
	f, err := inner.Figures(context.Background(), day, day)
	mustNil(t, err)
	if len(f.Days) != 1 {
		t.Errorf("inner store figures %+v, want the question", f)
	}
}

// TestBatcherFailure: a failed write reports what it lost; a write that
// does not return keeps memory bounded by refusing recordings.
func TestBatcherFailure(t *testing.T) {
	ctx := context.Background()
	inner := newReplaying()
	inner.fail = errors.New("redis down")
	var lost []int
	var mu sync.Mutex
	b := monitor.NewBatcher(inner, monitor.BatcherOptions{FlushEvery: time.Hour, OnError: func(_ error, n int) {
		mu.Lock()
		lost = append(lost, n)
		mu.Unlock()
	}})
	mustNil(t, b.Question(ctx, monitor.Q{Lang: "de", Day: day}))
	mustNil(t, b.Active(ctx, "u1", day))
	if n, err := b.Flush(ctx); n != 2 || err == nil {
		t.Errorf("Flush = %d, %v; want 2 lost and the error", n, err)
	}
	if _, err := b.Figures(ctx, day, day); err != nil {
		t.Errorf("a read after a failed write: %v", err)
	}

	stuck := newReplaying()
	stuck.gate = make(chan struct{})
	const maxPending = 4
	sb := monitor.NewBatcher(stuck, monitor.BatcherOptions{FlushEvery: time.Hour, MaxPending: maxPending})
	var full error
	for i := range 100 * maxPending {
		if err := sb.Question(ctx, monitor.Q{Lang: "de", Day: day.Add(time.Duration(i) * 24 * time.Hour)}); err != nil {
			full = err
			break
		}
	}
	close(stuck.gate) // let the stuck writes finish
	if !errors.Is(full, monitor.ErrBatchFull) {
		t.Errorf("with writes stuck, recording went on (err %v); want ErrBatchFull", full)
	}
}

// TestBatcherClose: Close writes what was collected, and later
// recordings go straight to the store.
func TestBatcherClose(t *testing.T) {
	ctx := context.Background()
	inner := newReplaying()
	b := monitor.NewBatcher(inner, monitor.BatcherOptions{FlushEvery: time.Hour})
	mustNil(t, b.Question(ctx, monitor.Q{Lang: "de", Day: day}))
	mustNil(t, b.Close(ctx))
	mustNil(t, b.Question(ctx, monitor.Q{Lang: "uk", Day: day}))
	mustNil(t, b.Unanswered(ctx, "де курси?", "uk", day))
	if n := inner.count(); n != 1 {
		t.Errorf("%d batches, want 1 (Close's)", n)
	}
	f, err := inner.Figures(ctx, day, day)
	mustNil(t, err)
	if len(f.Days) != 1 || len(f.Days[0].Questions) != 2 {
		t.Errorf("inner store after Close: %+v; want both questions", f)
	}
	if us, err := inner.UnansweredTexts(ctx, day, day); err != nil || len(us) != 1 {
		t.Errorf("unanswered after Close: %v, %v", us, err)
	}
}
