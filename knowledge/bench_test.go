package knowledge_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

// BenchmarkLoad10k loads, validates and indexes 10,000 synthetic entries
// (about 23 MB of YAML in thirteen files, ten of them with 1,000 entries
// each, so files are parsed and decoded in parallel). Besides ns/op it
// reports heapMB, the live heap the loaded base keeps after a GC, and
// cpu-ms/op, the CPU time spent per load, which stays meaningful on a
// busy machine where wall time does not.
func BenchmarkLoad10k(b *testing.B) {
	fsys := synth.FS(10000)
	var kb *knowledge.KB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		var err error
		kb, err = knowledge.Load(fsys)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.GC()
	runtime.ReadMemStats(&after)
	if kb.Len() != 10000 {
		b.Fatalf("loaded %d entries", kb.Len())
	}
	b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "heapMB")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	runtime.KeepAlive(kb)
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
