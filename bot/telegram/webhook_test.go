package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

const testSecret = "s3cret_Token-for-tests"

// recObserver records what the transport reports.
type recObserver struct {
	mu       sync.Mutex
	updates  []string // kind/outcome
	calls    []string // method/code
	requests []int
}

func (o *recObserver) Update(kind, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.updates = append(o.updates, kind+"/"+outcome)
}

func (o *recObserver) APICall(method string, code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, fmt.Sprintf("%s/%d", method, code))
}

func (o *recObserver) WebhookRequest(status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, status)
}

func (o *recObserver) snapshot() (updates, calls []string, requests []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.updates...), append([]string(nil), o.calls...), append([]int(nil), o.requests...)
}

// updateJSON is a private text message update as Telegram posts it.
func updateJSON(t testing.TB, id int, chat int64, text string) []byte {
	t.Helper()
	b, err := json.Marshal(tgbotapi.Update{UpdateID: id, Message: &tgbotapi.Message{
		MessageID: id, Date: int(time.Now().Unix()), Text: text,
		From: &tgbotapi.User{ID: chat, FirstName: "Test", LanguageCode: "uk"},
		Chat: &tgbotapi.Chat{ID: chat, Type: "private"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPost posts body to url with secret ("" for none) and returns the
// status.
func mustPost(t testing.TB, url, secret string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(telegram.SecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// webhookServer serves a Webhook for h on a loopback httptest server.
func webhookServer(t *testing.T, c *telegram.Client, h telegram.Handler) string {
	t.Helper()
	wh, err := c.Webhook(h, testSecret)
	if err != nil {
		t.Fatalf("Webhook: %v", err)
	}
	srv := httptest.NewServer(wh)
	t.Cleanup(srv.Close)
	return srv.URL + "/tg"
}

func TestWebhookRequests(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	obs := &recObserver{}
	var logs syncBuf
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.Observer = obs
		cfg.Logger = slog.New(bottest.LogHandler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})
	var calls atomic.Int32
	var got atomic.Value
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		calls.Add(1)
		got.Store(in)
		switch in.Text {
		case "redis down":
			return fmt.Errorf("load session: %w", bot.ErrUnavailable)
		case "broken":
			return errors.New("permanent failure")
		case "panic":
			panic("boom")
		}
		return nil
	})
	url := webhookServer(t, c, h)
	inline, _ := json.Marshal(tgbotapi.Update{UpdateID: 9, InlineQuery: &tgbotapi.InlineQuery{ID: "q", From: &tgbotapi.User{ID: 5}}})
	huge := append(updateJSON(t, 10, 987654321, "x"), bytes.Repeat([]byte(" "), telegram.WebhookMaxBody)...)

	tests := []struct {
		name     string
		method   string
		secret   string
		body     []byte
		want     int
		handled  bool
		wantText string
	}{
		{name: "no secret", secret: "", body: updateJSON(t, 1, 987654321, "hallo"), want: 401},
		{name: "wrong secret", secret: "s3cret_Token-for-tesTs", body: updateJSON(t, 1, 987654321, "hallo"), want: 401},
		{name: "secret prefix", secret: testSecret[:5], body: updateJSON(t, 1, 987654321, "hallo"), want: 401},
		{name: "secret longer", secret: testSecret + "x", body: updateJSON(t, 1, 987654321, "hallo"), want: 401},
		{name: "GET", method: http.MethodGet, secret: testSecret, want: 405},
		{name: "oversize", secret: testSecret, body: huge, want: 413},
		{name: "oversize without secret", body: huge, want: 401},
		{name: "bad JSON", secret: testSecret, body: []byte(`{"update_id": 1, "message": {`), want: 400},
		{name: "not an object", secret: testSecret, body: []byte(`[1,2]`), want: 400},
		{name: "no update id", secret: testSecret, body: []byte(`{"message":{"message_id":1,"chat":{"id":987654321,"type":"private"},"text":"x"}}`), want: 400},
		{name: "unsupported update", secret: testSecret, body: inline, want: 200},
		{name: "good", secret: testSecret, body: updateJSON(t, 2, 987654321, "wo ist das Jobcenter"), want: 200, handled: true, wantText: "wo ist das Jobcenter"},
		{name: "store unavailable", secret: testSecret, body: updateJSON(t, 3, 987654321, "redis down"), want: 503, handled: true, wantText: "redis down"},
		{name: "handler failed for good", secret: testSecret, body: updateJSON(t, 4, 987654321, "broken"), want: 200, handled: true, wantText: "broken"},
		{name: "handler panic", secret: testSecret, body: updateJSON(t, 5, 987654321, "panic"), want: 200, handled: true, wantText: "panic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			var status int
			if tt.method == http.MethodGet {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set(telegram.SecretHeader, tt.secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				status = resp.StatusCode
			} else {
				status = mustPost(t, url, tt.secret, tt.body)
			}
			if status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
			// The answer comes after the handler returned, so the count
			// is final here.
			if n := calls.Load() - before; (n == 1) != tt.handled || n > 1 {
				t.Errorf("handler called %d times, want handled=%v", n, tt.handled)
			}
			if tt.handled {
				in := got.Load().(bot.Incoming)
				if in.Text != tt.wantText || in.ChatID != 987654321 || in.Kind != bot.InText {
					t.Errorf("handler got %+v", in)
				}
			}
		})
	}

	updates, apiCalls, requests := obs.snapshot()
	wantUpdates := []string{"unsupported/ignored", "text/ok", "text/unavailable", "text/error", "text/panic"}
	if fmt.Sprint(updates) != fmt.Sprint(wantUpdates) {
		t.Errorf("observed updates %v, want %v", updates, wantUpdates)
	}
	if fmt.Sprint(requests) != fmt.Sprint([]int{401, 401, 401, 401, 405, 413, 401, 400, 400, 400, 200, 200, 503, 200, 200}) {
		t.Errorf("observed webhook requests %v", requests)
	}
	if len(apiCalls) == 0 || apiCalls[0] != "getMe/200" {
		t.Errorf("observed API calls %v, want getMe/200 first", apiCalls)
	}
	out := logs.String()
	for _, leak := range []string{f.Token(), testSecret, "Jobcenter", "redis down", "987654321"} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak, out)
		}
	}
}

// TestWebhookChatOrder: updates of one chat never overlap; different
// chats are handled concurrently.
func TestWebhookChatOrder(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, nil)
	var (
		mu       sync.Mutex
		inFlight = map[int64]int{}
		overlaps int
		bothIn   = make(chan struct{})
		once     sync.Once
	)
	h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		mu.Lock()
		inFlight[in.ChatID]++
		if inFlight[in.ChatID] > 1 {
			overlaps++
		}
		if inFlight[1] > 0 && inFlight[2] > 0 {
			once.Do(func() { close(bothIn) })
		}
		mu.Unlock()
		if in.Text == "wait" {
			// Held until a message of the other chat is in its handler,
			// which proves chats do not block each other.
			select {
			case <-bothIn:
			case <-time.After(5 * time.Second):
				return errors.New("other chat never ran concurrently")
			}
		} else {
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		inFlight[in.ChatID]--
		mu.Unlock()
		return nil
	})
	url := webhookServer(t, c, h)
	var wg sync.WaitGroup
	wg.Go(func() {
		if s := mustPost(t, url, testSecret, updateJSON(t, 1, 1, "wait")); s != 200 {
			t.Errorf("status %d", s)
		}
	})
	for i := range 20 {
		wg.Go(func() {
			if s := mustPost(t, url, testSecret, updateJSON(t, 100+i, 2, "q")); s != 200 {
				t.Errorf("status %d", s)
			}
		})
	}
	wg.Wait()
	select {
	case <-bothIn:
	default:
		t.Error("the two chats were never handled at the same time")
	}
	mu.Lock()
	defer mu.Unlock()
	if overlaps != 0 {
		t.Errorf("%d overlapping handler calls within one chat", overlaps)
	}
}

func TestSetAndDeleteWebhook(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, nil)
	ctx := waitCtx(t)
	pending := f.PushText(7, 7, "de", "Hallo")
	cfg := telegram.WebhookConfig{URL: "https://bot.example.org/telegram", Secret: testSecret, MaxConnections: 10}

	for name, bad := range map[string]telegram.WebhookConfig{
		"http URL":        {URL: "http://bot.example.org/telegram", Secret: testSecret},
		"secret charset":  {URL: cfg.URL, Secret: "has space"},
		"empty secret":    {URL: cfg.URL},
		"max connections": {URL: cfg.URL, Secret: testSecret, MaxConnections: 101},
	} {
		if err := c.SetWebhook(ctx, bad); !errors.Is(err, telegram.ErrInvalid) {
			t.Errorf("%s: SetWebhook = %v, want ErrInvalid", name, err)
		}
	}
	if n := len(f.Calls("setWebhook")); n != 0 {
		t.Fatalf("invalid configurations reached Telegram: %d calls", n)
	}

	if err := c.SetWebhook(ctx, cfg); err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	p := f.Calls("setWebhook")[0].Params
	if p.Get("url") != cfg.URL || p.Get("secret_token") != testSecret || p.Get("max_connections") != "10" ||
		!strings.Contains(p.Get("allowed_updates"), `"callback_query"`) || p.Get("drop_pending_updates") != "" {
		t.Errorf("setWebhook params: %v", p)
	}
	info, err := c.WebhookInfo(ctx)
	if err != nil || info.URL != cfg.URL || info.Pending != 1 {
		t.Errorf("WebhookInfo = %+v, %v", info, err)
	}
	if err := c.DeleteWebhook(ctx, false); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if ids := f.Pending(); len(ids) != 1 || ids[0] != pending {
		t.Errorf("pending updates after deleteWebhook: %v, want [%d]", ids, pending)
	}
	if info, err := c.WebhookInfo(ctx); err != nil || info.URL != "" {
		t.Errorf("after delete: WebhookInfo = %+v, %v", info, err)
	}
}

// TestRunWebhook: the webhook is set, watched, and left in place on
// return; each check refreshes LastOK.
func TestRunWebhook(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, nil)
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	cfg := telegram.WebhookConfig{URL: "https://bot.example.org/telegram", Secret: testSecret}
	go func() { res <- c.RunWebhook(ctx, cfg, 10*time.Millisecond) }()
	if err := f.WaitCalls(waitCtx(t), "getWebhookInfo", 3); err != nil {
		t.Fatalf("webhook not watched: %v", err)
	}
	seen := c.LastOK()
	if err := f.WaitCalls(waitCtx(t), "getWebhookInfo", 5); err != nil {
		t.Fatal(err)
	}
	if !c.LastOK().After(seen) {
		t.Errorf("LastOK not refreshed: %v, then %v", seen, c.LastOK())
	}
	cancel()
	select {
	case err := <-res:
		if err != nil {
			t.Errorf("RunWebhook = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWebhook did not return after cancel")
	}
	if len(f.Calls("deleteWebhook")) != 0 {
		t.Error("RunWebhook deleted the webhook on return; other replicas may still serve it")
	}

	done, stop := context.WithCancel(t.Context())
	stop()
	if err := c.RunWebhook(done, cfg, time.Second); err != nil {
		t.Errorf("RunWebhook shut down before it started = %v, want nil", err)
	}
	bad := cfg
	bad.Secret = ""
	if err := c.RunWebhook(t.Context(), bad, time.Second); !errors.Is(err, telegram.ErrInvalid) {
		t.Errorf("RunWebhook with a bad secret = %v", err)
	}
}

// TestLastOK: set by a call Telegram answered, even with a 429; not by
// a 5xx.
func TestLastOK(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(5, "private")
	before := time.Now()
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.MaxAttempts = 1 })
	if got := c.LastOK(); got.Before(before) || got.After(time.Now()) {
		t.Fatalf("LastOK after getMe = %v, want between %v and now", got, before)
	}
	first := c.LastOK()
	f.FailNext("sendMessage", bottest.Fault{Status: 502})
	if _, err := c.Send(t.Context(), bot.Outgoing{ChatID: 5, Text: "x"}); err == nil {
		t.Fatal("Send succeeded despite the 502")
	}
	if !c.LastOK().Equal(first) {
		t.Error("a 502 refreshed LastOK")
	}
	time.Sleep(2 * time.Millisecond) // so a refresh is visible on coarse clocks
	f.FailNext("sendMessage", bottest.Fault{Status: 429, RetryAfter: 3600})
	if _, err := c.Send(t.Context(), bot.Outgoing{ChatID: 5, Text: "x"}); err == nil {
		t.Fatal("Send succeeded despite the 429")
	}
	if !c.LastOK().After(first) {
		t.Error("a 429 answer did not refresh LastOK")
	}
}

// syncBuf is a log sink for concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWebhookForgedFlood: 1,000 bad requests (no secret, a wrong one,
// oversize bodies, broken JSON), 20 at a time: every one refused with
// the right status, no handler run, and a good update still goes
// through afterwards.
func TestWebhookForgedFlood(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	obs := &recObserver{}
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.Observer = obs })
	var handled atomic.Int32
	url := webhookServer(t, c, telegram.HandlerFunc(func(context.Context, bot.Incoming) error {
		handled.Add(1)
		return nil
	}))
	good := updateJSON(t, 1, 42, "hallo")
	huge := bytes.Repeat([]byte("x"), telegram.WebhookMaxBody+1)
	kinds := []struct {
		secret string
		body   []byte
		want   int
	}{
		{"", good, 401},
		{"wrong-secret", good, 401},
		{testSecret, huge, 413},
		{testSecret, []byte(`{"update_id":1,"message":`), 400},
	}
	const total, workers = 1000, 20
	jobs := make(chan int)
	var wrong atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				k := kinds[i%len(kinds)]
				if s := mustPost(t, url, k.secret, k.body); s != k.want {
					wrong.Add(1)
				}
			}
		})
	}
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d of %d forged requests got an unexpected status", n, total)
	}
	if n := handled.Load(); n != 0 {
		t.Errorf("handler ran %d times for forged requests", n)
	}
	if _, _, requests := obs.snapshot(); len(requests) != total {
		t.Errorf("observed %d webhook requests, want %d", len(requests), total)
	}
	if s := mustPost(t, url, testSecret, good); s != 200 || handled.Load() != 1 {
		t.Errorf("good update after the flood: status %d, handled %d", s, handled.Load())
	}
}
