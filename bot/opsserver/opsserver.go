// Package opsserver is the HTTP server a city's operators and Telegram
// talk to: /healthz (the process is alive), /readyz (it can do its job),
// /metrics (Prometheus) and, in webhook mode, the webhook path, all on
// one net/http server with timeouts, so one port is exposed and one
// graceful shutdown covers everything.
package opsserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Check is one readiness condition.
type Check struct {
	// Name appears in /readyz answers and logs ("redis", "telegram").
	// It must not contain secrets.
	Name string
	// Check returns nil if the condition holds. Its error is logged, not
	// served: it may name hosts.
	Check func(ctx context.Context) error
}

// Config configures a Server. Zero values mean the defaults noted.
type Config struct {
	// Addr is the listen address (default ":8080").
	Addr string
	// Checks are run, concurrently, for every /readyz request.
	Checks []Check
	// CheckTimeout bounds each check (default 2s).
	CheckTimeout time.Duration
	// Metrics serves /metrics; nil: no /metrics.
	Metrics http.Handler
	// Webhook, if set, is served at WebhookPath, which must start with
	// "/" and not collide with the other paths.
	Webhook     http.Handler
	WebhookPath string
	// Public are further public handlers by path prefix (ending in "/"),
	// such as the calendar feeds at ical.PathPrefix. A prefix must not
	// cover the other paths.
	Public map[string]http.Handler
	// WriteTimeout bounds a request from the end of its headers to the
	// end of the answer (default 3m). With a webhook it must exceed the
	// time an update may take to handle.
	WriteTimeout time.Duration
	// Logger receives failed checks and server errors (default: discard).
	Logger *slog.Logger
}

// Server is a running ops server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	done chan struct{}
	err  error // of Serve, valid after done
	once sync.Once
}

var reserved = []string{"/healthz", "/readyz", "/metrics"}

// Handler returns the server's routes, for tests and for mounting
// elsewhere.
func Handler(cfg Config) (http.Handler, error) {
	cfg = withDefaults(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		failing := runChecks(r.Context(), cfg)
		if len(failing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failing": failing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Webhook != nil {
		p := cfg.WebhookPath
		if !strings.HasPrefix(p, "/") || p == "/" || slices.Contains(reserved, p) || strings.ContainsAny(p, " {}") {
			return nil, fmt.Errorf("opsserver: webhook path %q must start with / and differ from %s", p, strings.Join(reserved, ", "))
		}
		// Exact path, every method: the webhook answers 405 itself.
		mux.Handle(p, cfg.Webhook)
	}
	for prefix, h := range cfg.Public {
		if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || prefix == "/" ||
			strings.ContainsAny(prefix, " {}") || strings.HasPrefix(cfg.WebhookPath, prefix) {
			return nil, fmt.Errorf("opsserver: public prefix %q must be a path ending in / that covers no other route", prefix)
		}
		for _, r := range reserved {
			if strings.HasPrefix(r+"/", prefix) {
				return nil, fmt.Errorf("opsserver: public prefix %q covers %s", prefix, r)
			}
		}
		mux.Handle(prefix, h)
	}
	return mux, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 3 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// runChecks returns the names of the failing checks, sorted.
func runChecks(ctx context.Context, cfg Config) []string {
	var (
		mu      sync.Mutex
		failing = []string{}
		wg      sync.WaitGroup
	)
	for _, c := range cfg.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
			defer cancel()
			err := runCheck(cctx, c)
			if err == nil {
				return
			}
			cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "not ready", slog.String("check", c.Name), slog.String("err", err.Error()))
			mu.Lock()
			failing = append(failing, c.Name)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(failing)
	return failing
}

// runCheck runs c, turning a panic into a failure and returning at the
// deadline even if c ignores its context.
func runCheck(ctx context.Context, c Check) error {
	res := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				res <- fmt.Errorf("check panicked: %v", r)
			}
		}()
		res <- c.Check(ctx)
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Start listens on cfg.Addr and serves in the background until Shutdown.
func Start(cfg Config) (*Server, error) {
	cfg = withDefaults(cfg)
	h, err := Handler(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("opsserver: %w", err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		},
		ln:   ln,
		log:  cfg.Logger,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			s.log.Error("ops server stopped", "err", err.Error())
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (with the real port when
// Addr was ":0").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting connections and waits for requests in
// flight (webhook updates being handled) until ctx is done; then it
// closes the remaining connections. It returns ctx's error if it had
// to cut requests off, or the error that stopped serving.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		err = s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		<-s.done
		if err == nil {
			err = s.err
		}
	})
	return err
}
