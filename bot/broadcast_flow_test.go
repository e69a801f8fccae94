package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/audience"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// Scripted conversations for the coordinator's /broadcast, with the real
// engine on memstore delivering through the recording sender.

// blockingSender records everything and fails sends to blocked chats as
// Telegram does for a user who blocked the bot.
type blockingSender struct {
	*bottest.Recorder
	mu      sync.Mutex
	blocked map[int64]bool
}

func (s *blockingSender) Send(ctx context.Context, m bot.Outgoing) (int, error) {
	s.mu.Lock()
	b := s.blocked[m.ChatID]
	s.mu.Unlock()
	if b {
		return 0, fmt.Errorf("send: 403: %w", bot.ErrBlocked)
	}
	return s.Recorder.Send(ctx, m)
}

// lateBot lets the engine reach the bot built after it.
type lateBot struct{ b *bot.Bot }

func (l *lateBot) ForgetChat(ctx context.Context, chat int64) error { return l.b.ForgetChat(ctx, chat) }
func (l *lateBot) BroadcastProgress(ctx context.Context, st bot.BroadcastStatus) error {
	return l.b.BroadcastProgress(ctx, st)
}

type bcHarness struct {
	*harness
	mem    *memstore.Store     // memstore harness only
	subs   *memstore.Reminders // memstore harness only
	mon    *memstore.Monitor
	sender *blockingSender
	live   *knowledge.Live
	// The stores the bot and the engine use, whichever they are.
	sessions bot.Store
	reminder bcReminders
}

// bcReminders is what the harness needs of a reminder store: the
// subscriptions, the queue and the audience index.
type bcReminders interface {
	remind.Store
	remind.Queue
	bot.AudienceIndex
}

func newBroadcastHarness(t *testing.T) *bcHarness {
	t.Helper()
	now := func() time.Time { return testNow }
	mem := memstore.New(now)
	subs := memstore.NewReminders(now)
	h := buildBroadcastHarness(t, &countingStore{Store: mem}, mem, subs, memstore.NewBroadcasts(nil), nil)
	h.mem, h.subs = mem, subs
	return h
}

// newRedisBroadcastHarness is the harness on real Redis: sessions,
// subscriptions, the audience index and the broadcasts in redisstore.
func newRedisBroadcastHarness(t *testing.T) *bcHarness {
	t.Helper()
	rdb := bottest.Redis(t)
	rs := redisstore.New(rdb, redisstore.Options{Namespace: bottest.Namespace(t, rdb), Now: func() time.Time { return testNow }})
	return buildBroadcastHarness(t, rs, rs, rs, rs.Broadcasts(), rs.Pacer(1000))
}

func buildBroadcastHarness(t *testing.T, store bot.Store, tickets bot.TicketStore, subs bcReminders, bstore broadcast.Store, pacer broadcast.Pacer) *bcHarness {
	t.Helper()
	kb := mustSampleKB(t)
	now := func() time.Time { return testNow }
	rec := bottest.NewRecorder()
	h := &harness{t: t, rec: rec, cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	if cs, ok := store.(*countingStore); ok {
		h.store = cs
	}
	staff, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	mon := memstore.NewMonitor(now)
	live := knowledge.NewLive(kb)
	sender := &blockingSender{Recorder: rec, blocked: map[int64]bool{}}
	ref := &lateBot{}
	eng, err := broadcast.New(broadcast.Config{
		Store: bstore,
		Recipients: audience.Recipients{Index: subs,
			Subscribers: broadcast.Subscribers{Subs: subs, KB: live.Current, Sessions: store},
			Staff:       staff.IsStaff},
		Sender:      sender,
		Forget:      ref,
		Coordinator: staff.IsCoordinator,
		Pacer:       pacer,
		Rate:        1000,
		Workers:     2,
		Poll:        10 * time.Millisecond,
		Reporter:    broadcast.BotReporter{Bot: ref},
		Logger:      newTestLogger(h.log),
		KB:          live.Current,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Config{
		KB: live, Store: store, Sender: sender, Catalog: h.cat,
		Now: now, UserKeySecret: secret, Logger: newTestLogger(h.log), Staff: staff, Tickets: tickets,
		Reminders: remind.BotReminders{Subs: subs, KB: live.Current, Queue: subs, Audience: subs},
		Monitor:   mon, Flood: bot.FloodLimit{Off: true},
		Broadcasts: broadcast.BotBroadcaster{Engine: eng},
	})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	h.bot, ref.b = b, b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &bcHarness{harness: h, mon: mon, sender: sender, live: live, sessions: store, reminder: subs}
}

func (h *bcHarness) district(t *testing.T) string {
	t.Helper()
	ds := h.kb.OfKind(knowledge.KindDistrict)
	if len(ds) == 0 {
		t.Fatal("sample city has no districts")
	}
	return ds[0].ID
}

// subscribe subscribes chat (a private chat: user id = chat id) to
// district's events.
func (h *bcHarness) subscribe(t *testing.T, chat int64, lang, district string) {
	t.Helper()
	s, err := remind.NewDistrictSubscription(h.kb, h.bot.UserKey(chat), chat, lang, district, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reminder.Subscribe(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits (bounded) until chat got a message containing substr.
func (h *bcHarness) waitFor(t *testing.T, chat int64, substr string) []bot.Outgoing {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if msgs := h.rec.To(chat); strings.Contains(allText(msgs), substr) {
			return msgs
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("chat %d never got %q; got:\n%s", chat, substr, allText(h.rec.To(chat)))
	return nil
}

func dataWithPrefix(msgs []bot.Outgoing, prefix string) string {
	for _, d := range allData(msgs) {
		if strings.HasPrefix(d, prefix) {
			return d
		}
	}
	return ""
}

// prepare walks a coordinator through audience and text up to the
// preview and returns the preview messages.
func (h *bcHarness) prepare(t *testing.T, c *user, district, role, text string) []bot.Outgoing {
	t.Helper()
	out := c.say("/broadcast")
	if !hasData(out, "bc:d:"+district) || !hasData(out, "bc:d:*") {
		t.Fatalf("/broadcast offers %v, want district %s and all", allData(out), district)
	}
	out = c.press("bc:d:" + district)
	if !hasData(out, "bc:r:"+role+":"+district) {
		t.Fatalf("district step offers %v", allData(out))
	}
	c.press("bc:r:" + role + ":" + district)
	return c.say(text)
}

func TestBroadcastConfirmProgressTally(t *testing.T) {
	h := newBroadcastHarness(t)
	d := h.district(t)
	for chat := int64(100); chat < 105; chat++ {
		h.subscribe(t, chat, "ar", d)
	}
	h.subscribe(t, 105, "uk", d)
	h.sender.blocked[105] = true // blocked the bot since subscribing

	c := h.user(coordinator, "de")
	// Markup characters must arrive exactly as written.
	text := "*Wichtig*: Sprechstunde <b>morgen</b> _14 Uhr_ [Raum](1) `x` & > #tag"
	out := h.prepare(t, c, d, "a", text)
	if len(out) != 3 || out[1].Text != text || out[1].RTL {
		t.Fatalf("preview = %q, want header, the verbatim text, question", allText(out))
	}
	if !strings.Contains(out[0].Text, "6") {
		t.Errorf("preview header %q does not count 6 recipients", out[0].Text)
	}
	confirm := dataWithPrefix(out, "bc:y:")
	if confirm == "" || !hasData(out, "bc:n:"+confirm[len("bc:y:"):]) {
		t.Fatalf("preview buttons %v", allData(out))
	}
	if got := c.press(confirm); !strings.Contains(allText(got), "Versand hat begonnen") {
		t.Fatalf("confirm answered %q", allText(got))
	}
	h.waitFor(t, coordinator, "Rundnachricht gesendet")
	final := h.rec.To(coordinator)
	last := final[len(final)-1].Text
	if !strings.Contains(allText(final), "Rundnachricht: ") || !strings.Contains(allText(final), "von 6 erledigt") {
		t.Errorf("no progress report before the tally:\n%s", allText(final))
	}
	for _, want := range []string{"Zugestellt: 5", "Bot blockiert: 1", "Fehlgeschlagen: 0"} {
		if !strings.Contains(last, want) {
			t.Errorf("tally %q lacks %q", last, want)
		}
	}
	for chat := int64(100); chat < 105; chat++ {
		got := h.rec.To(chat)
		if len(got) != 1 || got[0].Text != text || len(got[0].Buttons) != 0 {
			t.Errorf("chat %d got %d messages %q, want the text once, verbatim", chat, len(got), allText(got))
		}
	}
	// The blocked user's subscription is gone.
	subs, err := h.subs.SubscriptionsOf(context.Background(), h.bot.UserKey(105))
	if err != nil || len(subs) != 0 {
		t.Errorf("blocked user's subscriptions = %v, %v; want none", subs, err)
	}
	// Reach is recorded once.
	f, err := h.mon.Figures(context.Background(), testNow.Add(-24*time.Hour), testNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var delivered, blocked int64
	for _, day := range f.Days {
		delivered += day.Delivered
		blocked += day.Blocked
	}
	if delivered != 5 || blocked != 1 {
		t.Errorf("recorded reach delivered=%d blocked=%d, want 5 and 1", delivered, blocked)
	}
	// Confirming again is refused without sending anything.
	before := len(h.rec.Sent())
	c.press(confirm)
	if got := len(h.rec.Sent()); got != before {
		t.Errorf("a second confirm sent %d messages", got-before)
	}
	h.checkRecorder(t, -1)
}

func TestBroadcastRefusedForNonCoordinator(t *testing.T) {
	h := newBroadcastHarness(t)
	d := h.district(t)
	h.subscribe(t, 100, "ar", d)
	const uid = 4242017 // distinctive, to look for it in the log
	u := h.user(uid, "de")
	for _, step := range []func() []bot.Outgoing{
		func() []bot.Outgoing { return u.say("/broadcast") },
		func() []bot.Outgoing { return u.press("bc:d:" + d) },
		func() []bot.Outgoing { return u.press("bc:r:a:" + d) },
		func() []bot.Outgoing { return u.press("bc:r:r:" + d) },
		func() []bot.Outgoing { return u.press("bc:p:" + d) },
		func() []bot.Outgoing { return u.press("bc:r:t:" + d + ":language") },
	} {
		out := step()
		if !strings.Contains(allText(out), h.cat.T("de", "CoordinatorsOnly", nil)) {
			t.Errorf("non-coordinator got %q", allText(out))
		}
		if dataWithPrefix(out, "bc:") != "" {
			t.Errorf("non-coordinator offered %v", allData(out))
		}
	}
	if st := u.mustSession().State; st != "" {
		t.Errorf("non-coordinator's state = %q", st)
	}
	if log := h.log.String(); !strings.Contains(log, "broadcast refused") || strings.Contains(log, "4242017") {
		t.Errorf("refusal log = %q: want the attempt, without the user id", log)
	}
}

func TestBroadcastCancel(t *testing.T) {
	for _, tc := range []struct{ name, cmd string }{
		{"button", ""},
		{"command while writing", "/cancel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newBroadcastHarness(t)
			d := h.district(t)
			h.subscribe(t, 100, "ar", d)
			c := h.user(coordinator, "de")
			if tc.cmd != "" {
				c.say("/broadcast")
				c.press("bc:d:" + d)
				c.press("bc:r:a:" + d)
				out := c.say(tc.cmd)
				if !strings.Contains(allText(out), h.cat.T("de", "BroadcastAbandoned", nil)) {
					t.Fatalf("/cancel answered %q", allText(out))
				}
				// The next text is a question again, not an announcement.
				if out := c.say("Hallo zusammen"); dataWithPrefix(out, "bc:y:") != "" {
					t.Fatalf("text after /cancel was prepared: %v", allData(out))
				}
			} else {
				out := h.prepare(t, c, d, "a", "Hallo zusammen")
				cancel := dataWithPrefix(out, "bc:n:")
				if got := c.press(cancel); !strings.Contains(allText(got), h.cat.T("de", "BroadcastCancelled", nil)) {
					t.Fatalf("cancel answered %q", allText(got))
				}
				// The stale confirm button sends nothing.
				c.press("bc:y:" + cancel[len("bc:n:"):])
			}
			time.Sleep(50 * time.Millisecond) // five polls of the engine
			if got := h.rec.To(100); len(got) != 0 {
				t.Errorf("recipient got %q after cancelling", allText(got))
			}
		})
	}
}

func TestBroadcastVolunteersAndOthersButtons(t *testing.T) {
	h := newBroadcastHarness(t)
	d := h.district(t)
	h.subscribe(t, 100, "ar", d)
	h.subscribe(t, 101, "fa", d)
	ctx := context.Background()
	if err := h.mem.SaveSession(ctx, h.bot.UserKey(101), bot.Session{Lang: "fa", Role: bot.RoleVolunteer, Updated: testNow}, time.Hour); err != nil {
		t.Fatal(err)
	}
	c := h.user(coordinator, "de")
	out := h.prepare(t, c, d, "v", "Helferkreis: Treffen am Montag")
	if !strings.Contains(out[0].Text, "1") {
		t.Errorf("preview %q: want one volunteer", out[0].Text)
	}
	c.press(dataWithPrefix(out, "bc:y:"))
	h.waitFor(t, coordinator, "Rundnachricht gesendet")
	if got := h.rec.To(100); len(got) != 0 {
		t.Errorf("non-volunteer got %q", allText(got))
	}
	h.waitFor(t, 101, "Helferkreis")

	// Another coordinator's (or a forged) button does nothing.
	other := h.user(coordinator+1, "de")
	id := strings.Repeat("a", 16)
	if got := other.press("bc:y:" + id); dataWithPrefix(got, "bc:") != "" {
		t.Errorf("forged confirm answered with %v", allData(got))
	}
	if _, err := (broadcast.BotBroadcaster{}).Status(ctx, "../x"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("status of a malformed id: %v, want ErrNotFound", err)
	}
}

func TestBroadcastEmptyTextAndNoRecipients(t *testing.T) {
	h := newBroadcastHarness(t)
	d := h.district(t)
	c := h.user(coordinator, "de")
	out := h.prepare(t, c, d, "a", "Hallo")
	nobody := h.cat.T("de", "BcAudienceNobody", map[string]any{"Audience": "|"})
	if !strings.Contains(allText(out), nobody[:strings.Index(nobody, "|")]) || dataWithPrefix(out, "bc:y:") != "" {
		t.Errorf("audience without recipients: %q %v", allText(out), allData(out))
	}
	h.subscribe(t, 100, "ar", d)
	c.say("/broadcast")
	c.press("bc:d:" + d)
	c.press("bc:r:a:" + d)
	out = c.say(strings.Repeat("x", broadcast.MaxText+1))
	if !strings.Contains(allText(out), h.cat.T("de", "BroadcastTextInvalid", nil)) {
		t.Errorf("overlong text answered %q", allText(out))
	}
	// The coordinator can send a corrected text at once.
	if out := c.say("kurz"); dataWithPrefix(out, "bc:y:") == "" {
		t.Errorf("corrected text not previewed: %q", allText(out))
	}
}

// session returns u's session from the store the bot uses.
func (h *bcHarness) session(t *testing.T, u *user) bot.Session {
	t.Helper()
	s, err := h.sessions.Session(context.Background(), h.bot.UserKey(u.id))
	if err != nil {
		t.Fatalf("session of %d: %v", u.id, err)
	}
	return s
}

// subscribeTopic subscribes chat to the events of topic in district.
func (h *bcHarness) subscribeTopic(t *testing.T, chat int64, lang, district, topic string) {
	t.Helper()
	s, err := remind.NewDistrictSubscription(h.kb, h.bot.UserKey(chat), chat, lang, district, topic, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reminder.Subscribe(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// joinIndex puts chat in the audience index, as the bot does for a user
// whose session has that language, role and district.
func (h *bcHarness) joinIndex(t *testing.T, chat int64, lang, role, district string) {
	t.Helper()
	m := bot.AudienceMember{User: h.bot.UserKey(chat), ChatID: chat, Lang: lang, Role: role, District: district, Expires: testNow.Add(24 * time.Hour)}
	if err := h.reminder.Join(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// prepareSpec walks a coordinator through district (or "*") and audience
// spec ("a", "r", "v" or "t:<topic>"), checking the buttons of every
// step, up to the preview of text, and returns the preview messages.
func (h *bcHarness) prepareSpec(t *testing.T, c *user, district, spec, text string) []bot.Outgoing {
	t.Helper()
	out := c.say("/broadcast")
	if !hasData(out, "bc:d:"+district) {
		t.Fatalf("/broadcast offers %v, want %s", allData(out), district)
	}
	out = c.press("bc:d:" + district)
	for _, want := range []string{"bc:r:a:", "bc:r:r:", "bc:r:v:", "bc:p:"} {
		if !hasData(out, want+district) {
			t.Fatalf("district step offers %v, want %s%s", allData(out), want, district)
		}
	}
	if topic, ok := strings.CutPrefix(spec, "t:"); ok {
		out = c.press("bc:p:" + district)
		if got, want := len(dataPrefixed(out, "bc:r:t:"+district+":")), len(h.kb.Topics()); got != want {
			t.Fatalf("topic step offers %v, want all %d topics", allData(out), want)
		}
		out = c.press("bc:r:t:" + district + ":" + topic)
	} else {
		out = c.press("bc:r:" + spec + ":" + district)
	}
	if h.session(t, c).State == "" {
		t.Fatalf("audience %s:%s not accepted: %q", spec, district, allText(out))
	}
	return c.say(text)
}

func dataPrefixed(msgs []bot.Outgoing, prefix string) []string {
	var out []string
	for _, d := range allData(msgs) {
		if strings.HasPrefix(d, prefix) {
			out = append(out, d)
		}
	}
	return out
}

// Members of the audience population of TestBroadcastAudienceKinds.
const (
	refNord   = 201 // refugee in the index, district nord
	volNord   = 202 // volunteer invited to nord
	refSued   = 203 // refugee in the index, district sued
	volSued   = 204 // volunteer invited to sued
	refCity   = 205 // refugee in the index without a district
	subLang   = 206 // subscribed to nord, topic language; not in the index
	subHouse  = 207 // subscribed to nord, topic housing
	subNord   = 208 // subscribed to all of nord's events
	subLangS  = 209 // subscribed to sued, topic language
	volSubbed = 210 // volunteer (session) subscribed to all of nord; not in the index
	staffNord = 1101
)

var audiencePopulation = []int64{refNord, volNord, refSued, volSued, refCity, subLang, subHouse, subNord, subLangS, volSubbed, staffNord, coordinator}

// populate builds the population: index members through the
// conversation where it can (volunteer invitations) and the index port
// otherwise, subscriptions through the reminder store.
func (h *bcHarness) populate(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	h.user(volNord, "fa").say("/start " + h.bot.VolunteerInvite("nord"))
	h.user(volSued, "tr").say("/start " + h.bot.VolunteerInvite("sued"))
	h.joinIndex(t, refNord, "ar", "", "nord")
	h.joinIndex(t, refSued, "uk", "", "sued")
	h.joinIndex(t, refCity, "ru", "", "")
	h.joinIndex(t, staffNord, "de", "", "nord") // Quartiermanager Nord uses the bot too
	h.subscribeTopic(t, subLang, "ar", "nord", "language")
	h.subscribeTopic(t, subHouse, "fa", "nord", "housing")
	h.subscribe(t, subNord, "uk", "nord")
	h.subscribeTopic(t, subLangS, "ar", "sued", "language")
	h.subscribe(t, volSubbed, "de", "nord")
	if err := h.sessions.SaveSession(ctx, h.bot.UserKey(volSubbed), bot.Session{Lang: "de", Role: bot.RoleVolunteer, Updated: testNow}, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// checkReached confirms the preview out of c and checks that exactly the
// chats in want got text, once, verbatim, and the tally says so.
func (h *bcHarness) checkReached(t *testing.T, c *user, out []bot.Outgoing, text string, want []int64) {
	t.Helper()
	if len(out) != 3 || out[1].Text != text {
		t.Fatalf("preview = %q, want header, the verbatim text, question", allText(out))
	}
	if head := out[0].Text; !strings.Contains(head, fmt.Sprintf("Empfänger: %d (", len(want))) {
		t.Fatalf("preview %q does not count %d recipients", head, len(want))
	}
	c.press(dataWithPrefix(out, "bc:y:"))
	h.waitFor(t, coordinator, "Rundnachricht gesendet")
	tally := ""
	for _, m := range h.rec.To(coordinator) {
		if strings.Contains(m.Text, "Rundnachricht gesendet") {
			tally = m.Text
		}
	}
	if !strings.Contains(tally, fmt.Sprintf("Zugestellt: %d\n", len(want))) {
		t.Errorf("tally %q, want %d delivered", tally, len(want))
	}
	for _, chat := range audiencePopulation {
		n := 0
		for _, m := range h.rec.To(chat) {
			if m.Text == text {
				n++
			}
		}
		if chat == coordinator {
			n-- // the preview
		}
		if in := slices.Contains(want, chat); in && n != 1 || !in && n != 0 {
			t.Errorf("chat %d got the announcement %d times; in the audience: %v", chat, n, in)
		}
	}
}

// TestBroadcastAudienceKinds: every audience the coordinator can choose
// (a district or the whole city; everybody, refugees, volunteers,
// subscribers of a topic) reaches exactly its members, and the preview
// counts them.
func TestBroadcastAudienceKinds(t *testing.T) {
	for _, tc := range []struct {
		district, spec string
		want           []int64
	}{
		{"nord", "a", []int64{refNord, volNord, subLang, subHouse, subNord, volSubbed, staffNord}},
		{"nord", "r", []int64{refNord}}, // not staff, not subscribers (their role is unknown)
		{"nord", "v", []int64{volNord, volSubbed}},
		{"nord", "t:language", []int64{subLang}}, // not the followers of all of nord, not sued's
		{"*", "a", audiencePopulation},
		{"*", "r", []int64{refNord, refSued, refCity}}, // not the coordinator or staff
		{"*", "v", []int64{volNord, volSued, volSubbed}},
		{"*", "t:language", []int64{subLang, subLangS}},
	} {
		t.Run(tc.district+"/"+tc.spec, func(t *testing.T) {
			h := newBroadcastHarness(t)
			h.populate(t)
			c := h.user(coordinator, "de")
			text := "Rundnachricht " + tc.district + "/" + tc.spec + ": *fett* <b>x</b> _y_ [a](b) `c`"
			out := h.prepareSpec(t, c, tc.district, tc.spec, text)
			h.checkReached(t, c, out, text, tc.want)
		})
	}
}

// TestBroadcastTopicAudienceRedis: the topic audience on real Redis
// (sessions, subscriptions, audience index and broadcast queue in
// redisstore) reaches the topic's subscribers of the district only.
func TestBroadcastTopicAudienceRedis(t *testing.T) {
	h := newRedisBroadcastHarness(t)
	h.populate(t)
	c := h.user(coordinator, "de")
	out := h.prepareSpec(t, c, "nord", "t:language", "Deutschkurs Nord: neue Plätze")
	h.checkReached(t, c, out, "Deutschkurs Nord: neue Plätze", []int64{subLang})
}

// TestBroadcastAudienceBadInput: an unknown or forged topic is refused
// with a clear message, an empty audience sends nothing, and refugees
// of a topic cannot be asked for.
func TestBroadcastAudienceBadInput(t *testing.T) {
	h := newBroadcastHarness(t)
	h.populate(t)
	c := h.user(coordinator, "de")
	c.say("/broadcast")
	out := c.press("bc:r:t:nord:astrologie")
	if !strings.Contains(allText(out), h.cat.T("de", "BcAudienceUnknownTopic", map[string]any{"Topic": "astrologie"})) {
		t.Errorf("unknown topic answered %q", allText(out))
	}
	if st := h.session(t, c).State; st != "" {
		t.Errorf("state after an unknown topic = %q", st)
	}
	// A topic removed by a reload while the text was being written.
	c.press("bc:r:t:nord:language")
	s := h.session(t, c)
	s.State = strings.Replace(s.State, "language", "astrologie", 1)
	if err := h.sessions.SaveSession(context.Background(), h.bot.UserKey(coordinator), s, time.Hour); err != nil {
		t.Fatal(err)
	}
	if out := c.say("Hallo"); !strings.Contains(allText(out), "astrologie") || dataWithPrefix(out, "bc:y:") != "" {
		t.Errorf("text for a vanished topic answered %q %v", allText(out), allData(out))
	}
	// Malformed specs are outdated buttons, nothing more.
	for _, data := range []string{"bc:r:x:nord", "bc:r:t:nord", "bc:r:r:atlantis", "bc:p:atlantis", "bc:r:t:nord:Bad Topic"} {
		if out := c.press(data); dataWithPrefix(out, "bc:") != "" || h.session(t, c).State != "" {
			t.Errorf("%s answered %q %v", data, allText(out), allData(out))
		}
	}

	// An audience without members says so and sends nothing.
	out = h.prepareSpec(t, c, "ost", "t:safety", "Niemand")
	if !strings.Contains(allText(out), "Niemand würde diese Rundnachricht bekommen") || dataWithPrefix(out, "bc:y:") != "" {
		t.Errorf("empty audience: %q %v", allText(out), allData(out))
	}

	// The engine checks the knowledge base itself, whatever the caller.
	eng, err := broadcast.New(broadcast.Config{
		Store: memstore.NewBroadcasts(nil), Recipients: audience.Recipients{Index: h.reminder},
		Sender: h.sender, Forget: &lateBot{b: h.bot}, Coordinator: func(int64) bool { return true },
		KB: h.live.Current,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := broadcast.BotBroadcaster{Engine: eng}
	ctx := context.Background()
	for _, a := range []bot.BroadcastAudience{{Topic: "astrologie"}, {District: "atlantis"}} {
		if _, _, err := p.Prepare(ctx, coordinator, a, "x"); !errors.Is(err, bot.ErrUnknownAudience) {
			t.Errorf("Prepare(%+v) = %v, want ErrUnknownAudience", a, err)
		}
	}
	for _, a := range []bot.BroadcastAudience{{Role: bot.AudienceRefugees, Topic: "language"}, {Role: "staff"}} {
		if _, _, err := p.Prepare(ctx, coordinator, a, "x"); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("Prepare(%+v) = %v, want ErrInvalid", a, err)
		}
	}
	if _, n, err := p.Prepare(ctx, coordinator, bot.BroadcastAudience{Role: bot.AudienceRefugees, District: "nord"}, "x"); err != nil || n != 2 {
		// Without Staff the index cannot tell the Quartiermanager apart.
		t.Errorf("refugees of nord without a staff list = %d, %v; want 2", n, err)
	}
	for _, chat := range audiencePopulation {
		for _, m := range h.rec.To(chat) {
			if m.Text == "Niemand" && chat != coordinator || m.Text == "x" {
				t.Errorf("chat %d got %q", chat, m.Text)
			}
		}
	}
}
