package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/redisstore"
)

// TestRunWritesMonitorCountersAtStop: next to Redis the monitoring
// counters are batched in memory (written once a second); `lotse run`
// writes what is pending when it stops, before it closes the store, so a
// question answered just before the stop is counted.
func TestRunWritesMonitorCountersAtStop(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	addr := rdb.(*redis.Client).Options().Addr
	r := startLotse(t, map[string]string{
		"REDIS_URL":       "redis://" + addr + "/0",
		"LOTSE_SECRET":    strings.Repeat("k", 32),
		"LOTSE_NAMESPACE": ns,
	})
	const chat = 1301
	r.api.PushText(chat, chat, "uk", "Де Jobcenter?")
	r.waitFor(t, chat, "Jobcenter Lotsenstadt")
	if code := r.stop(); code != exitOK {
		t.Fatalf("lotse run exited %d\n%s", code, r.logs.String())
	}
	if strings.Contains(r.logs.String(), "monitoring counters not written") {
		t.Fatalf("counters lost at the stop:\n%s", r.logs.String())
	}
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := redisstore.New(rdb, redisstore.Options{Namespace: ns}).Monitor().Figures(ctx, now.Add(-48*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, d := range f.Days {
		for _, c := range d.Questions {
			n += c
		}
	}
	if n != 1 {
		t.Fatalf("%d questions counted, want 1 (days %+v)", n, f.Days)
	}
}
