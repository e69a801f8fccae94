package storetest

import "testing"

// suiteTest is one test of a conformance suite, run on an environment E
// (a fresh store and clock).
type suiteTest[E any] struct {
	name string
	fn   func(*testing.T, E)
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
