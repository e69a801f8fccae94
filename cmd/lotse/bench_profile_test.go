package main

import (
	"context"
	"io"
	"testing"

	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// BenchmarkClosedLoop runs one `lotse bench` conversation scenario
// (closed loop, 1,000 users, the in-memory store) for profiling the
// knowledge-question path against the echo ceiling:
//
//	go test -run XXX -bench ClosedLoop -benchtime 20000x -cpuprofile cpu.out ./cmd/lotse
//
// Each iteration is one update; updates/s is the figure to compare.
func BenchmarkClosedLoop(b *testing.B) {
	kb, err := knowledge.Sample()
	if err != nil {
		b.Fatal(err)
	}
	cat, err := i18n.NewCatalog()
	if err != nil {
		b.Fatal(err)
	}
	for _, sc := range []struct {
		name string
		run  func(*benchEnv) (convRow, error)
	}{
		{"questions", func(e *benchEnv) (convRow, error) {
			r, _, err := e.questions(context.Background(), false)
			return r, err
		}},
		{"echo", func(e *benchEnv) (convRow, error) { return e.echo(context.Background()) }},
	} {
		b.Run(sc.name, func(b *testing.B) {
			n := max(b.N, 1000)
			env := &benchEnv{kb: kb, cat: cat, progress: io.Discard,
				size: benchSize{users: 1000, questions: n, echo: n}}
			b.ResetTimer()
			r, err := sc.run(env)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.sum.PerSecond, "updates/s")
			b.ReportMetric(float64(r.sum.P99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
