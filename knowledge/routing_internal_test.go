package knowledge

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestProveReportsUnroutedRequests checks the last line of defence of
// checkRouting: a table that leaves requests without a person (which
// decoding prevents, so it cannot be built from YAML) is reported with
// the number of affected combinations and an example.
func TestProveReportsUnroutedRequests(t *testing.T) {
	qm := &Entry{ID: "qm", Kind: KindPerson}
	r := &routing{
		districts:      map[string]districtRule{"nord": {rule: rule{person: target{e: qm}}}},
		topics:         map[overrideKey]rule{},
		concepts:       map[overrideKey]rule{},
		knownDistricts: map[string]bool{"nord": true},
		knownTopics:    map[string]bool{"housing": true},
		knownConcepts:  map[string]bool{},
	}
	msg := r.prove()
	// Unknown district: 2 topics x 4 flag combinations reach nobody; in
	// nord, escalation and volunteers (2 topics x 3) do.
	if !strings.Contains(msg, "14 kinds of request are not routed") || !strings.Contains(msg, `district (unknown), topic (unknown) reaches nobody`) {
		t.Errorf("prove() = %q", msg)
	}
	fb := &Entry{ID: "fb", Kind: KindPerson}
	r.fallback, r.nobodyHelped = target{e: fb}, target{e: fb}
	if msg := r.prove(); msg != "" {
		t.Errorf("with a fallback: prove() = %q", msg)
	}
}

// TestOSABuf checks the allocation-free bounded distance against
// editDistance on random short words over a small alphabet (so that
// swaps and repeats are common).
func TestOSABuf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() []rune {
		r := make([]rune, rng.IntN(9))
		for i := range r {
			r[i] = []rune("abcä")[rng.IntN(4)]
		}
		return r
	}
	var o osaBuf
	for range 20000 {
		a, b := word(), word()
		limit := rng.IntN(4)
		want := editDistance(string(a), string(b))
		got := o.distance(a, b, limit)
		if want <= limit && got != want || want > limit && got <= limit {
			t.Fatalf("distance(%q, %q, %d) = %d, editDistance = %d", string(a), string(b), limit, got, want)
		}
	}
}
