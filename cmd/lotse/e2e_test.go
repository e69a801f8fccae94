package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

func TestMain(m *testing.M) { bottest.Main(m) }

// syncBuffer collects the program's log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is the real program, started in-process against a fake Bot API.
type running struct {
	api  *bottest.FakeAPI
	logs *syncBuffer
	stop func() int
}

func startLotse(t *testing.T, extra map[string]string) *running {
	t.Helper()
	return startLotseWith(t, bottest.NewFakeAPI(t), extra)
}

// startLotseWith is startLotse against a prepared fake Bot API.
func startLotseWith(t *testing.T, api *bottest.FakeAPI, extra map[string]string) *running {
	t.Helper()
	vars := map[string]string{
		"TELEGRAM_TOKEN":        api.Token(),
		"TELEGRAM_API_ENDPOINT": api.Endpoint(),
		"LOTSE_POLL_TIMEOUT":    "1s",
		"LOTSE_LOG_LEVEL":       "info",
		"LOTSE_LISTEN":          "127.0.0.1:0", // loopback only; tests run in parallel
	}
	for k, v := range extra {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"run"}, env(vars), strings.NewReader(""), logs, logs) }()
	var once sync.Once
	code := 0
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("lotse run did not stop within 30s of cancellation")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return &running{api: api, logs: logs, stop: stop}
}

// waitFor waits until a message to chat contains want and returns it.
func (r *running) waitFor(t *testing.T, chat int64, want string) bottest.SentMessage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range r.api.Sent(chat) {
			if strings.Contains(m.Text, want) {
				return m
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no message to chat %d contains %q within 20s; sent: %+v\nlog:\n%s", chat, want, r.api.Sent(chat), r.logs.String())
	return bottest.SentMessage{}
}

func testConversation(t *testing.T, r *running) {
	const ukr, arab = 1001, 1002
	r.api.PushText(ukr, ukr, "uk", "/start")
	r.api.PushText(ukr, ukr, "uk", "Де Jobcenter?")
	r.api.PushText(arab, arab, "ar", "أين مكتب الأجانب")
	card := r.waitFor(t, ukr, "Jobcenter Lotsenstadt")
	r.waitFor(t, arab, "Ausländerbehörde")
	// Press the first button of the answer (a callback) and see it answered.
	var data string
	if mk := card.Markup; mk != nil {
		for _, row := range mk.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData != nil && data == "" {
					data = *b.CallbackData
				}
			}
		}
	}
	if data == "" {
		t.Fatal("answer card has no callback button")
	}
	before := len(r.api.Sent(ukr))
	r.api.PushCallback(ukr, ukr, "uk", data, card.MessageID)
	r.api.PushCallback(ukr, ukr, "uk", "forged:\x00data", card.MessageID)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		recv, answered := r.api.Callbacks()
		if recv == 2 && answered == 2 && len(r.api.Sent(ukr)) > before {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("callbacks received %d answered %d; log:\n%s", recv, answered, r.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code := r.stop(); code != exitOK {
		t.Errorf("exit code %d, want 0; log:\n%s", code, r.logs.String())
	}
	if bad := r.api.BadRequests(); len(bad) > 0 {
		t.Errorf("Bot API rejected requests: %+v", bad)
	}
	if v := r.api.Violations(); len(v) > 0 {
		t.Errorf("flood limits violated: %+v", v)
	}
	if len(r.api.Commands("uk")) == 0 || len(r.api.Commands("")) == 0 {
		t.Error("setMyCommands was not called for uk and the default")
	}
	logs := bottest.WithoutTimes(r.logs.String())
	for _, secret := range []string{r.api.Token(), "Jobcenter?", "مكتب", "Test", fmt.Sprint(ukr)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestRunEndToEndInMemory(t *testing.T) {
	r := startLotse(t, nil)
	testConversation(t, r)
	if !strings.Contains(r.logs.String(), "in-memory store") {
		t.Errorf("the in-memory default is not announced in the log:\n%s", r.logs.String())
	}
}

func TestRunEndToEndRedis(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	addr := rdb.(*redis.Client).Options().Addr
	r := startLotse(t, map[string]string{
		"REDIS_URL":       "redis://" + addr + "/0",
		"LOTSE_SECRET":    strings.Repeat("k", 32),
		"LOTSE_NAMESPACE": ns,
	})
	testConversation(t, r)
	keys := bottest.Keys(t, rdb, ns+":*")
	if len(keys) == 0 {
		t.Fatal("nothing was stored in Redis")
	}
	for k, ttl := range keys {
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", k)
		}
		for _, raw := range []string{"1001", "1002"} {
			if strings.Contains(k, raw) {
				t.Errorf("key %s contains a raw Telegram id", k)
			}
		}
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	var out bytes.Buffer
	code := Main(context.Background(), []string{"run"}, env(map[string]string{
		"TELEGRAM_TOKEN": "123:abc", "TELEGRAM_API_ENDPOINT": "not a url", "REDIS_URL": "redis://127.0.0.1:1"}), nil, &out, &out)
	if code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
	if !strings.Contains(out.String(), "TELEGRAM_API_ENDPOINT") || !strings.Contains(out.String(), "LOTSE_SECRET") {
		t.Errorf("output does not name the bad variables:\n%s", out.String())
	}
	if strings.Contains(out.String(), "123:abc") {
		t.Error("output echoes the token")
	}
}

func TestKBCheck(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"kb", "check"}, env(nil), nil, &out, &errs); code != exitOK {
		t.Fatalf("kb check of the sample: exit %d\n%s", code, errs.String())
	}
	if !strings.Contains(out.String(), "auslaenderbehoerde") {
		t.Errorf("coverage report lacks entries:\n%s", out.String())
	}
	out.Reset()
	errs.Reset()
	if code := Main(context.Background(), []string{"kb", "check", "../../knowledge/testdata/load/broken"}, env(nil), nil, &out, &errs); code != exitFailed {
		t.Fatalf("kb check of a broken base: exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(errs.String(), ".yaml:") {
		t.Errorf("problems do not name file and line:\n%s", errs.String())
	}
}
