// Package searchbench measures knowledge search on synthetic knowledge
// bases of growing size, for `lotse bench`. It exists because the
// generator (knowledge/internal/synth) is internal to knowledge/, while
// the benchmark command lives in cmd/.
package searchbench

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/lotse-bot/lotse/internal/loadtest"
	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

// Row is the result for one size.
type Row struct {
	Entries  int
	Queries  int
	P50, P99 time.Duration
	// Load is the time to generate, load and index the base.
	Load time.Duration
	// Mem is the process' memory with the base loaded; Base is the heap
	// before it was loaded, so Mem.Heap-Base.Heap is the base's share.
	Mem, Base loadtest.Memory
}

// Run loads a synthetic base of n entries and runs queries searches
// (cycling through synth.Queries, the mix of knowledge's BenchmarkSearch,
// in German as the user language).
func Run(n, queries int) (Row, error) {
	debug.FreeOSMemory() // so RSS reflects this size, not the previous one
	base := loadtest.ReadMemory()
	start := time.Now()
	kb, err := knowledge.Load(synth.FS(n))
	if err != nil {
		return Row{}, fmt.Errorf("synthetic base of %d entries: %w", n, err)
	}
	row := Row{Entries: n, Queries: queries, Load: time.Since(start), Base: base}
	// Warm up: the first queries fault pages in.
	for _, q := range synth.Queries {
		kb.Search(q, "de", 5)
	}
	durs := make([]time.Duration, queries)
	for i := range durs {
		q := synth.Queries[i%len(synth.Queries)]
		t := time.Now()
		kb.Search(q, "de", 5)
		durs[i] = time.Since(t)
	}
	slices.Sort(durs)
	row.P50, row.P99 = loadtest.Percentile(durs, 0.50), loadtest.Percentile(durs, 0.99)
	row.Mem = loadtest.ReadMemory()
	runtime.KeepAlive(kb) // else the base may be collected before memory is read
	return row, nil
}
