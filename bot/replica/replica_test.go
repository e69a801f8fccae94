package replica_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/replica"
	"github.com/lotse-bot/lotse/bot/telegram"
)

func TestMain(m *testing.M) {
	// The tests with Redis down would fill the output with go-redis'
	// dial errors (a package-level logger).
	redis.SetLogger(quiet{})
	bottest.Main(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var secret = []byte("replica-test-secret-0123456789")

func mustLimiter(t *testing.T, rdb redis.UniversalClient, ns string) *replica.Limiter {
	t.Helper()
	l, err := replica.NewLimiter(rdb, replica.Config{Namespace: ns, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustLocks(t *testing.T, rdb redis.UniversalClient, ns string, cfg replica.Config) *replica.Locks {
	t.Helper()
	cfg.Namespace, cfg.Secret = ns, secret
	l, err := replica.NewLocks(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustClient(t *testing.T, api *bottest.FakeAPI, edit func(*telegram.Config)) *telegram.Client {
	t.Helper()
	cfg := telegram.Config{Token: api.Token(), Endpoint: api.Endpoint(), PollTimeout: time.Second, MaxAttempts: 8,
		Logger: slog.New(bottest.LogHandler(slog.DiscardHandler))}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := telegram.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// maxPerSecond is the largest number of accepted sends within any one
// second, as the fake saw them.
func maxPerSecond(api *bottest.FakeAPI) int {
	var at []time.Time
	for _, c := range api.Calls("sendMessage") {
		if c.Status == http.StatusOK {
			at = append(at, c.At)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	best := 0
	for i, j := 0, 0; j < len(at); j++ {
		for at[j].Sub(at[i]) >= time.Second {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// sendAll sends perChat messages to each of chats from every client at
// once and returns the failures.
func sendAll(clients []*telegram.Client, chats, perChat int) int64 {
	var failed atomic.Int64
	var wg sync.WaitGroup
	for ci, c := range clients {
		for chat := 1; chat <= chats; chat++ {
			wg.Go(func() {
				for k := range perChat {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err := c.Send(ctx, bot.Outgoing{ChatID: int64(chat), Text: fmt.Sprintf("client %d message %d", ci, k)})
					cancel()
					if err != nil {
						failed.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	return failed.Load()
}

// TestSharedLimiterTwoClients: two transports (two replicas) sending at
// once through one Redis stay within Telegram's limits together; with
// per-process limits only, the same load exceeds the global limit.
func TestSharedLimiterTwoClients(t *testing.T) {
	rdb := bottest.Redis(t)
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"shared in Redis", true}, {"per process only", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := bottest.Namespace(t, rdb)
			api := bottest.NewFakeAPI(t)
			const chats, perChat = 20, 3 // 120 messages, 6 per chat
			var clients []*telegram.Client
			for range 2 {
				clients = append(clients, mustClient(t, api, func(c *telegram.Config) {
					if tc.shared {
						c.Limiter = mustLimiter(t, rdb, ns)
					}
				}))
			}
			for chat := int64(1); chat <= chats; chat++ {
				api.AddChat(chat, "private")
			}
			start := time.Now()
			failed := sendAll(clients, chats, perChat)
			elapsed := time.Since(start)
			v := api.Violations()
			peak := maxPerSecond(api)
			t.Logf("%d messages in %v, peak %d/s, %d violations, %d failed", 2*chats*perChat, elapsed.Round(time.Millisecond), peak, len(v), failed)
			if failed != 0 {
				t.Errorf("%d sends failed", failed)
			}
			if n := len(api.Sent(0)); n != 2*chats*perChat {
				t.Errorf("%d messages delivered, want %d", n, 2*chats*perChat)
			}
			if tc.shared {
				if len(v) != 0 {
					t.Errorf("%d flood-limit violations with the shared limiter: %+v", len(v), v[:min(len(v), 5)])
				}
				if peak > 30 {
					t.Errorf("peak %d messages in one second, want ≤ 30", peak)
				}
			} else if len(v) == 0 {
				t.Error("no violations with per-process limits: the load is too small to show what sharing prevents")
			}
		})
	}
}

// TestLimiterFallsBack: with Redis unreachable a send does not wait for
// it; the per-process limits apply instead.
func TestLimiterFallsBack(t *testing.T) {
	// Nothing listens on a port just released.
	l, err := net0()
	if err != nil {
		t.Fatal(err)
	}
	dead := redis.NewClient(&redis.Options{Addr: l, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer dead.Close()
	lim := mustLimiter(t, dead, "fallback")
	if err := lim.Wait(context.Background(), 1); !errors.Is(err, bot.ErrUnavailable) {
		t.Fatalf("Wait with Redis down: %v, want bot.ErrUnavailable", err)
	}
	api := bottest.NewFakeAPI(t)
	c := mustClient(t, api, func(c *telegram.Config) { c.Limiter = lim })
	api.AddChat(7, "private")
	start := time.Now()
	for i := range 5 {
		if _, err := c.Send(context.Background(), bot.Outgoing{ChatID: 7, Text: fmt.Sprint("m", i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// Burst of 3, then 1.1 s each: the local limiter is in force.
	if d := time.Since(start); d < 2*time.Second || d > 5*time.Second {
		t.Errorf("5 messages to one chat took %v, want 2.2-5 s (local per-chat limit)", d)
	}
	if v := api.Violations(); len(v) != 0 {
		t.Errorf("violations: %+v", v)
	}
}

func net0() (string, error) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr, nil
}

func TestLimiterKeys(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	lim := mustLimiter(t, rdb, ns)
	ctx := context.Background()
	for _, chat := range []int64{424242, -100777} {
		if err := lim.Wait(ctx, chat); err != nil {
			t.Fatal(err)
		}
	}
	keys := bottest.Keys(t, rdb, "{"+ns+":tglimit}:*")
	if len(keys) != 3 {
		t.Fatalf("keys %v, want global + 2 chats", keys)
	}
	for k, ttl := range keys {
		if ttl <= 0 || ttl > 2*time.Minute {
			t.Errorf("key %s has TTL %v, want a short one", k, ttl)
		}
		for _, id := range []string{"424242", "100777"} {
			if bytes.Contains([]byte(k), []byte(id)) {
				t.Errorf("key %s contains a chat id", k)
			}
		}
	}
}

func TestLimiterMaxWait(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	lim := mustLimiter(t, rdb, ns)
	for range 3 { // the burst
		if err := lim.Wait(context.Background(), 5); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := lim.Wait(ctx, 5)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("fourth message within 200ms: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("refusal took %v: it should not sleep for a slot it cannot use", d)
	}
}

// TestLocks covers the lock's contract on one Redis.
func TestLocks(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	ctx := context.Background()
	a := mustLocks(t, rdb, ns, replica.Config{LockTTL: 300 * time.Millisecond, LockWait: 150 * time.Millisecond})
	b := mustLocks(t, rdb, ns, replica.Config{LockTTL: 300 * time.Millisecond, LockWait: 2 * time.Second})

	unlock, err := a.Lock(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lock(ctx, 9); !errors.Is(err, replica.ErrBusy) {
		t.Errorf("second lock while held: %v, want ErrBusy", err)
	}
	// Held longer than the lease: renewal keeps it.
	time.Sleep(500 * time.Millisecond)
	if _, err := a.Lock(ctx, 9); !errors.Is(err, replica.ErrBusy) {
		t.Errorf("lock after the lease while renewed: %v, want ErrBusy", err)
	}
	other, err := a.Lock(ctx, 10)
	if err != nil {
		t.Fatalf("another chat: %v", err)
	}
	other()
	go func() { time.Sleep(100 * time.Millisecond); unlock() }()
	start := time.Now()
	unlock2, err := b.Lock(ctx, 9)
	if err != nil {
		t.Fatalf("waiting lock: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waiter got the lock after %v", d)
	}
	unlock() // twice: harmless, and must not release b's lock
	if _, err := a.Lock(ctx, 9); !errors.Is(err, replica.ErrBusy) {
		t.Errorf("a stale unlock released another holder's lock: %v", err)
	}
	unlock2()

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Lock(cctx, 11); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	addr, _ := net0()
	dead := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer dead.Close()
	if _, err := mustLocks(t, dead, ns, replica.Config{}).Lock(ctx, 1); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("Redis down: %v, want bot.ErrUnavailable", err)
	}
}

// TestLockFreedWhenHolderDies: a replica that dies holding a lock (no
// renewal, no release) blocks the chat for at most the lease.
func TestLockFreedWhenHolderDies(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	keys := func() map[string]time.Duration { return bottest.Keys(t, rdb, ns+":chatlock:*") }
	l := mustLocks(t, rdb, ns, replica.Config{LockTTL: 300 * time.Millisecond, LockWait: 3 * time.Second})
	if _, err := l.Lock(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	// Simulate the death: take the lease over without renewal by
	// overwriting the token with the same TTL.
	for k := range keys() {
		rdb.Set(context.Background(), k, "dead-holder", 300*time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // the renewal, if any, has run by now and failed
	start := time.Now()
	unlock, err := l.Lock(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if d := time.Since(start); d > time.Second {
		t.Errorf("lock of a dead holder freed after %v, want ≤ its lease", d)
	}
}

// TestWebhookChatOrderAcrossReplicas: two webhook handlers (two
// replicas) on one Redis receive updates of the same chats at the same
// time; with the shared lock no chat is ever handled by both at once.
// Without it, the same load overlaps.
func TestWebhookChatOrderAcrossReplicas(t *testing.T) {
	rdb := bottest.Redis(t)
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"shared lock", true}, {"in-process lock only", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := bottest.Namespace(t, rdb)
			api := bottest.NewFakeAPI(t)
			var (
				mu       sync.Mutex
				inFlight = map[int64]int{}
				overlap  int
				handled  = map[int]int{}
			)
			h := telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
				mu.Lock()
				inFlight[in.ChatID]++
				if inFlight[in.ChatID] > 1 {
					overlap++
				}
				handled[int(in.UpdateID)]++
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
				mu.Lock()
				inFlight[in.ChatID]--
				mu.Unlock()
				return nil
			})
			var urls []string
			for range 2 {
				c := mustClient(t, api, func(c *telegram.Config) {
					if tc.shared {
						c.ChatLocker = mustLocks(t, rdb, ns, replica.Config{})
					}
				})
				wh, err := c.Webhook(h, "webhook-secret")
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(wh)
				t.Cleanup(srv.Close)
				urls = append(urls, srv.URL)
			}
			const chats, perChat = 4, 10
			var wg sync.WaitGroup
			var bad atomic.Int64
			id := 0
			for k := range perChat {
				for chat := int64(1); chat <= chats; chat++ {
					id++
					body := update(t, id, chat)
					url := urls[(k+int(chat))%2]
					wg.Go(func() {
						req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
						req.Header.Set(telegram.SecretHeader, "webhook-secret")
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != http.StatusOK {
							bad.Add(1)
						}
						if err == nil {
							resp.Body.Close()
						}
					})
				}
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d updates, %d overlapping handler runs", id, overlap)
			if bad.Load() != 0 {
				t.Errorf("%d requests not answered 200", bad.Load())
			}
			if len(handled) != id {
				t.Errorf("%d distinct updates handled, want %d", len(handled), id)
			}
			if tc.shared && overlap != 0 {
				t.Errorf("%d times a chat was handled by two replicas at once", overlap)
			}
			if !tc.shared && overlap == 0 {
				t.Error("no overlap without the shared lock: the load does not show what the lock prevents")
			}
			if tc.shared {
				if k := bottest.Keys(t, rdb, ns+":chatlock:*"); len(k) != 0 {
					t.Errorf("locks left behind: %v", k)
				}
			}
		})
	}
}

func update(t *testing.T, id int, chat int64) []byte {
	t.Helper()
	b, err := json.Marshal(tgbotapi.Update{UpdateID: id, Message: &tgbotapi.Message{
		MessageID: id, Date: int(time.Now().Unix()), Text: "hello",
		From: &tgbotapi.User{ID: chat, FirstName: "Test", LanguageCode: "de"},
		Chat: &tgbotapi.Chat{ID: chat, Type: "private"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
