package main

import (
	"context"
	"io"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/internal/loadtest"
	"github.com/lotse-bot/lotse/knowledge"
)

// BenchmarkClosedLoop runs `lotse bench` conversation scenarios (closed
// loop, 1,000 users; knowledge questions on the in-memory store and on a
// throwaway redis-server) for profiling the knowledge-question path
// against the echo ceiling:
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
		{"questions-redis", func(e *benchEnv) (convRow, error) {
			r, _, err := e.questions(context.Background(), true)
			return r, err
		}},
		{"echo", func(e *benchEnv) (convRow, error) { return e.echo(context.Background()) }},
	} {
		b.Run(sc.name, func(b *testing.B) {
			n := max(b.N, 1000)
			env := &benchEnv{kb: kb, cat: cat, progress: io.Discard,
				size: benchSize{users: 1000, questions: n, echo: n}}
			if sc.name == "questions-redis" {
				srv, err := loadtest.StartRedis()
				if err != nil {
					b.Skip("no redis-server: ", err)
				}
				defer srv.Stop()
				env.redis = srv
				env.stats = redis.NewClient(&redis.Options{Addr: srv.Addr()})
				defer env.stats.Close()
			}
			b.ResetTimer()
			r, err := sc.run(env)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.sum.PerSecond, "updates/s")
			b.ReportMetric(float64(r.sum.P99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(cpuPerUpdate(r.sum).Microseconds()), "cpu-µs/update")
			if r.meter != nil {
				b.ReportMetric(r.trips, "redis-round-trips/update")
				b.ReportMetric(float64(r.meter.pipelines)/float64(max(r.sum.Updates, 1)), "redis-pipelines/update")
				b.ReportMetric(float64(r.meter.serverCPU.Microseconds())/float64(max(r.sum.Updates, 1)), "redis-server-cpu-µs/update")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
