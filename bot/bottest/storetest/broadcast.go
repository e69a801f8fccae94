package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/broadcast"
)

// NewBroadcastStoreFunc builds a fresh, empty broadcast store whose
// clock is now.
type NewBroadcastStoreFunc func(t *testing.T, now func() time.Time) broadcast.Store

// RunBroadcasts runs the conformance suite for broadcast.Store. Each
// subtest gets a fresh store and clock; Advancer is used as in Run.
func RunBroadcasts(t *testing.T, newStore NewBroadcastStoreFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *benv {
		return &benv{storeEnv: newStoreEnv(t, clk, newStore)}
	}, []suiteTest[*benv]{
		{"RoundTrip", testBcRoundTrip},
		{"Invalid", testBcInvalid},
		{"States", testBcStates},
		{"Enqueue/Dedup", testBcEnqueue},
		{"Claim/FinishOnce", testBcClaimFinish},
		{"Claim/LeaseExpiry", testBcLeaseExpiry},
		{"Release", testBcRelease},
		{"Cancel", testBcCancel},
		{"Milestone", testBcMilestone},
		{"Expiry", testBcExpiry},
		{"Claim/Concurrent", testBcConcurrent},
	})
}

// benv is one subtest's broadcast store and clock.
type benv struct {
	storeEnv[broadcast.Store]
	seq int
}

const bcTTL = 30 * 24 * time.Hour

// mustDraft creates a valid draft and returns it.
func (e *benv) mustDraft() broadcast.Broadcast {
	e.t.Helper()
	e.seq++
	b := broadcast.Broadcast{
		ID: fmt.Sprintf("%016x", 0xb0000+e.seq), Author: 4242,
		Audience: broadcast.Audience{District: "nord", Role: broadcast.RoleVolunteer, Topic: "schule", Langs: []string{"de", "uk"}},
		Texts:    map[string]string{"de": "Runder Tisch <b>*Mittwoch*</b> & [Café]", "uk": "Круглий стіл у середу"},
		State:    broadcast.Draft, Created: e.clk.Now().Truncate(time.Millisecond),
	}
	if err := e.s.Create(e.ctx, b, bcTTL); err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	return b
}

func (e *benv) mustState(id string, from, to broadcast.State) broadcast.Broadcast {
	e.t.Helper()
	b, err := e.s.SetState(e.ctx, id, from, to, e.clk.Now())
	if err != nil {
		e.t.Fatalf("SetState(%s → %s): %v", from, to, err)
	}
	if b.State != to {
		e.t.Fatalf("SetState(%s → %s) returned state %s", from, to, b.State)
	}
	return b
}

// mustSending returns a broadcast in state Sending with recipients
// 1..n (language "de").
func (e *benv) mustSending(n int) broadcast.Broadcast {
	e.t.Helper()
	b := e.mustDraft()
	e.mustState(b.ID, broadcast.Draft, broadcast.Confirmed)
	rs := make([]broadcast.Recipient, n)
	for i := range rs {
		rs[i] = broadcast.Recipient{ChatID: int64(i + 1), Lang: "de"}
	}
	if n > 0 {
		if added, err := e.s.Enqueue(e.ctx, b.ID, rs); err != nil || added != n {
			e.t.Fatalf("Enqueue = %d, %v; want %d", added, err, n)
		}
	}
	return e.mustState(b.ID, broadcast.Confirmed, broadcast.Sending)
}

func (e *benv) mustGet(id string) broadcast.Broadcast {
	e.t.Helper()
	b, err := e.s.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", id, err)
	}
	return b
}

func (e *benv) mustClaim(id string, n int, lease time.Duration) ([]broadcast.Recipient, broadcast.ClaimStatus) {
	e.t.Helper()
	rs, st, err := e.s.Claim(e.ctx, id, e.clk.Now(), lease, n)
	if err != nil {
		e.t.Fatalf("Claim: %v", err)
	}
	return rs, st
}

func (e *benv) mustFinish(id string, r broadcast.Recipient, o broadcast.Outcome, wantCounted bool) {
	e.t.Helper()
	counted, _, _, err := e.s.Finish(e.ctx, id, r, o)
	if err != nil {
		e.t.Fatalf("Finish(%d): %v", r.ChatID, err)
	}
	if counted != wantCounted {
		e.t.Fatalf("Finish(%d) counted = %v, want %v", r.ChatID, counted, wantCounted)
	}
}

func (e *benv) mustActive(want ...string) {
	e.t.Helper()
	got, err := e.s.Active(e.ctx)
	if err != nil {
		e.t.Fatalf("Active: %v", err)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		e.t.Fatalf("Active = %v, want %v", got, want)
	}
}

func chats(rs []broadcast.Recipient) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ChatID
	}
	return out
}

func testBcRoundTrip(t *testing.T, e *benv) {
	b := e.mustDraft()
	got := e.mustGet(b.ID)
	if got.ID != b.ID || got.Author != b.Author || !reflect.DeepEqual(got.Audience, b.Audience) ||
		!reflect.DeepEqual(got.Texts, b.Texts) || !got.Created.Equal(b.Created) {
		t.Fatalf("Get = %+v, want %+v", got, b)
	}
	if got.State != broadcast.Draft || got.Tally != (broadcast.Tally{}) || !got.Started.IsZero() || !got.Finished.IsZero() {
		t.Fatalf("new broadcast: state %s, tally %+v, started %v, finished %v", got.State, got.Tally, got.Started, got.Finished)
	}
	// The store keeps its own copy.
	b.Texts["de"] = "changed"
	if e.mustGet(b.ID).Texts["de"] == "changed" {
		t.Fatal("store shares the caller's texts map")
	}
	if _, err := e.s.Get(e.ctx, "00000000000000ff"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Get(unknown) err = %v, want ErrNotFound", err)
	}
	e.mustActive()
}

func testBcInvalid(t *testing.T, e *benv) {
	b := e.mustDraft()
	if err := e.s.Create(e.ctx, b, bcTTL); !errors.Is(err, bot.ErrInvalid) {
		t.Fatalf("Create(existing id) err = %v, want ErrInvalid", err)
	}
	bad := map[string]func(*broadcast.Broadcast){
		"id":       func(b *broadcast.Broadcast) { b.ID = "x}{" },
		"author":   func(b *broadcast.Broadcast) { b.Author = 0 },
		"no texts": func(b *broadcast.Broadcast) { b.Texts = nil },
		"blank":    func(b *broadcast.Broadcast) { b.Texts = map[string]string{"de": " \n"} },
		"no fallback": func(b *broadcast.Broadcast) {
			b.Audience.Langs = nil
			b.Texts = map[string]string{"uk": "лише українською"}
		},
		"role": func(b *broadcast.Broadcast) { b.Audience.Role = "staff" },
	}
	for name, mod := range bad {
		c := b
		c.ID = fmt.Sprintf("%016x", 0xc000+len(name))
		c.Texts = map[string]string{"de": "x"}
		c.Audience.Langs = nil
		mod(&c)
		if err := e.s.Create(e.ctx, c, bcTTL); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("Create(%s) err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := e.s.SetState(e.ctx, b.ID, broadcast.Draft, broadcast.Sending, e.clk.Now()); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("SetState(draft → sending) err = %v, want ErrInvalid", err)
	}
}

func testBcStates(t *testing.T, e *benv) {
	b := e.mustDraft()
	if _, err := e.s.SetState(e.ctx, b.ID, broadcast.Confirmed, broadcast.Sending, e.clk.Now()); !errors.Is(err, broadcast.ErrState) {
		t.Fatalf("SetState from the wrong state err = %v, want ErrState", err)
	}
	e.mustState(b.ID, broadcast.Draft, broadcast.Confirmed)
	e.mustActive(b.ID)
	if _, err := e.s.SetState(e.ctx, b.ID, broadcast.Draft, broadcast.Confirmed, e.clk.Now()); !errors.Is(err, broadcast.ErrState) {
		t.Fatalf("confirming twice err = %v, want ErrState", err)
	}
	e.advance(time.Minute)
	s := e.mustState(b.ID, broadcast.Confirmed, broadcast.Sending)
	if !s.Started.Equal(e.clk.Now()) {
		t.Fatalf("Started = %v, want %v", s.Started, e.clk.Now())
	}
	e.mustActive(b.ID)
	e.advance(time.Minute)
	c := e.mustState(b.ID, broadcast.Sending, broadcast.Cancelled)
	if !c.Finished.Equal(e.clk.Now()) {
		t.Fatalf("Finished = %v, want %v", c.Finished, e.clk.Now())
	}
	e.mustActive()
	if _, err := e.s.SetState(e.ctx, "00000000000000ff", broadcast.Draft, broadcast.Confirmed, e.clk.Now()); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("SetState(unknown) err = %v, want ErrNotFound", err)
	}
}

func testBcEnqueue(t *testing.T, e *benv) {
	b := e.mustDraft()
	rs := []broadcast.Recipient{{ChatID: 1, Lang: "de"}, {ChatID: 2, Lang: "uk"}, {ChatID: 2, Lang: "de"}, {ChatID: 3}}
	if _, err := e.s.Enqueue(e.ctx, b.ID, rs); !errors.Is(err, broadcast.ErrState) {
		t.Fatalf("Enqueue(draft) err = %v, want ErrState", err)
	}
	e.mustState(b.ID, broadcast.Draft, broadcast.Confirmed)
	if n, err := e.s.Enqueue(e.ctx, b.ID, rs); err != nil || n != 3 {
		t.Fatalf("Enqueue = %d, %v; want 3 (chat 2 once)", n, err)
	}
	// A snapshot taken again after a crash adds only what is new.
	if n, err := e.s.Enqueue(e.ctx, b.ID, []broadcast.Recipient{{ChatID: 3}, {ChatID: -1004}}); err != nil || n != 1 {
		t.Fatalf("Enqueue again = %d, %v; want 1", n, err)
	}
	if got := e.mustGet(b.ID).Tally; got != (broadcast.Tally{Pending: 4}) {
		t.Fatalf("tally = %+v, want 4 pending", got)
	}
	e.mustState(b.ID, broadcast.Confirmed, broadcast.Sending)
	if _, err := e.s.Enqueue(e.ctx, b.ID, rs); !errors.Is(err, broadcast.ErrState) {
		t.Fatalf("Enqueue(sending) err = %v, want ErrState", err)
	}
	got, _ := e.mustClaim(b.ID, 10, time.Minute)
	langs := map[int64]string{}
	for _, r := range got {
		langs[r.ChatID] = r.Lang
	}
	if want := map[int64]string{1: "de", 2: "uk", 3: "", -1004: ""}; !reflect.DeepEqual(langs, want) {
		t.Fatalf("claimed %v, want %v", langs, want)
	}
}

func testBcClaimFinish(t *testing.T, e *benv) {
	b := e.mustSending(3)
	first, st := e.mustClaim(b.ID, 2, time.Minute)
	if st != broadcast.More || len(first) != 2 {
		t.Fatalf("Claim(2) = %v, %v; want 2 recipients, More", chats(first), st)
	}
	second, st := e.mustClaim(b.ID, 2, time.Minute)
	if st != broadcast.More || len(second) != 1 || second[0].ChatID == first[0].ChatID || second[0].ChatID == first[1].ChatID {
		t.Fatalf("second Claim = %v, %v; want the third recipient", chats(second), st)
	}
	if rs, st := e.mustClaim(b.ID, 2, time.Minute); len(rs) != 0 || st != broadcast.More {
		t.Fatalf("Claim with all in flight = %v, %v; want none, More", chats(rs), st)
	}
	e.mustFinish(b.ID, first[0], broadcast.Delivered, true)
	e.mustFinish(b.ID, first[0], broadcast.Delivered, false)
	e.mustFinish(b.ID, first[1], broadcast.Blocked, true)
	counted, done, total, err := e.s.Finish(e.ctx, b.ID, second[0], broadcast.Failed)
	if err != nil || !counted || done != 3 || total != 3 {
		t.Fatalf("last Finish = %v, %d/%d, %v; want counted, 3/3", counted, done, total, err)
	}
	if got := e.mustGet(b.ID).Tally; got != (broadcast.Tally{Delivered: 1, Blocked: 1, Failed: 1}) {
		t.Fatalf("tally = %+v", got)
	}
	e.advance(time.Second)
	if _, st := e.mustClaim(b.ID, 2, time.Minute); st != broadcast.Finished {
		t.Fatalf("Claim after the last = %v, want Finished", st)
	}
	if _, st := e.mustClaim(b.ID, 2, time.Minute); st != broadcast.Stopped {
		t.Fatalf("Claim after Finished = %v, want Stopped", st)
	}
	got := e.mustGet(b.ID)
	if got.State != broadcast.Done || !got.Finished.Equal(e.clk.Now()) {
		t.Fatalf("state %s finished %v, want done at %v", got.State, got.Finished, e.clk.Now())
	}
	e.mustActive()
}

func testBcLeaseExpiry(t *testing.T, e *benv) {
	b := e.mustSending(2)
	a, _ := e.mustClaim(b.ID, 1, time.Minute)
	e.advance(59 * time.Second)
	if rs, _ := e.mustClaim(b.ID, 1, time.Minute); len(rs) != 1 || rs[0] == a[0] {
		t.Fatalf("Claim before the lease expired = %v; want the other recipient", chats(rs))
	}
	e.advance(2 * time.Second)
	again, _ := e.mustClaim(b.ID, 1, time.Minute)
	if len(again) != 1 || again[0] != a[0] {
		t.Fatalf("Claim after the lease expired = %v, want %v", chats(again), chats(a))
	}
	// The first worker was only slow: its outcome counts once, and the
	// recipient is not claimed again.
	e.mustFinish(b.ID, a[0], broadcast.Delivered, true)
	e.mustFinish(b.ID, again[0], broadcast.Delivered, false)
	e.advance(2 * time.Minute)
	rs, _ := e.mustClaim(b.ID, 5, time.Minute)
	for _, r := range rs {
		if r == a[0] {
			t.Fatalf("finished recipient %d claimed again", r.ChatID)
		}
	}
	if got := e.mustGet(b.ID).Tally; got.Delivered != 1 || got.Pending != 1 {
		t.Fatalf("tally = %+v, want 1 delivered, 1 pending", got)
	}
}

func testBcRelease(t *testing.T, e *benv) {
	b := e.mustSending(2)
	rs, _ := e.mustClaim(b.ID, 1, time.Minute)
	r := rs[0]
	if n, err := e.s.Release(e.ctx, b.ID, r, e.clk.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v; want 1", n, err)
	}
	other, _ := e.mustClaim(b.ID, 5, time.Hour)
	if len(other) != 1 || other[0] == r {
		t.Fatalf("Claim before due = %v, want only the other recipient", chats(other))
	}
	e.advance(time.Minute)
	back, _ := e.mustClaim(b.ID, 5, time.Minute)
	if len(back) != 1 || back[0] != r {
		t.Fatalf("Claim when due = %v, want %v", chats(back), r.ChatID)
	}
	if n, err := e.s.Release(e.ctx, b.ID, r, e.clk.Now()); err != nil || n != 2 {
		t.Fatalf("second Release = %d, %v; want 2", n, err)
	}
	back, _ = e.mustClaim(b.ID, 5, time.Minute)
	e.mustFinish(b.ID, back[0], broadcast.Delivered, true)
	// Releasing a finished recipient does not queue it again.
	if _, err := e.s.Release(e.ctx, b.ID, r, e.clk.Now()); err != nil {
		t.Fatalf("Release(finished): %v", err)
	}
	if rs, _ := e.mustClaim(b.ID, 5, time.Minute); len(rs) != 0 {
		t.Fatalf("finished recipient queued again: %v", chats(rs))
	}
}

func testBcCancel(t *testing.T, e *benv) {
	b := e.mustSending(5)
	rs, _ := e.mustClaim(b.ID, 2, time.Minute)
	e.mustFinish(b.ID, rs[0], broadcast.Delivered, true)
	e.mustState(b.ID, broadcast.Sending, broadcast.Cancelled)
	if got, st := e.mustClaim(b.ID, 5, time.Minute); st != broadcast.Stopped || len(got) != 0 {
		t.Fatalf("Claim after cancel = %v, %v; want Stopped", chats(got), st)
	}
	// A send in flight at the cancellation still counts.
	e.mustFinish(b.ID, rs[1], broadcast.Delivered, true)
	got := e.mustGet(b.ID)
	if got.State != broadcast.Cancelled || got.Tally != (broadcast.Tally{Delivered: 2, Pending: 3}) {
		t.Fatalf("after cancel: %s %+v, want cancelled, 2 delivered, 3 pending", got.State, got.Tally)
	}
	if _, err := e.s.SetState(e.ctx, b.ID, broadcast.Cancelled, broadcast.Cancelled, e.clk.Now()); err == nil {
		t.Fatal("cancelling a cancelled broadcast succeeded")
	}
	e.mustActive()
}

func testBcMilestone(t *testing.T, e *benv) {
	b := e.mustDraft()
	for i, c := range []struct {
		step int
		want bool
	}{{10, true}, {10, false}, {5, false}, {30, true}, {100, true}, {100, false}} {
		got, err := e.s.Milestone(e.ctx, b.ID, c.step)
		if err != nil || got != c.want {
			t.Fatalf("%d: Milestone(%d) = %v, %v; want %v", i, c.step, got, err, c.want)
		}
	}
	if _, err := e.s.Milestone(e.ctx, "00000000000000ff", 10); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Milestone(unknown) err = %v, want ErrNotFound", err)
	}
}

func testBcExpiry(t *testing.T, e *benv) {
	b := e.mustSending(3)
	e.mustClaim(b.ID, 1, time.Minute)
	e.advance(bcTTL - time.Hour)
	e.mustGet(b.ID)
	e.mustActive(b.ID)
	e.advance(2 * time.Hour)
	if _, err := e.s.Get(e.ctx, b.ID); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Get after TTL err = %v, want ErrNotFound", err)
	}
	e.mustActive()
	if _, _, err := e.s.Claim(e.ctx, b.ID, e.clk.Now(), time.Minute, 1); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Claim after TTL err = %v, want ErrNotFound", err)
	}
}

// testBcConcurrent: workers claiming and finishing at once get every
// recipient exactly once, and exactly one of them sees Finished.
func testBcConcurrent(t *testing.T, e *benv) {
	const n, workers = 300, 8
	b := e.mustSending(n)
	var mu sync.Mutex
	seen := map[int64]int{}
	finished := 0
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				rs, st, err := e.s.Claim(e.ctx, b.ID, e.clk.Now(), time.Hour, 3)
				if err != nil {
					errs <- err
					return
				}
				if st != broadcast.More {
					mu.Lock()
					if st == broadcast.Finished {
						finished++
					}
					mu.Unlock()
					return
				}
				for _, r := range rs {
					mu.Lock()
					seen[r.ChatID]++
					mu.Unlock()
					if _, _, _, err := e.s.Finish(e.ctx, b.ID, r, broadcast.Delivered); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n || finished != 1 {
		t.Fatalf("%d recipients claimed, %d Finished; want %d, 1", len(seen), finished, n)
	}
	for chat, k := range seen {
		if k != 1 {
			t.Fatalf("recipient %d claimed %d times", chat, k)
		}
	}
	if got := e.mustGet(b.ID).Tally; got != (broadcast.Tally{Delivered: n}) {
		t.Fatalf("tally = %+v", got)
	}
}
