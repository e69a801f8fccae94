package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/audience"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/broadcast"
	"github.com/lotse-bot/lotse/bot/memstore"
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
	mem    *memstore.Store
	subs   *memstore.Reminders
	mon    *memstore.Monitor
	sender *blockingSender
	live   *knowledge.Live
}

func newBroadcastHarness(t *testing.T) *bcHarness {
	t.Helper()
	kb := mustSampleKB(t)
	now := func() time.Time { return testNow }
	rec := bottest.NewRecorder()
	h := &harness{t: t, rec: rec, cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	mem := memstore.New(now)
	h.store = &countingStore{Store: mem}
	staff, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	subs, mon := memstore.NewReminders(now), memstore.NewMonitor(now)
	live := knowledge.NewLive(kb)
	sender := &blockingSender{Recorder: rec, blocked: map[int64]bool{}}
	ref := &lateBot{}
	eng, err := broadcast.New(broadcast.Config{
		Store: memstore.NewBroadcasts(nil),
		Recipients: audience.Recipients{Index: subs,
			Subscribers: broadcast.Subscribers{Subs: subs, KB: live.Current, Sessions: mem}},
		Sender:      sender,
		Forget:      ref,
		Coordinator: staff.IsCoordinator,
		Rate:        1000,
		Workers:     2,
		Poll:        10 * time.Millisecond,
		Reporter:    broadcast.BotReporter{Bot: ref},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Config{
		KB: live, Store: h.store, Sender: sender, Catalog: h.cat,
		Now: now, UserKeySecret: secret, Logger: newTestLogger(h.log), Staff: staff, Tickets: mem,
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
	return &bcHarness{harness: h, mem: mem, subs: subs, mon: mon, sender: sender, live: live}
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
	if err := h.subs.Subscribe(context.Background(), s); err != nil {
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
	if !strings.Contains(allText(out), h.cat.T("de", "BroadcastNoRecipients", map[string]any{"Audience": ""})[:20]) || dataWithPrefix(out, "bc:y:") != "" {
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
