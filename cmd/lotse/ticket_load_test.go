package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// outageProxy stands between Lotse and the fake Bot API and, while
// down, answers every send with a 502 or a 429 (alternately), as
// Telegram does in an outage; polling passes through.
type outageProxy struct {
	srv    *httptest.Server
	down   atomic.Bool
	failed atomic.Int64
}

func newOutageProxy(t *testing.T, target string) *outageProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() && strings.Contains(r.URL.Path, "/send") {
			w.Header().Set("Content-Type", "application/json")
			if p.failed.Add(1)%2 == 0 {
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// ticketRun is the size of a measured run.
type ticketRun struct {
	users  int
	outage time.Duration
	claims int
}

// TestTicketsMeasured measures the promises of issue 4 end to end: a
// `lotse run` subprocess on real Redis and the fake Bot API (behind a
// proxy that can fail), users opening requests across all districts and
// topics, staff answering each twice, a kill -9 of the bot in the middle
// and a Telegram outage (5xx and 429) afterwards. It checks that every
// request reaches the right staff chat exactly once, every answer the
// right requester exactly once and in order, and that of 50 Claim
// presses exactly one wins. LOTSE_LONG=1 runs it with 200 users and a
// one-minute outage.
func TestTicketsMeasured(t *testing.T) {
	size := ticketRun{users: 24, outage: 5 * time.Second, claims: 50}
	if os.Getenv("LOTSE_LONG") == "1" {
		size = ticketRun{users: 200, outage: time.Minute, claims: 50}
	}
	if testing.Short() {
		t.Skip("builds and kills a lotse subprocess")
	}
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	api := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.Limits.Disabled = true })
	proxy := newOutageProxy(t, api.URL())
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatal(err)
	}
	staffFile, _ := filepath.Abs("../../bot/staffconfig/demo.yaml")
	staff, err := staffconfig.Load(staffFile, kb)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "lotse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := []string{
		"TELEGRAM_TOKEN=" + api.Token(), "TELEGRAM_API_ENDPOINT=" + proxy.srv.URL + "/bot%s/%s",
		"REDIS_URL=redis://" + rdb.(*redis.Client).Options().Addr + "/0",
		"LOTSE_SECRET=" + strings.Repeat("m", 32), "LOTSE_NAMESPACE=" + ns,
		"LOTSE_STAFF_FILE=" + staffFile, "LOTSE_POLL_TIMEOUT=1s", "LOTSE_LISTEN=127.0.0.1:0",
		"LOTSE_LOG_LEVEL=warn", "LOTSE_FLOOD_LIMITS=off", "PATH=" + os.Getenv("PATH"),
	}
	var logs lockedLog
	var mu sync.Mutex
	var cmd *exec.Cmd
	var done chan struct{}
	start := func() {
		c := exec.Command(bin, "run")
		c.Env = childLogCopy(env)
		c.Stdout, c.Stderr = &logs, &logs
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		d := make(chan struct{})
		go func() { c.Wait(); close(d) }()
		mu.Lock()
		cmd, done = c, d
		mu.Unlock()
	}
	start()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		cmd.Process.Kill()
		<-done
	})

	// Who should get what: district × topic → the desk's chat.
	districts := kb.OfKind(knowledge.KindDistrict)
	topics := kb.Topics()
	type req struct {
		user            int64
		district, topic string
		chat            int64 // expected staff chat
		staffUser       int64
		ref             string
		card            bottest.SentMessage
	}
	reqs := make([]*req, size.users)
	for i := range reqs {
		d := districts[i%len(districts)]
		tp := topics[(i/len(districts)+i)%len(topics)]
		rt, err := kb.Route(knowledge.RouteRequest{District: d.ID, Topic: tp.ID})
		if err != nil {
			t.Fatal(err)
		}
		desk, _ := staff.Desk(rt.Primary.ID)
		reqs[i] = &req{user: 700000 + int64(i), district: d.ID, topic: tp.ID, chat: desk.Chat, staffUser: desk.Users[0]}
		if desk.Chat < 0 {
			api.AddChat(desk.Chat, "supergroup")
		} else {
			api.AddChat(desk.Chat, "private")
		}
	}
	sentTo := func(chat int64) int { return len(api.Sent(chat)) }
	waitNew := func(chat int64, n int, d time.Duration) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if sentTo(chat) > n {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	marker := func(kind string, u int64) string { return fmt.Sprintf("%s-%d-X%s", kind, u, bottest.CanaryText) }

	// Phase 1: every user opens a request; the bot is killed when half
	// of them have been sent.
	var wg sync.WaitGroup
	var opened atomic.Int64
	var stuck atomic.Int64
	killAt := int64(size.users / 2)
	killed := make(chan struct{})
	var killOnce sync.Once
	for _, r := range reqs {
		wg.Go(func() {
			steps := []func(){
				func() { api.PushText(r.user, r.user, "en", "/person") },
				func() { api.PushCallback(r.user, r.user, "en", "kd:"+r.district, 1) },
				func() { api.PushCallback(r.user, r.user, "en", "kr:n", 1) },
				func() { api.PushCallback(r.user, r.user, "en", "kt:"+r.topic, 1) },
				func() { api.PushText(r.user, r.user, "en", "Please help "+marker("REQ", r.user)+" ‮<b>*x*</b>​") },
				func() { api.PushCallback(r.user, r.user, "en", "ks", 1) },
			}
			for i, step := range steps {
				n := sentTo(r.user)
				step()
				if !waitNew(r.user, n, 2*time.Minute) {
					stuck.Add(1)
					return
				}
				if i == 3 {
					time.Sleep(2200 * time.Millisecond) // the per-user inbound limit (5, then 1 per 2 s)
				}
			}
			if opened.Add(1) == killAt {
				killOnce.Do(func() {
					mu.Lock()
					cmd.Process.Signal(os.Kill)
					<-done
					mu.Unlock()
					start()
					close(killed)
				})
			}
		})
	}
	wg.Wait()
	if n := stuck.Load(); n > 0 {
		t.Fatalf("%d users got no answer to a step; log:\n%s", n, logs.tail())
	}
	<-killed

	// Every request lands in exactly its desk's chat, exactly once.
	refRE := regexp.MustCompile(`K-[0-9A-Z]{4,8}`)
	deadline := time.Now().Add(3 * time.Minute)
	var lost, dup, cross int
	var dupRefs []string
	for {
		lost, dup, cross = 0, 0, 0
		dupRefs = nil
		all := api.Sent(0)
		for _, r := range reqs {
			hits := 0
			for _, m := range all {
				if !strings.Contains(m.Text, marker("REQ", r.user)) || m.ChatID == r.user {
					continue
				}
				if m.ChatID != r.chat {
					cross++
					continue
				}
				hits++
				if hits > 1 {
					dupRefs = append(dupRefs, r.ref+"/"+refRE.FindString(m.Text))
					continue
				}
				// Staff work with the first copy: of a duplicate (see
				// below) it is the one that may never have been linked.
				r.card = m
				r.ref = refRE.FindString(m.Text)
			}
			switch {
			case hits == 0:
				lost++
			case hits > 1:
				dup += hits - 1
			}
		}
		if lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("requests: %d users, %d districts × %d topics; %d lost, %d duplicated, %d in a wrong chat", size.users, len(districts), len(topics), lost, dup, cross)
	// A duplicate of the same reference is a message Telegram accepted
	// just before the kill, delivered again (the documented window; each
	// is logged as "outbox redelivery"). Another reference would be a
	// request stored twice.
	windowDups := 0
	for _, d := range dupRefs {
		if a, b, _ := strings.Cut(d, "/"); a != b {
			t.Errorf("request stored twice: %s", d)
		} else {
			windowDups++
		}
	}
	redeliveries := strings.Count(logs.all(), "outbox redelivery")
	t.Logf("duplicates inside the documented window: %d (redeliveries logged: %d)", windowDups, redeliveries)
	if windowDups > redeliveries {
		t.Errorf("%d duplicated requests but only %d redeliveries logged", windowDups, redeliveries)
	}
	dup -= windowDups
	if lost+dup+cross > 0 {
		t.Fatalf("requests: %d lost, %d duplicated, %d cross-delivered; log:\n%s", lost, dup, cross, logs.tail())
	}
	for _, r := range reqs {
		if strings.ContainsRune(r.card.Text, '\u202e') || strings.ContainsRune(r.card.Text, '\u200b') {
			t.Errorf("staff card of %s shows a bidi override or zero-width character", r.ref)
		}
	}

	// 50 Claim presses on one ticket at once: exactly one winner.
	target := reqs[0]
	for _, r := range reqs {
		if d, _ := staff.Desk("qm-nord"); r.chat == d.Chat {
			target = r // a team group with two staff members
			break
		}
	}
	claimData := buttonData(target.card, 0, 0)
	desk := []int64{}
	for _, p := range staff.All() {
		if d, _ := staff.Desk(p); d.Chat == target.chat {
			desk = append(desk, d.Users...)
		}
	}
	for i := 0; i < size.claims; i++ {
		api.PushCallback(target.chat, desk[i%len(desk)], "de", claimData, target.card.MessageID)
	}
	claimedRE := " wird jetzt von "
	time.Sleep(3 * time.Second)
	winners := 0
	for _, m := range api.Sent(target.chat) {
		if strings.Contains(m.Text, target.ref+claimedRE) {
			winners++
		}
	}
	t.Logf("claim race: %d presses, %d winner(s)", size.claims, winners)
	if winners != 1 {
		t.Errorf("claim race: %d winners, want 1", winners)
	}

	// Phase 2: staff answer every request twice (by replying to the
	// card); Telegram fails every send for the outage's length meanwhile.
	proxy.down.Store(true)
	outageEnd := time.Now().Add(size.outage)
	nextID := 900000
	var idMu sync.Mutex
	// Telegram quotes the message replied to, with its author (the bot)
	// and text.
	self := &tgbotapi.User{ID: 123456, IsBot: true, FirstName: "Lotse", UserName: api.BotUsername()}
	reply := func(chat, user int64, text string, to bottest.SentMessage) {
		idMu.Lock()
		nextID++
		id := nextID
		idMu.Unlock()
		typ := "private"
		if chat < 0 {
			typ = "supergroup"
		}
		api.PushUpdate(tgbotapi.Update{Message: &tgbotapi.Message{
			MessageID: id, Date: int(time.Now().Unix()), Text: text,
			From:           &tgbotapi.User{ID: user, FirstName: "Staff", LanguageCode: "de"},
			Chat:           &tgbotapi.Chat{ID: chat, Type: typ},
			ReplyToMessage: &tgbotapi.Message{MessageID: to.MessageID, Chat: &tgbotapi.Chat{ID: chat, Type: typ}, From: self, Text: to.Text},
		}})
	}
	byStaff := map[int64][]*req{}
	for _, r := range reqs {
		byStaff[r.staffUser] = append(byStaff[r.staffUser], r)
	}
	for su, rs := range byStaff {
		wg.Go(func() {
			for i, r := range rs {
				if i > 0 && r.chat > 0 {
					// Staff in private chats pass the per-user limit too.
					time.Sleep(4200 * time.Millisecond)
				}
				reply(r.chat, su, marker("ANS1", r.user), r.card)
				reply(r.chat, su, marker("ANS2", r.user), r.card)
			}
		})
	}
	time.Sleep(time.Until(outageEnd))
	proxy.down.Store(false)
	wg.Wait()
	t.Logf("outage: %s, %d sends refused with 502/429", size.outage, proxy.failed.Load())

	// Every answer reaches its requester once, in order, and nobody else.
	deadline = time.Now().Add(3 * time.Minute)
	var misordered int
	var lostWhat []string // which answers, for the failure message
	for {
		lost, dup, cross, misordered = 0, 0, 0, 0
		lostWhat = lostWhat[:0]
		all := api.Sent(0)
		for _, r := range reqs {
			pos := map[string][]int{}
			for i, m := range all {
				for _, k := range []string{"ANS1", "ANS2"} {
					if !strings.Contains(m.Text, marker(k, r.user)) || m.ChatID == r.chat {
						continue
					}
					if m.ChatID != r.user {
						cross++
						continue
					}
					pos[k] = append(pos[k], i)
				}
			}
			for _, k := range []string{"ANS1", "ANS2"} {
				switch n := len(pos[k]); {
				case n == 0:
					lost++
					lostWhat = append(lostWhat, fmt.Sprintf("%s of %s (staff chat %d)", k, r.ref, r.chat))
				case n > 1:
					dup += n - 1
				}
			}
			if len(pos["ANS1"]) > 0 && len(pos["ANS2"]) > 0 && pos["ANS1"][0] > pos["ANS2"][0] {
				misordered++
			}
		}
		if lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("answers: %d sent, %d lost, %d duplicated, %d in a wrong chat, %d out of order", 2*size.users, lost, dup, cross, misordered)
	redeliveries = strings.Count(logs.all(), "outbox redelivery")
	if dup > redeliveries {
		t.Errorf("%d duplicated answers but only %d redeliveries logged", dup, redeliveries)
	}
	dup = 0 // the rest are inside the documented window, reported above
	// Lost means not delivered within the deadline, which is well above
	// the documented recovery: an update held by the killed process's
	// claim is handled again once the claim's lease (bot.DefaultClaimLease,
	// renewed only while a handler runs) has run out, Poll retries it
	// with a backoff of at most 30 s, and the outbox takes over a dead
	// dispatcher's entries after its 45 s lease and retries failed sends
	// after at most 30 s (plus jitter).
	if lost+dup+cross+misordered > 0 {
		t.Errorf("answers: %d lost %v, %d duplicated, %d cross-delivered, %d out of order; log:\n%s", lost, lostWhat, dup, cross, misordered, logs.tail())
	}
	t.Logf("outbox redeliveries logged over the run: %d", strings.Count(logs.all(), "outbox redelivery"))
	late := 0
	for _, b := range api.BadRequests() {
		if b.Method == "answerCallbackQuery" {
			late++ // presses answered again after the kill or while an update was redelivered
			continue
		}
		t.Errorf("Bot API rejected %+v", b)
	}
	t.Logf("late callback answers refused by the Bot API: %d", late)
}
