package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
		{"LeasedChatNotDue", testOutboxConsumers},
		{"Renew", testOutboxRenew},
		{"DeadConsumerTakenOver", testOutboxDeadConsumer},
		{"ReleaseAfter", testOutboxReleaseAfter},
		{"QueueTurn", testOutboxQueueTurn},
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

// mustFetch fetches and checks that the items are want, in any order
// across chats but in queue order within each; it returns them in the
// order of want.
func (e *oenv) mustFetch(consumer string, want ...string) []bot.OutboxItem {
	e.t.Helper()
	items, err := e.ob.FetchOutbox(e.ctx, consumer, 100, 0)
	if err != nil {
		e.t.Fatalf("FetchOutbox: %v", err)
	}
	byID := map[string]bot.OutboxItem{}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
		byID[it.ID] = it
	}
	out := make([]bot.OutboxItem, 0, len(want))
	for _, id := range want {
		it, ok := byID[id]
		if !ok {
			e.t.Fatalf("FetchOutbox(%s) = %v, want %v", consumer, ids, want)
		}
		out = append(out, it)
	}
	if len(items) != len(want) {
		e.t.Fatalf("FetchOutbox(%s) = %v, want %v", consumer, ids, want)
	}
	pos := map[string]int{}
	for _, it := range items {
		if p, ok := pos[it.Order]; ok && slices.Index(want, it.ID) < p {
			e.t.Fatalf("FetchOutbox(%s) = %v: chat %s out of queue order (want %v)", consumer, ids, it.Order, want)
		}
		pos[it.Order] = slices.Index(want, it.ID)
	}
	return out
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
	if err := e.ob.ReleaseOutbox(e.ctx, "x", items[0], 0); err != nil {
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
	// A release by another consumer leaves the lease alone.
	if err := e.ob.ReleaseOutbox(e.ctx, "b", items[0], 0); err != nil {
		t.Fatal(err)
	}
	e.mustTake("b", items[0], obLease, bot.TakeWait)
	if err := e.ob.ReleaseOutbox(e.ctx, "a", items[0], 0); err != nil {
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

// testOutboxConsumers: a chat whose head is leased is not due for
// anybody; the others are due for every consumer.
func testOutboxConsumers(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, "", "t"), entry("x2", "c2", 2, "", "t"), entry("y1", "c1", 1, "", "t"))
	items := e.mustFetch("a", "x1", "y1", "x2")
	e.mustTake("a", items[0], obLease, bot.TakeReady)
	e.mustFetch("b", "x2")
	e.mustFetch("a", "x2")
	e.mustEnqueue(entry("x3", "c3", 3, "", "t"))
	e.mustFetch("b", "x2", "x3")
	e.mustSettle(items[0], bot.Delivered)
	e.mustFetch("b", "y1", "x2", "x3")
}

// testOutboxRenew: a renewed lease keeps others out past its first end;
// only its holder can renew it.
func testOutboxRenew(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("x1", "c1", 1, "", "t"))
	items := e.mustFetch("a", "x1")
	const short = 300 * time.Millisecond
	e.mustTake("a", items[0], short, bot.TakeReady)
	if ok, err := e.ob.RenewOutbox(e.ctx, "b", items[0], obLease); err != nil || ok {
		t.Fatalf("RenewOutbox by another consumer = %v, %v; want false", ok, err)
	}
	if ok, err := e.ob.RenewOutbox(e.ctx, "a", items[0], obLease); err != nil || !ok {
		t.Fatalf("RenewOutbox by the holder = %v, %v; want true", ok, err)
	}
	time.Sleep(2 * short) // past the first lease's end
	e.mustTake("b", items[0], obLease, bot.TakeWait)
	e.mustFetch("b")
}

// testOutboxDeadConsumer: a consumer that took an entry and died holds
// its chat only until the lease ends; then the chat is due again and the
// entry is taken over, marked redelivered. A consumer holding many of
// the chat's later entries (and many other chats') sees it: nothing it
// holds keeps it from fetching the dead one's head.
func testOutboxDeadConsumer(t *testing.T, e *oenv) {
	e.mustEnqueue(entry("d:0", "cd", 1, "", "0"))
	head := e.mustFetch("dead", "d:0")
	e.mustTake("dead", head[0], 200*time.Millisecond, bot.TakeReady)
	var more []bot.OutboxEntry
	for i := 1; i <= 70; i++ {
		more = append(more, entry(fmt.Sprintf("d:%d", i), "cd", 1, "", fmt.Sprint(i)),
			entry(fmt.Sprintf("o:%d", i), fmt.Sprintf("co%d", i), int64(100+i), "", "x"))
	}
	e.mustEnqueue(more...)
	sent := map[string]bool{}
	var texts []string
	deadline := time.Now().Add(10 * time.Second)
	for len(sent) < 141 {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of 141 entries; chat cd got %v", len(sent), texts)
		}
		items, err := e.ob.FetchOutbox(e.ctx, "a", 64, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got, st, err := e.ob.TakeOutbox(e.ctx, "a", it, obLease)
			if err != nil {
				t.Fatal(err)
			}
			if st != bot.TakeReady {
				continue
			}
			if it.ID == "d:0" && !got.Redelivered {
				t.Error("the dead consumer's entry is not marked redelivered")
			}
			if sent[it.ID] {
				t.Fatalf("%s delivered twice", it.ID)
			}
			sent[it.ID] = true
			if it.Order == "cd" {
				texts = append(texts, got.Msg.Text)
			}
			e.mustSettle(it, bot.Delivered)
		}
	}
	for i, s := range texts {
		if s != fmt.Sprint(i) {
			t.Fatalf("chat cd got %v, want 0..70 in order", texts)
		}
	}
}

// testOutboxReleaseAfter: a chat put back (paced, or failing) is not due
// until its retry time and holds no other chat, however many entries it
// has; entries queued after it are fetched at once.
func testOutboxReleaseAfter(t *testing.T, e *oenv) {
	var slow []bot.OutboxEntry
	for i := range 200 {
		slow = append(slow, entry(fmt.Sprintf("g:%d", i), "cg", -100, "", fmt.Sprint(i)))
	}
	e.mustEnqueue(slow...)
	items, err := e.ob.FetchOutbox(e.ctx, "a", 64, 0)
	if err != nil || len(items) == 0 || items[0].ID != "g:0" {
		t.Fatalf("FetchOutbox = %v, %v; want the group chat's head first", items, err)
	}
	e.mustTake("a", items[0], obLease, bot.TakeReady)
	if err := e.ob.ReleaseOutbox(e.ctx, "a", items[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	e.mustEnqueue(entry("p:1", "cp", 7, "", "x"))
	e.mustFetch("a", "p:1")
	e.mustFetch("b", "p:1")
	if err := e.ob.ReleaseOutbox(e.ctx, "a", items[0], 0); err != nil {
		t.Fatal(err)
	}
	got, err := e.ob.FetchOutbox(e.ctx, "a", 64, 0)
	if err != nil || len(got) < 2 {
		t.Fatalf("FetchOutbox after the retry time = %v, %v; want both chats", got, err)
	}
}

// testOutboxQueueTurn: QueueTurn queues like EnqueueOutbox, skips what an
// earlier attempt at the turn sent before the part it queued, and marks
// the update done (with the session) in the same step where the outbox is
// also the UpdateClaimer.
func testOutboxQueueTurn(t *testing.T, e *oenv) {
	tq, ok := e.ob.(bot.TurnQueuer)
	if !ok {
		t.Skip("not a TurnQueuer")
	}
	u := user(3)
	reply := []bot.OutboxEntry{entry("pace:r:0:u7", "c1", 1, u, "0"), entry("pace:r:1:u7", "c1", 1, u, "1"),
		entry("pace:r:2:u7", "c1", 1, u, "2")}
	sess := bot.Session{Lang: "uk", State: "s1", Paced: Epoch, Updated: Epoch}
	qt := bot.QueuedTurn{UpdateID: 7007, DoneTTL: time.Hour, User: u, Session: &sess, SessionTTL: time.Hour}
	// The first attempt sent message 0 directly and queued 1 and 2.
	if err := tq.QueueTurn(e.ctx, qt, reply[1:]...); err != nil {
		t.Fatal(err)
	}
	if c, ok := e.ob.(bot.UpdateClaimer); ok {
		claim, _, err := c.BeginClaim(e.ctx, 7007, time.Minute, u)
		if err != nil || claim != bot.ClaimDone {
			t.Errorf("BeginClaim after QueueTurn = %v, %v; want ClaimDone", claim, err)
		}
		if st, ok := e.ob.(bot.Store); ok {
			got, err := st.Session(e.ctx, u)
			if err != nil || got.State != "s1" || !got.Paced.Equal(Epoch) {
				t.Errorf("session after QueueTurn = %+v, %v; want state s1, paced", got, err)
			}
		}
	}
	// A second attempt queues the whole reply: nothing new.
	if err := tq.QueueTurn(e.ctx, qt, reply...); err != nil {
		t.Fatal(err)
	}
	e.mustFetch("a", "pace:r:1:u7", "pace:r:2:u7")
	if err := tq.QueueTurn(e.ctx, qt, entry("", "c1", 1, u, "x")); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("QueueTurn of an invalid entry = %v, want ErrInvalid", err)
	}
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
