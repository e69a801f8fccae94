package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// NewOutboxFunc builds a fresh, empty outbox on the real clock (leases
// are measured by the store's own clock, e.g. Redis').
type NewOutboxFunc func(t *testing.T) bot.Outbox

// RunOutbox runs the conformance suite for bot.Outbox. If the outbox
// also implements Dumper, it is checked to keep no personal data after
// entries are settled or forgotten.
func RunOutbox(t *testing.T, newOutbox NewOutboxFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, *oenv)
	}{
		{"RoundTrip", testOutboxRoundTrip},
		{"Idempotent", testOutboxIdempotent},
		{"OrderPerChat", testOutboxOrder},
		{"SettledNeverAgain", testOutboxSettled},
		{"Lease", testOutboxLease},
		{"LeaseExpiryRedelivered", testOutboxLeaseExpiry},
		{"OtherConsumersEntries", testOutboxConsumers},
		{"Forget", testOutboxForget},
		{"Invalid", testOutboxInvalid},
		{"ConcurrentExactlyOnce", testOutboxConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &oenv{t: t, ob: newOutbox(t), ctx: context.Background()})
		})
	}
}

type oenv struct {
	t   *testing.T
	ob  bot.Outbox
	ctx context.Context
}

func entry(id, order string, chat int64, user bot.UserKey, text string) bot.OutboxEntry {
	return bot.OutboxEntry{ID: id, Order: order, Ref: "K-7F3Q", Link: true, User: user,
		Msg: bot.Outgoing{ChatID: chat, Text: text}}
}

func (e *oenv) mustEnqueue(entries ...bot.OutboxEntry) {
	e.t.Helper()
	if err := e.ob.EnqueueOutbox(e.ctx, entries...); err != nil {
		e.t.Fatalf("EnqueueOutbox: %v", err)
	}
}

func (e *oenv) mustFetch(consumer string, want ...string) []bot.OutboxItem {
	e.t.Helper()
	items, err := e.ob.FetchOutbox(e.ctx, consumer, 100, 0)
	if err != nil {
		e.t.Fatalf("FetchOutbox: %v", err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		e.t.Fatalf("FetchOutbox(%s) = %v, want %v", consumer, ids, want)
	}
	return items
}

func (e *oenv) mustTake(consumer string, it bot.OutboxItem, lease time.Duration, want bot.TakeStatus) bot.OutboxEntry {
	e.t.Helper()
	got, st, err := e.ob.TakeOutbox(e.ctx, consumer, it, lease)
	if err != nil {
		e.t.Fatalf("TakeOutbox(%s): %v", it.ID, err)
	}
	if st != want {
		e.t.Fatalf("TakeOutbox(%s) by %s = %d, want %d", it.ID, consumer, st, want)
	}
	return got
}

func (e *oenv) mustSettle(it bot.OutboxItem, how bot.Settlement) {
	e.t.Helper()
	if err := e.ob.SettleOutbox(e.ctx, it, how); err != nil {
		e.t.Fatalf("SettleOutbox(%s): %v", it.ID, err)
	}
}

func (e *oenv) mustNoPersonal(secrets ...string) {
	e.t.Helper()
	d, ok := e.ob.(Dumper)
	if !ok {
		return
	}
	dump, err := d.Dump(e.ctx)
	if err != nil {
		e.t.Fatalf("Dump: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			e.t.Errorf("store still holds %q:\n%s", s, dump)
		}
	}
}

const obLease = time.Minute

func testOutboxRoundTrip(t *testing.T, e *oenv) {
	want := bot.OutboxEntry{ID: "new:K-7F3Q", Order: "c1", Ref: "K-7F3Q", Link: true, User: user(1),
		Msg: bot.Outgoing{ChatID: -1001, Text: "Text ‮ mit\nZeilen", RTL: true,
			Buttons: [][]bot.Button{{{Text: "Übernehmen", Data: "~AAAAAAAAAAAAAAAA"}}}},
		Queued: Epoch.UTC()}
	file := bot.OutboxEntry{ID: "new:K-7F3Q:f0", Order: "c1", Ref: "K-7F3Q", Link: true,
		Msg: bot.Outgoing{ChatID: -1001, File: &bot.FileRef{Kind: bot.AttachPhoto, FileID: "AgAD", Caption: "K-7F3Q"}}, Queued: Epoch}
	e.mustEnqueue(want, file)
	items := e.mustFetch("a", want.ID, file.ID)
	got := e.mustTake("a", items[0], obLease, bot.TakeReady)
	got.Queued = got.Queued.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TakeOutbox = %+v, want %+v", got, want)
	}
	e.mustSettle(items[0], bot.Delivered)
	got = e.mustTake("a", items[1], obLease, bot.TakeReady)
	if got.Msg.File == nil || *got.Msg.File != *file.Msg.File {
		t.Errorf("file entry = %+v", got.Msg)
	}
}

func testOutboxIdempotent(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("ans:K-7F3Q:1", "c1", 5, user(1), "a"))
	e.mustEnqueue(entry("ans:K-7F3Q:1", "c1", 5, user(1), "a"), entry("ans:K-7F3Q:2", "c1", 5, user(1), "b"))
	e.mustFetch("a", "ans:K-7F3Q:1", "ans:K-7F3Q:2")
}

func testOutboxOrder(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("a1", "ca", 1, "", "1"), entry("b1", "cb", 2, "", "1"), entry("a2", "ca", 1, "", "2"))
	items := e.mustFetch("x", "a1", "b1", "a2")
	e.mustTake("x", items[2], obLease, bot.TakeWait) // a1 first
	e.mustTake("x", items[1], obLease, bot.TakeReady)
	e.mustTake("x", items[0], obLease, bot.TakeReady)
	// Failing a1 keeps a2 waiting.
	if err := e.ob.ReleaseOutbox(e.ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	e.mustTake("x", items[2], obLease, bot.TakeWait)
	e.mustTake("x", items[0], obLease, bot.TakeReady)
	e.mustSettle(items[0], bot.Dropped)
	e.mustTake("x", items[2], obLease, bot.TakeReady)
}

func testOutboxSettled(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, user(1), secretText(1)))
	items := e.mustFetch("a", "x1")
	e.mustTake("a", items[0], obLease, bot.TakeReady)
	e.mustSettle(items[0], bot.Delivered)
	e.mustFetch("a")
	e.mustFetch("b")
	e.mustTake("a", items[0], obLease, bot.TakeGone)
	e.mustEnqueue(entry("x1", "c1", 1, user(1), secretText(1)))
	e.mustFetch("a")
	e.mustNoPersonal(secretText(1))
}

func testOutboxLease(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, "", "t"))
	items := e.mustFetch("a", "x1")
	e.mustTake("a", items[0], obLease, bot.TakeReady)
	e.mustTake("b", items[0], obLease, bot.TakeWait)
	if err := e.ob.ReleaseOutbox(e.ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	if got := e.mustTake("b", items[0], obLease, bot.TakeReady); got.Redelivered {
		t.Error("a released entry counts as redelivered")
	}
}

func testOutboxLeaseExpiry(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, "", "t"))
	items := e.mustFetch("a", "x1")
	if got := e.mustTake("a", items[0], 50*time.Millisecond, bot.TakeReady); got.Redelivered {
		t.Error("first take counts as redelivered")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, st, err := e.ob.TakeOutbox(e.ctx, "b", items[0], lease)
		if err != nil {
			t.Fatal(err)
		}
		if st == bot.TakeReady {
			if !got.Redelivered {
				t.Error("entry taken over after an expired obLease is not marked redelivered")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("obLease never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testOutboxConsumers(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, "", "t"), entry("x2", "c2", 2, "", "t"))
	e.mustFetch("a", "x1", "x2")
	// b is not given a live consumer's entries; a gets them again.
	e.mustFetch("b")
	e.mustFetch("a", "x1", "x2")
	e.mustEnqueue(entry("x3", "c3", 3, "", "t"))
	e.mustFetch("b", "x3")
}

func testOutboxForget(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, user(1), secretText(1)), entry("x2", "c1", 1, user(2), secretText(2)),
		entry("x3", "c1", 1, user(1), secretText(3)))
	if _, err := e.ob.ForgetOutbox(e.ctx, user(1)); err != nil {
		t.Fatal(err)
	}
	e.mustNoPersonal(secretText(1), secretText(3))
	items, err := e.ob.FetchOutbox(e.ctx, "a", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, it := range items {
		switch it.ID {
		case "x2":
			// Not blocked by the forgotten x1 before it.
			got := e.mustTake("a", it, obLease, bot.TakeReady)
			if got.Msg.Text != secretText(2) {
				t.Errorf("x2 text = %q", got.Msg.Text)
			}
			e.mustSettle(it, bot.Delivered)
			delivered++
		default:
			e.mustTake("a", it, obLease, bot.TakeGone)
		}
	}
	if delivered != 1 {
		t.Errorf("delivered %d of the other user's entries, want 1", delivered)
	}
	e.mustFetch("a")
	if _, err := e.ob.ForgetOutbox(e.ctx, user(9)); err != nil {
		t.Errorf("forgetting a user without entries: %v", err)
	}
}

func testOutboxInvalid(t *testing.T, e *oenv) {
	for name, en := range map[string]bot.OutboxEntry{
		"no id":    entry("", "c1", 1, "", "t"),
		"no order": entry("x", "", 1, "", "t"),
		"no chat":  entry("x", "c1", 0, "", "t"),
		"long id":  entry(strings.Repeat("x", 300), "c1", 1, "", "t"),
		"brace id": entry("x{1}", "c1", 1, "", "t"),
	} {
		if err := e.ob.EnqueueOutbox(e.ctx, en); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	e.mustFetch("a")
}

// testOutboxConcurrent: dispatchers racing over the same entries deliver
// each exactly once, and each chat's entries in order.
func testOutboxConcurrent(t *testing.T, e *oenv) {
	const chats, per, workers = 8, 12, 6
	for i := 0; i < per; i++ {
		for c := 0; c < chats; c++ {
			e.mustEnqueue(entry(fmt.Sprintf("m:%d:%d", c, i), fmt.Sprintf("c%d", c), int64(c+1), "", fmt.Sprint(i)))
		}
	}
	var (
		mu    sync.Mutex
		seen  = map[string]int{}
		order = map[int64][]string{}
		done  atomic.Int64
	)
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		consumer := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for done.Load() < chats*per && ctx.Err() == nil {
				items, err := e.ob.FetchOutbox(ctx, consumer, 20, 10*time.Millisecond)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("FetchOutbox: %v", err)
					}
					return
				}
				for _, it := range items {
					got, st, err := e.ob.TakeOutbox(ctx, consumer, it, lease)
					if err != nil || st != bot.TakeReady {
						continue
					}
					mu.Lock()
					seen[it.ID]++
					order[got.Msg.ChatID] = append(order[got.Msg.ChatID], got.Msg.Text)
					mu.Unlock()
					if err := e.ob.SettleOutbox(ctx, it, bot.Delivered); err != nil {
						t.Errorf("SettleOutbox: %v", err)
						return
					}
					done.Add(1)
				}
				// Another consumer's entries pass over only when it is
				// idle; a worker without own entries leaves them be.
				if len(items) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := done.Load(); n != chats*per {
		t.Fatalf("delivered %d of %d", n, chats*per)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	for c, texts := range order {
		for i, s := range texts {
			if s != fmt.Sprint(i) {
				t.Errorf("chat %d got %v, want 0..%d in order", c, texts, per-1)
				break
			}
		}
	}
}
