// Package loadtest is the harness behind `lotse bench` and `lotse chaos`:
// a fake Bot API on loopback driven by scripted users, the real
// transport, a throwaway redis-server, and the instruments that turn a
// run into figures (per-update latency, Redis commands and round trips,
// heap and RSS). It runs outside `go test`, so the figures in
// docs/PERFORMANCE.md come from one command anyone can repeat.
//
// Latency is measured per update id: from the moment the update is
// queued at the fake Bot API until the handler returns, which for Lotse
// is after its replies were accepted by the fake. So it covers polling,
// decoding, the conversation logic, the store and sending.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// Config configures a Harness.
type Config struct {
	// Limits keeps Telegram's flood limits on both sides (the fake
	// enforces them, the client keeps them). Off, the figure is the
	// pipeline's capacity rather than Telegram's 30 messages/s.
	Limits bool
	// Workers is the transport's handler concurrency (default 8, as
	// LOTSE_WORKERS).
	Workers int
	// Fake changes the fake Bot API (faults, latency).
	Fake []bottest.FakeOption
	// Client changes the transport's configuration (retries, timeouts).
	Client func(*telegram.Config)
	// Logger receives the transport's events (default: discarded).
	Logger *slog.Logger
}

// Harness is one fake Bot API and one transport client polling it.
type Harness struct {
	// API is the fake Bot API; push updates and read what was sent.
	API *bottest.FakeAPI
	// TG is the transport, a bot.Sender for the handler under test.
	TG *telegram.Client

	mu      sync.Mutex
	changed chan struct{}
	pushed  map[int64]time.Time
	done    map[int64]time.Time
	handled int
	onDone  func(updateID int64, in bot.Incoming)
}

// New starts a fake Bot API and a transport client for it.
func New(ctx context.Context, cfg Config) (*Harness, error) {
	opts := append([]bottest.FakeOption{func(c *bottest.FakeConfig) {
		c.Limits.Disabled = !cfg.Limits
		c.MaxPollWait = time.Second
	}}, cfg.Fake...)
	// The labels split a CPU profile (lotse bench -cpuprofile) into the
	// fake Bot API's share and Lotse's: goroutines inherit them, so the
	// fake's server goroutines carry side=fake-api and the transport's
	// (started by Serve) side=lotse.
	var api *bottest.FakeAPI
	pprof.Do(ctx, pprof.Labels("side", "fake-api"), func(context.Context) {
		api = bottest.StartFakeAPI(nil, opts...)
	})
	logger := cfg.Logger
	if logger == nil {
		// Prints nothing; inside the test suite its records at info and
		// above reach the log privacy check (bottest.LogFileEnv).
		logger = slog.New(bottest.LogHandler(slog.NewTextHandler(io.Discard, nil)))
	}
	tc := telegram.Config{
		Token: api.Token(), Endpoint: api.Endpoint(), PollTimeout: time.Second,
		Workers: cfg.Workers, Logger: logger,
	}
	if !cfg.Limits {
		tc.GlobalRate, tc.PerChat, tc.PerChatBurst = 1e9, time.Nanosecond, 1<<20
		tc.GroupPerMinute = 1 << 30 // staff desks are groups
	}
	if cfg.Client != nil {
		cfg.Client(&tc)
	}
	tg, err := telegram.New(ctx, tc)
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("loadtest: transport: %w", err)
	}
	return &Harness{API: api, TG: tg, changed: make(chan struct{}),
		pushed: map[int64]time.Time{}, done: map[int64]time.Time{}}, nil
}

// Close shuts the fake Bot API down.
func (h *Harness) Close() { h.API.Close() }

// OnDone registers fn, called after each handled update (from the
// handler's goroutine, outside the harness' lock); closed-loop drivers
// use it to send a user's next message. Set it before Serve.
func (h *Harness) OnDone(fn func(updateID int64, in bot.Incoming)) { h.onDone = fn }

// Serve polls the fake and hands updates to handler until ctx is
// cancelled; the returned wait function blocks until polling stopped
// and returns its error.
func (h *Harness) Serve(ctx context.Context, handler telegram.Handler) (wait func() error) {
	errc := make(chan error, 1)
	ctx = pprof.WithLabels(ctx, pprof.Labels("side", "lotse"))
	go func() {
		pprof.SetGoroutineLabels(ctx)
		errc <- h.TG.Poll(ctx, telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
			err := handler.Handle(ctx, in)
			now := time.Now()
			h.mu.Lock()
			if _, seen := h.done[in.UpdateID]; !seen {
				h.done[in.UpdateID] = now
				h.handled++
			}
			close(h.changed)
			h.changed = make(chan struct{})
			fn := h.onDone
			h.mu.Unlock()
			if fn != nil {
				fn(in.UpdateID, in)
			}
			return err
		}))
	}()
	return func() error { return <-errc }
}

// Text queues a text message from user in their private chat and
// returns its update id.
func (h *Harness) Text(user int64, lang, text string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Pushing under the lock keeps pushed[id] set before the handler
	// can record the same id as done.
	id := int64(h.API.PushText(user, user, lang, text))
	h.pushed[id] = time.Now()
	return id
}

// Callback queues a button press with data by user and returns its
// update id.
func (h *Harness) Callback(user int64, lang, data string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, _ := h.API.PushCallback(user, user, lang, data, 1)
	h.pushed[int64(id)] = time.Now()
	return int64(id)
}

// Update queues u (the fake assigns its update id) and returns its id;
// for updates the other helpers do not make, such as a staff member's
// reply to a message in a group.
func (h *Harness) Update(u tgbotapi.Update) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := int64(h.API.PushUpdate(u))
	h.pushed[id] = time.Now()
	return id
}

// Press queues a press by user of a button with data on message
// messageID in chat (a group's chat id for staff buttons) and returns its
// update id.
func (h *Harness) Press(chat, user int64, lang, data string, messageID int) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, _ := h.API.PushCallback(chat, user, lang, data, messageID)
	h.pushed[int64(id)] = time.Now()
	return int64(id)
}

// Pushed returns when update id was queued (false if not by the harness).
func (h *Harness) Pushed(id int64) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.pushed[id]
	return t, ok
}

// WaitUpdate waits until update id has been handled.
func (h *Harness) WaitUpdate(ctx context.Context, id int64) error {
	for {
		h.mu.Lock()
		_, done := h.done[id]
		ch := h.changed
		h.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadtest: update %d not handled: %w", id, ctx.Err())
		case <-ch:
		}
	}
}

// Handled returns how many distinct updates were handled so far.
func (h *Harness) Handled() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handled
}

// WaitHandled waits until n distinct updates have been handled.
func (h *Harness) WaitHandled(ctx context.Context, n int) error {
	for {
		h.mu.Lock()
		k, ch := h.handled, h.changed
		h.mu.Unlock()
		if k >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadtest: %d of %d updates handled: %w", k, n, ctx.Err())
		case <-ch:
		}
	}
}

// Latency returns the latency of update id (false if it was not
// handled).
func (h *Harness) Latency(id int64) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.done[id]
	if !ok {
		return 0, false
	}
	return d.Sub(h.pushed[id]), true
}

// Latencies returns the latencies of the updates ids that were handled.
func (h *Harness) Latencies(ids []int64) []time.Duration {
	out := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		if d, ok := h.Latency(id); ok {
			out = append(out, d)
		}
	}
	return out
}

// Summary describes a run: how many updates, how fast, how long each.
type Summary struct {
	Updates       int
	Elapsed       time.Duration
	PerSecond     float64
	P50, P90, P99 time.Duration
	// CPU is the process' CPU time over the run (ProcessCPU), if the
	// caller measured it: the bot and the fake Bot API together.
	CPU time.Duration
}

// Summarize computes a Summary from latencies over elapsed.
func Summarize(lat []time.Duration, elapsed time.Duration) Summary {
	s := Summary{Updates: len(lat), Elapsed: elapsed}
	if elapsed > 0 {
		s.PerSecond = float64(len(lat)) / elapsed.Seconds()
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	s.P50, s.P90, s.P99 = Percentile(sorted, 0.50), Percentile(sorted, 0.90), Percentile(sorted, 0.99)
	return s
}

// Percentile returns the p-quantile (0..1) of sorted durations by the
// nearest-rank method, 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Script is what one user says, in order: each step is sent when the
// previous one was handled (a closed loop: every user has at most one
// update in flight, like a person waiting for the answer).
type Script func(user int64, step int) (Step, bool)

// Step is one update of a Script: a text, or a button press if Data is
// set.
type Step struct {
	Lang, Text, Data string
}

// RunClosedLoop lets users firstUser..firstUser+users-1 each run
// script, for total updates overall, and returns the summary and the
// ids pushed. The handler must be serving (Serve) with this harness; the
// run ends when every pushed update was handled and no more will be
// pushed, or at ctx's deadline.
func (h *Harness) RunClosedLoop(ctx context.Context, users, firstUser int64, total int, script Script) (Summary, []int64, error) {
	if users <= 0 || total <= 0 {
		return Summary{}, nil, errors.New("loadtest: no users or no updates")
	}
	var (
		mu     sync.Mutex
		ids    = make([]int64, 0, total)
		step   = map[int64]int{}
		sent   int
		active = int(users) // users whose script has not ended
	)
	push := func(u int64) {
		mu.Lock()
		st, ok := script(u, step[u])
		if !ok || sent >= total {
			active--
			mu.Unlock()
			return
		}
		step[u]++
		sent++
		mu.Unlock()
		var id int64
		if st.Data != "" {
			id = h.Callback(u, st.Lang, st.Data)
		} else {
			id = h.Text(u, st.Lang, st.Text)
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
	}
	next := make(chan int64, users)
	h.mu.Lock()
	base := h.handled
	// The user comes from the update itself: the handler may finish
	// before push has recorded the id.
	h.onDone = func(_ int64, in bot.Incoming) {
		if u := in.UserID; u >= firstUser && u < firstUser+users {
			next <- u
		}
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.onDone = nil
		h.mu.Unlock()
	}()
	start := time.Now()
	for u := firstUser; u < firstUser+users; u++ {
		push(u)
	}
	// The pusher runs apart from the handlers, so pushing never adds to
	// a handler's measured time.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case u := <-next:
				push(u)
			case <-stop:
				return
			}
		}
	})
	var err error
	for {
		h.mu.Lock()
		k, ch := h.handled-base, h.changed
		h.mu.Unlock()
		mu.Lock()
		finished := k >= sent && len(ids) == sent && (sent >= total || active == 0)
		mu.Unlock()
		if finished {
			break
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("loadtest: %d of %d updates handled: %w", k, total, ctx.Err())
			break
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-time.After(20 * time.Millisecond): // the pusher may have ended a script
		}
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	mu.Lock()
	out := slices.Clone(ids)
	mu.Unlock()
	return Summarize(h.Latencies(out), elapsed), out, err
}
