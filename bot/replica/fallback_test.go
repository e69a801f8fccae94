package replica_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/metrics"
	"github.com/lotse-bot/lotse/bot/replica"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// scrape returns the lines of m's /metrics that start with prefix.
func scrape(t *testing.T, m *metrics.Metrics, prefix string) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "\n")
}

func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains("\n"+got+"\n", "\n"+w+"\n") {
			t.Errorf("metrics lack %q; have:\n%s", w, got)
		}
	}
}

// TestFallbackMetric: a transport whose shared limiter and chat lock
// cannot reach Redis falls back to its own limits and lock, and
// lotse_replica_fallbacks_total counts each fallback; calls that reach
// Redis, a busy chat or a cancelled caller are not fallbacks.
func TestFallbackMetric(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	m := metrics.New()
	cfg := replica.Config{Namespace: ns, Secret: secret, Observer: m, LockWait: 100 * time.Millisecond}
	lim, err := replica.NewLimiter(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	locks, err := replica.NewLocks(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := lim.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	unlock, err := locks.Lock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locks.Lock(ctx, 1); !errors.Is(err, replica.ErrBusy) {
		t.Fatalf("second lock: %v, want ErrBusy", err)
	}
	unlock()
	wantLines(t, scrape(t, m, "lotse_replica_"),
		`lotse_replica_fallbacks_total{part="limiter"} 0`,
		`lotse_replica_fallbacks_total{part="lock"} 0`,
		`lotse_replica_shared_up{part="limiter"} 1`,
		`lotse_replica_shared_up{part="lock"} 1`)

	// Redis gone: the transport sends five messages and handles a
	// webhook update on its own limits and lock.
	addr, _ := net0()
	dead := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer dead.Close()
	cfg.LockWait = 0 // the default: longer than a failed dial
	if lim, err = replica.NewLimiter(dead, cfg); err != nil {
		t.Fatal(err)
	}
	if locks, err = replica.NewLocks(dead, cfg); err != nil {
		t.Fatal(err)
	}
	api := bottest.NewFakeAPI(t)
	for chat := int64(7); chat < 12; chat++ {
		api.AddChat(chat, "private")
	}
	c := mustClient(t, api, func(c *telegram.Config) { c.Limiter, c.ChatLocker = lim, locks })
	for i := range 5 {
		if _, err := c.Send(ctx, bot.Outgoing{ChatID: int64(7 + i), Text: fmt.Sprint("m", i)}); err != nil {
			t.Fatalf("send with Redis down: %v", err)
		}
	}
	handled := 0
	wh, err := c.Webhook(telegram.HandlerFunc(func(context.Context, bot.Incoming) error { handled++; return nil }), "webhook-secret")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(update(t, 1, 7))))
	req.Header.Set(telegram.SecretHeader, "webhook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || handled != 1 {
		t.Fatalf("webhook with Redis down: status %d, %d handled, want 200 and 1", resp.StatusCode, handled)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := locks.Lock(cancelled, 2); err == nil {
		t.Fatal("lock with a cancelled context succeeded")
	}
	// The limiter was asked once: after a failure the transport keeps
	// to its own limits for a while without asking again.
	wantLines(t, scrape(t, m, "lotse_replica_"),
		`lotse_replica_fallbacks_total{part="limiter"} 1`,
		`lotse_replica_fallbacks_total{part="lock"} 1`,
		`lotse_replica_shared_up{part="limiter"} 0`,
		`lotse_replica_shared_up{part="lock"} 0`)
}
