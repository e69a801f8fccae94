package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/internal/loadtest"
	"github.com/lotse-bot/lotse/knowledge"
)

// chaosSize is how much a chaos run does.
type chaosSize struct {
	killUsers, killPerUser, kills int
	outageUpdates                 int
	outageDown                    time.Duration
	faultUsers, faultUpdates      int
	floodUsers                    int
	floodFor, floodWait           time.Duration
	fuzzTime                      time.Duration // 0: fuzzing left to scripts/test.sh
}

func chaosSizes(quick bool) chaosSize {
	if quick {
		return chaosSize{killUsers: 30, killPerUser: 4, kills: 3,
			outageUpdates: 1500, outageDown: time.Second,
			faultUsers: 30, faultUpdates: 90,
			floodUsers: 10, floodFor: 3 * time.Second, floodWait: 10 * time.Second}
	}
	return chaosSize{killUsers: 100, killPerUser: 10, kills: 10,
		outageUpdates: 20000, outageDown: 3 * time.Second,
		faultUsers: 100, faultUpdates: 600,
		floodUsers: 20, floodFor: 10 * time.Second, floodWait: 30 * time.Second,
		fuzzTime: 30 * time.Second}
}

// check is one line of the verdict table.
type check struct {
	scenario, property, measured string
	ok                           bool
}

func cmdChaos(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small run (under a minute), as in CI")
	out := fs.String("out", "", "also write the report (markdown) to this file")
	bin := fs.String("bin", "", "lotse binary to kill and restart (default: this program)")
	fuzz := fs.Duration("fuzztime", -1, "fuzz time per target (default 30s; 0 with -quick: skipped); needs go and the source tree")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: lotse chaos [-quick] [-out FILE] [-bin LOTSE] [-fuzztime D]")
		return exitUsage
	}
	size := chaosSizes(*quick)
	if *fuzz >= 0 {
		size.fuzzTime = *fuzz
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "lotse chaos: cannot find this program to restart it: %v (use -bin)\n", err)
			return exitFailed
		}
		*bin = exe
	}
	report, ok, err := runChaos(ctx, size, *bin, strings.TrimSpace("lotse chaos "+strings.Join(args, " ")), stderr)
	return reportExit("chaos", report, ok, err, *out, stdout, stderr)
}

// redisLog counts go-redis' own log lines (dial failures while Redis
// is down) instead of printing them.
type redisLog struct{ n atomic.Int64 }

func (l *redisLog) Printf(context.Context, string, ...any) { l.n.Add(1) }

func runChaos(ctx context.Context, size chaosSize, bin, command string, progress io.Writer) (string, bool, error) {
	// go-redis logs through a package-level logger; this command owns
	// the process, so it may redirect it.
	redis.SetLogger(&redisLog{})
	srv, err := loadtest.StartRedis()
	if err != nil {
		return "", false, err
	}
	defer srv.Stop()
	var checks []check
	var notes []string
	steps := []struct {
		name string
		run  func() ([]check, string, error)
	}{
		{"bot killed with kill -9", func() ([]check, string, error) { return chaosKill(ctx, size, bin, srv) }},
		{"Redis killed and restarted", func() ([]check, string, error) { return chaosRedis(ctx, size, srv) }},
		{"Bot API faults", func() ([]check, string, error) { return chaosAPI(ctx, size) }},
		{"one user flooding", func() ([]check, string, error) { return chaosFlood(ctx, size) }},
		{"fuzzing", func() ([]check, string, error) { return chaosFuzz(ctx, size) }},
	}
	for _, s := range steps {
		fmt.Fprintf(progress, "chaos: %s ...\n", s.name)
		c, note, err := s.run()
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", s.name, err)
		}
		checks = append(checks, c...)
		if note != "" {
			notes = append(notes, "- **"+s.name+"**: "+note)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Lotse reliability\n\n")
	writeProvenance(&b, command)
	fmt.Fprintf(&b, "\nEverything runs on 127.0.0.1: a fake Bot API in the chaos process, a throwaway redis-server, and Lotse itself (in-process, or as `lotse run` subprocesses for the kills). Telegram's flood limits are kept on both sides unless noted.\n\n")
	allOK := writeChecks(&b, checks)
	fmt.Fprintf(&b, "\n## Notes\n\n%s\n", strings.Join(notes, "\n"))
	return b.String(), allOK, nil
}

// killQuestions are asked in the kill scenario; the first line of each
// answer identifies it (several may share an answer: accounting is per
// chat and answer).
var killQuestions = []struct{ lang, q string }{
	{"de", "Wo ist die Ausländerbehörde?"}, {"de", "Jobcenter"}, {"de", "Deutschkurs"},
	{"de", "Integrationskurs"}, {"de", "Café Grenzenlos"}, {"de", "Wohnung suchen"},
	{"de", "Kinderarzt"}, {"de", "Anerkennung Zeugnis"}, {"de", "Beratung für Frauen"}, {"de", "Kita"},
}

// chaosKill kills `lotse run` subprocesses at random points of a burst
// and restarts them against the same fake Bot API and Redis.
func chaosKill(ctx context.Context, size chaosSize, bin string, srv *loadtest.RedisServer) ([]check, string, error) {
	const scenario = "bot killed (kill -9) during a burst"
	api := bottest.StartFakeAPI(nil, func(c *bottest.FakeConfig) { c.MaxPollWait = time.Second })
	defer api.Close()
	ns := fmt.Sprintf("chaos:kill:%d", time.Now().UnixNano())
	env := []string{
		"TELEGRAM_TOKEN=" + api.Token(), "TELEGRAM_API_ENDPOINT=" + api.Endpoint(),
		"REDIS_URL=" + srv.URL(), "LOTSE_SECRET=chaos-secret-0123456789abcdefghijkl",
		"LOTSE_NAMESPACE=" + ns, "LOTSE_POLL_TIMEOUT=1s", "LOTSE_LISTEN=127.0.0.1:0",
		"LOTSE_LOG_LEVEL=error",
	}
	var logs lockedLog
	start := func() (*proc, error) { return startProc(lotseRunCmd(bin, env, &logs)) }
	p, err := start()
	if err != nil {
		return nil, "", err
	}
	defer func() { p.cmd.Process.Kill(); <-p.done }()

	wait := func(d time.Duration, cond func() bool) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if cond() {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cond()
	}
	firstLine := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

	// Calibration: which first line answers which question (one user
	// per question), then every burst user is greeted, so that each
	// question of the burst gets exactly one message.
	const calib = 900000
	for i, q := range killQuestions {
		api.PushText(calib+int64(i), calib+int64(i), q.lang, "/start")
		api.PushText(calib+int64(i), calib+int64(i), q.lang, q.q)
	}
	users := int64(size.killUsers)
	for u := int64(1); u <= users; u++ {
		api.PushText(u, u, "de", "/start")
	}
	answerOf := make([]string, len(killQuestions))
	ready := wait(2*time.Minute, func() bool {
		for i := range killQuestions {
			if len(api.Sent(calib+int64(i))) < 2 {
				return false
			}
		}
		return len(api.Sent(0)) >= 2*len(killQuestions)+int(users)
	})
	if !ready {
		return nil, "", fmt.Errorf("warm-up: Lotse did not answer within 2 minutes; log:\n%s", logs.tail())
	}
	for i := range killQuestions {
		answerOf[i] = firstLine(api.Sent(calib + int64(i))[1].Text)
	}
	baseSent := len(api.Sent(0))

	// The burst: every user asks killPerUser questions at once.
	expected := map[int64]map[string]int{}
	total := 0
	for k := 0; k < size.killPerUser; k++ {
		for u := int64(1); u <= users; u++ {
			i := (int(u) + k) % len(killQuestions)
			api.PushText(u, u, killQuestions[i].lang, killQuestions[i].q)
			if expected[u] == nil {
				expected[u] = map[string]int{}
			}
			expected[u][answerOf[i]]++
			total++
		}
	}
	burstStart := time.Now()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for k := 0; k < size.kills; k++ {
		// A random point: 0.3-2.3 s after the (re)start, while the
		// burst is still being answered.
		time.Sleep(300*time.Millisecond + time.Duration(rng.Int64N(int64(2*time.Second))))
		p.cmd.Process.Signal(os.Kill)
		<-p.done
		if p, err = start(); err != nil {
			return nil, "", err
		}
	}
	killsDone := time.Since(burstStart)
	// Done when nothing is pending and nothing was sent for 3 s (lost
	// updates never complete the count, and late duplicates would land
	// within that time).
	last, lastChange := -1, time.Now()
	finished := wait(3*time.Minute, func() bool {
		n := len(api.Sent(0))
		if n != last {
			last, lastChange = n, time.Now()
		}
		return len(api.Pending()) == 0 && (n-baseSent >= total && time.Since(lastChange) > time.Second || time.Since(lastChange) > 3*time.Second)
	})
	got := map[int64]map[string]int{}
	for _, m := range api.Sent(0)[baseSent:] {
		if m.ChatID >= 1 && m.ChatID <= users {
			if got[m.ChatID] == nil {
				got[m.ChatID] = map[string]int{}
			}
			got[m.ChatID][firstLine(m.Text)]++
		}
	}
	lost, dup := 0, 0
	for u, exp := range expected {
		for a, n := range exp {
			if g := got[u][a]; g < n {
				lost += n - g
			}
		}
		for a, g := range got[u] {
			if g > exp[a] {
				dup += g - exp[a]
			}
		}
	}
	elapsed := time.Since(burstStart)
	checks := []check{
		{scenario, fmt.Sprintf("every update answered (%d updates from %d users, %d kills)", total, users, size.kills),
			fmt.Sprintf("%d lost", lost), lost == 0 && finished},
		{scenario, "no update answered twice", fmt.Sprintf("%d duplicates", dup), dup == 0},
		{scenario, "no Bot API 400", fmt.Sprintf("%d", len(api.BadRequests())), len(api.BadRequests()) == 0},
	}
	note := fmt.Sprintf("%d kills within the first %.1f s of the burst; all answers after %.1f s. "+
		"Flood-limit 429s from the fake after restarts (a restarted process starts with fresh limiters): %d. "+
		"Accounting is per chat and answer: the first line of each answer identifies the question (calibrated first). "+
		"De-duplication is two-phase: a claim with a 30 s lease (SET NX \"p\") before handling, a done mark (\"d\", 24 h) after the reply. "+
		"An update claimed by a killed process comes back with the next getUpdates, is refused as in progress (not confirmed; the poll loop backs off 1 s doubling to 30 s) and is answered once the lease has expired, which is why the last answers come tens of seconds after the last kill. "+
		"The one duplicate window left is a kill after Telegram accepted a reply and before its done mark was written.",
		size.kills, killsDone.Seconds(), elapsed.Seconds(), len(api.Violations()))
	return checks, note, nil
}

// lockedLog keeps the subprocesses' output for error messages.
type lockedLog struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b[max(0, len(l.b)-4000):])
}

// countHandler counts log records at warning level and above by message.
type countHandler struct {
	mu     *sync.Mutex
	counts map[string]int
}

func (h countHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// chaosBot is Lotse in-process on h's transport. Closed-loop users ask
// at machine speed, which the per-user inbound limit drops as a flood;
// only the flood scenario keeps the limit (flood).
func chaosBot(h *loadtest.Harness, store bot.Store, log *slog.Logger, flood bool) (*bot.Bot, error) {
	cfg, err := chaosConfig(h, store, log)
	if err != nil {
		return nil, err
	}
	cfg.Flood = bot.FloodLimit{Off: !flood}
	return bot.New(cfg)
}

// chaosConfig configures Lotse on h's transport with the sample
// knowledge base, store and log.
func chaosConfig(h *loadtest.Harness, store bot.Store, log *slog.Logger) (bot.Config, error) {
	kb, err := knowledge.Sample()
	if err != nil {
		return bot.Config{}, err
	}
	cat, err := i18n.NewCatalog()
	if err != nil {
		return bot.Config{}, err
	}
	return bot.Config{KB: knowledge.NewLive(kb), Store: store, Sender: h.TG, Catalog: cat,
		UserKeySecret: []byte("chaos-secret-0123456789abcdefghij"), Logger: log}, nil
}

// serveCounting serves lotse on h, counting in failed the updates whose
// handling returned an error; the returned func stops serving and waits
// until it has stopped.
func serveCounting(ctx context.Context, h *loadtest.Harness, lotse *bot.Bot, failed *atomic.Int64) (stop func()) {
	pctx, cancel := context.WithCancel(ctx)
	wait := h.Serve(pctx, telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
		err := lotse.Handle(ctx, in)
		if err != nil {
			failed.Add(1)
		}
		return err
	}))
	return func() { cancel(); wait() }
}

// chaosRedis kills redis-server under load and brings it back.
func chaosRedis(ctx context.Context, size chaosSize, srv *loadtest.RedisServer) ([]check, string, error) {
	const scenario = "Redis killed and restarted under load"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	h, err := loadtest.New(ctx, loadtest.Config{})
	if err != nil {
		return nil, "", err
	}
	defer h.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 32,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, MaxRetries: 1})
	defer rdb.Close()
	ns := fmt.Sprintf("chaos:redis:%d", time.Now().UnixNano())
	var mu sync.Mutex
	warns := map[string]int{}
	lotse, err := chaosBot(h, redisstore.New(rdb, redisstore.Options{Namespace: ns}), copyLogger(countHandler{&mu, warns}), false)
	if err != nil {
		return nil, "", err
	}
	var failed atomic.Int64
	stop := serveCounting(ctx, h, lotse, &failed)
	defer stop()
	const users = 100
	type result struct {
		sum loadtest.Summary
		ids []int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		s, ids, err := h.RunClosedLoop(ctx, users, 1, size.outageUpdates, questionScript)
		res <- result{s, ids, err}
	}()
	// Kill once a third of the updates were handled.
	if err := h.WaitHandled(ctx, size.outageUpdates/3); err != nil {
		return nil, "", err
	}
	killedAt := h.Handled()
	srv.Kill()
	time.Sleep(size.outageDown)
	duringOutage := h.Handled() - killedAt
	if err := srv.Restart(); err != nil {
		return nil, "", fmt.Errorf("restarting redis-server: %w", err)
	}
	r := <-res
	if r.err != nil {
		return nil, "", r.err
	}
	// After the restart sessions are written again.
	keys, err := rdb.Keys(ctx, ns+":*").Result()
	if err != nil {
		return nil, "", fmt.Errorf("after the restart: %w", err)
	}
	mu.Lock()
	degraded := warns["begin failed"]
	mu.Unlock()
	checks := []check{
		{scenario, fmt.Sprintf("every update handled (%d)", size.outageUpdates), fmt.Sprintf("%d handled", r.sum.Updates), r.sum.Updates == size.outageUpdates},
		{scenario, "every reply delivered (no handler error)", fmt.Sprintf("%d errors", failed.Load()), failed.Load() == 0},
		{scenario, fmt.Sprintf("keeps answering while Redis is down (%s outage)", size.outageDown), fmt.Sprintf("%d updates answered without session", degraded), degraded > 0},
		{scenario, "reconnects: state written again after the restart", fmt.Sprintf("%d keys", len(keys)), len(keys) > 0},
	}
	note := fmt.Sprintf("In-process bot, 100 users in a closed loop, flood limits lifted. %d updates were handled with the store down (\"begin failed\" warnings: %d); p99 latency over the whole run %s, p50 %s.",
		duringOutage, degraded, ms(r.sum.P99), ms(r.sum.P50))
	return checks, note, nil
}

// chaosAPI answers with 429s, 5xx, slow responses and dropped
// connections.
func chaosAPI(ctx context.Context, size chaosSize) ([]check, string, error) {
	const scenario = "Bot API: 429 retry_after, 5xx, slow, dropped connections"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	h, err := loadtest.New(ctx, loadtest.Config{Limits: true,
		Fake: []bottest.FakeOption{func(c *bottest.FakeConfig) {
			c.Seed = uint64(time.Now().UnixNano())
			c.P429, c.P5xx, c.PDrop = 0.05, 0.05, 0.03
			c.FaultPolling = true
			c.Latency = 30 * time.Millisecond
		}},
		Client: func(c *telegram.Config) { c.RetryBase = 100 * time.Millisecond; c.ShutdownGrace = time.Second },
	})
	if err != nil {
		return nil, "", err
	}
	defer h.Close()
	// Slow answers beyond the latency: a few calls wait 2 s.
	h.API.FailNext("sendMessage", bottest.Fault{Delay: 2 * time.Second}, bottest.Fault{Status: 429, RetryAfter: 2})
	lotse, err := chaosBot(h, newMemStore(), nil, false)
	if err != nil {
		return nil, "", err
	}
	var failed atomic.Int64
	stop := serveCounting(ctx, h, lotse, &failed)
	defer stop()
	sum, _, err := h.RunClosedLoop(ctx, int64(size.faultUsers), 1, size.faultUpdates, questionScript)
	if err != nil {
		return nil, "", err
	}
	calls := h.API.Calls("")
	injected429, early := 0, 0
	var statuses = map[int]int{}
	for i, c := range calls {
		statuses[c.Status]++
		if c.Status != 429 || !strings.HasPrefix(c.Method, "send") {
			continue
		}
		injected429++
		// The next call to the same chat must wait out retry_after (1 s
		// for the random faults, 2 s for the one queued above; the
		// shorter bound is checked, less the fake's 5% slack).
		for _, n := range calls[i+1:] {
			if n.Params.Get("chat_id") == c.Params.Get("chat_id") && strings.HasPrefix(n.Method, "send") {
				if n.At.Sub(c.At) < 950*time.Millisecond {
					early++
				}
				break
			}
		}
	}
	viol := len(h.API.Violations())
	checks := []check{
		{scenario, fmt.Sprintf("every update answered (%d)", size.faultUpdates), fmt.Sprintf("%d handled, %d reply failures", sum.Updates, failed.Load()),
			sum.Updates == size.faultUpdates && failed.Load() == 0},
		{scenario, "retry_after honoured", fmt.Sprintf("%d of %d 429s followed by an early retry", early, injected429), early == 0},
		{scenario, "no flood-limit violations beyond those injected", fmt.Sprintf("%d", viol), viol == 0},
		{scenario, "no Bot API 400", fmt.Sprintf("%d", len(h.API.BadRequests())), len(h.API.BadRequests()) == 0},
	}
	note := fmt.Sprintf("Per call (polling included): 5%% 429 (retry_after 1 s), 5%% 5xx (half with an HTML body), 3%% dropped connections, 30 ms latency on every call, plus one 2 s stall and one 429 with retry_after 2 s. Answers by status: %v. Latency p50 %s, p99 %s.",
		statuses, ms(sum.P50), ms(sum.P99))
	return checks, note, nil
}

// chaosFlood: one user sends 100 messages/s while others talk normally.
func chaosFlood(ctx context.Context, size chaosSize) ([]check, string, error) {
	const scenario = "one user flooding 100 messages/s"
	quiet, err := floodRun(ctx, size, false)
	if err != nil {
		return nil, "", err
	}
	loud, err := floodRun(ctx, size, true)
	if err != nil {
		return nil, "", err
	}
	limitOK := float64(loud.flooderSent) <= loud.over.Seconds()+3+1
	checks := []check{
		{scenario, "the flooder's replies held to the per-chat limit (1/s after a burst of 3)",
			fmt.Sprintf("%d replies in %.1f s to %d messages (%d handled, %d dropped by the inbound limit)", loud.flooderSent, loud.over.Seconds(), loud.flooderPushed, loud.flooderHandled, loud.flooderDropped), limitOK},
		{scenario, "other users' p99 within 10% of a quiet run",
			fmt.Sprintf("%s vs %s quiet (%d of %d answered)", durOrLost(loud.others), ms(quiet.others.P99), loud.others.Updates, quiet.others.Updates),
			loud.others.Updates == quiet.others.Updates && float64(loud.others.P99) <= 1.1*float64(quiet.others.P99)},
	}
	note := fmt.Sprintf("%d users each ask a question every second for %s, flood limits on as in production; the flood run adds one user sending 100 messages/s for the same time. Both runs measure the same %d users the same way: from pushing a question to the fake Bot API until the fake accepted its answer (not until the handler returned, which for a queued reply is earlier). Answers are awaited for at most %s after the load ends; unanswered updates count as lost. Quiet p50 %s, flood p50 %s. "+
		"The bot drops a user's updates beyond a token bucket (5 at once, then one per 2 s) before any store round trip, with one notice per limited period; dropped updates cost no send. "+
		"So that the flooder's chat holds nobody else: the transport gives each chat of a getUpdates batch its own queue, served in turns by the workers (no hash-sharding of chats onto workers), and a reply whose chat's send slot (Telegram: 1/s per chat after a burst of 3) is more than 200 ms away goes to the durable outbox instead of holding its handler; the chat's later replies follow it there while it holds any (per-chat order), and the update is confirmed once its reply is stored. "+
		"In the flood run %d of the flooder's replies went through the outbox. The flood still shares Telegram's overall 30 messages/s with everybody: its few allowed answers take slots in the others' queue.",
		size.floodUsers, size.floodFor, size.floodUsers, size.floodWait, ms(quiet.others.P50), ms(loud.others.P50), loud.flooderPaced)
	return checks, note, nil
}

func durOrLost(s loadtest.Summary) string {
	if s.Updates == 0 {
		return "none answered"
	}
	return ms(s.P99)
}

// floodResult is one run of the flood scenario: the other users'
// latencies, and what the flooder sent and got.
type floodResult struct {
	others                                                      loadtest.Summary
	flooderPushed, flooderHandled, flooderDropped, flooderPaced int
	flooderSent                                                 int           // messages the flooder got
	over                                                        time.Duration // since the load began
}

// floodRun runs the scenario once, with or without the flooder. The bot
// is wired as `lotse run` wires it: the store's outbox with a dispatcher
// running, the transport's and the bot's flood limits on.
func floodRun(ctx context.Context, size chaosSize, flood bool) (floodResult, error) {
	ctx, cancel := context.WithTimeout(ctx, size.floodFor+time.Minute)
	defer cancel()
	h, err := loadtest.New(ctx, loadtest.Config{Limits: true,
		Client: func(c *telegram.Config) { c.ShutdownGrace = time.Second }})
	if err != nil {
		return floodResult{}, err
	}
	defer h.Close()
	store := memstore.New(time.Now)
	var outcomes outcomeCount
	lotse, err := floodBot(h, store, copyLogger(&outcomes))
	if err != nil {
		return floodResult{}, err
	}
	pctx, stop := context.WithCancel(ctx)
	dispatched := make(chan struct{})
	go func() { lotse.RunOutbox(pctx, "chaos"); close(dispatched) }()
	wait := h.Serve(pctx, lotse)
	defer func() { stop(); wait(); <-dispatched }()
	// Greet everyone first, so that each question gets one message.
	const flooder = 999
	users := int64(size.floodUsers)
	for u := int64(1); u <= users; u++ {
		h.Text(u, "de", "/start")
	}
	h.Text(flooder, "de", "/start")
	if err := h.WaitHandled(ctx, int(users)+1); err != nil {
		return floodResult{}, err
	}
	time.Sleep(1500 * time.Millisecond) // per-chat buckets refill
	base := len(h.API.Sent(flooder))
	outcomes.reset()
	var floodIDs []int64
	asked := map[int64][]time.Time{} // user -> when each question was pushed
	var wg sync.WaitGroup
	if flood {
		var mu sync.Mutex
		wg.Go(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			end := time.Now().Add(size.floodFor)
			for time.Now().Before(end) {
				<-t.C
				id := h.Text(flooder, "de", "Jobcenter")
				mu.Lock()
				floodIDs = append(floodIDs, id)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	questions := 0
	for sec := 0; time.Since(start) < size.floodFor; sec++ {
		for u := int64(1); u <= users; u++ {
			q := benchQuestionMix[(int(u)+sec)%len(benchQuestionMix)]
			at := time.Now()
			h.Text(u, q.lang, q.q)
			asked[u] = append(asked[u], at)
			questions++
		}
		time.Sleep(time.Until(start.Add(time.Duration(sec+1) * time.Second)))
	}
	wg.Wait()
	// Wait for the others' answers, bounded.
	deadline := time.Now().Add(size.floodWait)
	answered := func() int {
		n := 0
		for u := int64(1); u <= users; u++ {
			n += min(len(acceptedSince(h.API, u, start)), len(asked[u]))
		}
		return n
	}
	for time.Now().Before(deadline) && (answered() < questions || len(h.Latencies(floodIDs)) < len(floodIDs)) {
		time.Sleep(50 * time.Millisecond)
	}
	// The k-th message a user got after the load began answers their
	// k-th question (one message per answer, see above).
	var lat []time.Duration
	for u := int64(1); u <= users; u++ {
		got := acceptedSince(h.API, u, start)
		for k, at := range asked[u] {
			if k < len(got) {
				lat = append(lat, got[k].Sub(at))
			}
		}
	}
	res := floodResult{others: loadtest.Summarize(lat, time.Since(start)), over: time.Since(start),
		flooderPushed: len(floodIDs), flooderHandled: len(h.Latencies(floodIDs)),
		flooderSent: len(h.API.Sent(flooder)) - base}
	res.flooderDropped, res.flooderPaced = outcomes.get()
	return res, nil
}

// acceptedSince returns when the fake accepted each message to chat
// since t, in order.
func acceptedSince(api *bottest.FakeAPI, chat int64, t time.Time) []time.Time {
	id := strconv.FormatInt(chat, 10)
	var out []time.Time
	for _, c := range api.Calls("sendMessage") {
		if c.Status == 200 && !c.At.Before(t) && c.Params.Get("chat_id") == id {
			out = append(out, c.At)
		}
	}
	return out
}

// floodBot is chaosBot with the flood limit on, the store's outbox and
// a logger for the update outcomes (info level).
func floodBot(h *loadtest.Harness, store *memstore.Store, log *slog.Logger) (*bot.Bot, error) {
	cfg, err := chaosConfig(h, store, log)
	if err != nil {
		return nil, err
	}
	cfg.Outbox = store
	return bot.New(cfg)
}

// outcomeCount counts the bot's "update" log lines by outcome: dropped
// by the inbound flood limit, and replies queued in the outbox.
type outcomeCount struct {
	mu             sync.Mutex
	dropped, paced int
}

func (o *outcomeCount) reset() { o.mu.Lock(); o.dropped, o.paced = 0, 0; o.mu.Unlock() }
func (o *outcomeCount) get() (dropped, paced int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped, o.paced
}
func (o *outcomeCount) Enabled(context.Context, slog.Level) bool { return true }
func (o *outcomeCount) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "update" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "outcome" {
			v := a.Value.String()
			o.mu.Lock()
			if v == "flood_dropped" {
				o.dropped++
			}
			if strings.Contains(v, "+paced") {
				o.paced++
			}
			o.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}
func (o *outcomeCount) WithAttrs([]slog.Attr) slog.Handler { return o }
func (o *outcomeCount) WithGroup(string) slog.Handler      { return o }

// chaosFuzz runs the update-decoding and text-handling fuzz targets for
// a fixed time, when go and the source tree are at hand.
func chaosFuzz(ctx context.Context, size chaosSize) ([]check, string, error) {
	targets := []struct{ pkg, name string }{{"./bot/telegram", "FuzzConvert"}, {"./bot", "FuzzHandleText"}, {"./bot", "FuzzCallbackData"}}
	if size.fuzzTime <= 0 {
		return nil, "skipped in this run (scripts/test.sh fuzzes every target briefly on each change); run `lotse chaos -fuzztime 30s` from the repository, or `go test -run '^$' -fuzz '^FuzzConvert$' -fuzztime 30s ./bot/telegram` (likewise FuzzHandleText and FuzzCallbackData in ./bot).", nil
	}
	gobin, err := exec.LookPath("go")
	if _, serr := os.Stat(filepath.Join("bot", "telegram", "convert_test.go")); err != nil || serr != nil {
		return nil, "skipped: needs `go` on PATH and the repository as working directory.", nil
	}
	var checks []check
	for _, t := range targets {
		cctx, cancel := context.WithTimeout(ctx, size.fuzzTime+3*time.Minute)
		cmd := exec.CommandContext(cctx, gobin, "test", "-run", "^$", "-fuzz", "^"+t.name+"$", "-fuzztime", size.fuzzTime.String(), t.pkg)
		out, err := cmd.CombinedOutput()
		cancel()
		execs := ""
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "execs:") {
				execs = strings.TrimSpace(line[strings.Index(line, "execs:")+6:])
			}
		}
		if i := strings.Index(execs, " "); i > 0 {
			execs = execs[:i]
		}
		measured := "ok, " + execs + " executions"
		if err != nil {
			measured = "failed: " + lastLines(string(out), 3)
		}
		checks = append(checks, check{"fuzzed updates and texts", fmt.Sprintf("%s (%s) for %s: no panic, every reply valid", t.name, t.pkg, size.fuzzTime), measured, err == nil})
	}
	return checks, fmt.Sprintf("`go test -run '^$' -fuzz '^NAME$' -fuzztime %s PKG` per target; FuzzConvert decodes arbitrary update JSON; FuzzHandleText and FuzzCallbackData run the bot on arbitrary texts and button data and check that a valid reply (non-empty, at most 4,096 characters, valid buttons) comes back.", size.fuzzTime), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}

// newMemStore is the in-memory store, for runs where Redis is not the
// point.
func newMemStore() bot.Store { return memstore.New(time.Now) }
