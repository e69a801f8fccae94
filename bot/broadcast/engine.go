package broadcast

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/knowledge"
)

// Config configures an Engine. Store, Recipients, Sender, Forget and
// Coordinator are required; zero values of the rest mean the defaults
// noted.
type Config struct {
	Store      Store
	Recipients Recipients
	// Sender delivers the messages; the Telegram transport, which also
	// keeps per-chat limits and retries 429 and 5xx itself.
	Sender bot.Sender
	// Forget removes the data of users who blocked the bot.
	Forget ChatForgetter
	// Coordinator reports whether a Telegram user id may broadcast
	// (bot.StaffDirectory.IsCoordinator).
	Coordinator func(user int64) bool
	// Pacer is shared by all replicas (redisstore's); nil means a pacer
	// of this process only, at Rate.
	Pacer Pacer
	// Rate is the local pacer's messages per second (default 28: under
	// Telegram's 30/s, leaving room for answers to users sent meanwhile).
	Rate float64
	// Reporter receives progress and the final tally (default: none).
	Reporter Reporter
	// KB is the current knowledge base (knowledge.Live.Current). If set,
	// Prepare refuses an audience whose district, topic or event it does
	// not hold (ErrUnknown), so a typo or a topic removed by a reload is
	// an error for the author rather than an empty audience.
	KB func() *knowledge.KB
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives operational events (default: discard). Nothing
	// logged contains texts or chat ids.
	Logger *slog.Logger

	// Workers is the number of concurrent sends per broadcast and
	// replica (default 16): enough to keep 30/s going with Telegram's
	// round trip of a few hundred milliseconds.
	Workers int
	// Batch is how many recipients a worker claims at once (default 1).
	// Each waits for its pacer slot within the lease, so a bigger batch
	// saves store round trips only where the lease is long compared
	// with Batch×Workers×replicas/Rate.
	Batch int
	// Lease is how long a claimed recipient belongs to its worker
	// (default 1m). After a crash its recipients are sent again once the
	// lease expires; a send is cut off before its lease ends, so two
	// replicas never send to one recipient at the same time.
	Lease time.Duration
	// Grace is how long sends in flight may finish after Run's context
	// is cancelled (default 10s): finishing them, rather than aborting,
	// is what keeps an ordinary restart free of duplicates.
	Grace time.Duration
	// TTL is how long a broadcast and its tally are kept (default 30
	// days).
	TTL time.Duration
	// RetryBase is the first pause after Telegram was unavailable; it
	// doubles per consecutive failure up to a minute (default 1s).
	RetryBase time.Duration
	// MaxAttempts bounds the failed sends of one recipient (each already
	// retried by the transport) before it counts as failed (default 8).
	MaxAttempts int
	// ReportEvery is the longest time between progress reports (default
	// 30s).
	ReportEvery time.Duration
	// Poll is how often Run looks for broadcasts to deliver and idle
	// workers for recipients due later (default 1s).
	Poll time.Duration
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Store == nil, c.Recipients == nil, c.Sender == nil, c.Forget == nil, c.Coordinator == nil:
		return c, errors.New("broadcast: Store, Recipients, Sender, Forget and Coordinator are required")
	}
	if c.Rate <= 0 {
		c.Rate = 28
	}
	if c.Pacer == nil {
		c.Pacer = NewLocalPacer(c.Rate)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Batch <= 0 {
		c.Batch = 1
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.TTL <= 0 {
		c.TTL = 30 * 24 * time.Hour
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.ReportEvery <= 0 {
		c.ReportEvery = 30 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	return c, nil
}

// Engine prepares, confirms and delivers broadcasts. Several replicas
// may run engines on one shared Store and Pacer; they split the work of
// each broadcast. It is safe for concurrent use.
type Engine struct {
	cfg  Config
	kick chan struct{}

	mu      sync.Mutex
	running map[string]bool // broadcasts this engine is delivering
}

// New returns an Engine; it checks that cfg has what it needs.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, kick: make(chan struct{}, 1), running: map[string]bool{}}, nil
}

// Preview is what a broadcast would reach, shown to the author before
// confirming.
type Preview struct {
	// Recipients is the number of chats (each counted once).
	Recipients int
	// ByLang counts recipients by their language ("" unknown).
	ByLang map[string]int
	// SampleText is the text recipients of each language of ByLang get.
	SampleText map[string]string
}

// NewID returns a random broadcast id.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("broadcast id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Prepare checks an announcement by author to audience a, stores it as
// a draft and returns it with a preview. Returns ErrForbidden if author
// is not a coordinator, bot.ErrInvalid (with a reason for the author) if
// a or texts are not acceptable, ErrUnknown if a names a district, topic
// or event the knowledge base (Config.KB) lacks. The count is of now: Confirm takes its
// own snapshot, which may differ if subscriptions changed meanwhile.
func (e *Engine) Prepare(ctx context.Context, author int64, a Audience, texts map[string]string) (Broadcast, Preview, error) {
	if !e.cfg.Coordinator(author) {
		return Broadcast{}, Preview{}, fmt.Errorf("broadcast prepare: %w", ErrForbidden)
	}
	a.Langs = append([]string(nil), a.Langs...)
	sort.Strings(a.Langs)
	if err := a.Validate(); err != nil {
		return Broadcast{}, Preview{}, fmt.Errorf("broadcast prepare: %w", err)
	}
	if err := e.known(a); err != nil {
		return Broadcast{}, Preview{}, fmt.Errorf("broadcast prepare: %w", err)
	}
	if err := ValidateTexts(texts, a); err != nil {
		return Broadcast{}, Preview{}, fmt.Errorf("broadcast prepare: %w", err)
	}
	own := make(map[string]string, len(texts))
	for l, s := range texts {
		own[l] = s
	}
	seen := map[int64]bool{}
	p := Preview{ByLang: map[string]int{}, SampleText: map[string]string{}}
	err := e.cfg.Recipients.Recipients(ctx, a, func(r Recipient) error {
		if seen[r.ChatID] || !a.Wants(r.Lang) {
			return nil
		}
		seen[r.ChatID] = true
		p.Recipients++
		p.ByLang[r.Lang]++
		p.SampleText[r.Lang] = TextFor(own, r.Lang)
		return nil
	})
	if err != nil {
		return Broadcast{}, Preview{}, fmt.Errorf("broadcast prepare: recipients: %w", err)
	}
	id, err := NewID()
	if err != nil {
		return Broadcast{}, Preview{}, err
	}
	b := Broadcast{ID: id, Author: author, Audience: a, Texts: own, State: Draft, Created: e.cfg.Now()}
	if err := e.cfg.Store.Create(ctx, b, e.cfg.TTL); err != nil {
		return Broadcast{}, Preview{}, fmt.Errorf("broadcast prepare: %w", err)
	}
	return b, p, nil
}

// known checks a's district, topic and event against Config.KB.
func (e *Engine) known(a Audience) error {
	if e.cfg.KB == nil {
		return nil
	}
	kb := e.cfg.KB()
	if kb == nil {
		return fmt.Errorf("audience: no knowledge base: %w", bot.ErrUnavailable)
	}
	if a.District != "" {
		if d, ok := kb.Entry(a.District); !ok || d.Kind != knowledge.KindDistrict {
			return fmt.Errorf("audience: district %q: %w", a.District, ErrUnknown)
		}
	}
	if a.Topic != "" {
		if _, ok := kb.Topic(a.Topic); !ok {
			return fmt.Errorf("audience: topic %q: %w", a.Topic, ErrUnknown)
		}
	}
	if a.EventID != "" {
		if ev, ok := kb.Entry(a.EventID); !ok || ev.Kind != knowledge.KindEvent {
			return fmt.Errorf("audience: event %q: %w", a.EventID, ErrUnknown)
		}
	}
	return nil
}

// Confirm starts delivering draft id: it snapshots the recipients into
// the durable queue and moves the broadcast to Sending; the engines'
// Run loops deliver it. Returns ErrState if id is not a draft. If the
// snapshot fails the broadcast stays Confirmed and Run completes it.
func (e *Engine) Confirm(ctx context.Context, id string) (Broadcast, error) {
	b, err := e.cfg.Store.SetState(ctx, id, Draft, Confirmed, e.cfg.Now())
	if err != nil {
		return Broadcast{}, fmt.Errorf("broadcast confirm: %w", err)
	}
	if b, err = e.start(ctx, b); err != nil {
		return Broadcast{}, fmt.Errorf("broadcast confirm: %w", err)
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
	return b, nil
}

// start snapshots a Confirmed broadcast and moves it to Sending. A
// snapshot interrupted by a crash is simply taken again: Enqueue skips
// the chats already queued.
func (e *Engine) start(ctx context.Context, b Broadcast) (Broadcast, error) {
	const chunk = 500
	batch := make([]Recipient, 0, chunk)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := e.cfg.Store.Enqueue(ctx, b.ID, batch)
		batch = batch[:0]
		return err
	}
	err := e.cfg.Recipients.Recipients(ctx, b.Audience, func(r Recipient) error {
		if !b.Audience.Wants(r.Lang) {
			return nil
		}
		batch = append(batch, r)
		if len(batch) == chunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return Broadcast{}, fmt.Errorf("snapshot: %w", err)
	}
	return e.cfg.Store.SetState(ctx, b.ID, Confirmed, Sending, e.cfg.Now())
}

// Cancel stops broadcast id: nothing more is sent (sends in flight
// finish and are counted). Returns ErrState if it already ended.
func (e *Engine) Cancel(ctx context.Context, id string) (Broadcast, error) {
	for range 5 { // the state may move on between Get and SetState
		b, err := e.cfg.Store.Get(ctx, id)
		if err != nil {
			return Broadcast{}, fmt.Errorf("broadcast cancel: %w", err)
		}
		if b.State.Final() {
			return b, fmt.Errorf("broadcast cancel: %s: %w", b.State, ErrState)
		}
		b, err = e.cfg.Store.SetState(ctx, id, b.State, Cancelled, e.cfg.Now())
		if !errors.Is(err, ErrState) {
			if err != nil {
				return Broadcast{}, fmt.Errorf("broadcast cancel: %w", err)
			}
			return b, nil
		}
	}
	return Broadcast{}, fmt.Errorf("broadcast cancel: state keeps changing: %w", bot.ErrUnavailable)
}

// Status returns broadcast id with its current tally. Returns
// bot.ErrNotFound if there is none.
func (e *Engine) Status(ctx context.Context, id string) (Broadcast, error) {
	b, err := e.cfg.Store.Get(ctx, id)
	if err != nil {
		return Broadcast{}, fmt.Errorf("broadcast status: %w", err)
	}
	return b, nil
}

// Resume delivers every broadcast that is Confirmed or Sending (e.g. left
// so by a crash or restart) and returns when they have ended or ctx is
// done. Recipients whose sends were in flight at a crash are sent again
// once their lease expires (see the package documentation).
func (e *Engine) Resume(ctx context.Context) error {
	var wg sync.WaitGroup
	err := e.startActive(ctx, &wg)
	wg.Wait()
	return err
}

// Run delivers broadcasts until ctx is done: those active at start,
// those confirmed here or at other replicas later. Sends in flight when
// ctx ends get Config.Grace to finish. It returns nil after a
// cancellation.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		if err := e.startActive(ctx, &wg); err != nil && ctx.Err() == nil {
			e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: listing active", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.kick:
		case <-t.C:
		}
	}
}

// startActive starts delivering each active broadcast not yet being
// delivered by this engine.
func (e *Engine) startActive(ctx context.Context, wg *sync.WaitGroup) error {
	ids, err := e.cfg.Store.Active(ctx)
	if err != nil {
		return fmt.Errorf("broadcast: active: %w", err)
	}
	for _, id := range ids {
		e.mu.Lock()
		busy := e.running[id]
		e.running[id] = true
		e.mu.Unlock()
		if busy {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				e.mu.Lock()
				delete(e.running, id)
				e.mu.Unlock()
			}()
			if err := e.deliver(ctx, id); err != nil && ctx.Err() == nil {
				e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: delivery", slog.String("broadcast", id), slog.String("err", err.Error()))
			}
		}()
	}
	return nil
}

// deliver runs the workers of broadcast id until it has ended or ctx is
// done.
func (e *Engine) deliver(ctx context.Context, id string) error {
	b, err := e.cfg.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	if b.State == Confirmed {
		if b, err = e.start(ctx, b); errors.Is(err, ErrState) {
			b, err = e.cfg.Store.Get(ctx, id) // another replica started it
		}
		if err != nil {
			return err
		}
	}
	if b.State != Sending {
		return nil
	}
	e.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "broadcast: delivering", slog.String("broadcast", id), slog.Int("pending", b.Tally.Pending))
	d := &delivery{e: e, b: b, lastReport: e.cfg.Now()}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stop() // one worker seeing the end ends the others' waits
			d.work(wctx)
		}()
	}
	wg.Wait()
	return nil
}

// delivery is one engine's share of delivering one broadcast.
type delivery struct {
	e *Engine
	b Broadcast // texts and audience; state and tally are not kept up to date

	mu         sync.Mutex
	decile     int // highest tenth reported or seen reported
	lastReport time.Time
	failures   int // consecutive sends that found Telegram unavailable
}

func (d *delivery) work(ctx context.Context) {
	e := d.e
	for ctx.Err() == nil {
		rs, st, err := e.cfg.Store.Claim(ctx, d.b.ID, e.cfg.Now(), e.cfg.Lease, e.cfg.Batch)
		if err != nil {
			if errors.Is(err, bot.ErrNotFound) {
				return
			}
			if ctx.Err() == nil {
				e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: claim", slog.String("broadcast", d.b.ID), slog.String("err", err.Error()))
			}
			d.pause(ctx, e.cfg.Poll)
			continue
		}
		switch st {
		case Finished, Stopped:
			d.final(ctx)
			return
		}
		if len(rs) == 0 {
			d.maybeReport(ctx, -1)
			d.pause(ctx, e.cfg.Poll)
			continue
		}
		deadline := e.cfg.Now().Add(e.cfg.Lease)
		for i, r := range rs {
			if ctx.Err() != nil {
				d.release(ctx, rs[i:], false)
				return
			}
			// The slot is taken right before the send, not before the
			// claim: a store round trip in between would add jitter
			// between the pacer's spacing and the arrival at Telegram.
			// The wait (up to Workers×replicas/Rate) counts against
			// the lease, which send checks.
			if !d.paced(ctx, rs[i:]) {
				return
			}
			d.send(ctx, r, deadline)
		}
	}
}

// paced waits for the pacer's next slot. If it cannot (ctx done, shared
// pacer unreachable) it hands rs back to the queue and reports false.
func (d *delivery) paced(ctx context.Context, rs []Recipient) bool {
	e := d.e
	err := e.cfg.Pacer.Wait(ctx)
	if err == nil {
		return true
	}
	if ctx.Err() == nil {
		e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: pacer", slog.String("err", err.Error()))
		d.pause(ctx, e.cfg.RetryBase)
	}
	d.release(ctx, rs, false)
	return false
}

// leaseMargin is kept between the end of a send and the end of its
// lease, for clock skew between replicas and for writing the outcome:
// 5s, or a quarter of short (test) leases.
func (e *Engine) leaseMargin() time.Duration { return min(5*time.Second, e.cfg.Lease/4) }

// send delivers one claimed recipient and records the outcome.
func (d *delivery) send(ctx context.Context, r Recipient, deadline time.Time) {
	e := d.e
	// The send must end before the lease does, with a margin.
	budget := deadline.Sub(e.cfg.Now()) - e.leaseMargin()
	if budget < e.leaseMargin() {
		d.release(ctx, []Recipient{r}, false) // not sent: the lease is too short now
		return
	}
	// The send does not end with ctx: a send cut off mid-request may
	// have reached Telegram, and its recipient would get the message
	// again after a restart. It gets Grace to finish instead. Nor does
	// it end with the claim's lease where the store can extend it.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer d.holdLease(sctx, cancel, r, deadline)()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(e.cfg.Grace, cancel) })
	defer stopAfter()

	lang := textLang(d.b.Texts, r.Lang)
	_, err := e.cfg.Sender.Send(sctx, bot.Outgoing{ChatID: r.ChatID, Text: d.b.Texts[lang], RTL: rtlLangs[lang]})
	switch {
	case err == nil:
		d.resetFailures()
		d.finish(ctx, r, Delivered)
	case errors.Is(err, bot.ErrBlocked):
		d.resetFailures()
		d.finish(ctx, r, Blocked)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := e.cfg.Forget.ForgetChat(fctx, r.ChatID); err != nil {
			e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: forgetting a blocked chat", slog.String("err", err.Error()))
		}
	default:
		// Telegram is down or flooding us, the send was cut off at its
		// deadline, or Telegram refused the message: try again later
		// and slow down; after MaxAttempts it counts as failed. Only a
		// blocked chat is final at once: any other error may be
		// passing, and losing a recipient is worse than retrying.
		e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: send failed", slog.String("broadcast", d.b.ID), slog.String("err", err.Error()))
		d.release(ctx, []Recipient{r}, true)
	}
}

// maxHold bounds how long a worker extends its claim on one recipient:
// the transport bounds a send itself (attempts, retry_after), this only
// keeps a hung send from holding a recipient for ever.
const maxHold = 5 * time.Minute

// holdLease cuts the send off (cancel) a lease margin before the claim
// on r ends, so that two workers never send to one recipient at once.
// With a LeaseExtender it extends the claim at once and then every third
// of the lease while the send runs, moving the cut-off with every
// extension that succeeded: an ordinary send is then never cut off
// mid-request, where Telegram may already have accepted it (the
// recipient would get the message twice). It returns the function that
// stops it.
func (d *delivery) holdLease(ctx context.Context, cancel context.CancelFunc, r Recipient, deadline time.Time) (stop func()) {
	e := d.e
	margin := e.leaseMargin()
	cut := time.AfterFunc(deadline.Sub(e.cfg.Now())-margin, cancel)
	x, ok := e.cfg.Store.(LeaseExtender)
	if !ok {
		return func() { cut.Stop() }
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		every := max(e.cfg.Lease/3, time.Millisecond)
		limit := e.cfg.Now().Add(maxHold)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			until := e.cfg.Now().Add(e.cfg.Lease)
			if until.After(limit) {
				return // the cut-off stays where the last extension put it
			}
			xctx, xcancel := context.WithTimeout(ctx, every)
			held, err := x.Extend(xctx, d.b.ID, r, until)
			xcancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				// The cut-off stays; the next tick tries again.
				e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: extending a claim", slog.String("broadcast", d.b.ID), slog.String("err", err.Error()))
			case !held:
				return // no longer ours: the old cut-off stands
			default:
				cut.Reset(until.Sub(e.cfg.Now()) - margin)
			}
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		cut.Stop()
	}
}

func (d *delivery) resetFailures() {
	d.mu.Lock()
	d.failures = 0
	d.mu.Unlock()
}

// backoff returns the pause after the n-th consecutive failure.
func (d *delivery) backoff(n int) time.Duration {
	p := d.e.cfg.RetryBase
	for i := 1; i < n && p < time.Minute; i++ {
		p *= 2
	}
	return min(p, time.Minute)
}

// release returns recipients that were certainly not delivered, or whose
// send failed (failed: count an attempt and back off), to the queue. It
// runs even when ctx is done, so that a stopping engine hands its
// claimed recipients back at once instead of after their leases.
func (d *delivery) release(ctx context.Context, rs []Recipient, failed bool) {
	e := d.e
	due := e.cfg.Now()
	var pause time.Duration
	if failed {
		d.mu.Lock()
		d.failures++
		pause = d.backoff(d.failures)
		d.mu.Unlock()
		due = due.Add(pause)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, r := range rs {
		n, err := e.cfg.Store.Release(rctx, d.b.ID, r, due)
		if err != nil {
			e.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: release", slog.String("broadcast", d.b.ID), slog.String("err", err.Error()))
			continue // its lease expires and it is claimed again
		}
		if failed && n >= e.cfg.MaxAttempts {
			d.finish(ctx, r, Failed)
		}
	}
	if failed {
		d.pause(ctx, pause)
	}
}

// finish records an outcome. If the store cannot be reached it tries a
// few times: until it succeeds, a crash would make the recipient be sent
// again, which is the one window for duplicates.
func (d *delivery) finish(ctx context.Context, r Recipient, o Outcome) {
	e := d.e
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, done, total, err := e.cfg.Store.Finish(fctx, d.b.ID, r, o)
		if err == nil {
			if total > 0 {
				d.maybeReport(ctx, done*10/total)
			}
			return
		}
		if attempt == 4 || !errors.Is(err, bot.ErrUnavailable) {
			e.cfg.Logger.LogAttrs(ctx, slog.LevelError, "broadcast: outcome not recorded; the recipient may get the message twice",
				slog.String("broadcast", d.b.ID), slog.String("err", err.Error()))
			return
		}
		if sleep(fctx, wait) != nil {
			return
		}
		wait *= 2
	}
}

// maybeReport reports progress when a new tenth of the recipients is
// done (decile; -1: none) and the step is not reported yet by any
// replica, or when ReportEvery passed since this engine last reported.
func (d *delivery) maybeReport(ctx context.Context, decile int) {
	e := d.e
	if e.cfg.Reporter == nil || ctx.Err() != nil {
		return
	}
	now := e.cfg.Now()
	d.mu.Lock()
	step := decile > d.decile && decile >= 1 && decile <= 9
	if step {
		d.decile = decile
	}
	due := now.Sub(d.lastReport) >= e.cfg.ReportEvery
	d.mu.Unlock()
	if step {
		won, err := e.cfg.Store.Milestone(ctx, d.b.ID, decile*10)
		step = err == nil && won
	}
	if !step && !due {
		return
	}
	b, err := e.cfg.Store.Get(ctx, d.b.ID)
	if err != nil || b.State != Sending {
		return
	}
	d.mu.Lock()
	d.lastReport = now
	d.mu.Unlock()
	e.cfg.Reporter.Progress(ctx, b)
}

// final reports the final tally once across replicas.
func (d *delivery) final(ctx context.Context) {
	e := d.e
	b, err := e.cfg.Store.Get(ctx, d.b.ID)
	if err != nil || !b.State.Final() {
		return
	}
	if won, err := e.cfg.Store.Milestone(ctx, d.b.ID, 100); err != nil || !won {
		return
	}
	e.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "broadcast: ended", slog.String("broadcast", b.ID), slog.String("state", string(b.State)),
		slog.Int("delivered", b.Tally.Delivered), slog.Int("blocked", b.Tally.Blocked),
		slog.Int("failed", b.Tally.Failed), slog.Int("pending", b.Tally.Pending))
	if e.cfg.Reporter != nil {
		e.cfg.Reporter.Progress(ctx, b)
	}
}

// pause waits d or until ctx is done.
func (d *delivery) pause(ctx context.Context, p time.Duration) { _ = sleep(ctx, p) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
