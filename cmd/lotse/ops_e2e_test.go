package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

var opsAddrRe = regexp.MustCompile(`msg="ops server listening" addr=(127\.0\.0\.1:\d+)`)

// opsAddr waits for the ops server's address in the log.
func (r *running) opsAddr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := opsAddrRe.FindStringSubmatch(r.logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("ops server did not start within 20s; log:\n%s", r.logs.String())
	return ""
}

// httpDo sends a request and returns status and body.
func httpDo(t *testing.T, method, url string, header http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// textUpdate is a private text message as Telegram posts it.
func textUpdate(t *testing.T, id int, chat int64, lang, text string) []byte {
	t.Helper()
	b, err := json.Marshal(tgbotapi.Update{UpdateID: id, Message: &tgbotapi.Message{
		MessageID: id, Date: int(time.Now().Unix()), Text: text,
		From: &tgbotapi.User{ID: chat, FirstName: "Test", LanguageCode: lang},
		Chat: &tgbotapi.Chat{ID: chat, Type: "private"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunWebhookEndToEnd runs the program in webhook mode. The fake Bot
// API cannot call back, so the test posts updates to the webhook itself,
// as Telegram would, and checks the replies reach the fake API.
func TestRunWebhookEndToEnd(t *testing.T) {
	const secret = "e2e-webhook_secret"
	r := startLotse(t, map[string]string{
		"LOTSE_WEBHOOK_URL":    "https://bot.example.org/telegram",
		"LOTSE_WEBHOOK_SECRET": secret,
	})
	base := "http://" + r.opsAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.api.WaitCalls(ctx, "setWebhook", 1); err != nil {
		t.Fatalf("setWebhook not called: %v\n%s", err, r.logs.String())
	}
	p := r.api.Calls("setWebhook")[0].Params
	if p.Get("url") != "https://bot.example.org/telegram" || p.Get("secret_token") != secret {
		t.Errorf("setWebhook params: url %q, secret set %v", p.Get("url"), p.Get("secret_token") == secret)
	}

	const ukr, arab = 2001, 2002
	r.api.AddChat(ukr, "private")
	r.api.AddChat(arab, "private")
	good := http.Header{"X-Telegram-Bot-Api-Secret-Token": {secret}, "Content-Type": {"application/json"}}
	forged := http.Header{"X-Telegram-Bot-Api-Secret-Token": {"e2e-webhook_secreT"}}

	// Forged requests: rejected, nothing handled, nothing sent.
	for _, h := range []http.Header{nil, forged} {
		if s, _ := httpDo(t, "POST", base+"/telegram", h, textUpdate(t, 1, ukr, "uk", "Де Jobcenter?")); s != 401 {
			t.Errorf("forged update: status %d, want 401", s)
		}
	}
	if s, _ := httpDo(t, "POST", base+"/telegram", good, []byte(`{"update_id":`)); s != 400 {
		t.Errorf("broken JSON: status %d, want 400", s)
	}

	// Real updates: the answer is sent before the webhook answers 200.
	if s, _ := httpDo(t, "POST", base+"/telegram", good, textUpdate(t, 10, ukr, "uk", "Де Jobcenter?")); s != 200 {
		t.Fatalf("update: status %d, want 200\n%s", s, r.logs.String())
	}
	if sent := r.api.Sent(ukr); len(sent) == 0 || !containsText(sent, "Jobcenter Lotsenstadt") {
		t.Fatalf("no answer sent before the webhook returned 200: %+v", sent)
	}
	if s, _ := httpDo(t, "POST", base+"/telegram", good, textUpdate(t, 11, arab, "ar", "أين مكتب الأجانب")); s != 200 {
		t.Fatalf("update: status %d", s)
	}
	r.waitFor(t, arab, "Ausländerbehörde")
	// Telegram redelivers when it missed our answer: handled once.
	before := len(r.api.Sent(ukr))
	if s, _ := httpDo(t, "POST", base+"/telegram", good, textUpdate(t, 10, ukr, "uk", "Де Jobcenter?")); s != 200 {
		t.Errorf("redelivery: status %d, want 200", s)
	}
	if n := len(r.api.Sent(ukr)); n != before {
		t.Errorf("redelivered update answered again: %d messages, had %d", n, before)
	}

	if s, body := httpDo(t, "GET", base+"/healthz", nil, nil); s != 200 {
		t.Errorf("/healthz = %d %s", s, body)
	}
	if s, body := httpDo(t, "GET", base+"/readyz", nil, nil); s != 200 {
		t.Errorf("/readyz = %d %s", s, body)
	}
	_, metrics := httpDo(t, "GET", base+"/metrics", nil, nil)
	for _, want := range []string{
		`lotse_webhook_requests_total{code="401"} 2`,
		`lotse_webhook_requests_total{code="400"} 1`,
		`lotse_webhook_requests_total{code="200"} 3`,
		`lotse_updates_total{kind="text",outcome="ok"} 3`,
		`lotse_telegram_api_calls_total{code="200",method="setWebhook"} 1`,
		`lotse_knowledge_reloads_total{result="failure"} 0`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if code := r.stop(); code != exitOK {
		t.Errorf("exit code %d, want 0; log:\n%s", code, r.logs.String())
	}
	if n := len(r.api.Calls("getUpdates")); n != 0 {
		t.Errorf("getUpdates called %d times in webhook mode", n)
	}
	if n := len(r.api.Calls("deleteWebhook")); n != 0 {
		t.Error("the webhook was deleted on shutdown; other replicas may still serve it")
	}
	if bad := r.api.BadRequests(); len(bad) > 0 {
		t.Errorf("Bot API rejected requests: %+v", bad)
	}
	logs := r.logs.String()
	for _, leak := range []string{r.api.Token(), secret, "Jobcenter?", "مكتب", "Test", "2001"} {
		if strings.Contains(logs, leak) {
			t.Errorf("log contains %q:\n%s", leak, logs)
		}
	}
}

func containsText(sent []bottest.SentMessage, want string) bool {
	for _, m := range sent {
		if strings.Contains(m.Text, want) {
			return true
		}
	}
	return false
}

// TestRunPollingDeletesWebhook: switching back from a webhook keeps the
// updates that arrived meanwhile and polls them.
func TestRunPollingDeletesWebhook(t *testing.T) {
	api := bottest.NewFakeAPI(t)
	// A webhook left over from a webhook deployment, with a user's
	// message waiting.
	status, body := httpDo(t, "POST", api.URL()+"/bot"+api.Token()+"/setWebhook",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte("url=https%3A%2F%2Fold.example.org%2Ftg"))
	if status != 200 {
		t.Fatalf("setting up the old webhook: %d %s", status, body)
	}
	const chat = 3001
	api.PushText(chat, chat, "uk", "Де Jobcenter?")

	r := startLotseWith(t, api, nil)
	r.waitFor(t, chat, "Jobcenter Lotsenstadt")
	calls := api.Calls("deleteWebhook")
	if len(calls) != 1 || calls[0].Params.Get("drop_pending_updates") == "true" {
		t.Errorf("deleteWebhook calls: %+v", calls)
	}
	base := "http://" + r.opsAddr(t)
	if s, body := httpDo(t, "GET", base+"/readyz", nil, nil); s != 200 {
		t.Errorf("/readyz = %d %s", s, body)
	}
	if s, _ := httpDo(t, "POST", base+"/telegram", nil, textUpdate(t, 1, chat, "uk", "x")); s != 404 {
		t.Errorf("webhook path served in polling mode: %d", s)
	}
	_, metrics := httpDo(t, "GET", base+"/metrics", nil, nil)
	if !strings.Contains(metrics, `lotse_telegram_api_calls_total{code="200",method="getUpdates"}`) ||
		!strings.Contains(metrics, `lotse_telegram_api_calls_total{code="200",method="deleteWebhook"} 1`) {
		t.Errorf("/metrics lacks the API calls:\n%s", metrics)
	}
	if code := r.stop(); code != exitOK {
		t.Errorf("exit code %d; log:\n%s", code, r.logs.String())
	}
}

// TestRunEndToEndRedisCluster: the whole conversation on a real 3-master
// Redis Cluster, configured by a redis-cluster:// URL.
func TestRunEndToEndRedisCluster(t *testing.T) {
	rdb := bottest.Cluster(t)
	ns := bottest.Namespace(t, rdb)
	r := startLotse(t, map[string]string{
		"REDIS_URL":       "redis-cluster://" + strings.Join(rdb.Options().Addrs, ","),
		"LOTSE_SECRET":    strings.Repeat("k", 32),
		"LOTSE_NAMESPACE": ns,
	})
	testConversation(t, r)
	keys := bottest.Keys(t, rdb, ns+":*")
	if len(keys) == 0 {
		t.Fatal("nothing was stored in the cluster")
	}
	for k, ttl := range keys {
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", k)
		}
	}
}

// TestRunRefusesBadWebhook: configuration mistakes are reported before
// anything starts.
func TestRunRefusesBadWebhook(t *testing.T) {
	for _, tc := range []struct{ url, secret, listen, want string }{
		{url: "http://bot.example.org/tg", want: "LOTSE_WEBHOOK_URL"},
		{url: "https://bot.example.org", want: "needs a path"},
		{url: "https://bot.example.org:9000/tg", want: "port must be"},
		{url: "https://bot.example.org/metrics", want: "taken by the ops server"},
		{url: "https://bot.example.org/tg", secret: "no spaces allowed", want: "LOTSE_WEBHOOK_SECRET"},
		{url: "https://bot.example.org/tg", listen: "8080", want: "LOTSE_LISTEN"},
	} {
		var out bytes.Buffer
		code := Main(context.Background(), []string{"run"}, env(map[string]string{
			"TELEGRAM_TOKEN": "123:abc", "LOTSE_WEBHOOK_URL": tc.url, "LOTSE_WEBHOOK_SECRET": tc.secret, "LOTSE_LISTEN": tc.listen,
		}), nil, &out, &out)
		if code != exitUsage || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%+v: exit %d, output %q", tc, code, out.String())
		}
		if tc.secret != "" && strings.Contains(out.String(), tc.secret) {
			t.Errorf("output echoes the webhook secret: %q", out.String())
		}
	}
}

// TestWebhookSecretDerived: replicas sharing LOTSE_SECRET derive the
// same valid secret_token, which is not LOTSE_SECRET itself; an explicit
// one wins.
func TestWebhookSecretDerived(t *testing.T) {
	vars := map[string]string{"LOTSE_SECRET": strings.Repeat("a", 32), "LOTSE_WEBHOOK_URL": "https://bot.example.org/tg"}
	a, err := loadConfig(env(vars), false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := loadConfig(env(vars), false)
	if a.WebhookSecret == "" || a.WebhookSecret != b.WebhookSecret || !a.WebhookSecretDerived || a.WebhookPath != "/tg" {
		t.Errorf("derived: %q and %q (derived %v, path %q)", a.WebhookSecret, b.WebhookSecret, a.WebhookSecretDerived, a.WebhookPath)
	}
	if !telegram.ValidSecret(a.WebhookSecret) || strings.Contains(a.WebhookSecret, vars["LOTSE_SECRET"]) {
		t.Errorf("derived secret %q is invalid or reveals LOTSE_SECRET", a.WebhookSecret)
	}
	vars["LOTSE_SECRET"] = strings.Repeat("b", 32)
	if c, _ := loadConfig(env(vars), false); c.WebhookSecret == a.WebhookSecret {
		t.Error("different LOTSE_SECRETs derive the same webhook secret")
	}
	vars["LOTSE_WEBHOOK_SECRET"] = "explicit_1"
	if c, _ := loadConfig(env(vars), false); c.WebhookSecret != "explicit_1" || c.WebhookSecretDerived {
		t.Errorf("explicit secret not used: %q", c.WebhookSecret)
	}
	if c, _ := loadConfig(env(nil), false); c.Listen != ":8080" || c.WebhookURL != "" || c.WebhookSecret != "" {
		t.Errorf("defaults: listen %q, webhook %q", c.Listen, c.WebhookURL)
	}
}
