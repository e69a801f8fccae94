package storetest

import (
	"context"
	"testing"
	"time"
)

// suiteTest is one test of a conformance suite, run on an environment E
// (a fresh store and clock).
type suiteTest[E any] struct {
	name string
	fn   func(*testing.T, E)
}

// storeEnv is what the environment of each suite holds: the subtest, a
// context, the store under test and its fake clock.
type storeEnv[S any] struct {
	t   *testing.T
	ctx context.Context
	s   S
	clk *clock
}

// newStoreEnv builds the environment around a fresh store newStore makes
// on clk.
func newStoreEnv[S any](t *testing.T, clk *clock, newStore func(t *testing.T, now func() time.Time) S) storeEnv[S] {
	return storeEnv[S]{t: t, ctx: context.Background(), s: newStore(t, clk.Now), clk: clk}
}

// advance moves the clock by d and ages the store with it (Advancer).
func (e *storeEnv[S]) advance(d time.Duration) {
	e.t.Helper()
	e.clk.advance(e.t, e.ctx, e.s, d)
}

// allPages reads a paged listing: page is called with the cursor "" and
// then with each next cursor until that is "". It fails the test on an
// error, on a page longer than limit and on a listing that does not end,
// and returns every item in order. what names the listing in failures.
func allPages[T any](t *testing.T, what string, limit int, page func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	var out []T
	cursor := ""
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatalf("%s does not end", what)
		}
		items, next, err := page(cursor)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(items) > limit {
			t.Fatalf("%s with limit %d returned %d", what, limit, len(items))
		}
		out = append(out, items...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// runSuite runs each test as a subtest of t, on the environment newEnv
// builds around a fresh store and a fresh clock at Epoch.
func runSuite[E any](t *testing.T, newEnv func(t *testing.T, clk *clock) E, tests []suiteTest[E]) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, &clock{now: Epoch}))
		})
	}
}
