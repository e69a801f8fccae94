package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/remind"
)

// NewSubscriptionStoreFunc builds a fresh, empty subscription store whose
// clock is now.
type NewSubscriptionStoreFunc func(t *testing.T, now func() time.Time) remind.Store

// NewQueueFunc builds a fresh, empty reminder job queue.
type NewQueueFunc func(t *testing.T, now func() time.Time) remind.Queue

// RunSubscriptions runs the conformance suite for remind.Store. Each
// subtest gets a fresh store and clock; Advancer is used as in Run.
func RunSubscriptions(t *testing.T, newStore NewSubscriptionStoreFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *senv {
		return &senv{newStoreEnv(t, clk, newStore)}
	}, []suiteTest[*senv]{
		{"RoundTrip", testSubRoundTrip},
		{"Overwrite", testSubOverwrite},
		{"Invalid", testSubInvalid},
		{"TooMany", testSubTooMany},
		{"TooMany/Concurrent", testSubTooManyConcurrent},
		{"Unsubscribe", testSubUnsubscribe},
		{"ForgetUser", testSubForget},
		{"Expiry", testSubExpiry},
		{"SubscribersOf/Paging", testSubPaging},
		{"SubscribersOf/Topic", testSubTopic},
		{"SubscribersOf/ChangesWhilePaging", testSubPagingChanges},
	})
}

// senv is one subtest's subscription store and clock.
type senv struct{ storeEnv[remind.Store] }

// sub returns user(n)'s subscription to t, made now, living for ttl.
func (e *senv) sub(n int, t remind.Target, ttl time.Duration) remind.Subscription {
	now := e.clk.Now()
	u := user(n)
	return remind.Subscription{
		ID: remind.SubscriptionID(u, t), User: u, ChatID: 5550000000 + int64(n), Lang: "uk",
		Target: t, Created: now, Expires: now.Add(ttl),
	}
}

func (e *senv) mustSubscribe(subs ...remind.Subscription) {
	e.t.Helper()
	for _, s := range subs {
		if err := e.s.Subscribe(e.ctx, s); err != nil {
			e.t.Fatalf("Subscribe(%s): %v", s.Target, err)
		}
	}
}

func (e *senv) mustSubsOf(n int) []remind.Subscription {
	e.t.Helper()
	subs, err := e.s.SubscriptionsOf(e.ctx, user(n))
	if err != nil {
		e.t.Fatalf("SubscriptionsOf(user %d): %v", n, err)
	}
	return subs
}

// mustAll pages through SubscribersOf(t) with the given page size and
// returns the subscriptions' ids in order of appearance.
func (e *senv) mustAll(t remind.Target, limit int) []string {
	e.t.Helper()
	var ids []string
	subs := allPages(e.t, fmt.Sprintf("SubscribersOf(%s)", t), limit, func(cursor string) ([]remind.Subscription, string, error) {
		return e.s.SubscribersOf(e.ctx, t, cursor, limit)
	})
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	return ids
}

// sameSub compares by meaning: times by instant.
func sameSub(a, b remind.Subscription) bool {
	return a.ID == b.ID && a.User == b.User && a.ChatID == b.ChatID && a.Lang == b.Lang && a.Target == b.Target &&
		a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}

func (e *senv) mustSubs(got []remind.Subscription, want ...remind.Subscription) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Fatalf("got %d subscriptions %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range got {
		if !sameSub(got[i], want[i]) {
			e.t.Fatalf("subscription %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

var (
	evTarget    = remind.EventTarget("integrationskonferenz-nord")
	nordTarget  = remind.DistrictTarget("nord", "")
	nordLang    = remind.DistrictTarget("nord", "language")
	nordHousing = remind.DistrictTarget("nord", "housing")
)

func testSubRoundTrip(t *testing.T, e *senv) {
	if got := e.mustSubsOf(1); len(got) != 0 {
		t.Fatalf("new store: SubscriptionsOf = %+v", got)
	}
	a := e.sub(1, evTarget, 40*day)
	e.clk.mu.Lock()
	e.clk.now = e.clk.now.Add(time.Second) // later Created sorts later
	e.clk.mu.Unlock()
	b := e.sub(1, nordLang, remind.DistrictTTL)
	c := e.sub(2, nordTarget, remind.DistrictTTL)
	e.mustSubscribe(b, a, c)
	e.mustSubs(e.mustSubsOf(1), a, b)
	e.mustSubs(e.mustSubsOf(2), c)
	page, next, err := e.s.SubscribersOf(e.ctx, evTarget, "", 10)
	if err != nil || next != "" {
		t.Fatalf("SubscribersOf(event) next %q, err %v", next, err)
	}
	e.mustSubs(page, a)
}

func testSubOverwrite(t *testing.T, e *senv) {
	a := e.sub(1, evTarget, 10*day)
	e.mustSubscribe(a)
	a.Lang, a.ChatID, a.Expires = "ar", 777, a.Expires.Add(5*day)
	e.mustSubscribe(a)
	e.mustSubs(e.mustSubsOf(1), a)
	if ids := e.mustAll(evTarget, 10); len(ids) != 1 {
		t.Fatalf("index lists %v after re-subscribing, want one", ids)
	}
}

func testSubInvalid(t *testing.T, e *senv) {
	good := e.sub(1, evTarget, day)
	tests := []struct {
		name string
		mod  func(*remind.Subscription)
	}{
		{"no chat", func(s *remind.Subscription) { s.ChatID = 0 }},
		{"no language", func(s *remind.Subscription) { s.Lang = "" }},
		{"wrong id", func(s *remind.Subscription) { s.ID = "0000000000000000" }},
		{"no user", func(s *remind.Subscription) { s.User = ""; s.ID = remind.SubscriptionID("", s.Target) }},
		{"brace in user", func(s *remind.Subscription) { s.User = "a}b"; s.ID = remind.SubscriptionID(s.User, s.Target) }},
		{"event and district", func(s *remind.Subscription) {
			s.Target.District = "nord"
			s.ID = remind.SubscriptionID(s.User, s.Target)
		}},
		{"empty target", func(s *remind.Subscription) {
			s.Target = remind.Target{}
			s.ID = remind.SubscriptionID(s.User, s.Target)
		}},
		{"separator in event", func(s *remind.Subscription) {
			s.Target = remind.EventTarget("a:b")
			s.ID = remind.SubscriptionID(s.User, s.Target)
		}},
		{"expires before created", func(s *remind.Subscription) { s.Expires = s.Created.Add(-time.Second) }},
		{"already expired", func(s *remind.Subscription) {
			s.Created = s.Created.Add(-2 * day)
			s.Expires = s.Created.Add(day)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.mod(&s)
			if err := e.s.Subscribe(e.ctx, s); !errors.Is(err, bot.ErrInvalid) {
				t.Errorf("Subscribe = %v, want bot.ErrInvalid", err)
			}
		})
	}
	if got := e.mustSubsOf(1); len(got) != 0 {
		t.Errorf("invalid subscriptions were stored: %+v", got)
	}
	if ids := e.mustAll(evTarget, 10); len(ids) != 0 {
		t.Errorf("invalid subscriptions were indexed: %v", ids)
	}
	if _, _, err := e.s.SubscribersOf(e.ctx, remind.Target{}, "", 10); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("SubscribersOf(empty target) = %v, want bot.ErrInvalid", err)
	}
}

func eventN(i int) remind.Target { return remind.EventTarget(fmt.Sprintf("event-%03d", i)) }

func testSubTooMany(t *testing.T, e *senv) {
	for i := range remind.MaxPerUser {
		e.mustSubscribe(e.sub(1, eventN(i), day))
	}
	over := e.sub(1, eventN(remind.MaxPerUser), day)
	if err := e.s.Subscribe(e.ctx, over); !errors.Is(err, remind.ErrTooMany) {
		t.Fatalf("subscription %d: %v, want ErrTooMany", remind.MaxPerUser+1, err)
	}
	if ids := e.mustAll(over.Target, 10); len(ids) != 0 {
		t.Fatalf("rejected subscription is indexed: %v", ids)
	}
	e.mustSubscribe(e.sub(1, eventN(3), 2*day)) // renewing one is fine
	e.mustSubscribe(e.sub(2, over.Target, day)) // others are not limited
	if err := e.s.Unsubscribe(e.ctx, user(1), remind.SubscriptionID(user(1), eventN(0))); err != nil {
		t.Fatal(err)
	}
	e.mustSubscribe(over)
	if n := len(e.mustSubsOf(1)); n != remind.MaxPerUser {
		t.Fatalf("user has %d subscriptions, want %d", n, remind.MaxPerUser)
	}
}

// testSubTooManyConcurrent: the limit holds when one user subscribes from
// many goroutines (replicas) at once.
func testSubTooManyConcurrent(t *testing.T, e *senv) {
	const workers, each = 10, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, tooMany := 0, 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := e.s.Subscribe(e.ctx, e.sub(1, eventN(w*each+i), day))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, remind.ErrTooMany):
					tooMany++
				default:
					t.Errorf("Subscribe: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != remind.MaxPerUser || tooMany != workers*each-remind.MaxPerUser {
		t.Fatalf("accepted %d, rejected %d; want %d accepted", ok, tooMany, remind.MaxPerUser)
	}
	if n := len(e.mustSubsOf(1)); n != remind.MaxPerUser {
		t.Fatalf("stored %d, want %d", n, remind.MaxPerUser)
	}
}

func testSubUnsubscribe(t *testing.T, e *senv) {
	a, b := e.sub(1, evTarget, day), e.sub(1, nordTarget, day)
	e.mustSubscribe(a, b)
	if err := e.s.Unsubscribe(e.ctx, user(1), a.ID); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	e.mustSubs(e.mustSubsOf(1), b)
	if ids := e.mustAll(evTarget, 10); len(ids) != 0 {
		t.Fatalf("unsubscribed user still listed: %v", ids)
	}
	for name, id := range map[string]string{"again": a.ID, "unknown": "0123456789abcdef", "empty": ""} {
		if err := e.s.Unsubscribe(e.ctx, user(1), id); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("Unsubscribe(%s) = %v, want bot.ErrNotFound", name, err)
		}
	}
	if err := e.s.Unsubscribe(e.ctx, user(2), b.ID); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("another user unsubscribed user 1: %v", err)
	}
	e.mustSubs(e.mustSubsOf(1), b)
}

func testSubForget(t *testing.T, e *senv) {
	e.mustSubscribe(e.sub(1, evTarget, day), e.sub(1, nordTarget, day), e.sub(1, nordLang, day))
	keep := e.sub(2, nordTarget, day)
	e.mustSubscribe(keep)
	for range 2 { // idempotent
		if err := e.s.ForgetUser(e.ctx, user(1)); err != nil {
			t.Fatalf("ForgetUser: %v", err)
		}
	}
	if got := e.mustSubsOf(1); len(got) != 0 {
		t.Fatalf("after ForgetUser: %+v", got)
	}
	if ids := e.mustAll(evTarget, 10); len(ids) != 0 {
		t.Fatalf("forgotten user listed for the event: %v", ids)
	}
	if ids := e.mustAll(nordTarget, 10); len(ids) != 1 || ids[0] != keep.ID {
		t.Fatalf("district lists %v, want only user 2", ids)
	}
	if err := e.s.ForgetUser(e.ctx, user(3)); err != nil {
		t.Fatalf("ForgetUser(unknown): %v", err)
	}
}

func testSubExpiry(t *testing.T, e *senv) {
	short, long := e.sub(1, evTarget, time.Hour), e.sub(1, nordTarget, 48*time.Hour)
	other := e.sub(2, evTarget, 48*time.Hour)
	e.mustSubscribe(short, long, other)
	e.advance(2 * time.Hour)
	e.mustSubs(e.mustSubsOf(1), long)
	if ids := e.mustAll(evTarget, 10); len(ids) != 1 || ids[0] != other.ID {
		t.Fatalf("event lists %v, want only user 2's", ids)
	}
	e.advance(47 * time.Hour)
	if got := e.mustSubsOf(1); len(got) != 0 {
		t.Fatalf("after expiry: %+v", got)
	}
	if ids := e.mustAll(nordTarget, 10); len(ids) != 0 {
		t.Fatalf("expired subscriptions listed: %v", ids)
	}
}

func testSubPaging(t *testing.T, e *senv) {
	const n = 1234
	want := map[string]bool{}
	for i := range n {
		s := e.sub(i, nordTarget, day)
		e.mustSubscribe(s)
		want[s.ID] = true
	}
	e.mustSubscribe(e.sub(0, evTarget, day)) // another index
	for _, limit := range []int{1, 100, 5000} {
		if limit == 1 && testing.Short() {
			continue
		}
		ids := e.mustAll(nordTarget, limit)
		seen := map[string]int{}
		for _, id := range ids {
			seen[id]++
		}
		for id := range want {
			if seen[id] != 1 {
				t.Fatalf("limit %d: subscription %s seen %d times", limit, id, seen[id])
			}
		}
		if len(ids) != n {
			t.Fatalf("limit %d: %d results, want %d", limit, len(ids), n)
		}
	}
	if _, _, err := e.s.SubscribersOf(e.ctx, nordTarget, "", 0); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("limit 0: %v, want bot.ErrInvalid", err)
	}
}

func testSubTopic(t *testing.T, e *senv) {
	all, lang, housing := e.sub(1, nordTarget, day), e.sub(2, nordLang, day), e.sub(3, nordHousing, day)
	e.mustSubscribe(all, lang, housing, e.sub(4, remind.DistrictTarget("sued", ""), day))
	sorted := func(ids ...string) []string { sort.Strings(ids); return ids }
	tests := []struct {
		target remind.Target
		want   []string
	}{
		{nordTarget, sorted(all.ID, lang.ID, housing.ID)},
		{nordLang, sorted(all.ID, lang.ID)},
		{remind.DistrictTarget("nord", "work"), sorted(all.ID)},
		{remind.DistrictTarget("west", ""), nil},
	}
	for _, tt := range tests {
		got := sorted(e.mustAll(tt.target, 2)...)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("SubscribersOf(%s) = %v, want %v", tt.target, got, tt.want)
		}
	}
}

// testSubPagingChanges: subscriptions present during the whole iteration
// are returned exactly once although others come and go meanwhile.
func testSubPagingChanges(t *testing.T, e *senv) {
	const n = 300
	stable := map[string]bool{}
	for i := range n {
		s := e.sub(i, nordTarget, day)
		e.mustSubscribe(s)
		if i%3 != 0 {
			stable[s.ID] = true
		}
	}
	seen := map[string]int{}
	cursor, added := "", n
	for pages := 0; ; pages++ {
		if pages > 10*n {
			t.Fatal("iteration does not end")
		}
		page, next, err := e.s.SubscribersOf(e.ctx, nordTarget, cursor, 25)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			seen[s.ID]++
		}
		// Churn: drop some, add some.
		for i := pages * 3; i < pages*3+3 && i < n; i += 3 {
			if err := e.s.Unsubscribe(e.ctx, user(i), remind.SubscriptionID(user(i), nordTarget)); err != nil {
				t.Fatal(err)
			}
		}
		e.mustSubscribe(e.sub(added, nordTarget, day))
		added++
		if next == "" {
			break
		}
		cursor = next
	}
	for id := range stable {
		if seen[id] != 1 {
			t.Fatalf("stable subscription %s seen %d times", id, seen[id])
		}
	}
	for id, c := range seen {
		if c > 1 {
			t.Fatalf("subscription %s seen %d times", id, c)
		}
	}
}

// RunQueue runs the conformance suite for remind.Queue. Each subtest gets
// a fresh queue and clock; Advancer is used as in Run.
func RunQueue(t *testing.T, newQueue NewQueueFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *qenv {
		return &qenv{newStoreEnv(t, clk, newQueue)}
	}, []suiteTest[*qenv]{
		{"Enqueue/Idempotent", testQueueEnqueueIdempotent},
		{"Enqueue/Invalid", testQueueInvalid},
		{"Claim/Due", testQueueClaimDue},
		{"Claim/Exclusive", testQueueClaimExclusive},
		{"Mark/Once", testQueueMark},
		{"Ack/NotPlannedAgain", testQueueAck},
		{"Recover", testQueueRecover},
		{"Retry", testQueueRetry},
		{"Expiry", testQueueExpiry},
	})
}

// qenv is one subtest's queue and clock.
type qenv struct{ storeEnv[remind.Queue] }

// job returns user(n)'s reminder, due in dueIn, for an occurrence an hour
// after that.
func (e *qenv) job(n int, dueIn time.Duration) remind.Job {
	start := e.clk.Now().Add(dueIn + time.Hour)
	u := user(n)
	return remind.Job{
		ID: remind.JobID(u, "treff", start, time.Hour), User: u, Event: "treff", Start: start, Offset: time.Hour,
		Due: start.Add(-time.Hour), Expires: start.Add(6 * time.Hour),
	}
}

func (e *qenv) mustEnqueue(want int, jobs ...remind.Job) {
	e.t.Helper()
	n, err := e.s.Enqueue(e.ctx, e.clk.Now(), jobs)
	if err != nil {
		e.t.Fatalf("Enqueue: %v", err)
	}
	if n != want {
		e.t.Fatalf("Enqueue added %d, want %d", n, want)
	}
}

func (e *qenv) mustClaim(n int, lease time.Duration) []remind.Job {
	e.t.Helper()
	jobs, err := e.s.Claim(e.ctx, e.clk.Now(), lease, n)
	if err != nil {
		e.t.Fatalf("Claim: %v", err)
	}
	return jobs
}

func (e *qenv) mustMark(id string, want bool) {
	e.t.Helper()
	got, err := e.s.Mark(e.ctx, e.clk.Now(), id, e.clk.Now().Add(day))
	if err != nil {
		e.t.Fatalf("Mark: %v", err)
	}
	if got != want {
		e.t.Fatalf("Mark = %v, want %v", got, want)
	}
}

func jobIDs(jobs []remind.Job) string {
	var s []string
	for _, j := range jobs {
		s = append(s, string(j.User[len(j.User)-2:])+"@"+j.Due.Format("15:04"))
	}
	return fmt.Sprint(s)
}

func testQueueEnqueueIdempotent(t *testing.T, e *qenv) {
	a, b := e.job(1, time.Minute), e.job(2, time.Minute)
	e.mustEnqueue(2, a, b, a)
	e.mustEnqueue(0, a, b)
	e.mustEnqueue(1, e.job(3, time.Minute), b)
}

func testQueueInvalid(t *testing.T, e *qenv) {
	good := e.job(1, time.Minute)
	bad := good
	bad.ID = "x"
	expiresEarly := good
	expiresEarly.Expires = good.Due
	for name, j := range map[string]remind.Job{"wrong id": bad, "expires before due": expiresEarly} {
		if _, err := e.s.Enqueue(e.ctx, e.clk.Now(), []remind.Job{good, j}); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: Enqueue = %v, want bot.ErrInvalid", name, err)
		}
	}
	e.mustEnqueue(1, good) // nothing of the rejected batches was added
}

func testQueueClaimDue(t *testing.T, e *qenv) {
	late, now, later := e.job(1, -time.Minute), e.job(2, 0), e.job(3, time.Hour)
	e.mustEnqueue(3, later, now, late)
	got := e.mustClaim(10, time.Minute)
	if want := jobIDs([]remind.Job{late, now}); jobIDs(got) != want {
		t.Fatalf("Claim = %s, want %s", jobIDs(got), want)
	}
	if got[0].ID != late.ID || !got[0].Start.Equal(late.Start) || got[0].Offset != late.Offset || got[0].User != late.User {
		t.Fatalf("claimed job %+v, want %+v", got[0], late)
	}
	if got := e.mustClaim(10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed again: %s", jobIDs(got))
	}
	e.mustEnqueue(0, late) // in flight
	e.advance(time.Hour)
	e.mustMark(late.ID, true)
	e.mustMark(now.ID, true)
	got = e.mustClaim(1, time.Minute) // leases of the first two expired, but Recover was not called
	if jobIDs(got) != jobIDs([]remind.Job{later}) {
		t.Fatalf("Claim after an hour = %s", jobIDs(got))
	}
}

func testQueueClaimExclusive(t *testing.T, e *qenv) {
	const n = 300
	var jobs []remind.Job
	for i := range n {
		jobs = append(jobs, e.job(i, -time.Duration(i)*time.Second))
	}
	e.mustEnqueue(n, jobs...)
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				got, err := e.s.Claim(e.ctx, e.clk.Now(), time.Minute, 7)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct jobs, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("job %s claimed %d times", id, c)
		}
	}
}

func testQueueMark(t *testing.T, e *qenv) {
	j := e.job(1, 0)
	e.mustMark(j.ID, true)
	e.mustMark(j.ID, false)
	e.mustMark(e.job(2, 0).ID, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	id := e.job(3, 0).ID
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := e.s.Mark(e.ctx, e.clk.Now(), id, e.clk.Now().Add(day))
			if err != nil {
				t.Errorf("Mark: %v", err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent Marks won, want 1", wins)
	}
	if _, err := e.s.Mark(e.ctx, e.clk.Now(), "y", e.clk.Now()); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("Mark expiring now: %v, want bot.ErrInvalid", err)
	}
}

func testQueueAck(t *testing.T, e *qenv) {
	sent, skipped := e.job(1, 0), e.job(2, 0)
	e.mustEnqueue(2, sent, skipped)
	if got := e.mustClaim(10, time.Minute); len(got) != 2 {
		t.Fatalf("claimed %d", len(got))
	}
	e.mustMark(sent.ID, true)
	for _, j := range []remind.Job{sent, skipped, sent} {
		if err := e.s.Ack(e.ctx, j.ID); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	if err := e.s.Ack(e.ctx, "unknown"); err != nil {
		t.Fatalf("Ack(unknown): %v", err)
	}
	e.mustEnqueue(1, sent, skipped) // the sent one stays done
	if got := e.mustClaim(10, time.Minute); jobIDs(got) != jobIDs([]remind.Job{skipped}) {
		t.Fatalf("Claim = %s", jobIDs(got))
	}
	e.advance(2 * time.Minute)
	if req, ab, err := e.s.Recover(e.ctx, e.clk.Now()); err != nil || req != 1 || ab != 0 {
		t.Fatalf("Recover = %d, %d, %v; want the unacknowledged job requeued", req, ab, err)
	}
}

func testQueueRecover(t *testing.T, e *qenv) {
	a, b, c := e.job(1, 0), e.job(2, 0), e.job(3, 0)
	e.mustEnqueue(3, a, b, c)
	e.mustClaim(2, time.Minute) // a and b (due first by id order or time)
	e.mustMark(a.ID, true)
	if req, ab, err := e.s.Recover(e.ctx, e.clk.Now()); err != nil || req+ab != 0 {
		t.Fatalf("Recover before the lease expired = %d, %d, %v", req, ab, err)
	}
	e.advance(2 * time.Minute)
	req, ab, err := e.s.Recover(e.ctx, e.clk.Now())
	if err != nil || req != 1 || ab != 1 {
		t.Fatalf("Recover = requeued %d, abandoned %d, %v; want 1, 1", req, ab, err)
	}
	got := e.mustClaim(10, time.Minute)
	ids := map[string]bool{}
	for _, j := range got {
		ids[j.ID] = true
	}
	if len(got) != 2 || ids[a.ID] || !ids[b.ID] || !ids[c.ID] {
		t.Fatalf("after Recover claimed %s; want b and c, never the marked a", jobIDs(got))
	}
	e.mustEnqueue(0, a) // abandoned: marked, not planned again
}

func testQueueRetry(t *testing.T, e *qenv) {
	j := e.job(1, 0)
	e.mustEnqueue(1, j)
	got := e.mustClaim(1, time.Minute)
	if len(got) != 1 {
		t.Fatal("not claimed")
	}
	e.mustMark(j.ID, true)
	r := got[0]
	r.Attempts++
	r.Due = e.clk.Now().Add(2 * time.Minute)
	if err := e.s.Retry(e.ctx, e.clk.Now(), r); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if got := e.mustClaim(1, time.Minute); len(got) != 0 {
		t.Fatal("retried job claimed before it is due")
	}
	e.advance(2 * time.Minute)
	if req, ab, _ := e.s.Recover(e.ctx, e.clk.Now()); req+ab != 0 {
		t.Fatalf("retried job still in flight: requeued %d, abandoned %d", req, ab)
	}
	got = e.mustClaim(1, time.Minute)
	if len(got) != 1 || got[0].Attempts != 1 || !got[0].Due.Equal(r.Due) {
		t.Fatalf("after Retry claimed %+v, want attempts 1 due %v", got, r.Due)
	}
	e.mustMark(j.ID, true) // Retry removed the marker
}

func testQueueExpiry(t *testing.T, e *qenv) {
	j := e.job(1, 0) // expires 7 h from now
	e.mustEnqueue(1, j)
	k := e.job(2, 0)
	e.mustEnqueue(1, k)
	e.mustClaim(1, time.Minute)
	e.mustMark(k.ID, true)
	e.advance(8 * time.Hour)
	if got := e.mustClaim(10, time.Minute); len(got) != 0 {
		t.Fatalf("expired jobs claimed: %s", jobIDs(got))
	}
	if req, _, err := e.s.Recover(e.ctx, e.clk.Now()); err != nil || req != 0 {
		t.Fatalf("Recover requeued %d expired jobs (%v)", req, err)
	}
	expired := j
	expired.Expires = e.clk.Now()
	expired.Due = expired.Expires.Add(-time.Hour)
	e.mustEnqueue(0, expired)
}
