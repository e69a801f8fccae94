package knowledge

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

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

func mustSynth(tb testing.TB, n int) *KB {
	tb.Helper()
	kb, err := Load(synth.FS(n))
	if err != nil {
		tb.Fatalf("synthetic base of %d: %v", n, err)
	}
	return kb
}

func benchQueriesOn(b *testing.B, kb *KB) {
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		q := synth.Queries[i%len(synth.Queries)]
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
// synthetic base of 10,000 entries, the CPU time it takes (meaningful on
// a busy machine, where wall time is not) and the heap it keeps.
func BenchmarkSearchIndexBuild(b *testing.B) {
	kb := mustSynth(b, 10000)
	var before, after runtime.MemStats
	var keep *index
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		keep = newIndex(kb)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
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

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIndexWorkers checks the parallel index build: any number of workers
// must give the same index, and its document frequencies must count every
// entry a term finds, directly or through a concept, once.
func TestIndexWorkers(t *testing.T) {
	sample, err := Sample()
	if err != nil {
		t.Fatal(err)
	}
	for name, kb := range map[string]*KB{"sample": sample, "synth": mustSynth(t, 700)} {
		t.Run(name, func(t *testing.T) {
			one := buildIndex(kb, 1)
			checkIndex(t, one)
			for _, workers := range []int{2, 3, 7} {
				ix := buildIndex(kb, workers)
				if diff := indexDiff(one, ix); diff != "" {
					t.Errorf("%d workers: %s differs from 1 worker", workers, diff)
				}
			}
		})
	}
}

// checkIndex checks the invariants of an index against its own parts.
func checkIndex(t *testing.T, ix *index) {
	t.Helper()
	if len(ix.terms) == 0 || len(ix.cpost) == 0 {
		t.Fatalf("index has %d terms and %d concept postings", len(ix.terms), len(ix.cpost))
	}
	seen := make(map[int32]bool)
	for i, k := range ix.terms {
		term := int32(i)
		if i > 0 && ix.terms[i-1] >= k {
			t.Fatalf("terms out of order at %d: %q, %q", i, ix.terms[i-1], k)
		}
		if id, ok := ix.ids[k]; !ok || id != term {
			t.Fatalf("ids[%q] = %d, %v; want %d", k, id, ok, term)
		}
		clear(seen)
		for j, p := range ix.own(term) {
			if j > 0 && ix.own(term)[j-1].doc >= p.doc {
				t.Fatalf("postings of %q out of entry order", k)
			}
			seen[p.doc] = true
		}
		for _, c := range ix.conceptsOf(term) {
			for _, p := range ix.about(c) {
				seen[p.doc] = true
			}
		}
		if len(seen) == 0 || int(ix.df[term]) != len(seen) {
			t.Fatalf("df of %q = %d, finds %d entries", k, ix.df[term], len(seen))
		}
	}
	if len(ix.ids) != len(ix.terms) {
		t.Fatalf("%d ids for %d terms", len(ix.ids), len(ix.terms))
	}
}

// indexDiff names the first part in which two indexes differ, or "".
func indexDiff(a, b *index) string {
	switch {
	case !slices.Equal(a.terms, b.terms):
		return "vocabulary"
	case !slices.Equal(a.df, b.df) || !slices.Equal(a.idf, b.idf) || a.maxIDF != b.maxIDF:
		return "document frequencies"
	case !slices.Equal(a.start, b.start) || !slices.Equal(a.post, b.post):
		return "postings"
	case !slices.Equal(a.tcStart, b.tcStart) || !slices.Equal(a.tconc, b.tconc):
		return "concepts of terms"
	case !slices.Equal(a.cStart, b.cStart) || !slices.Equal(a.cpost, b.cpost):
		return "concept postings"
	case !slices.Equal(a.sorted, b.sorted) || !slices.Equal(a.rsorted, b.rsorted):
		return "word lists"
	case !slices.Equal(a.delTable, b.delTable):
		return "deletion table"
	}
	for i := range a.runes {
		if !slices.Equal(a.runes[i], b.runes[i]) {
			return "runes"
		}
	}
	return ""
}

// TestIndexKeysAreQueryKeys checks that the index cuts a text into the
// same keys as a question (it folds and stems in its own buffers).
func TestIndexKeysAreQueryKeys(t *testing.T) {
	texts := []string{
		"", "  ", "Ausländerbehörde", "Auslaenderbehoerde FRAUEN-Beratung", "Straße",
		"الدورات والكتب للأطفال", "کلاس‌های زبان", "می خواهم", "сім'я Їжак", "İSTANBUL kayıt",
		"l'office d’intégration", "ﬁnden １２３", "Hilfe🙂bitte", "ab\xffcd", "한국어", "aeee oe ue",
	}
	for _, f := range synth.FS(200) {
		texts = append(texts, strings.Split(string(f.Data), "\n")...)
	}
	b := &builder{ix: &index{stop: map[string]bool{}}, sh: &shared{}, ids: map[string]int32{}}
	for _, text := range texts {
		var got []string
		for _, id := range b.keysOf(text) {
			got = append(got, b.keys[id])
		}
		if want := searchKeys(text); !slices.Equal(got, want) {
			t.Errorf("index keys of %q = %q, query keys %q", text, got, want)
		}
	}
}
