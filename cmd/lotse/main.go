// Command lotse runs the Lotse assistant.
//
//	lotse chat [-lang xx] [-kb DIR]   talk to the bot in this terminal
//	lotse run                         run the Telegram bot (configured by environment)
//	lotse kb check [DIR]              validate a knowledge base and show translation coverage
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/console"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/metrics"
	"github.com/lotse-bot/lotse/bot/opsserver"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

const usage = `Lotse: a multilingual assistant for municipal integration work.

Usage:
  lotse chat [-lang CODE] [-kb DIR]   talk to the bot in this terminal (in-memory state)
  lotse run                           run the Telegram bot (configuration: environment, see README)
  lotse kb check [DIR]                validate a knowledge base; print translation coverage
  lotse report [-period P] [-district D] [-format text|csv|png|unanswered] [-o FILE]
                                      anonymous monitoring figures from REDIS_URL (small counts hidden)
  lotse health [-http URL | -redis]   exit 0 if /readyz on LOTSE_LISTEN (or URL) answers 200 (container health check)
  lotse bench [-quick] [-users N] [-out FILE]   measure throughput, latency, Redis round trips, search (loopback)
  lotse chaos [-quick] [-out FILE]    fault suite: kills, Redis outage, API faults, flooding (loopback)
  lotse replicas [-quick] [-out FILE] webhook replicas on shared Redis: scaling, kill -9, Redis restart, SIGTERM (loopback)
`

// Main runs the command line and returns the exit code. It is the whole
// program, so end-to-end tests can run it in-process.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "chat":
		return cmdChat(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], getenv, stderr)
	case "kb":
		return cmdKB(args[1:], stdout, stderr)
	case "report":
		return cmdReport(ctx, args[1:], getenv, stdout, stderr)
	case "health":
		return cmdHealth(ctx, args[1:], getenv, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "chaos":
		return cmdChaos(ctx, args[1:], stdout, stderr)
	case "replicas":
		return cmdReplicas(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "lotse: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// loadKB loads dir, or the embedded sample when dir is empty.
func loadKB(dir string) (*knowledge.KB, error) {
	if dir == "" {
		return knowledge.Sample()
	}
	return knowledge.LoadDir(dir)
}

func cmdKB(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" || len(args) > 2 {
		fmt.Fprint(stderr, "usage: lotse kb check [DIR]\n")
		return exitUsage
	}
	dir := ""
	if len(args) == 2 {
		dir = args[1]
	}
	kb, err := loadKB(dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	knowledge.WriteReport(stdout, kb, time.Now())
	return exitOK
}

func cmdChat(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "", "your language (de, en, ar, fa, uk, ru, tr, fr, ...); empty: the bot asks")
	dir := fs.String("kb", getenv("LOTSE_KNOWLEDGE_DIR"), "knowledge base directory (default: embedded sample)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	kb, err := loadKB(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	cat, err := i18n.NewCatalog()
	if err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	term := console.New(stdout, *lang)
	secret := make([]byte, 32) // a terminal session is never stored beyond this process
	live, store := knowledge.NewLive(kb), memstore.New(time.Now)
	side := sideStores(store, time.Now)
	bc := newBroadcasts(store, side.subs, time.Now, slog.New(slog.DiscardHandler))
	b, err := bot.New(bc.with(side.withSides(bot.Config{
		KB:            live,
		Store:         store,
		Sender:        term,
		Catalog:       cat,
		Now:           time.Now,
		UserKeySecret: secret,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Staff:         chatStaff(kb, 1, 1), // the console's user and chat
		Outbox:        store,
		Tokens:        store,
	})))
	if err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	if err := side.startReminders(ctx, b, live, time.Now, slog.New(slog.DiscardHandler)); err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	if err := bc.start(ctx, b); err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	go b.RunOutbox(ctx, "chat")
	if kb.City.Sample {
		fmt.Fprintf(stdout, "Lotse — sample knowledge base of the fictional city %s (%d entries). Type a question, a number to press a button, Ctrl-D to quit.\n", kb.City.Name, kb.Len())
	}
	if err := term.Run(ctx, stdin, b, time.Now); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	return exitOK
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(withLogCopy(h, cfg.LogCopy))
}

func cmdRun(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: lotse run (configured by environment variables; see README)")
		return exitUsage
	}
	cfg, err := loadConfig(getenv, true)
	if err != nil {
		fmt.Fprintf(stderr, "lotse: bad configuration: %v\n", err)
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	kb, err := loadKB(cfg.KnowledgeDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	live := knowledge.NewLive(kb)
	staff, err := loadStaff(cfg, kb)
	if err != nil {
		fmt.Fprintf(stderr, "lotse: LOTSE_STAFF_FILE: %v\n", err)
		return exitUsage
	}
	log.Info("knowledge base loaded", "entries", kb.Len(), "sample", kb.City.Sample, "dir", cfg.KnowledgeDir)
	m := metrics.New()
	m.KnowledgeLoaded(true, kb.Len())
	if cfg.SecretGenerated {
		log.Warn("LOTSE_SECRET not set: user keys are random per process, so state does not survive a restart")
	}

	store, pingStore, closeStore, err := openStore(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "lotse: %v\n", err)
		return exitFailed
	}
	defer closeStore()

	cat, err := i18n.NewCatalog()
	if err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	limiter, chatLocks, closeShared := sharedCoordination(cfg, log, m)
	defer closeShared()
	tg, err := telegram.New(ctx, floodLimits(cfg, telegram.Config{
		Token:       cfg.TelegramToken,
		Endpoint:    cfg.TelegramEndpoint,
		PollTimeout: cfg.PollTimeout,
		Workers:     cfg.Workers,
		Logger:      log,
		Observer:    m,
		Limiter:     limiter,
		ChatLocker:  chatLocks,
	}))
	if err != nil {
		fmt.Fprintf(stderr, "lotse: telegram: %v\n", err)
		return exitFailed
	}
	side := sideStores(store, time.Now)
	defer side.closeMonitor() // before closeStore, deferred earlier
	bc := newBroadcasts(store, side.subs, time.Now, log)
	b, err := bot.New(bc.with(side.withSides(bot.Config{
		KB:              live,
		Store:           store,
		Sender:          tg,
		Catalog:         cat,
		Now:             time.Now,
		UserKeySecret:   cfg.Secret,
		SessionTTL:      cfg.SessionTTL,
		Logger:          log,
		Staff:           staff,
		Outbox:          outboxOf(store, staff),
		Tokens:          tokensOf(store, staff),
		BotName:         cmp.Or(cfg.BotName, tg.Username()),
		CalendarURL:     calendarURL(cfg.PublicURL),
		ReportThreshold: cfg.ReportThreshold,
		Flood:           bot.FloodLimit{Off: cfg.FloodLimitsOff},
	})))
	if err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	if err := side.startReminders(ctx, b, live, time.Now, log); err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	if err := bc.start(ctx, b); err != nil {
		fmt.Fprintln(stderr, "lotse:", err)
		return exitFailed
	}
	if ts, ok := store.(bot.TicketStore); ok {
		go retainEvery(ctx, ts, cfg.RetentionEvery, cfg.ClosedRetention, log)
	}
	if err := tg.SetCommands(ctx, commandsByLanguage(b)); err != nil {
		log.Warn("setMyCommands failed; the command menu may be outdated", "err", err)
	}
	go reloadOnHangup(ctx, live, cfg.KnowledgeDir, log, m, staffReloader(ctx, b, cfg.StaffFile, live, log))
	if staff != nil {
		go escalateEvery(ctx, b, cfg.EscalateEvery, log)
	}
	startTickets(ctx, b, staff, log)
	return serve(ctx, cfg, log, tg, b, live, pingStore, m)
}

// serve runs the ops server and receives updates (webhook or long
// polling) until ctx is cancelled; then it lets requests in flight
// finish, for a bounded time.
func serve(ctx context.Context, cfg Config, log *slog.Logger, tg *telegram.Client, b *bot.Bot,
	live *knowledge.Live, pingStore func(context.Context) error, m *metrics.Metrics) int {
	// Polling sees Telegram at least every PollTimeout; webhook mode
	// asks about the webhook every minute.
	fresh := max(2*time.Minute, cfg.PollTimeout+time.Minute)
	checks := []opsserver.Check{
		{Name: "knowledge", Check: func(context.Context) error {
			if kb := live.Current(); kb == nil || kb.Len() == 0 {
				return errors.New("no knowledge base loaded")
			}
			return nil
		}},
		{Name: "telegram", Check: func(context.Context) error {
			if last := tg.LastOK(); time.Since(last) > fresh {
				return fmt.Errorf("no answer from Telegram since %s", last.Format(time.RFC3339))
			}
			return nil
		}},
	}
	if pingStore != nil {
		checks = append(checks, opsserver.Check{Name: "redis", Check: pingStore})
	}
	ocfg := opsserver.Config{Addr: cfg.Listen, Checks: checks, Metrics: m.Handler(), Logger: log, Public: publicHandlers(live)}
	if cfg.WebhookURL != "" {
		wh, err := tg.Webhook(b, cfg.WebhookSecret)
		if err != nil {
			log.Error("webhook", "err", err)
			return exitFailed
		}
		ocfg.Webhook, ocfg.WebhookPath = wh, cfg.WebhookPath
	}
	ops, err := opsserver.Start(ocfg)
	if err != nil {
		log.Error("ops server", "err", err)
		return exitFailed
	}
	log.Info("ops server listening", "addr", ops.Addr(), "webhook", cfg.WebhookURL != "")
	code := exitOK
	if cfg.WebhookURL != "" {
		if cfg.SecretGenerated && cfg.WebhookSecretDerived {
			log.Warn("LOTSE_SECRET not set: the webhook secret is random per process, so replicas would overwrite each other's webhook")
		}
		log.Info("receiving updates by webhook", "path", cfg.WebhookPath)
		if err := tg.RunWebhook(ctx, telegram.WebhookConfig{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret}, time.Minute); err != nil {
			log.Error("setWebhook failed", "err", err)
			code = exitFailed
		}
	} else {
		// A webhook left from an earlier deployment blocks getUpdates
		// (409); its pending updates are kept and polled.
		if err := tg.DeleteWebhook(ctx, false); err != nil && ctx.Err() == nil {
			log.Warn("deleteWebhook failed; polling may be refused while a webhook is set", "err", err)
		}
		log.Info("polling for updates")
		if err := tg.Poll(ctx, b); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("polling stopped", "err", err)
			code = exitFailed
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := ops.Shutdown(sctx); err != nil {
		log.Warn("ops server shutdown cut requests off", "err", err)
	}
	log.Info("stopped")
	return code
}

// shutdownTimeout bounds the wait for webhook requests in flight at
// shutdown; an update cut off is not acknowledged, so Telegram delivers
// it again (to another replica or after the restart).
const shutdownTimeout = 15 * time.Second

// commandsByLanguage lists the bot's commands for setMyCommands: the
// English list is the default for languages we do not ship.
func commandsByLanguage(b *bot.Bot) map[string][]telegram.Command {
	out := map[string][]telegram.Command{}
	for _, lang := range i18n.Languages {
		var cmds []telegram.Command
		for _, c := range b.Commands(lang) {
			cmds = append(cmds, telegram.Command{Name: c.Name, Description: c.Description})
		}
		out[lang] = cmds
		if lang == "en" {
			out[""] = cmds
		}
	}
	return out
}

// openStore connects to Redis when REDIS_URL is set, else returns the
// in-memory store. ping checks Redis for readiness (nil without Redis).
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (store bot.Store, ping func(context.Context) error, closeFn func() error, err error) {
	if cfg.RedisURL == "" {
		log.Info("REDIS_URL not set: using the in-memory store; conversation state is lost on restart and not shared between replicas")
		return memstore.New(time.Now), nil, func() error { return nil }, nil
	}
	rdb, err := redisstore.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, nil, fmt.Errorf("redis unreachable: %w", err)
	}
	log.Info("using Redis for conversation state", "namespace", cfg.Namespace)
	ping = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	return redisstore.New(rdb, redisstore.Options{Namespace: cfg.Namespace}), ping, rdb.Close, nil
}

// reloadOnHangup reloads the knowledge base on SIGHUP; a broken reload
// is refused and the last good base stays live. Then, either way, it runs
// then (what depends on the knowledge base: the staff file); nil ones are
// skipped.
func reloadOnHangup(ctx context.Context, live *knowledge.Live, dir string, log *slog.Logger, m *metrics.Metrics, then ...func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := live.Reload(func() (*knowledge.KB, error) { return loadKB(dir) }); err != nil {
				log.Error("knowledge base reload refused; the previous one stays live", "problems", err.Error())
				m.KnowledgeLoaded(false, 0)
			} else {
				log.Info("knowledge base reloaded", "entries", live.Current().Len())
				m.KnowledgeLoaded(true, live.Current().Len())
			}
			for _, f := range then {
				if f != nil {
					f()
				}
			}
		}
	}
}
