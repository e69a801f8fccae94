package opsserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/opsserver"
)

// mustStart starts a server on a free loopback port, shut down when the
// test ends.
func mustStart(t *testing.T, cfg opsserver.Config) *opsserver.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := opsserver.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// get returns status and body of a request to s.
func get(t *testing.T, s *opsserver.Server, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	var redisUp, kbUp atomic.Bool
	redisUp.Store(true)
	kbUp.Store(true)
	var hooked atomic.Int32
	s := mustStart(t, opsserver.Config{
		Checks: []opsserver.Check{
			{Name: "redis", Check: func(context.Context) error {
				if !redisUp.Load() {
					return errors.New("dial tcp 10.0.0.5:6379: connection refused (password=hunter2)")
				}
				return nil
			}},
			{Name: "knowledge", Check: func(context.Context) error {
				if !kbUp.Load() {
					return errors.New("not loaded")
				}
				return nil
			}},
		},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "lotse_up 1\n") }),
		Webhook: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hooked.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}),
		WebhookPath: "/telegram",
	})

	tests := []struct {
		name         string
		method, path string
		setup        func()
		want         int
		body         string // substring
		notBody      string
	}{
		{name: "alive", method: "GET", path: "/healthz", want: 200, body: `"ok"`},
		{name: "alive HEAD", method: "HEAD", path: "/healthz", want: 200},
		{name: "ready", method: "GET", path: "/readyz", want: 200, body: `"ready"`},
		{name: "redis down", method: "GET", path: "/readyz", setup: func() { redisUp.Store(false) },
			want: 503, body: `"failing":["redis"]`, notBody: "hunter2"},
		{name: "both down", method: "GET", path: "/readyz", setup: func() { kbUp.Store(false) },
			want: 503, body: `"failing":["knowledge","redis"]`},
		{name: "recovered", method: "GET", path: "/readyz", setup: func() { redisUp.Store(true); kbUp.Store(true) }, want: 200},
		{name: "metrics", method: "GET", path: "/metrics", want: 200, body: "lotse_up 1"},
		{name: "metrics POST", method: "POST", path: "/metrics", want: 405},
		{name: "webhook", method: "POST", path: "/telegram", want: 202},
		{name: "webhook subpath", method: "POST", path: "/telegram/x", want: 404},
		{name: "unknown", method: "GET", path: "/", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			status, body := get(t, s, tt.method, tt.path)
			if status != tt.want {
				t.Errorf("status %d, want %d (body %s)", status, tt.want, body)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("body %q lacks %q", body, tt.body)
			}
			if tt.notBody != "" && strings.Contains(body, tt.notBody) {
				t.Errorf("body %q leaks %q", body, tt.notBody)
			}
			if strings.HasPrefix(tt.path, "/readyz") {
				var v map[string]any
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Errorf("readyz answer is not JSON: %q", body)
				}
			}
		})
	}
	if hooked.Load() != 1 {
		t.Errorf("webhook handler ran %d times, want 1", hooked.Load())
	}
}

// TestReadyzBoundedChecks: a check that hangs or panics makes the
// instance not ready instead of hanging the probe or the process.
func TestReadyzBoundedChecks(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := mustStart(t, opsserver.Config{
		CheckTimeout: 50 * time.Millisecond,
		Checks: []opsserver.Check{
			{Name: "stuck", Check: func(context.Context) error { <-release; return nil }},
			{Name: "buggy", Check: func(context.Context) error { panic("bug") }},
			{Name: "fine", Check: func(context.Context) error { return nil }},
		},
	})
	status, body := get(t, s, "GET", "/readyz")
	if status != 503 || !strings.Contains(body, `"failing":["buggy","stuck"]`) {
		t.Errorf("readyz = %d %s", status, body)
	}
}

func TestBadWebhookPath(t *testing.T) {
	wh := http.NotFoundHandler()
	for _, p := range []string{"", "/", "telegram", "/metrics", "/healthz", "/readyz", "/{x}"} {
		if _, err := opsserver.Handler(opsserver.Config{Webhook: wh, WebhookPath: p}); err == nil {
			t.Errorf("webhook path %q accepted", p)
		}
	}
	if _, err := opsserver.Start(opsserver.Config{Addr: "127.0.0.1:0", Webhook: wh, WebhookPath: "/metrics"}); err == nil {
		t.Error("Start accepted a reserved webhook path")
	}
}

// TestShutdown: requests in flight are finished; one that does not
// finish in time is cut off when the shutdown context ends.
func TestShutdown(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var finished atomic.Int32
	s := mustStart(t, opsserver.Config{
		WebhookPath: "/tg",
		Webhook: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			<-release
			finished.Add(1)
		}),
	})
	statuses := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+s.Addr()+"/tg", "application/json", strings.NewReader("{}"))
		if err != nil {
			statuses <- 0
			return
		}
		resp.Body.Close()
		statuses <- resp.StatusCode
	}()
	<-started
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with a request in flight: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if got := <-statuses; got != 200 || finished.Load() != 1 {
		t.Errorf("request in flight: status %d, finished %d", got, finished.Load())
	}

	s2 := mustStart(t, opsserver.Config{WebhookPath: "/tg", Webhook: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(2 * time.Second) // a handler that ignores everything
	})})
	go func() {
		resp, err := http.Post("http://"+s2.Addr()+"/tg", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s2.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck request = %v, want DeadlineExceeded", err)
	}
}
