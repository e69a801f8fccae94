package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/internal/loadtest"
	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/searchbench"
)

// Targets of issue 8, for this project's 2-core reference machine.
const (
	targetQuestionsPerSec = 2000
	targetCeilingRatio    = 0.5
	targetRoundTrips      = 3
	targetSearchP99At10k  = time.Millisecond
	// designRoundTrips is what a knowledge question needs: Begin (SET NX
	// of the update id and GET of the session, pipelined) and saving the
	// changed session.
	designRoundTrips = 2
	designCommands   = 3
)

// benchSize is how much a bench run does.
type benchSize struct {
	users                       int
	questions, langSwitch, echo int
	// ticketUsers open one request each; subscribers receive one
	// broadcast.
	ticketUsers, subscribers int
	searchSizes              []int
	searchQueries            int
}

func benchSizes(quick bool, users int) benchSize {
	if quick {
		return benchSize{users: users, questions: 1500, langSwitch: 600, echo: 1500,
			ticketUsers: min(users, 50), subscribers: 60,
			searchSizes: []int{100, 1000}, searchQueries: 500}
	}
	return benchSize{users: users, questions: 20000, langSwitch: 10000, echo: 20000,
		ticketUsers: min(users, 1000), subscribers: 1000,
		searchSizes: []int{100, 1000, 10000, 100000}, searchQueries: 5000}
}

// benchQuestionMix: typical questions in eight languages; users cycle
// through them.
var benchQuestionMix = []struct{ lang, q string }{
	{"de", "Wo ist die Ausländerbehörde?"},
	{"en", "I need a German course"},
	{"ar", "أين مكتب العمل"},
	{"fa", "کلاس زبان آلمانی"},
	{"uk", "Де Jobcenter?"},
	{"ru", "где получить вид на жительство"},
	{"tr", "oturma izni nerede"},
	{"fr", "cours d'intégration"},
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small run (under a minute), as in CI")
	users := fs.Int("users", 0, "distinct users talking at once (default 1000; 100 with -quick)")
	out := fs.String("out", "", "also write the report (markdown) to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (go tool pprof) to this file")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: lotse bench [-quick] [-users N] [-out FILE]")
		return exitUsage
	}
	if *users == 0 {
		*users = 1000
		if *quick {
			*users = 100
		}
	}
	if *users < 1 || *users > 100000 {
		fmt.Fprintln(stderr, "lotse bench: -users must be from 1 to 100000")
		return exitUsage
	}
	command := strings.TrimSpace("lotse bench " + strings.Join(args, " "))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "lotse bench: %v\n", err)
			return exitFailed
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "lotse bench: %v\n", err)
			return exitFailed
		}
		defer pprof.StopCPUProfile()
	}
	report, err := runBench(ctx, benchSizes(*quick, *users), command, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "lotse bench: %v\n", err)
		return exitFailed
	}
	fmt.Fprint(stdout, report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintf(stderr, "lotse bench: %v\n", err)
			return exitFailed
		}
	}
	return exitOK
}

// convRow is one line of the conversations table.
type convRow struct {
	name     string
	sum      loadtest.Summary
	commands float64 // Redis commands per update (-1: no Redis)
	trips    float64 // Redis round trips per update (-1: no Redis)
	note     string  // why the row was not measured
	detail   string  // what else the row measured, or how it differs
	// broadcastRate is a broadcast's delivered messages per second.
	broadcastRate float64
	// meter, if set, counts the row's Redis commands and round trips.
	meter *redisMeter
}

// benchEnv is what every conversation scenario shares.
type benchEnv struct {
	kb       *knowledge.KB
	cat      *i18n.Catalog
	redis    *loadtest.RedisServer
	stats    redis.UniversalClient // for INFO; not counted by the hook
	size     benchSize
	progress io.Writer
}

func runBench(ctx context.Context, size benchSize, command string, progress io.Writer) (string, error) {
	srv, err := loadtest.StartRedis()
	if err != nil {
		return "", err
	}
	defer srv.Stop()
	kb, err := knowledge.Sample()
	if err != nil {
		return "", err
	}
	cat, err := i18n.NewCatalog()
	if err != nil {
		return "", err
	}
	stats := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer stats.Close()
	env := &benchEnv{kb: kb, cat: cat, redis: srv, stats: stats, size: size, progress: progress}

	var rows []convRow
	var questionStats map[string]int64
	step := func(name string, run func() (convRow, error)) error {
		fmt.Fprintf(progress, "bench: %s ...\n", name)
		var r convRow
		var err error
		// The label marks the scenario's goroutines (the fake Bot API's
		// and the transport's are started inside) in a -cpuprofile:
		// go tool pprof -tagfocus scenario=...
		began := time.Now()
		pprof.Do(ctx, pprof.Labels("scenario", name), func(context.Context) { r, err = run() })
		fmt.Fprintf(progress, "bench: %s took %s\n", name, time.Since(began).Round(10*time.Millisecond))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, r)
		return nil
	}
	if err := step("knowledge questions (Redis)", func() (convRow, error) {
		r, cs, err := env.questions(ctx, true)
		questionStats = cs
		return r, err
	}); err != nil {
		return "", err
	}
	if err := step("knowledge questions (in-memory)", func() (convRow, error) {
		r, _, err := env.questions(ctx, false)
		return r, err
	}); err != nil {
		return "", err
	}
	if err := step("language switching", func() (convRow, error) { return env.language(ctx) }); err != nil {
		return "", err
	}
	if err := step("echo (transport ceiling)", func() (convRow, error) { return env.echo(ctx) }); err != nil {
		return "", err
	}
	var relay convRow
	if err := step("ticket creation", func() (convRow, error) {
		c, r, err := env.tickets(ctx)
		relay = r
		return c, err
	}); err != nil {
		return "", err
	}
	rows = append(rows, relay)
	if err := step("broadcast", func() (convRow, error) { return env.broadcast(ctx) }); err != nil {
		return "", err
	}

	var search []searchbench.Row
	for _, n := range size.searchSizes {
		fmt.Fprintf(progress, "bench: search, %d entries ...\n", n)
		r, err := searchbench.Run(n, size.searchQueries)
		if err != nil {
			return "", err
		}
		search = append(search, r)
	}
	return formatBench(size, command, rows, questionStats, search), nil
}

// scenario runs handler on a fresh harness: warm-up first (every user
// sends warm), then the measured closed loop of total updates.
type scenario struct {
	total  int
	warm   loadtest.Script
	script loadtest.Script
	// handler is what handles the updates; ctx ends with the scenario.
	handler func(ctx context.Context, h *loadtest.Harness) (telegram.Handler, error)
	// before and after bracket the measured part.
	before, after func()
}

func (e *benchEnv) run(ctx context.Context, sc scenario) (loadtest.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	h, err := loadtest.New(ctx, loadtest.Config{})
	if err != nil {
		return loadtest.Summary{}, err
	}
	defer h.Close()
	pctx, stop := context.WithCancel(ctx)
	handler, err := sc.handler(pctx, h)
	if err != nil {
		stop()
		return loadtest.Summary{}, err
	}
	wait := h.Serve(pctx, handler)
	defer func() { stop(); wait() }()
	users := int64(e.size.users)
	if sc.warm != nil {
		if _, _, err := h.RunClosedLoop(ctx, users, 1, int(users), sc.warm); err != nil {
			return loadtest.Summary{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if sc.before != nil {
		sc.before()
	}
	cpu0 := loadtest.ProcessCPU()
	sum, _, err := h.RunClosedLoop(ctx, users, 1, sc.total, sc.script)
	sum.CPU = loadtest.ProcessCPU() - cpu0
	if sc.after != nil {
		sc.after()
	}
	if err != nil {
		return sum, err
	}
	if bad := h.API.BadRequests(); len(bad) > 0 {
		return sum, fmt.Errorf("the Bot API rejected %d requests, e.g. %s: %s", len(bad), bad[0].Method, bad[0].Description)
	}
	return sum, nil
}

// redisStore returns a store on the bench server in a fresh namespace
// (fake Bot APIs number updates alike, so scenarios must not share
// de-duplication keys) and a meter of its commands and round trips.
func (e *benchEnv) redisStore(name string) (*redisstore.Store, *redisMeter, func()) {
	rdb := redis.NewClient(&redis.Options{Addr: e.redis.Addr(), PoolSize: 64})
	rt := &loadtest.RoundTrips{}
	rdb.AddHook(rt)
	ns := fmt.Sprintf("bench:%s:%d", name, time.Now().UnixNano())
	st := redisstore.New(rdb, redisstore.Options{Namespace: ns})
	return st, &redisMeter{e: e, rt: rt}, func() { rdb.Close() }
}

func startScript(user int64, _ int) (loadtest.Step, bool) {
	q := benchQuestionMix[user%int64(len(benchQuestionMix))]
	return loadtest.Step{Lang: q.lang, Text: "/start"}, true
}

func questionScript(user int64, step int) (loadtest.Step, bool) {
	q := benchQuestionMix[(user+int64(step))%int64(len(benchQuestionMix))]
	return loadtest.Step{Lang: q.lang, Text: q.q}, true
}

// questions measures knowledge questions; with Redis it also counts
// commands (INFO commandstats) and round trips (client hook).
func (e *benchEnv) questions(ctx context.Context, withRedis bool) (convRow, map[string]int64, error) {
	row := convRow{name: "knowledge questions, in-memory store", commands: -1, trips: -1}
	var store bot.Store = memstore.New(time.Now)
	if withRedis {
		row.name = "knowledge questions, Redis"
		s, meter, closeFn := e.redisStore("q")
		defer closeFn()
		store = s
		row.meter = meter
	}
	delta, err := e.measure(ctx, &row, scenario{total: e.size.questions, warm: startScript, script: questionScript}, store)
	return row, delta, err
}

// measure runs sc on Lotse wired as `lotse run` (flowBot) on store and
// fills row; with row.meter set it counts Redis commands and round trips
// per update, returning the commands by name. The monitoring counters
// the bot batches are written before and after the measured part, so
// the figures hold exactly those of the measured updates (and the one
// round trip per FlushEvery that writing them costs, once per run).
func (e *benchEnv) measure(ctx context.Context, row *convRow, sc scenario, store bot.Store) (map[string]int64, error) {
	var fb *flowBot
	var delta map[string]int64
	var trips int64
	var statErr error
	sc.handler = func(ctx context.Context, h *loadtest.Harness) (telegram.Handler, error) {
		var err error
		fb, err = e.flowBot(ctx, h, store)
		if err != nil {
			return nil, err
		}
		return fb.bot, nil
	}
	sc.before = func() {
		statErr = fb.flushMonitor(ctx)
		if row.meter != nil {
			row.meter.start(ctx)
		}
	}
	sc.after = func() {
		if err := fb.flushMonitor(ctx); statErr == nil {
			statErr = err
		}
		if row.meter != nil {
			var err error
			if delta, trips, err = row.meter.end(ctx); statErr == nil {
				statErr = err
			}
		}
	}
	sum, err := e.run(ctx, sc)
	if err == nil {
		err = statErr
	}
	if err != nil {
		return nil, err
	}
	row.sum = sum
	if row.meter != nil {
		var total int64
		for _, n := range delta {
			total += n
		}
		row.commands = float64(total) / float64(sum.Updates)
		row.trips = float64(trips) / float64(sum.Updates)
	}
	return delta, nil
}

// language measures /language followed by pressing a language button,
// each user alternating between two languages.
func (e *benchEnv) language(ctx context.Context) (convRow, error) {
	store, meter, closeFn := e.redisStore("lang")
	defer closeFn()
	langs := i18n.Languages
	row := convRow{name: "language switching (/language, then a button)", meter: meter}
	_, err := e.measure(ctx, &row, scenario{
		total: e.size.langSwitch, warm: startScript,
		script: func(user int64, step int) (loadtest.Step, bool) {
			lang := langs[(int(user)+step/2)%len(langs)]
			if step%2 == 0 {
				return loadtest.Step{Lang: lang, Text: "/language"}, true
			}
			return loadtest.Step{Lang: lang, Data: "l:" + lang}, true
		},
	}, store)
	return row, err
}

// echo is the transport ceiling: the same harness and transport with a
// handler that only sends the text back.
func (e *benchEnv) echo(ctx context.Context) (convRow, error) {
	sum, err := e.run(ctx, scenario{
		total: e.size.echo, script: questionScript,
		handler: func(_ context.Context, h *loadtest.Harness) (telegram.Handler, error) {
			return telegram.HandlerFunc(func(ctx context.Context, in bot.Incoming) error {
				_, err := h.TG.Send(ctx, bot.Outgoing{ChatID: in.ChatID, Text: in.Text})
				return err
			}), nil
		},
	})
	return convRow{name: "echo (transport ceiling)", sum: sum, commands: -1, trips: -1}, err
}

// --- report ---

func formatBench(size benchSize, command string, rows []convRow, qstats map[string]int64, search []searchbench.Row) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Lotse performance\n\n")
	writeProvenance(&b, command)
	p("\n## Conversations\n\n")
	p("The whole bot (real transport, conversation logic, sample knowledge base of %d entries) against the fake Bot API on loopback, with a real redis-server, flood limits lifted on both sides so the figure is the pipeline's capacity. %d users talk at once, each sending the next message when the previous one was handled (a closed loop). Latency: from the update being queued at the fake Bot API until its handler returned, replies accepted.\n\n", sampleLen(), size.users)
	p("| scenario | updates | updates/s | p50 | p90 | p99 | Redis commands/update | Redis round trips/update |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var lotse, ceiling, redisQ convRow
	for _, r := range rows {
		if r.note != "" {
			p("| %s | — | — | — | — | — | — | — |\n", r.name)
			continue
		}
		p("| %s | %d | %.0f | %s | %s | %s | %s | %s |\n", r.name, r.sum.Updates, r.sum.PerSecond,
			ms(r.sum.P50), ms(r.sum.P90), ms(r.sum.P99), perUpdate(r.commands), perUpdate(r.trips))
		switch {
		case strings.HasPrefix(r.name, "knowledge questions, Redis"):
			lotse, redisQ = r, r
		case strings.HasPrefix(r.name, "echo"):
			ceiling = r
		}
	}
	p("\n")
	for _, r := range rows {
		switch {
		case r.note != "":
			p("- %s: %s.\n", r.name, r.note)
		case r.detail != "":
			p("- %s: %s.\n", r.name, r.detail)
		}
	}
	ratio := 0.0
	if ceiling.sum.PerSecond > 0 {
		ratio = lotse.sum.PerSecond / ceiling.sum.PerSecond
	}
	p("\nLotse / transport ceiling (knowledge questions with Redis / echo): **%.0f%%**.\n", 100*ratio)
	if lotse.sum.CPU > 0 && ceiling.sum.CPU > 0 {
		// CPU per update hardly depends on the machine's other load, so
		// it explains the ratio even where throughput is noisy.
		lq, le := cpuPerUpdate(lotse.sum), cpuPerUpdate(ceiling.sum)
		p("\nCPU of this process (bot and fake Bot API; redis-server not included) per update: knowledge question with Redis %s, echo %s: echo / question = **%.0f%%**, the ratio a CPU-bound run approaches.\n", us(lq), us(le), 100*float64(le)/float64(lq))
	}

	p("\n## Redis per knowledge question\n\n")
	p("`INFO commandstats` deltas over the measured questions, divided by the number of questions; round trips are the exchanges with Redis each question waited for, counted by a go-redis hook (a pipeline is one) with the store's group commit counted per caller (it sends the commands of concurrent updates in one pipeline, bot/redisstore/batch.go; the pipelines actually sent are given below the table). Design minimum: %d round trips, %d commands (Begin = SET NX of the update id + GET of the session in one pipeline; SET of the changed session). The bot is wired as `lotse run` wires it, so everything it writes per question is counted: the anonymous monitoring counters (batched in memory and written once a second in one MULTI/EXEC, bot/monitor/batch.go; written before and after the measured part, so exactly the measured questions' counters are in the figures), the broadcast audience index, and what the background workers (outbox, reminders, broadcasts) poll meanwhile.\n\n", designRoundTrips, designCommands)
	p("| command | calls/question |\n|---|---:|\n")
	names := make([]string, 0, len(qstats))
	for k := range qstats {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		p("| %s | %.2f |\n", strings.ToUpper(k), float64(qstats[k])/float64(max(redisQ.sum.Updates, 1)))
	}
	p("| **all** | **%.2f** |\n| round trips | **%.2f** |\n", redisQ.commands, redisQ.trips)
	if m := redisQ.meter; m != nil && redisQ.sum.Updates > 0 {
		p("\nPipelines actually sent (group commit): %d for %d questions, %.2f per question.\n", m.pipelines, redisQ.sum.Updates, float64(m.pipelines)/float64(redisQ.sum.Updates))
	}

	p("\n## Search\n\n")
	p("Synthetic knowledge bases (knowledge/internal/synth), %d queries per size cycling through a fixed mix (exact, typos, eight languages, nonsense, a long text). Heap: live heap after GC with the base loaded; RSS: VmRSS of the whole process at that moment.\n\n", size.searchQueries)
	p("| entries | p50 | p99 | heap | RSS | load + index |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range search {
		p("| %d | %s | %s | %s | %s | %s |\n", r.Entries, us(r.P50), us(r.P99), mib(r.Mem.Heap), mib(r.Mem.RSS), r.Load.Round(time.Millisecond))
	}

	p("\n## Targets\n\n| target | measured | result |\n|---|---|---|\n")
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	p("| ≥ %d knowledge-question updates/s end-to-end with Redis | %.0f/s | %s |\n", targetQuestionsPerSec, lotse.sum.PerSecond, verdict(lotse.sum.PerSecond >= targetQuestionsPerSec))
	p("| ≥ %.0f%% of the echo ceiling | %.0f%% | %s |\n", 100*targetCeilingRatio, 100*ratio, verdict(ratio >= targetCeilingRatio))
	p("| ≤ %d Redis round trips per knowledge question | %.2f (%.2f commands) | %s |\n", targetRoundTrips, redisQ.trips, redisQ.commands, verdict(redisQ.trips <= targetRoundTrips))
	growth, growthOK := searchGrowth(search)
	p("| search p99 growing no worse than linearly | %s | %s |\n", growth, verdict(growthOK))
	at10k := "not measured (-quick)"
	res := "—"
	for _, r := range search {
		if r.Entries == 10000 {
			at10k, res = us(r.P99), verdict(r.P99 <= targetSearchP99At10k)
		}
	}
	p("| search p99 ≤ 1 ms at 10,000 entries | %s | %s |\n", at10k, res)
	return b.String()
}

// searchGrowth compares each step of p99 with the step in size: growth
// is linear or better when p99 grows by no more than the size does.
func searchGrowth(rows []searchbench.Row) (string, bool) {
	if len(rows) < 2 {
		return "needs two sizes", false
	}
	ok := true
	var parts []string
	for i := 1; i < len(rows); i++ {
		a, z := rows[i-1], rows[i]
		sizeX := float64(z.Entries) / float64(a.Entries)
		p99X := float64(z.P99) / float64(max(a.P99, 1))
		parts = append(parts, fmt.Sprintf("×%.1f for ×%.0f entries", p99X, sizeX))
		if p99X > sizeX {
			ok = false
		}
	}
	return strings.Join(parts, ", "), ok
}

// writeProvenance records when, where and from what the figures came,
// and how to reproduce them.
func writeProvenance(b *strings.Builder, command string) {
	fmt.Fprintf(b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(b, "- machine: %d CPUs (%s), %s RAM, %s/%s, %s\n", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(b, "- commit: %s\n", gitCommit())
	fmt.Fprintf(b, "- command: `%s` (from the repository: `go run ./cmd/lotse %s`)\n", command, strings.TrimPrefix(command, "lotse "))
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}

func memTotal() string {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return "unknown"
}

// gitCommit names the commit the binary was run from, marked when the
// working tree has changes the figures include.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not run from a git checkout)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " with uncommitted changes"
	}
	return c
}

func sampleLen() int {
	kb, err := knowledge.Sample()
	if err != nil {
		return 0
	}
	return kb.Len()
}

// cpuPerUpdate is the process' CPU time per update of a run.
func cpuPerUpdate(s loadtest.Summary) time.Duration {
	return s.CPU / time.Duration(max(s.Updates, 1))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func us(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func perUpdate(v float64) string {
	if v < 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}
