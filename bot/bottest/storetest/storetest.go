// Package storetest is the conformance suite every bot.Store must pass.
// Each store's tests call Run with a constructor:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) bot.Store { return memstore.New(now) })
//	}
//
// Time is simulated: Run hands the constructor a fake clock and moves it
// forward. Stores whose expiry does not follow that clock (Redis expires by
// its own) are wrapped by their test in an adapter implementing Advancer.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Advancer is implemented by test adapters of stores whose records do not
// age with the injected clock. After moving the clock by d, Run calls
// Advance(ctx, d); the adapter must age every record the store holds by d,
// expiring those whose remaining TTL is at most d.
type Advancer interface {
	Advance(ctx context.Context, d time.Duration) error
}

// Beginner is the optional one-round-trip form of FirstSeen + Session.
// If the store implements it, Run checks that it agrees with FirstSeen and
// Session. A user without a session yields the zero Session and no error.
type Beginner interface {
	Begin(ctx context.Context, updateID int64, ttl time.Duration, user bot.UserKey) (first bool, s bot.Session, err error)
}

// Epoch is the fake clock's start. It is not "now" so that a store
// mistakenly using the wall clock is caught by the expiry tests.
var Epoch = time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)

// NewStoreFunc builds a fresh, empty store whose clock is now.
type NewStoreFunc func(t *testing.T, now func() time.Time) bot.Store

// Run runs the conformance suite. Each subtest gets a fresh store and a
// fresh clock.
func Run(t *testing.T, newStore NewStoreFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *env {
		return &env{newStoreEnv(t, clk, newStore)}
	}, []suiteTest[*env]{
		{"FirstSeen/New", testFirstSeenNew},
		{"FirstSeen/Duplicate", testFirstSeenDuplicate},
		{"FirstSeen/Expiry", testFirstSeenExpiry},
		{"FirstSeen/ConcurrentSameID", testFirstSeenConcurrent},
		{"Session/NotFound", testSessionNotFound},
		{"Session/RoundTripAllFields", testSessionRoundTrip},
		{"Session/Overwrite", testSessionOverwrite},
		{"Session/Expiry", testSessionExpiry},
		{"Session/SaveRefreshesTTL", testSessionRefresh},
		{"Session/Copies", testSessionCopies},
		{"Forget", testForget},
		{"Forget/Idempotent", testForgetIdempotent},
		{"Isolation", testIsolation},
		{"Concurrent", testConcurrent},
		{"Begin", testBegin},
		{"Claim/Lifecycle", testClaimLifecycle},
		{"Claim/LeaseExpiry", testClaimLeaseExpiry},
		{"Claim/DoneExpiry", testClaimDoneExpiry},
		{"Claim/Release", testClaimRelease},
		{"Claim/Session", testClaimSession},
		{"Claim/Concurrent", testClaimConcurrent},
	})
}

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock by d and, for stores whose expiry runs on
// their own clock (Redis), ages store's data by d as well.
func (c *clock) advance(t *testing.T, ctx context.Context, store any, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	if a, ok := store.(Advancer); ok {
		if err := a.Advance(ctx, d); err != nil {
			t.Fatalf("Advance(%v): %v", d, err)
		}
	}
}

// env is one subtest's store and clock, with helpers that fail the test.
type env struct{ storeEnv[bot.Store] }

func (e *env) mustFirstSeen(id int64, ttl time.Duration, want bool) {
	e.t.Helper()
	got, err := e.s.FirstSeen(e.ctx, id, ttl)
	if err != nil {
		e.t.Fatalf("FirstSeen(%d): %v", id, err)
	}
	if got != want {
		e.t.Fatalf("FirstSeen(%d) = %v, want %v", id, got, want)
	}
}

func (e *env) mustSave(u bot.UserKey, s bot.Session, ttl time.Duration) {
	e.t.Helper()
	if err := e.s.SaveSession(e.ctx, u, s, ttl); err != nil {
		e.t.Fatalf("SaveSession(%s): %v", u, err)
	}
}

func (e *env) mustSession(u bot.UserKey) bot.Session {
	e.t.Helper()
	s, err := e.s.Session(e.ctx, u)
	if err != nil {
		e.t.Fatalf("Session(%s): %v", u, err)
	}
	return s
}

func (e *env) mustNotFound(u bot.UserKey) {
	e.t.Helper()
	s, err := e.s.Session(e.ctx, u)
	if !errors.Is(err, bot.ErrNotFound) {
		e.t.Fatalf("Session(%s) = %+v, %v; want error wrapping bot.ErrNotFound", u, s, err)
	}
}

func (e *env) mustForget(u bot.UserKey) {
	e.t.Helper()
	if err := e.s.Forget(e.ctx, u); err != nil {
		e.t.Fatalf("Forget(%s): %v", u, err)
	}
}

// user returns a key shaped like the real ones (hex of a keyed hash).
func user(n int) bot.UserKey {
	return bot.UserKey(fmt.Sprintf("%064x", 0xabc000+n))
}

// full returns a session with every field set; testSessionRoundTrip
// checks that, so a field added to bot.Session must be added here.
func full() bot.Session {
	return bot.Session{
		Lang:        "ar",
		LangChosen:  true,
		Role:        "volunteer",
		NoticeShown: true,
		State:       "ask_district/2",
		Results:     []string{"wohnung-anmelden", "jobcenter-termin", "sprachkurs-ä-ü-😀"},
		Entry:       "kita-gutschein",
		District:    "Neukölln / نويكولن",
		Draft: &bot.Draft{District: "nord", DistrictSet: true, Topic: "work", Concepts: []string{"school"},
			Escalate: true, Text: "Ich habe einen Brief bekommen. رسالة 😀",
			Attachments: []bot.Attachment{{Kind: bot.AttachPhoto, FileID: "AgACphoto"}}},
		Paced:    time.Date(2030, 2, 28, 17, 4, 1, 987654321, time.FixedZone("CET", 3600)),
		Audience: time.Date(2030, 2, 28, 9, 30, 2, 456789123, time.FixedZone("CET", 3600)),
		Updated:  time.Date(2030, 2, 28, 17, 4, 5, 123456789, time.FixedZone("CET", 3600)),
	}
}

// equal compares sessions by meaning: times by instant (encodings drop
// the location and monotonic reading), nil and empty slices alike.
func equal(a, b bot.Session) bool {
	if !a.Updated.Equal(b.Updated) || !a.Paced.Equal(b.Paced) || !a.Audience.Equal(b.Audience) {
		return false
	}
	a.Updated, b.Updated = time.Time{}, time.Time{}
	a.Paced, b.Paced = time.Time{}, time.Time{}
	a.Audience, b.Audience = time.Time{}, time.Time{}
	if len(a.Results) == 0 && len(b.Results) == 0 {
		a.Results, b.Results = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func (e *env) mustEqual(got, want bot.Session) {
	e.t.Helper()
	if !equal(got, want) {
		e.t.Fatalf("session = %+v\nwant      %+v", got, want)
	}
}

const day = 24 * time.Hour

func testFirstSeenNew(t *testing.T, e *env) {
	e.mustFirstSeen(1001, day, true)
	e.mustFirstSeen(1002, day, true)
	e.mustFirstSeen(-5, day, true) // ids are opaque; negative ones must not collide
}

func testFirstSeenDuplicate(t *testing.T, e *env) {
	e.mustFirstSeen(7, day, true)
	e.mustFirstSeen(7, day, false)
	e.mustFirstSeen(7, day, false)
	e.mustFirstSeen(8, day, true)
}

func testFirstSeenExpiry(t *testing.T, e *env) {
	e.mustFirstSeen(42, time.Hour, true)
	e.advance(59 * time.Minute)
	e.mustFirstSeen(42, time.Hour, false)
	e.advance(2 * time.Minute)
	// The duplicate above must not have extended the record.
	e.mustFirstSeen(42, time.Hour, true)
	e.mustFirstSeen(42, time.Hour, false)
}

// testFirstSeenConcurrent: replicas racing on one redelivered update must
// not both handle it.
func testFirstSeenConcurrent(t *testing.T, e *env) {
	const n = 32
	var wg sync.WaitGroup
	results := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			first, err := e.s.FirstSeen(e.ctx, 99, day)
			if err != nil {
				errs <- err
				return
			}
			results <- first
		})
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatalf("FirstSeen: %v", err)
	}
	firsts := 0
	for r := range results {
		if r {
			firsts++
		}
	}
	if firsts != 1 {
		t.Fatalf("%d of %d concurrent FirstSeen calls reported new, want exactly 1", firsts, n)
	}
}

func testSessionNotFound(t *testing.T, e *env) {
	e.mustNotFound(user(1))
}

func testSessionRoundTrip(t *testing.T, e *env) {
	want := full()
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("storetest: full() leaves bot.Session.%s zero; set it so it is round-tripped", v.Type().Field(i).Name)
		}
	}
	e.mustSave(user(1), want, time.Hour)
	e.mustEqual(e.mustSession(user(1)), want)

	// The zero session is a valid session, distinct from none.
	e.mustSave(user(2), bot.Session{}, time.Hour)
	e.mustEqual(e.mustSession(user(2)), bot.Session{})
}

func testSessionOverwrite(t *testing.T, e *env) {
	e.mustSave(user(1), full(), time.Hour)
	// Fewer fields: nothing of the first session may survive (no merging).
	second := bot.Session{Lang: "uk", Updated: Epoch}
	e.mustSave(user(1), second, time.Hour)
	e.mustEqual(e.mustSession(user(1)), second)
}

func testSessionExpiry(t *testing.T, e *env) {
	e.mustSave(user(1), full(), 30*time.Minute)
	e.advance(29 * time.Minute)
	e.mustEqual(e.mustSession(user(1)), full())
	e.advance(2 * time.Minute)
	e.mustNotFound(user(1))
}

func testSessionRefresh(t *testing.T, e *env) {
	e.mustSave(user(1), full(), 30*time.Minute)
	e.advance(20 * time.Minute)
	e.mustSave(user(1), full(), 30*time.Minute)
	e.advance(20 * time.Minute)
	e.mustEqual(e.mustSession(user(1)), full())
	e.advance(11 * time.Minute)
	e.mustNotFound(user(1))
}

func testSessionCopies(t *testing.T, e *env) {
	in := full()
	e.mustSave(user(1), in, time.Hour)
	in.Results[0] = "changed-after-save"

	got := e.mustSession(user(1))
	e.mustEqual(got, full())
	got.Results[0] = "changed-after-read"
	got.Results = append(got.Results, "appended")

	e.mustEqual(e.mustSession(user(1)), full())
}

func testForget(t *testing.T, e *env) {
	e.mustSave(user(1), full(), time.Hour)
	e.mustForget(user(1))
	e.mustNotFound(user(1))
	// A forgotten user can come back.
	e.mustSave(user(1), bot.Session{Lang: "fa"}, time.Hour)
	e.mustEqual(e.mustSession(user(1)), bot.Session{Lang: "fa"})
}

func testForgetIdempotent(t *testing.T, e *env) {
	e.mustForget(user(3)) // never seen
	e.mustSave(user(1), full(), time.Hour)
	e.mustForget(user(1))
	e.mustForget(user(1))
	e.mustNotFound(user(1))
}

func testIsolation(t *testing.T, e *env) {
	a, b := full(), bot.Session{Lang: "tr", State: "other"}
	e.mustSave(user(1), a, time.Hour)
	e.mustNotFound(user(2))
	e.mustSave(user(2), b, time.Hour)
	e.mustEqual(e.mustSession(user(1)), a)
	e.mustEqual(e.mustSession(user(2)), b)
	e.mustForget(user(1))
	e.mustNotFound(user(1))
	e.mustEqual(e.mustSession(user(2)), b)
}

// testConcurrent has goroutines each own a user and share update ids;
// with -race it also checks the store's locking.
func testConcurrent(t *testing.T, e *env) {
	const workers, rounds = 16, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firsts int
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			u := user(100 + w)
			for r := range rounds {
				first, err := e.s.FirstSeen(e.ctx, int64(5000+r), day)
				if err != nil {
					errs <- fmt.Errorf("FirstSeen: %w", err)
					return
				}
				if first {
					mu.Lock()
					firsts++
					mu.Unlock()
				}
				want := bot.Session{Lang: "de", State: fmt.Sprintf("w%d-r%d", w, r), Results: []string{fmt.Sprint(r)}}
				if err := e.s.SaveSession(e.ctx, u, want, time.Hour); err != nil {
					errs <- fmt.Errorf("SaveSession: %w", err)
					return
				}
				got, err := e.s.Session(e.ctx, u)
				if err != nil {
					errs <- fmt.Errorf("Session: %w", err)
					return
				}
				if !equal(got, want) {
					errs <- fmt.Errorf("worker %d round %d: got %+v, want %+v", w, r, got, want)
					return
				}
				if r%10 == 9 {
					if err := e.s.Forget(e.ctx, u); err != nil {
						errs <- fmt.Errorf("Forget: %w", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if firsts != rounds {
		t.Fatalf("%d shared update ids reported new %d times, want once each", rounds, firsts)
	}
}

func testBegin(t *testing.T, e *env) {
	b, ok := e.s.(Beginner)
	if !ok {
		t.Skipf("%T does not implement the optional Begin", e.s)
	}
	begin := func(id int64, u bot.UserKey, wantFirst bool, want bot.Session) {
		t.Helper()
		first, s, err := b.Begin(e.ctx, id, time.Hour, u)
		if err != nil {
			t.Fatalf("Begin(%d): %v", id, err)
		}
		if first != wantFirst {
			t.Fatalf("Begin(%d) first = %v, want %v", id, first, wantFirst)
		}
		e.mustEqual(s, want)
	}
	begin(1, user(1), true, bot.Session{})
	begin(1, user(1), false, bot.Session{})
	e.mustFirstSeen(1, time.Hour, false) // Begin and FirstSeen share records
	e.mustFirstSeen(2, time.Hour, true)
	begin(2, user(1), false, bot.Session{})

	e.mustSave(user(1), full(), time.Hour)
	begin(3, user(1), true, full())
	begin(4, user(2), true, bot.Session{})
	e.mustForget(user(1))
	begin(5, user(1), true, bot.Session{})

	e.advance(61 * time.Minute)
	begin(1, user(1), true, bot.Session{})
}

// claimer returns the store's two-phase de-duplication, or skips.
func (e *env) claimer() bot.UpdateClaimer {
	e.t.Helper()
	c, ok := e.s.(bot.UpdateClaimer)
	if !ok {
		e.t.Skipf("%T does not implement the optional bot.UpdateClaimer", e.s)
	}
	return c
}

var claimNames = map[bot.Claim]string{bot.ClaimNew: "new", bot.ClaimBusy: "busy", bot.ClaimDone: "done"}

func (e *env) mustClaim(id int64, lease time.Duration, u bot.UserKey, want bot.Claim) bot.Session {
	e.t.Helper()
	got, s, err := e.claimer().BeginClaim(e.ctx, id, lease, u)
	if err != nil {
		e.t.Fatalf("BeginClaim(%d): %v", id, err)
	}
	if got != want {
		e.t.Fatalf("BeginClaim(%d) = %s, want %s", id, claimNames[got], claimNames[want])
	}
	return s
}

func (e *env) mustFinish(id int64, ttl time.Duration, u bot.UserKey, s *bot.Session) {
	e.t.Helper()
	if err := e.claimer().FinishUpdate(e.ctx, id, ttl, u, s, time.Hour); err != nil {
		e.t.Fatalf("FinishUpdate(%d): %v", id, err)
	}
}

func (e *env) mustRelease(id int64) {
	e.t.Helper()
	if err := e.claimer().ReleaseUpdate(e.ctx, id); err != nil {
		e.t.Fatalf("ReleaseUpdate(%d): %v", id, err)
	}
}

const lease = 30 * time.Second

// testClaimLifecycle: claimed, then in progress for everyone else, then
// done; FirstSeen shares the records both ways.
func testClaimLifecycle(t *testing.T, e *env) {
	e.claimer()
	e.mustClaim(1, lease, user(1), bot.ClaimNew)
	e.mustClaim(1, lease, user(1), bot.ClaimBusy)
	e.mustFirstSeen(1, day, false)
	e.mustClaim(1, lease, user(1), bot.ClaimBusy) // FirstSeen did not overwrite the claim
	e.mustFinish(1, day, user(1), nil)
	e.mustClaim(1, lease, user(1), bot.ClaimDone)
	e.mustFirstSeen(1, day, false)
	e.mustClaim(2, lease, user(1), bot.ClaimNew) // ids are independent

	e.mustFirstSeen(3, day, true) // a one-phase record counts as done
	e.mustClaim(3, lease, user(1), bot.ClaimDone)
}

// testClaimLeaseExpiry: a claimant that died holds the update until its
// lease ends; then the redelivery is handled.
func testClaimLeaseExpiry(t *testing.T, e *env) {
	e.claimer()
	e.mustClaim(7, lease, user(1), bot.ClaimNew)
	e.advance(lease - time.Second)
	e.mustClaim(7, lease, user(1), bot.ClaimBusy)
	e.advance(2 * time.Second)
	e.mustClaim(7, lease, user(1), bot.ClaimNew)
	e.mustClaim(7, lease, user(1), bot.ClaimBusy) // the new claim has a lease of its own
	e.mustFinish(7, day, user(1), nil)
	e.advance(2 * lease) // a done mark outlives any lease
	e.mustClaim(7, lease, user(1), bot.ClaimDone)
}

func testClaimDoneExpiry(t *testing.T, e *env) {
	e.claimer()
	e.mustClaim(8, lease, user(1), bot.ClaimNew)
	e.mustFinish(8, time.Hour, user(1), nil)
	e.advance(59 * time.Minute)
	e.mustClaim(8, lease, user(1), bot.ClaimDone)
	e.advance(2 * time.Minute)
	e.mustClaim(8, lease, user(1), bot.ClaimNew)
}

// testClaimRelease: a released claim is handled again at once; a done
// mark (or a one-phase record) cannot be released.
func testClaimRelease(t *testing.T, e *env) {
	e.claimer()
	e.mustRelease(9) // never seen: not an error
	e.mustClaim(9, lease, user(1), bot.ClaimNew)
	e.mustRelease(9)
	e.mustClaim(9, lease, user(1), bot.ClaimNew)
	e.mustFinish(9, day, user(1), nil)
	e.mustRelease(9) // a late release by a handler whose lease ran out
	e.mustClaim(9, lease, user(1), bot.ClaimDone)
	e.mustFirstSeen(10, day, true)
	e.mustRelease(10)
	e.mustFirstSeen(10, day, false)
}

// testClaimSession: BeginClaim loads the session; FinishUpdate saves one
// if given and leaves it alone otherwise.
func testClaimSession(t *testing.T, e *env) {
	e.claimer()
	e.mustEqual(e.mustClaim(1, lease, user(1), bot.ClaimNew), bot.Session{})
	want := full()
	e.mustFinish(1, day, user(1), &want)
	e.mustEqual(e.mustSession(user(1)), full())
	want.Results[0] = "changed-after-finish"
	e.mustEqual(e.mustClaim(2, lease, user(1), bot.ClaimNew), full())
	e.mustFinish(2, day, user(1), nil)
	e.mustEqual(e.mustSession(user(1)), full())
	e.mustNotFound(user(2))
	e.mustEqual(e.mustClaim(3, lease, user(2), bot.ClaimNew), bot.Session{})

	// The session saved with the done mark expires with its own TTL.
	e.advance(61 * time.Minute)
	e.mustNotFound(user(1))
	e.mustClaim(2, lease, user(1), bot.ClaimDone)
}

// testClaimConcurrent: replicas racing on one redelivered update; exactly
// one may handle it.
func testClaimConcurrent(t *testing.T, e *env) {
	c := e.claimer()
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[bot.Claim]int{}
	var errs []error
	for range n {
		wg.Go(func() {
			got, _, err := c.BeginClaim(e.ctx, 99, lease, user(1))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			counts[got]++
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("BeginClaim: %v", errs[0])
	}
	if counts[bot.ClaimNew] != 1 || counts[bot.ClaimBusy] != n-1 {
		t.Fatalf("concurrent claims: %d new, %d busy, %d done; want 1 new, %d busy", counts[bot.ClaimNew], counts[bot.ClaimBusy], counts[bot.ClaimDone], n-1)
	}
}
