package knowledge_test

import (
	"runtime"
	"testing"

	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

// BenchmarkLoad10k loads, validates and indexes 10,000 synthetic entries.
// heapMB is the live heap the loaded base keeps after a GC.
func BenchmarkLoad10k(b *testing.B) {
	fsys := synth.FS(10000)
	var kb *knowledge.KB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		kb, err = knowledge.Load(fsys)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if kb.Len() != 10000 {
		b.Fatalf("loaded %d entries", kb.Len())
	}
	b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "heapMB")
	runtime.KeepAlive(kb)
}
