package knowledge

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

// benchQueries is a fixed mix of questions: exact, typo, transcribed
// umlauts, other scripts, filler words, nonsense and a long text.
var benchQueries = []string{
	"Ausländerbehörde",
	"Auslenderbehörde termin",
	"jobcentr",
	"Integrationskurs anmelden",
	"wo ist die Beratung für Frauen?",
	"Sprachkurs mit Kinderbetreuung",
	"Krankenkase Arzt",
	"Wohnung Miete Kaution",
	"Anerkennung Zeugnis",
	"where is the job centre",
	"I need help with my residence permit",
	"курс німецької мови",
	"ищу работу",
	"دورة لغة",
	"اجاره خانه",
	"kira yardımı",
	"cherche un logement",
	"asdfgh",
	"🙂🙂",
	strings.Repeat("Beratung Wohnung Arbeit Familie ", 40),
}

// BenchmarkSearch reports per-query latency percentiles on the sample base
// and on synthetic bases of growing size.
func BenchmarkSearch(b *testing.B) {
	b.Run("sample", func(b *testing.B) {
		kb, err := Sample()
		if err != nil {
			b.Fatal(err)
		}
		benchQueriesOn(b, kb)
	})
	for _, n := range []int{100, 1000, 10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			kb := mustSynth(b, n)
			benchQueriesOn(b, kb)
		})
	}
}

func mustSynth(b *testing.B, n int) *KB {
	b.Helper()
	kb, err := Load(synth.FS(n))
	if err != nil {
		b.Fatalf("synthetic base of %d: %v", n, err)
	}
	return kb
}

func benchQueriesOn(b *testing.B, kb *KB) {
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		q := benchQueries[i%len(benchQueries)]
		i++
		start := time.Now()
		kb.Search(q, "de", 5)
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(durs)
	pct := func(p float64) float64 { return float64(durs[int(p*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

// BenchmarkSearchIndexBuild measures building the index alone for a
// synthetic base of 10,000 entries, and the heap it keeps.
func BenchmarkSearchIndexBuild(b *testing.B) {
	kb := mustSynth(b, 10000)
	var before, after runtime.MemStats
	var keep *index
	b.ResetTimer()
	for b.Loop() {
		keep = newIndex(kb)
	}
	b.StopTimer()
	keep = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep = newIndex(kb)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "index-MB")
	b.ReportMetric(float64(len(keep.terms)), "terms")
	runtime.KeepAlive(keep)
	runtime.KeepAlive(kb) // else its own index is collected during the measurement
}
