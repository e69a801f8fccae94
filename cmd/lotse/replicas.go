package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/internal/loadtest"
)

// replicaSize is how much a `lotse replicas` run does.
type replicaSize struct {
	users, updates, conc int
	redisDown            time.Duration
	forged               int
}

func replicaSizes(quick bool, users int) replicaSize {
	s := replicaSize{users: 1000, updates: 10000, conc: 100, redisDown: 3 * time.Second, forged: 1000}
	if quick {
		s = replicaSize{users: 200, updates: 1500, conc: 50, redisDown: time.Second, forged: 400}
	}
	if users > 0 {
		s.users = users
	}
	return s
}

const (
	replicaSecret = "replicas-webhook_secret"
	// deliverFor bounds how long the simulated Telegram keeps retrying
	// one update (the real one keeps trying for hours).
	deliverFor = 90 * time.Second
	// sigtermLimit is the promise: shutdownTimeout for requests in
	// flight plus a margin for the rest of the shutdown.
	sigtermLimit = shutdownTimeout + 5*time.Second
)

func cmdReplicas(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replicas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small run (about a minute)")
	out := fs.String("out", "", "also write the report (markdown) to this file")
	bin := fs.String("bin", "", "lotse binary to run as replicas (default: this program)")
	users := fs.Int("users", 0, "users talking at once (default 1000; 200 with -quick)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: lotse replicas [-quick] [-out FILE] [-bin LOTSE] [-users N]")
		return exitUsage
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "lotse replicas: %v (use -bin)\n", err)
			return exitFailed
		}
		*bin = exe
	}
	report, ok, err := runReplicas(ctx, replicaSizes(*quick, *users), *bin, strings.TrimSpace("lotse replicas "+strings.Join(args, " ")), stderr)
	return reportExit("replicas", report, ok, err, *out, stdout, stderr)
}

// replicaEnv is what all scenarios share.
type replicaEnv struct {
	bin      string
	redis    *aofRedis
	size     replicaSize
	answerOf []string // first line of the answer to killQuestions[i]
	progress io.Writer
}

// cluster is one scenario's set-up: a fake Bot API, n replicas on the
// shared Redis and a balancer in front.
type cluster struct {
	api   *bottest.FakeAPI
	procs []*replicaProc
	lb    *balancer
	ns    string
	d     *drive
}

func (e *replicaEnv) start(n int, name string) (*cluster, error) {
	api := bottest.StartFakeAPI(nil, func(c *bottest.FakeConfig) { c.Limits.Disabled = true })
	ns := fmt.Sprintf("replicas:%s:%d", strings.NewReplacer(" ", "", "-", "").Replace(name), time.Now().UnixNano())
	env := []string{
		"TELEGRAM_TOKEN=" + api.Token(), "TELEGRAM_API_ENDPOINT=" + api.Endpoint(),
		"REDIS_URL=" + e.redis.url(), "LOTSE_SECRET=replicas-secret-0123456789abcdefghij",
		"LOTSE_NAMESPACE=" + ns, "LOTSE_LISTEN=127.0.0.1:0", "LOTSE_LOG_LEVEL=info",
		"LOTSE_WEBHOOK_URL=https://bot.example.org/telegram", "LOTSE_WEBHOOK_SECRET=" + replicaSecret,
		// The fake Bot API does not enforce flood limits here: the
		// figure is the replicas' capacity, not Telegram's 30 messages/s.
		"LOTSE_FLOOD_LIMITS=off",
	}
	c := &cluster{api: api, ns: ns}
	for u := int64(1); u <= int64(e.size.users); u++ {
		api.AddChat(u, "private")
	}
	for i := range killQuestions {
		api.AddChat(int64(calibUser+i), "private")
	}
	var addrs []string
	for i := range n {
		p, err := startReplica(e.bin, fmt.Sprintf("replica-%d", i+1), env)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.procs = append(c.procs, p)
		addrs = append(addrs, p.addr)
	}
	lb, err := startBalancer(addrs)
	if err != nil {
		c.stop()
		return nil, err
	}
	c.lb = lb
	c.d = &drive{url: lb.url("/telegram"), hc: &http.Client{Timeout: 2 * time.Minute}}
	c.d.nextID.Store(1000)
	return c, nil
}

func (c *cluster) stop() {
	for _, p := range c.procs {
		select {
		case <-p.done:
		default:
			p.terminate(30 * time.Second)
		}
	}
	if c.lb != nil {
		c.lb.close()
	}
	c.api.Close()
}

// delivery is one update as the simulated Telegram saw it.
type delivery struct {
	user          int64
	q             int // index into killQuestions; -1 for /start
	first, acked  time.Time
	attempts      int
	ok            bool
	statusesSeen  []int
	firstFailedAt time.Time
}

// drive plays Telegram: it posts updates to the balancer and retries
// every answer but 2xx (with backoff, for at most deliverFor).
type drive struct {
	url    string
	hc     *http.Client
	nextID atomic.Int64

	mu    sync.Mutex
	fails []time.Time // every non-2xx answer or failed request
}

func (d *drive) post(ctx context.Context, user int64, q int) *delivery {
	text := "/start"
	if q >= 0 {
		text = killQuestions[q].q
	}
	id := int(d.nextID.Add(1))
	body, _ := json.Marshal(tgbotapi.Update{UpdateID: id, Message: &tgbotapi.Message{
		MessageID: id, Date: int(time.Now().Unix()), Text: text,
		From: &tgbotapi.User{ID: user, FirstName: "Load", LanguageCode: "de"},
		Chat: &tgbotapi.Chat{ID: user, Type: "private"},
	}})
	r := &delivery{user: user, q: q, first: time.Now()}
	backoff := 250 * time.Millisecond
	for time.Since(r.first) < deliverFor && ctx.Err() == nil {
		r.attempts++
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
		req.Header.Set(telegram.SecretHeader, replicaSecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := d.hc.Do(req)
		status := 0
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		if status == http.StatusOK {
			r.ok, r.acked = true, time.Now()
			return r
		}
		d.mu.Lock()
		d.fails = append(d.fails, time.Now())
		d.mu.Unlock()
		r.statusesSeen = append(r.statusesSeen, status)
		if err := sleep(ctx, backoff); err != nil {
			break
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return r
}

// lastFailAfter returns the last failed delivery after t (zero if none).
func (d *drive) lastFailAfter(t time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var last time.Time
	for _, f := range d.fails {
		if f.After(t) && f.After(last) {
			last = f
		}
	}
	return last
}

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

// closedLoop lets users first..first+users-1 ask killQuestions in turn,
// each the next one after the previous was acknowledged, total updates
// over conc concurrent deliveries (Telegram's max_connections). After
// trigger acknowledgements fault runs (once, concurrently with the load).
func (d *drive) closedLoop(ctx context.Context, first int64, users, total, conc int, start bool, trigger int, fault func()) ([]*delivery, time.Duration) {
	ready := make(chan int64, users)
	for u := range users {
		ready <- first + int64(u)
	}
	steps := make([]int, users)
	var (
		issued, acked atomic.Int64
		mu            sync.Mutex
		recs          []*delivery
		wg, fwg       sync.WaitGroup
	)
	began := time.Now()
	for range min(conc, users) {
		wg.Go(func() {
			for issued.Add(1) <= int64(total) {
				var u int64
				select {
				case u = <-ready:
				case <-ctx.Done():
					return
				}
				q := -1
				if !start {
					q = (int(u) + steps[u-first]) % len(killQuestions)
				}
				steps[u-first]++
				r := d.post(ctx, u, q)
				mu.Lock()
				recs = append(recs, r)
				mu.Unlock()
				if r.ok && acked.Add(1) == int64(trigger) && fault != nil {
					fwg.Go(fault)
				}
				ready <- u
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	fwg.Wait()
	return recs, elapsed
}

// quiet waits until the fake Bot API received nothing for 2 s (late
// replies and late duplicates land within that), at most 60 s.
func quiet(api *bottest.FakeAPI) {
	last, since := -1, time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(api.Sent(0)); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 2*time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// outcome is what a run delivered.
type outcome struct {
	sum                    loadtest.Summary
	acked, unacked         int
	lost, dup, notices     int
	retries                int64
	failedAfterFault       int
	normalAfter            time.Duration
	faultNote              string
	faultOK                bool
	faultAt, faultRecovery time.Time
	dupKeys                []dupKey // (chat, answer) pairs answered too often
	dupNote                string   // when the duplicates' first answers reached the Bot API
	dupInFlight            int      // duplicates whose first answer was in flight at the fault
}

// dupKey is a chat and the first line of an answer it got.
type dupKey struct {
	chat   int64
	answer string
}

// account compares the answers the fake Bot API received after baseSent
// with the acknowledged updates: an acknowledged update without its
// answer is lost, an answer beyond the updates is a duplicate. An update
// never acknowledged may or may not have been answered (Telegram would
// deliver it again); it counts as neither.
func (e *replicaEnv) account(c *cluster, recs []*delivery, baseSent int, elapsed time.Duration) outcome {
	quiet(c.api)
	expected, optional := map[int64]map[string]int{}, map[int64]map[string]int{}
	var lat []time.Duration
	var o outcome
	for _, r := range recs {
		m := expected
		if r.ok {
			o.acked++
			lat = append(lat, r.acked.Sub(r.first))
		} else {
			o.unacked++
			m = optional
		}
		if m[r.user] == nil {
			m[r.user] = map[string]int{}
		}
		m[r.user][e.answerOf[r.q]]++
	}
	got := map[int64]map[string]int{}
	for _, m := range c.api.Sent(0)[baseSent:] {
		if expected[m.ChatID] == nil && optional[m.ChatID] == nil {
			continue
		}
		if got[m.ChatID] == nil {
			got[m.ChatID] = map[string]int{}
		}
		l, _, _ := strings.Cut(m.Text, "\n")
		got[m.ChatID][l]++
	}
	for u, exp := range expected {
		for a, n := range exp {
			o.lost += max(0, n-got[u][a])
		}
	}
	answers := map[string]bool{}
	for _, a := range e.answerOf {
		answers[a] = true
	}
	for u, g := range got {
		for a, n := range g {
			if !answers[a] {
				// Not an answer: a notice (e.g. that the conversation
				// state is unavailable while Redis is down).
				o.notices += n
				continue
			}
			if extra := n - expected[u][a] - optional[u][a]; extra > 0 {
				o.dup += extra
				o.dupKeys = append(o.dupKeys, dupKey{u, a})
			}
		}
	}
	o.sum = loadtest.Summarize(lat, elapsed)
	o.retries = c.lb.retried.Load()
	return o
}

// dupTiming says when the first answer of each duplicate reached the
// Bot API, relative to the fault at t: before it (the reply was accepted
// and the replica died before writing the done mark) or after it (the
// request was on its way when the replica died). The duplicate itself
// is the last copy; the first answer is the copy before it.
//
// It also counts the duplicates whose first answer reached the Bot API
// within inFlightWindow of the fault: those are the window the design
// leaves (the Bot API has no idempotency key); any other duplicate is a
// bug.
func dupTiming(api *bottest.FakeAPI, keys []dupKey, t time.Time) (string, int) {
	if len(keys) == 0 {
		return "", 0
	}
	want := map[dupKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	at := map[dupKey][]time.Time{}
	for _, c := range api.Calls("sendMessage") {
		if c.Status != http.StatusOK {
			continue
		}
		chat, _ := strconv.ParseInt(c.Params.Get("chat_id"), 10, 64)
		l, _, _ := strings.Cut(c.Params.Get("text"), "\n")
		if k := (dupKey{chat, l}); want[k] {
			at[k] = append(at[k], c.At)
		}
	}
	var before, after, again []time.Duration
	inFlight := 0
	for _, ts := range at {
		if len(ts) < 2 {
			continue
		}
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		first, dup := ts[len(ts)-2].Sub(t), ts[len(ts)-1].Sub(t)
		again = append(again, dup)
		if first.Abs() <= inFlightWindow {
			inFlight++
		}
		if first < 0 {
			before = append(before, -first)
		} else {
			after = append(after, first)
		}
	}
	span := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return ""
		}
		slices.Sort(ds)
		return fmt.Sprintf(" (%s to %s)", ds[0].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	return fmt.Sprintf("Of the duplicates, the answer before each was accepted by the Bot API %d times before the kill%s and %d times after it%s (a request on its way at the kill, or the same question asked again); the duplicates came %s after the kill",
		len(before), span(before), len(after), span(after), strings.TrimPrefix(span(again), " ")), inFlight
}

// inFlightWindow is how close to a kill a duplicate's first answer must
// have reached the Bot API to count as in flight: a reply's round trip
// plus the done mark's write, with room for a loaded machine.
const inFlightWindow = 100 * time.Millisecond

// calibUser is the first of the users who calibrate the accounting.
const calibUser = 900000

// calibrate learns the first line of each question's answer, from users
// who greeted the bot first.
func (e *replicaEnv) calibrate(ctx context.Context, c *cluster) error {
	e.answerOf = make([]string, len(killQuestions))
	for i := range killQuestions {
		u := int64(calibUser + i)
		if r := c.d.post(ctx, u, -1); !r.ok {
			return errors.New("calibration: /start not acknowledged")
		}
		before := len(c.api.Sent(u))
		if r := c.d.post(ctx, u, i); !r.ok {
			return errors.New("calibration: question not acknowledged")
		}
		sent := c.api.Sent(u)
		if len(sent) != before+1 {
			return fmt.Errorf("calibration: question %d got %d messages, want 1 (the accounting counts one answer per question); sent %d in all; log:\n%s", i, len(sent)-before, len(c.api.Sent(0)), c.procs[0].logs.tail())
		}
		e.answerOf[i], _, _ = strings.Cut(sent[before].Text, "\n")
	}
	return nil
}

// warm greets every user once, so each question later gets exactly one
// message (the first contact adds a notice).
func (e *replicaEnv) warm(ctx context.Context, c *cluster) error {
	recs, _ := c.d.closedLoop(ctx, 1, e.size.users, e.size.users, e.size.conc, true, 0, nil)
	for _, r := range recs {
		if !r.ok {
			return errors.New("warm-up: a /start was not acknowledged")
		}
	}
	quiet(c.api)
	return nil
}

// run starts n replicas and drives the measured load, with fault after
// a third of it.
func (e *replicaEnv) run(ctx context.Context, n int, name string, fault func(c *cluster, o *outcome)) (outcome, error) {
	fmt.Fprintf(e.progress, "replicas: %s ...\n", name)
	c, err := e.start(n, name)
	if err != nil {
		return outcome{}, err
	}
	defer c.stop()
	if e.answerOf == nil {
		if err := e.calibrate(ctx, c); err != nil {
			return outcome{}, err
		}
	}
	if err := e.warm(ctx, c); err != nil {
		return outcome{}, err
	}
	base := len(c.api.Sent(0))
	var o outcome
	var f func()
	if fault != nil {
		f = func() { fault(c, &o) }
	}
	recs, elapsed := c.d.closedLoop(ctx, 1, e.size.users, e.size.updates, e.size.conc, false, e.size.updates/3, f)
	res := e.account(c, recs, base, elapsed)
	res.faultNote, res.faultOK, res.faultAt, res.faultRecovery = o.faultNote, o.faultOK, o.faultAt, o.faultRecovery
	if !o.faultAt.IsZero() {
		from := o.faultAt
		if !o.faultRecovery.IsZero() {
			from = o.faultRecovery
		}
		if last := c.d.lastFailAfter(o.faultAt); !last.IsZero() {
			res.normalAfter = last.Sub(from)
		}
		for _, r := range recs {
			if len(r.statusesSeen) > 0 && r.first.After(o.faultAt.Add(-deliverFor)) {
				res.failedAfterFault++
			}
		}
		res.dupNote, res.dupInFlight = dupTiming(c.api, res.dupKeys, o.faultAt)
	}
	return res, ctx.Err()
}

// keysOf lists the keys under ns.
func keysOf(ctx context.Context, addr, ns string) (map[string]bool, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	out := map[string]bool{}
	iter := rdb.Scan(ctx, 0, ns+":*", 1000).Iterator()
	for iter.Next(ctx) {
		out[iter.Val()] = true
	}
	return out, iter.Err()
}

func runReplicas(ctx context.Context, size replicaSize, bin, command string, progress io.Writer) (string, bool, error) {
	redis.SetLogger(&redisLog{})
	rs, err := startAOFRedis()
	if err != nil {
		return "", false, err
	}
	defer rs.stop()
	e := &replicaEnv{bin: bin, redis: rs, size: size, progress: progress}

	type row struct {
		n int
		o outcome
	}
	var scale []row
	for _, n := range []int{1, 2, 3} {
		o, err := e.run(ctx, n, fmt.Sprintf("%d replicas", n), nil)
		if err != nil {
			return "", false, err
		}
		scale = append(scale, row{n, o})
	}

	kill, err := e.run(ctx, 2, "kill -9", func(c *cluster, o *outcome) {
		o.faultAt = time.Now()
		c.procs[0].kill()
		o.faultNote = "replica-1 killed with SIGKILL"
		o.faultOK = true
	})
	if err != nil {
		return "", false, err
	}

	term, err := e.run(ctx, 2, "SIGTERM", func(c *cluster, o *outcome) {
		o.faultAt = time.Now()
		took, ok := c.procs[0].terminate(sigtermLimit + 10*time.Second)
		code := c.procs[0].exit.Load()
		o.faultOK = ok && took <= sigtermLimit && code == exitOK
		o.faultNote = fmt.Sprintf("replica-1 exited %.2f s after SIGTERM with status %d", took.Seconds(), code)
	})
	if err != nil {
		return "", false, err
	}

	var missing, before int
	redisRun, err := e.run(ctx, 2, "Redis restart", func(c *cluster, o *outcome) {
		keys, err := keysOf(ctx, rs.addr, c.ns)
		if err != nil {
			o.faultNote = "listing keys before the kill: " + err.Error()
			return
		}
		before = len(keys)
		o.faultAt = time.Now()
		rs.kill()
		time.Sleep(size.redisDown)
		if err := rs.restart(); err != nil {
			o.faultNote = "restart: " + err.Error()
			return
		}
		o.faultRecovery = time.Now()
		after, err := keysOf(ctx, rs.addr, c.ns)
		if err != nil {
			o.faultNote = "listing keys after the restart: " + err.Error()
			return
		}
		for k := range keys {
			if !after[k] {
				missing++
			}
		}
		o.faultOK = true
		o.faultNote = fmt.Sprintf("redis-server killed with SIGKILL, restarted after %v from its AOF; of %d keys present just before the kill, %d were missing after the restart", size.redisDown, before, missing)
	})
	if err != nil {
		return "", false, err
	}

	forged, err := e.forged(ctx)
	if err != nil {
		return "", false, err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Lotse with several replicas\n\n")
	writeProvenance(&b, command)
	fmt.Fprintf(&b, "\nEverything runs on 127.0.0.1: `lotse run` subprocesses in webhook mode, one redis-server with AOF (`appendonly yes`, `appendfsync everysec`, as in docker-compose.yml), a fake Bot API and a round-robin balancer (httputil.ReverseProxy; a replica that cannot be reached is skipped and the request retried on the next, as Caddy's `lb_try_duration` does). The harness plays Telegram: %d users in a closed loop (the next question after the previous one was acknowledged), at most %d deliveries at once (max_connections), every answer but 200 retried with backoff for up to %v. Flood limits are off on both sides (`LOTSE_FLOOD_LIMITS=off`), so the figures are the replicas' capacity; the machine's %s CPUs are shared by all replicas, Redis and the harness.\n\n",
		size.users, size.conc, deliverFor, cpuCount())
	fmt.Fprintf(&b, "Latency: from the first POST of an update until a replica answered 200, which it does after the reply was accepted by the Bot API. Lost: acknowledged (200) and never answered. Duplicate: answered more than once.\n\n")
	fmt.Fprintf(&b, "## Scaling\n\n| replicas | updates | updates/s | p50 | p99 | lost | duplicates |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range scale {
		fmt.Fprintf(&b, "| %d | %d | %.0f | %s | %s | %d | %d |\n", r.n, r.o.acked, r.o.sum.PerSecond, ms(r.o.sum.P50), ms(r.o.sum.P99), r.o.lost, r.o.dup)
	}
	fmt.Fprintf(&b, "\n## Faults under load (2 replicas, fault after a third of %d updates)\n\n", size.updates)
	fmt.Fprintf(&b, "| fault | acknowledged | not acknowledged | lost | duplicates | other messages | retried by the balancer | updates that saw a non-200 | normal again after | p99 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range []struct {
		name string
		o    outcome
	}{{"replica killed (kill -9)", kill}, {"replica stopped (SIGTERM)", term}, {"Redis killed and restarted (AOF)", redisRun}} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %.1f s | %s |\n", f.name, f.o.acked, f.o.unacked, f.o.lost, f.o.dup, f.o.notices, f.o.retries, f.o.failedAfterFault, f.o.normalAfter.Seconds(), ms(f.o.sum.P99))
	}
	fmt.Fprintf(&b, "\n\"Normal again after\": from the kill (for Redis: from its restart) until the last delivery that was not answered 200.\n\n")

	var checks []check
	for _, r := range scale {
		checks = append(checks, check{fmt.Sprintf("%d replica(s)", r.n), "zero losses, zero duplicates, every update acknowledged",
			fmt.Sprintf("%d lost, %d duplicates, %d not acknowledged", r.o.lost, r.o.dup, r.o.unacked), r.o.lost == 0 && r.o.dup == 0 && r.o.unacked == 0})
	}
	checks = append(checks,
		check{"kill -9 of one replica", "nothing acknowledged lost", fmt.Sprintf("%d lost", kill.lost), kill.lost == 0 && kill.faultOK},
		check{"kill -9 of one replica", fmt.Sprintf("duplicates only from replies in flight at the kill (first copy accepted within %v of it; the Bot API has no idempotency key)", inFlightWindow),
			fmt.Sprintf("%d duplicates, %d of them in flight", kill.dup, kill.dupInFlight), kill.dup == kill.dupInFlight},
		check{"SIGTERM to one replica", fmt.Sprintf("exits 0 within %v", sigtermLimit), term.faultNote, term.faultOK},
		check{"SIGTERM to one replica", "nothing acknowledged lost, no duplicates", fmt.Sprintf("%d lost, %d duplicates", term.lost, term.dup), term.lost == 0 && term.dup == 0},
		check{"Redis killed and restarted", "nothing acknowledged lost", fmt.Sprintf("%d lost", redisRun.lost), redisRun.lost == 0 && redisRun.faultOK},
		check{"Redis killed and restarted", "no duplicate answers", fmt.Sprintf("%d duplicates", redisRun.dup), redisRun.dup == 0},
		check{fmt.Sprintf("%d forged webhook requests", size.forged), "all rejected, no handler run, nothing sent", forged.note, forged.ok},
	)
	fmt.Fprintf(&b, "## Verdicts\n\n")
	allOK := writeChecks(&b, checks)
	fmt.Fprintf(&b, "\n## Notes\n\n")
	fmt.Fprintf(&b, "- **kill -9**: %s. Requests in flight at the killed replica fail at the balancer (connection reset) and are answered 502 to \"Telegram\", which delivers them again; the balancer sends later requests to the survivor. An update whose handling had begun holds a claim and its chat a lock, each a lease of %v that the handler renews every third of it while it runs (so a slow handler keeps both): its redelivery waits for the chat or is answered 503 until the dead replica's leases ran out, which with Telegram's growing retry interval is what \"normal again after\" measures. A duplicate is the one window bot.UpdateClaimer leaves on purpose: the reply was accepted by the Bot API and the replica died before writing the done mark, so the redelivery is answered again (a duplicate rather than a loss; the Bot API has no idempotency key). %s.\n", kill.faultNote, bot.DefaultClaimLease, cmp.Or(kill.dupNote, "No duplicates this time"))
	fmt.Fprintf(&b, "- **SIGTERM**: %s (limit %v: %v for requests in flight, then the rest of the shutdown). The replica stops accepting connections at once, so the balancer moves on, and answers the requests it holds before it exits.\n", term.faultNote, sigtermLimit, shutdownTimeout)
	fmt.Fprintf(&b, "- **Redis restart**: %s. With `appendfsync everysec` a crash loses at most about the last second of writes: session state, claims and done marks of that second. An update answered 503 while Redis was down was delivered again after the restart.\n", redisRun.faultNote)
	fmt.Fprintf(&b, "- **forged requests**: %s. The transport-level flood of forged requests is also tested in `go test ./bot/telegram -run TestWebhookForgedFlood`.\n", forged.detail)
	fmt.Fprintf(&b, "- Order: updates of one chat are handled one at a time across replicas (a per-chat lock in Redis, see README, Deployment); in this closed loop each user has one update in flight, so order is kept by construction.\n")
	return b.String(), allOK, nil
}

type forgedResult struct {
	ok           bool
	note, detail string
}

// forged posts forged requests through the balancer: no secret, a wrong
// one, a body over the limit, broken JSON; none may run a handler.
func (e *replicaEnv) forged(ctx context.Context) (forgedResult, error) {
	fmt.Fprintf(e.progress, "replicas: forged requests ...\n")
	c, err := e.start(2, "forged")
	if err != nil {
		return forgedResult{}, err
	}
	defer c.stop()
	updatesBefore := 0.0
	for _, p := range c.procs {
		v, err := metricSum(p.addr, "lotse_updates_total")
		if err != nil {
			return forgedResult{}, err
		}
		updatesBefore += v
	}
	valid, _ := json.Marshal(tgbotapi.Update{UpdateID: 5, Message: &tgbotapi.Message{MessageID: 5, Text: "Jobcenter",
		From: &tgbotapi.User{ID: 77, FirstName: "X"}, Chat: &tgbotapi.Chat{ID: 77, Type: "private"}}})
	huge := append([]byte(`{"update_id":6,"message":{"text":"`), bytes.Repeat([]byte("a"), telegram.WebhookMaxBody+1)...)
	kinds := []struct {
		name   string
		secret string
		body   []byte
	}{
		{"no secret", "", valid},
		{"wrong secret", replicaSecret[:len(replicaSecret)-1] + "X", valid},
		{"huge body", replicaSecret, huge},
		{"broken JSON", replicaSecret, []byte(`{"update_id":`)},
	}
	statuses := map[string]map[int]int{}
	accepted := 0
	for i := range e.size.forged {
		k := kinds[i%len(kinds)]
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.lb.url("/telegram"), bytes.NewReader(k.body))
		if k.secret != "" {
			req.Header.Set(telegram.SecretHeader, k.secret)
		}
		resp, err := http.DefaultClient.Do(req)
		status := 0
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		if statuses[k.name] == nil {
			statuses[k.name] = map[int]int{}
		}
		statuses[k.name][status]++
		if status < 400 || status >= 500 {
			accepted++
		}
	}
	updatesAfter := 0.0
	for _, p := range c.procs {
		v, err := metricSum(p.addr, "lotse_updates_total")
		if err != nil {
			return forgedResult{}, err
		}
		updatesAfter += v
	}
	sent := len(c.api.Sent(0))
	handled := updatesAfter - updatesBefore
	var parts []string
	for _, k := range kinds {
		var codes []string
		for code, n := range statuses[k.name] {
			codes = append(codes, fmt.Sprintf("%d×%d", n, code))
		}
		slices.Sort(codes)
		parts = append(parts, k.name+": "+strings.Join(codes, ", "))
	}
	return forgedResult{
		ok:     accepted == 0 && handled == 0 && sent == 0,
		note:   fmt.Sprintf("%d not refused with 4xx, %.0f handled, %d messages sent", accepted, handled, sent),
		detail: strings.Join(parts, "; ") + fmt.Sprintf(" (lotse_updates_total unchanged: %v)", handled == 0),
	}, nil
}

func cpuCount() string { return fmt.Sprint(runtime.NumCPU()) }
