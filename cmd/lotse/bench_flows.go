package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/internal/loadtest"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file holds the bench scenarios that need the whole of `lotse
// run`: requests to a person (staff desks, tickets, the outbox, button
// tokens) and coordinators' broadcasts (the engine, its pacer and the
// subscriptions). The bot is wired exactly as cmdRun wires it, on the
// demo staff directory of the sample city.

// benchRequesterBase is the first requester's user id, clear of the demo
// staff ids (1001…9401).
const benchRequesterBase = 100000

// telegramGlobalRate is Telegram's overall limit for a bot (Bots FAQ).
const telegramGlobalRate = 30

// flowBot is Lotse wired as `lotse run` wires it: staff from the demo
// directory, tickets, outbox and tokens in the Redis store, reminders,
// monitoring and broadcasts. Its background work (outbox dispatcher,
// broadcast engine, reminder scheduler) runs until ctx ends.
type flowBot struct {
	bot   *bot.Bot
	staff *bot.StaffDirectory
	subs  remind.Store
	batch *monitor.Batcher // nil without Redis
}

// The conversation scenarios (knowledge questions, language switching)
// run on it too, so their Redis figures include what `lotse run` writes
// per update besides the session, such as the monitoring counters.
// Bench users ask in a closed loop at machine speed, which the per-user
// inbound limit would rightly drop as a flood, so it is off.
func (e *benchEnv) flowBot(ctx context.Context, h *loadtest.Harness, store bot.Store) (*flowBot, error) {
	staff, err := staffconfig.Demo(e.kb)
	if err != nil {
		return nil, err
	}
	live := knowledge.NewLive(e.kb)
	log := copyLogger(slog.DiscardHandler)
	side := sideStores(store, time.Now)
	bc := newBroadcasts(store, side.subs, time.Now, log)
	b, err := bot.New(bc.with(side.withSides(bot.Config{
		KB: live, Store: store, Sender: h.TG, Catalog: e.cat, Now: time.Now,
		UserKeySecret: []byte("bench-secret-0123456789abcdefghij"),
		Logger:        log,
		Staff:         staff,
		Outbox:        outboxOf(store, staff),
		Tokens:        tokensOf(store, staff),
		Flood:         bot.FloodLimit{Off: true},
	})))
	if err != nil {
		return nil, err
	}
	if err := side.startReminders(ctx, b, live, time.Now, log); err != nil {
		return nil, err
	}
	if err := bc.start(ctx, b); err != nil {
		return nil, err
	}
	startTickets(ctx, b, staff, log)
	// Desk chats as Telegram knows them: team groups are supergroups.
	for _, p := range staff.All() {
		d, _ := staff.Desk(p)
		if d.Chat < 0 {
			h.API.AddChat(d.Chat, "supergroup")
		} else {
			h.API.AddChat(d.Chat, "private")
		}
	}
	return &flowBot{bot: b, staff: staff, subs: side.subs, batch: side.batch}, nil
}

// flushMonitor writes the monitoring counters the bot collected (next to
// Redis they are batched), so a measurement can include or exclude them.
func (fb *flowBot) flushMonitor(ctx context.Context) error {
	if fb == nil || fb.batch == nil {
		return nil
	}
	_, err := fb.batch.Flush(ctx)
	return err
}

// redisMeter counts Redis commands (INFO commandstats) and round trips
// over part of a run. Round trips are what the callers waited for (see
// loadtest.RoundTrips: a group commit counts once per caller).
type redisMeter struct {
	e      *benchEnv
	rt     *loadtest.RoundTrips
	before map[string]int64
	trips  int64
	sent   int64
	err    error
	// pipelines is the pipelines (and single commands) actually sent
	// between start and end, group commits counted once.
	pipelines int64
	// serverCPU is the CPU time redis-server used between start and
	// end (INFO cpu), which the process' own CPU figure leaves out.
	serverCPU     time.Duration
	serverCPUFrom time.Duration
}

func (m *redisMeter) start(ctx context.Context) {
	m.before, m.err = loadtest.CommandStats(ctx, m.e.stats)
	m.trips, m.sent = m.rt.Count(), m.rt.Sent()
	var err error
	if m.serverCPUFrom, err = loadtest.ServerCPU(ctx, m.e.stats); m.err == nil {
		m.err = err
	}
}

// stop returns commands and round trips per update since start.
func (m *redisMeter) stop(ctx context.Context, updates int) (commands, trips float64, err error) {
	d, rt, err := m.end(ctx)
	if err != nil {
		return -1, -1, err
	}
	var total int64
	for _, n := range d {
		total += n
	}
	n := float64(max(updates, 1))
	return float64(total) / n, float64(rt) / n, nil
}

// end returns the commands by name and the round trips since start.
func (m *redisMeter) end(ctx context.Context) (map[string]int64, int64, error) {
	trips1, sent1 := m.rt.Count(), m.rt.Sent()
	cpu1, cpuErr := loadtest.ServerCPU(ctx, m.e.stats)
	m.serverCPU = cpu1 - m.serverCPUFrom
	after, err := loadtest.CommandStats(ctx, m.e.stats)
	if err == nil {
		err = cpuErr
	}
	if m.err != nil {
		err = m.err
	}
	if err != nil {
		return nil, 0, err
	}
	d := loadtest.Delta(m.before, after)
	delete(d, "info") // the meter's own snapshots
	m.pipelines = sent1 - m.sent
	return d, trips1 - m.trips, nil
}

// request is one requester's ticket in the ticket scenario.
type request struct {
	user            int64
	district, topic string
	desk            bot.Desk
	sendAt          time.Time // the "send" press was queued
	card            bottest.SentMessage
	cardAt          time.Time // the card reached the desk's chat
	replyAt         time.Time // the staff answer was queued
	answerAt        time.Time // the answer reached the requester
}

func (r *request) marker(kind string) string { return fmt.Sprintf("%s-%d-X", kind, r.user) }

// tickets measures requests to a person end to end, in two phases.
// Creation: every user runs the real flow in a closed loop (/person,
// district, "remember?" no, topic, the text, send), and the request
// reaches its desk's chat through the outbox. Relay: for every request a
// staff member of the desk presses Claim on the card and replies to it;
// the answer reaches the requester through the outbox. Every card and
// every answer must arrive exactly once, in the right chat.
func (e *benchEnv) tickets(ctx context.Context) (create, relay convRow, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	store, meter, closeFn := e.redisStore("tk")
	defer closeFn()
	h, err := loadtest.New(ctx, loadtest.Config{})
	if err != nil {
		return create, relay, err
	}
	defer h.Close()
	bctx, stop := context.WithCancel(ctx)
	fb, err := e.flowBot(bctx, h, store)
	if err != nil {
		stop()
		return create, relay, err
	}
	wait := h.Serve(bctx, fb.bot)
	defer func() { stop(); wait() }()

	n := e.size.ticketUsers
	districts, topics := e.kb.OfKind(knowledge.KindDistrict), e.kb.Topics()
	reqs := make([]*request, n)
	for i := range reqs {
		d := districts[i%len(districts)]
		tp := topics[(i/len(districts)+i)%len(topics)]
		rt, err := e.kb.Route(knowledge.RouteRequest{District: d.ID, Topic: tp.ID})
		if err != nil {
			return create, relay, err
		}
		desk, ok := fb.staff.Desk(rt.Primary.ID)
		if !ok {
			return create, relay, fmt.Errorf("no demo desk for %s", rt.Primary.ID)
		}
		reqs[i] = &request{user: benchRequesterBase + int64(i), district: d.ID, topic: tp.ID, desk: desk}
	}
	var mu sync.Mutex
	script := func(user int64, step int) (loadtest.Step, bool) {
		r := reqs[user-benchRequesterBase]
		switch step {
		case 0:
			return loadtest.Step{Lang: "en", Text: "/person"}, true
		case 1:
			return loadtest.Step{Lang: "en", Data: "kd:" + r.district}, true
		case 2:
			return loadtest.Step{Lang: "en", Data: "kr:n"}, true
		case 3:
			return loadtest.Step{Lang: "en", Data: "kt:" + r.topic}, true
		case 4:
			return loadtest.Step{Lang: "en", Text: "Please help me with a letter " + r.marker("REQ")}, true
		case 5:
			mu.Lock()
			r.sendAt = time.Now()
			mu.Unlock()
			return loadtest.Step{Lang: "en", Data: "ks"}, true
		}
		return loadtest.Step{}, false
	}

	// Creation.
	meter.start(ctx)
	sum, _, err := h.RunClosedLoop(ctx, int64(n), benchRequesterBase, 6*n, script)
	if err != nil {
		return create, relay, err
	}
	if err := awaitSent(ctx, h, func(all []bottest.SentMessage) error {
		return matchOnce(reqs, all, func(r *request, m bottest.SentMessage) (bool, bool) {
			if !strings.Contains(m.Text, r.marker("REQ")) || m.ChatID == r.user {
				return false, false
			}
			r.card = m
			return true, m.ChatID == r.desk.Chat
		}, "request card")
	}); err != nil {
		return create, relay, err
	}
	cmds, trips, err := meter.stop(ctx, sum.Updates)
	if err != nil {
		return create, relay, err
	}
	var cardLat []time.Duration
	calls := h.API.Calls("sendMessage")
	for _, r := range reqs {
		r.cardAt = sentAt(calls, r.desk.Chat, r.marker("REQ"))
		cardLat = append(cardLat, r.cardAt.Sub(r.sendAt))
	}
	cards := loadtest.Summarize(cardLat, 0)
	create = convRow{name: "ticket creation (/person … send, 6 updates each)", sum: sum, commands: cmds, trips: trips,
		detail: fmt.Sprintf("%d requests, %.0f requests/s; request → card in the desk's chat (through the outbox): p50 %s, p99 %s",
			n, float64(n)/sum.Elapsed.Seconds(), ms(cards.P50), ms(cards.P99))}

	// Relay: claim, then reply to the card; many requests share a desk,
	// whose chat the transport handles in order.
	meter.start(ctx)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var nextMsg int
	for _, r := range reqs {
		claim := buttonOf(r.card, 0, 0)
		staffUser := r.desk.Users[0]
		mu.Lock()
		nextMsg++
		msgID := 1_000_000 + nextMsg
		mu.Unlock()
		wg.Go(func() {
			if err := h.WaitUpdate(ctx, h.Press(r.desk.Chat, staffUser, "de", claim, r.card.MessageID)); err != nil {
				errs <- err
				return
			}
			typ := "private"
			if r.desk.Chat < 0 {
				typ = "supergroup"
			}
			chat := &tgbotapi.Chat{ID: r.desk.Chat, Type: typ}
			mu.Lock()
			r.replyAt = time.Now()
			mu.Unlock()
			id := h.Update(tgbotapi.Update{Message: &tgbotapi.Message{
				MessageID: msgID, Date: int(time.Now().Unix()), Chat: chat, Text: "Answer " + r.marker("ANS"),
				From:           &tgbotapi.User{ID: staffUser, FirstName: "Staff", LanguageCode: "de"},
				ReplyToMessage: &tgbotapi.Message{MessageID: r.card.MessageID, Chat: chat},
			}})
			if err := h.WaitUpdate(ctx, id); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return create, relay, err
	}
	if err := awaitSent(ctx, h, func(all []bottest.SentMessage) error {
		return matchOnce(reqs, all, func(r *request, m bottest.SentMessage) (bool, bool) {
			if !strings.Contains(m.Text, r.marker("ANS")) || m.ChatID == r.desk.Chat {
				return false, false
			}
			return true, m.ChatID == r.user
		}, "staff answer")
	}); err != nil {
		return create, relay, err
	}
	var relayLat []time.Duration
	last := start
	calls = h.API.Calls("sendMessage")
	for _, r := range reqs {
		r.answerAt = sentAt(calls, r.user, r.marker("ANS"))
		relayLat = append(relayLat, r.answerAt.Sub(r.replyAt))
		if r.answerAt.After(last) {
			last = r.answerAt
		}
	}
	rsum := loadtest.Summarize(relayLat, last.Sub(start))
	rsum.Updates = 2 * n
	rsum.PerSecond = float64(2*n) / last.Sub(start).Seconds()
	cmds, trips, err = meter.stop(ctx, 2*n)
	if err != nil {
		return create, relay, err
	}
	relay = convRow{name: "ticket relay (staff Claim + reply, answer to the requester)", sum: rsum, commands: cmds, trips: trips,
		detail: fmt.Sprintf("%d answers relayed, %.0f answers/s over %d desks; latency here: the staff reply queued → the answer accepted in the requester's chat (through the outbox)",
			n, float64(n)/last.Sub(start).Seconds(), len(fb.staff.All()))}
	if bad := badRequests(h.API); bad != nil {
		return create, relay, bad
	}
	return create, relay, nil
}

// broadcast measures a coordinator's broadcast to every subscriber:
// Telegram's flood limits are kept on both sides (the fake enforces
// 30 messages/s overall and 1/s per chat), the coordinator uses the real
// flow (/broadcast, audience, text, confirm), and the engine delivers at
// its pacer's rate. Every subscriber must get it exactly once, with no
// limit violated.
func (e *benchEnv) broadcast(ctx context.Context) (convRow, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	store, meter, closeFn := e.redisStore("bc")
	defer closeFn()
	h, err := loadtest.New(ctx, loadtest.Config{Limits: true})
	if err != nil {
		return convRow{}, err
	}
	defer h.Close()
	bctx, stop := context.WithCancel(ctx)
	fb, err := e.flowBot(bctx, h, store)
	if err != nil {
		stop()
		return convRow{}, err
	}
	wait := h.Serve(bctx, fb.bot)
	defer func() { stop(); wait() }()

	n := e.size.subscribers
	districts := e.kb.OfKind(knowledge.KindDistrict)
	now := time.Now()
	for i := range n {
		uid := benchRequesterBase + int64(i)
		h.API.AddChat(uid, "private") // they talked to the bot when they subscribed
		q := benchQuestionMix[i%len(benchQuestionMix)]
		s, err := remind.NewDistrictSubscription(e.kb, fb.bot.UserKey(uid), uid, q.lang, districts[i%len(districts)].ID, "", now)
		if err == nil {
			err = fb.subs.Subscribe(ctx, s)
		}
		if err != nil {
			return convRow{}, fmt.Errorf("subscribe: %w", err)
		}
	}
	const coordinator = 9001 // demo.yaml
	step := func(id int64) error { return h.WaitUpdate(ctx, id) }
	text := fmt.Sprintf("Bench announcement %d: the Café Grenzenlos opens at 16:00 today.", now.UnixNano())
	for _, id := range []func() int64{
		func() int64 { return h.Text(coordinator, "de", "/broadcast") },
		func() int64 { return h.Press(coordinator, coordinator, "de", "bc:d:*", 1) },
		func() int64 { return h.Press(coordinator, coordinator, "de", "bc:r:a:*", 1) },
		func() int64 { return h.Text(coordinator, "de", text) },
	} {
		if err := step(id()); err != nil {
			return convRow{}, err
		}
	}
	// The preview's last message carries Confirm; the transport may
	// still be pacing it to the coordinator's chat.
	var confirm string
	if err := awaitSent(ctx, h, func([]bottest.SentMessage) error {
		sent := h.API.Sent(coordinator)
		for i := len(sent) - 1; i >= 0; i-- {
			if d := buttonOf(sent[i], 0, 0); strings.HasPrefix(d, "bc:y:") {
				confirm = d
				return nil
			}
		}
		return errors.New("no broadcast confirmation button")
	}); err != nil {
		return convRow{}, err
	}
	meter.start(ctx)
	cid := h.Press(coordinator, coordinator, "de", confirm, 1)

	start, _ := h.Pushed(cid)
	if err := awaitSent(ctx, h, func(all []bottest.SentMessage) error {
		got := map[int64]int{}
		for _, m := range all {
			if m.Text == text && m.ChatID != coordinator {
				got[m.ChatID]++
			}
		}
		for i := range n {
			switch c := got[benchRequesterBase+int64(i)]; {
			case c == 0:
				return fmt.Errorf("broadcast: %d of %d subscribers reached", len(got), n)
			case c > 1:
				return errPermanent{fmt.Errorf("broadcast: subscriber %d got it %d times", i, c)}
			}
		}
		if len(got) != n {
			return errPermanent{fmt.Errorf("broadcast reached %d chats, want %d", len(got), n)}
		}
		return nil
	}); err != nil {
		return convRow{}, err
	}
	var lat []time.Duration
	last := start
	for _, c := range h.API.Calls("sendMessage") {
		if c.Status == 200 && c.Params.Get("text") == text && c.Params.Get("chat_id") != strconv.Itoa(coordinator) {
			lat = append(lat, c.At.Sub(start))
			if c.At.After(last) {
				last = c.At
			}
		}
	}
	sum := loadtest.Summarize(lat, last.Sub(start))
	cmds, trips, err := meter.stop(ctx, n)
	if err != nil {
		return convRow{}, err
	}
	if v := h.API.Violations(); len(v) > 0 {
		return convRow{}, fmt.Errorf("broadcast: %d flood-limit violations at the fake Bot API, e.g. %s", len(v), v[0].Kind)
	}
	if bad := badRequests(h.API); bad != nil {
		return convRow{}, bad
	}
	return convRow{name: fmt.Sprintf("broadcast to %d subscribers (Telegram's limits kept)", n), sum: sum,
		commands: cmds, trips: trips, broadcastRate: sum.PerSecond,
		detail: fmt.Sprintf("%.1f delivered/s = %.0f%% of Telegram's %d messages/s (the engine paces at 28/s); latency here: Confirm pressed → the subscriber's message accepted; Redis per recipient",
			sum.PerSecond, 100*sum.PerSecond/telegramGlobalRate, telegramGlobalRate)}, nil
}

// errPermanent ends awaitSent at once: waiting longer cannot help.
type errPermanent struct{ error }

// awaitSent checks what the fake accepted until check passes, a
// permanent error, or 2 minutes.
func awaitSent(ctx context.Context, h *loadtest.Harness, check func([]bottest.SentMessage) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err := check(h.API.Sent(0))
		var perm errPermanent
		switch {
		case err == nil:
			return nil
		case errors.As(err, &perm):
			return perm.error
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// matchOnce checks that every request has exactly one message match
// picks, in the right chat. match reports (matches, in the right chat).
func matchOnce(reqs []*request, all []bottest.SentMessage, match func(*request, bottest.SentMessage) (bool, bool), what string) error {
	lost := 0
	for _, r := range reqs {
		hits := 0
		for _, m := range all {
			if m.Edited {
				continue
			}
			ok, right := match(r, m)
			if !ok {
				continue
			}
			if !right {
				return errPermanent{fmt.Errorf("%s of request %d reached the wrong chat", what, r.user-benchRequesterBase)}
			}
			hits++
		}
		switch {
		case hits == 0:
			lost++
		case hits > 1:
			return errPermanent{fmt.Errorf("%s of request %d delivered %d times", what, r.user-benchRequesterBase, hits)}
		}
	}
	if lost > 0 {
		return fmt.Errorf("%d of %d %ss not delivered", lost, len(reqs), what)
	}
	return nil
}

// sentAt is when the fake accepted the message to chat containing
// marker (zero if it did not), from its sendMessage calls.
func sentAt(calls []bottest.Call, chat int64, marker string) time.Time {
	id := strconv.FormatInt(chat, 10)
	for _, c := range calls {
		if c.Status == 200 && c.Params.Get("chat_id") == id && strings.Contains(c.Params.Get("text"), marker) {
			return c.At
		}
	}
	return time.Time{}
}

// buttonOf is the callback data of a message's button, "" if none.
func buttonOf(m bottest.SentMessage, row, col int) string {
	if m.Markup == nil || len(m.Markup.InlineKeyboard) <= row || len(m.Markup.InlineKeyboard[row]) <= col {
		return ""
	}
	if d := m.Markup.InlineKeyboard[row][col].CallbackData; d != nil {
		return *d
	}
	return ""
}

// badRequests is an error if the fake refused requests as invalid,
// other than late answers to button presses.
func badRequests(api *bottest.FakeAPI) error {
	bad := slices.DeleteFunc(api.BadRequests(), func(b bottest.APIError) bool { return b.Method == "answerCallbackQuery" })
	if len(bad) > 0 {
		return fmt.Errorf("the Bot API rejected %d requests, e.g. %s: %s", len(bad), bad[0].Method, bad[0].Description)
	}
	return nil
}
