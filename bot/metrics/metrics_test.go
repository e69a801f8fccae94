package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/metrics"
)

// mustScrape fetches /metrics from m's handler over loopback HTTP.
func mustScrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScrape(t *testing.T) {
	m := metrics.New()
	m.Update("text", "ok", 30*time.Millisecond)
	m.Update("text", "ok", 2*time.Second)
	m.Update("callback", "unavailable", time.Millisecond)
	m.Update("unsupported", "ignored", 0)
	m.APICall("sendMessage", 200)
	m.APICall("sendMessage", 429)
	m.APICall("sendMessage", 429)
	m.APICall("getUpdates", 0)
	m.WebhookRequest(401)
	m.WebhookRequest(200)
	m.KnowledgeLoaded(true, 84)
	m.KnowledgeLoaded(false, 0)
	m.KnowledgeLoaded(true, 85)
	m.TicketsByState(func() map[string]int { return map[string]int{"open": 3, "claimed": 1} })

	out := mustScrape(t, m)
	for _, want := range []string{
		`lotse_updates_total{kind="text",outcome="ok"} 2`,
		`lotse_updates_total{kind="callback",outcome="unavailable"} 1`,
		`lotse_updates_total{kind="unsupported",outcome="ignored"} 1`,
		`lotse_update_duration_seconds_bucket{kind="text",le="0.05"} 1`,
		`lotse_update_duration_seconds_bucket{kind="text",le="2.5"} 2`,
		`lotse_update_duration_seconds_count{kind="text"} 2`,
		`lotse_telegram_api_calls_total{code="200",method="sendMessage"} 1`,
		`lotse_telegram_api_calls_total{code="429",method="sendMessage"} 2`,
		`lotse_telegram_api_calls_total{code="0",method="getUpdates"} 1`,
		`lotse_telegram_flood_waits_total{method="sendMessage"} 2`,
		`lotse_webhook_requests_total{code="401"} 1`,
		`lotse_webhook_requests_total{code="200"} 1`,
		`lotse_knowledge_reloads_total{result="success"} 2`,
		`lotse_knowledge_reloads_total{result="failure"} 1`,
		`lotse_knowledge_entries 85`,
		`lotse_tickets{state="open"} 3`,
		`lotse_tickets{state="claimed"} 1`,
	} {
		if !strings.Contains(out, "\n"+want+"\n") {
			t.Errorf("scrape lacks the line %q", want)
		}
	}
	if !strings.Contains(out, "\ngo_goroutines ") {
		t.Error("scrape lacks the Go runtime metrics")
	}
	if strings.Contains(out, `kind="unsupported",le=`) {
		t.Error("ignored updates went into the latency histogram")
	}
}

// TestFreshRegistry: failures are a visible zero before the first one,
// and two instances do not share state.
func TestFreshRegistry(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.KnowledgeLoaded(false, 0)
	out := mustScrape(t, b)
	if !strings.Contains(out, `lotse_knowledge_reloads_total{result="failure"} 0`) {
		t.Errorf("fresh metrics lack a zero failure count:\n%s", out)
	}
}

// TestSharedCall: fallbacks to local limits are counted per part, and the
// gauge tells whether the last call reached Redis.
func TestSharedCall(t *testing.T) {
	m := metrics.New()
	m.SharedCall("limiter", true)
	m.SharedCall("limiter", false)
	m.SharedCall("limiter", false)
	m.SharedCall("lock", false)
	m.SharedCall("lock", true)
	out := mustScrape(t, m)
	for _, want := range []string{
		`lotse_replica_fallbacks_total{part="limiter"} 2`,
		`lotse_replica_fallbacks_total{part="lock"} 1`,
		`lotse_replica_shared_up{part="limiter"} 0`,
		`lotse_replica_shared_up{part="lock"} 1`,
	} {
		if !strings.Contains(out, "\n"+want+"\n") {
			t.Errorf("scrape lacks the line %q", want)
		}
	}
	m = metrics.New()
	m.SharedCall("lock", true)
	if out := mustScrape(t, m); !strings.Contains(out, "\n"+`lotse_replica_fallbacks_total{part="lock"} 0`+"\n") {
		t.Errorf("no fallback yet is not a visible zero:\n%s", out)
	}
}
