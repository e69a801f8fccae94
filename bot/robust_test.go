package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

func TestBadInput(t *testing.T) {
	c := mustCatalog(t)
	long := strings.Repeat("Wohnung ", 512)[:4096]
	tests := []struct {
		name string
		text string
		want string // a message id whose text must be in the reply; "" = any friendly reply
	}{
		{"empty", "", "EmptyQuestion"},
		{"spaces", "   \n\t ", "EmptyQuestion"},
		{"emoji only", "🙂🙏🏽🇩🇪", "EmptyQuestion"},
		{"punctuation", "???!!!", "EmptyQuestion"},
		{"4096 characters", long, ""},
		{"4096 emoji", strings.Repeat("😀", 4096), "EmptyQuestion"},
		{"rtl override", "\u202eecnerefsnart\u202c", ""},
		{"only bidi controls", "\u202e\u202d\u2066\u2069\u200f", "EmptyQuestion"},
		{"markdown", "*bold* _it_ [link](http://evil.example) `code`", ""},
		{"html", "<b>hi</b><script>alert(1)</script>&amp;", ""},
		{"invalid utf-8", "\xff\xfe\xfd", "EmptyQuestion"},
		{"nul bytes", "a\x00b\x00", ""},
		{"zero width", "\u200b\u200d\ufeff", "EmptyQuestion"},
		{"unknown command", "/doesnotexist@LotseBot", "UnknownCommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, mustTestKB(t))
			u := h.user(42, "en")
			u.say("/start")
			got := u.say(tt.text)
			if len(got) == 0 {
				t.Fatal("no reply")
			}
			text := allText(got)
			if tt.want != "" && !strings.Contains(text, c.T("en", tt.want, nil)) {
				t.Errorf("reply lacks %s; got %q", tt.want, text)
			}
			// The user's text is never echoed back (no injection, no
			// reflection of personal data).
			if len(tt.text) > 6 && strings.Contains(text, tt.text) {
				t.Errorf("reply echoes the input")
			}
			h.checkRecorder(t, 0)
			if strings.Contains(h.log.String(), "evil") || strings.Contains(h.log.String(), "Wohnung") {
				t.Errorf("message text logged: %s", h.log.String())
			}
		})
	}
}

func TestCallbacksAlwaysAnswered(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	u := h.user(5, "de")
	datas := []string{"menu", "lang", "p", "l:en", "l:zz", "t:housing:0", "t:housing:99", "t::", "e:", "e:mitte",
		"d:mitte", "m:mitte", "m:wohnprojekt-01", "x", "", strings.Repeat("ü", 100), "e:AUSLAENDERBEHOERDE"}
	for _, d := range datas {
		u.press(d)
	}
	// A duplicate delivery of a button press is answered too (the first
	// answer may have been lost), but not replied to twice.
	in := u.incoming(bot.InCallback)
	in.CallbackID, in.CallbackData = "dup", "menu"
	u.send(in)
	if got := u.send(in); len(got) != 0 {
		t.Errorf("duplicate callback replied to: %q", allText(got))
	}
	// Callbacks in groups are answered without any message.
	g := u.incoming(bot.InCallback)
	g.ChatType, g.ChatID, g.CallbackID, g.CallbackData = bot.ChatGroup, -100, "grp", "menu"
	u.send(g)
	// Even if the store is down.
	h.store.failFirst.Store(true)
	h.store.failLoad.Store(true)
	u.press("menu")
	h.checkRecorder(t, len(datas)+2+1+1)
	for i, a := range h.rec.Answered() {
		if a.CallbackID == "" {
			t.Errorf("answer %d without id", i)
		}
	}
	if len(h.rec.To(-100)) != 0 {
		t.Error("message sent to a group for a callback")
	}
}

func TestEveryButtonFitsTelegram(t *testing.T) {
	// Walk the sample knowledge base: every topic page and every entry in
	// every shipped language; the recorder checks each message and button.
	kb := mustSampleKB(t)
	h := newHarness(t, kb)
	presses := 0
	for i, lang := range i18n.Languages {
		u := h.user(int64(100+i), lang)
		u.say("/start")
		for _, tp := range kb.Topics() {
			for page := 0; page <= len(kb.ByTopic(tp.ID))/8; page++ { // one page past the end
				u.press("t:" + tp.ID + ":" + strconv.Itoa(page))
				presses++
			}
		}
		for _, e := range kb.Entries() {
			for _, p := range []string{"e:", "d:", "m:"} {
				got := u.press(p + e.ID)
				presses++
				if len(got) == 0 {
					t.Errorf("%s %s%s: no reply", lang, p, e.ID)
				}
			}
		}
		u.press("p")
		presses++
	}
	h.checkRecorder(t, presses)
	for _, m := range h.rec.Sent() {
		for _, b := range bottest.Buttons(m) {
			if len(b.Data) > bottest.MaxCallbackData {
				t.Errorf("callback data %q has %d bytes", b.Data, len(b.Data))
			}
		}
	}
}

func TestDedupe(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	u := h.user(9, "en")
	in := u.incoming(bot.InText)
	in.Text = "immigration office"
	first := u.send(in)
	if len(first) == 0 {
		t.Fatal("no reply to the first delivery")
	}
	for range 3 {
		if again := u.send(in); len(again) != 0 {
			t.Fatalf("repeated update %d answered again: %q", in.UpdateID, allText(again))
		}
	}
}

func TestStoreFailures(t *testing.T) {
	c := mustCatalog(t)
	t.Run("session load fails: still answered, nothing overwritten", func(t *testing.T) {
		h := newHarness(t, mustTestKB(t))
		u := h.user(11, "ku") // unknown language
		u.say("/start")
		u.press("l:uk")
		h.store.failLoad.Store(true)
		got := u.say("immigration office")
		if !strings.Contains(allText(got), "Ausländerbehörde Teststadt") {
			t.Errorf("no knowledge answer while the store is down: %q", allText(got))
		}
		if strings.Contains(allText(got), c.T("de", "ChooseLanguage", nil)) {
			t.Error("asked for the language again because the store failed")
		}
		h.store.failLoad.Store(false)
		if s := u.mustSession(); s.Lang != "uk" || !s.LangChosen {
			t.Errorf("session overwritten during the outage: %+v", s)
		}
		logs := h.log.String()
		if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "unavailable") {
			t.Errorf("store failure not logged at warn: %s", logs)
		}
		if strings.Contains(logs, "connection refused") {
			t.Errorf("raw store error logged: %s", logs)
		}
	})
	t.Run("dedupe and save fail: answered, no error", func(t *testing.T) {
		h := newHarness(t, mustTestKB(t))
		h.store.failFirst.Store(true)
		h.store.failSave.Store(true)
		u := h.user(12, "de")
		got := u.say("Ausländerbehörde")
		if !strings.Contains(allText(got), "Ausländerbehörde Teststadt") {
			t.Errorf("reply = %q", allText(got))
		}
		for _, m := range got {
			if strings.Contains(m.Text, "refused") || strings.Contains(m.Text, "unavailable") {
				t.Errorf("raw error shown to the user: %q", m.Text)
			}
		}
	})
	t.Run("blocked user", func(t *testing.T) {
		h := newHarness(t, mustTestKB(t))
		h.rec.SendErr = fmt.Errorf("403: %w", bot.ErrBlocked)
		u := h.user(13, "de")
		in := u.incoming(bot.InText)
		in.Command = "start"
		if err := h.bot.Handle(context.Background(), in); err != nil {
			t.Errorf("Handle = %v for a blocked chat, want nil (nothing to retry)", err)
		}
		if _, err := u.session(); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("session saved for a chat that never got the notice: %v", err)
		}
	})
	t.Run("send fails", func(t *testing.T) {
		h := newHarness(t, mustTestKB(t))
		h.rec.SendErr = fmt.Errorf("telegram: %w", bot.ErrUnavailable)
		u := h.user(14, "de")
		in := u.incoming(bot.InText)
		in.Command = "start"
		if err := h.bot.Handle(context.Background(), in); !errors.Is(err, bot.ErrUnavailable) {
			t.Errorf("Handle = %v, want the send error", err)
		}
		// Telegram redelivers the update: it must be answered, not
		// dropped as a duplicate.
		h.rec.SendErr = nil
		if err := h.bot.Handle(context.Background(), in); err != nil {
			t.Fatalf("redelivery: %v", err)
		}
		if len(h.rec.Sent()) == 0 {
			t.Error("the redelivered update was dropped as a duplicate")
		}
	})
}

func TestStoreRoundTrips(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	u := h.user(21, "de")
	u.say("/start")
	for _, q := range []string{"Ausländerbehörde", "Wohngeld", "Fahrrad reparieren", "Ausländerbehörde"} {
		before := h.store.calls.Load()
		u.say(q)
		if n := h.store.calls.Load() - before; n > 3 {
			t.Errorf("%q: %d store round trips, want ≤ 3", q, n)
		}
	}
	// An unchanged session is not written again.
	u.press("menu")
	before := h.store.calls.Load()
	u.press("menu")
	if n := h.store.calls.Load() - before; n != 2 {
		t.Errorf("unchanged session: %d round trips, want 2 (dedupe + load)", n)
	}
}

func TestGroupsAndBots(t *testing.T) {
	c := mustCatalog(t)
	h := newHarness(t, mustTestKB(t))
	u := h.user(31, "de")
	group := func(kind bot.InKind, text, cmd string) bot.Incoming {
		in := u.incoming(kind)
		in.ChatID, in.ChatType, in.Text, in.Command = -500, bot.ChatSupergroup, text, cmd
		return in
	}
	u.send(group(bot.InText, "Wo ist die Ausländerbehörde?", ""))
	u.send(group(bot.InPhoto, "", ""))
	if n := len(h.rec.To(-500)); n != 0 {
		t.Fatalf("%d messages to a group for non-commands", n)
	}
	if err := h.bot.Handle(context.Background(), group(bot.InText, "/start@LotseBot", "start")); err != nil {
		t.Fatal(err)
	}
	got := h.rec.To(-500)
	if len(got) != 1 || got[0].Text != c.T("de", "GroupNote", nil) || len(got[0].Buttons) != 0 {
		t.Errorf("group command reply = %+v", got)
	}
	if n := h.store.calls.Load(); n != 1 {
		t.Errorf("group traffic: %d store calls, want 1 (dedupe of the command)", n)
	}
	b := u.incoming(bot.InText)
	b.IsBot, b.Text = true, "Ausländerbehörde"
	if got := u.send(b); len(got) != 0 {
		t.Error("replied to a bot")
	}
	ch := u.incoming(bot.InText)
	ch.ChatType, ch.Text = bot.ChatChannel, "Ausländerbehörde"
	if got := u.send(ch); len(got) != 0 {
		t.Error("replied in a channel")
	}
}

func TestLogsHoldNoPersonalData(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	const uid = 987654321
	u := h.user(uid, "ar")
	u.say("/start")
	u.say("Mein Name ist Fatima, ich suche die Ausländerbehörde")
	u.say("Ausländerbehörde")
	u.press("e:no-such")
	u.press("p")
	logs := bottest.WithoutTimes(h.log.String())
	for _, secretish := range []string{strconv.Itoa(uid), "Fatima", "Test", string(h.bot.UserKey(uid))} {
		if strings.Contains(logs, secretish) {
			t.Errorf("log contains %q:\n%s", secretish, logs)
		}
	}
	for _, want := range []string{`"kind":"text"`, `"outcome":"answer"`, `"latency_ms"`, `"outcome":"stale_callback"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestUserKey(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	k1, k2 := h.bot.UserKey(1), h.bot.UserKey(2)
	if k1 == k2 || k1 != h.bot.UserKey(1) {
		t.Errorf("keys not distinct and stable: %s %s", k1, k2)
	}
	if len(k1) != 32 || strings.Trim(string(k1), "0123456789abcdef") != "" {
		t.Errorf("key %q: want 32 hex characters", k1)
	}
	other, err := bot.New(bot.Config{KB: knowledge.NewLive(h.kb), Store: h.store, Sender: h.rec, Catalog: h.cat,
		UserKeySecret: []byte("another-secret-of-16+bytes")})
	if err != nil {
		t.Fatal(err)
	}
	if other.UserKey(1) == k1 {
		t.Error("key does not depend on the secret")
	}
}

func TestNewValidates(t *testing.T) {
	kb := mustTestKB(t)
	ok := bot.Config{KB: knowledge.NewLive(kb), Store: &countingStore{}, Sender: bottest.NewRecorder(),
		Catalog: mustCatalog(t), UserKeySecret: secret}
	tests := []struct {
		name string
		edit func(*bot.Config)
	}{
		{"no kb", func(c *bot.Config) { c.KB = nil }},
		{"no store", func(c *bot.Config) { c.Store = nil }},
		{"no sender", func(c *bot.Config) { c.Sender = nil }},
		{"no catalog", func(c *bot.Config) { c.Catalog = nil }},
		{"short secret", func(c *bot.Config) { c.UserKeySecret = []byte("short") }},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := bot.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	if _, err := bot.New(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestCommands(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	for _, lang := range i18n.Languages {
		cmds := h.bot.Commands(lang)
		if len(cmds) < 5 {
			t.Fatalf("%s: %d commands", lang, len(cmds))
		}
		for _, c := range cmds {
			if c.Name == "" || len(c.Name) > 32 || strings.Trim(c.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
				t.Errorf("%s: bad command name %q", lang, c.Name)
			}
			if n := utf8.RuneCountInString(c.Description); n == 0 || n > 256 || strings.HasPrefix(c.Description, "Command") {
				t.Errorf("%s /%s: bad description %q", lang, c.Name, c.Description)
			}
		}
	}
	if de := h.bot.Commands("de"); de[0].Description != h.cat.T("de", "CommandStart", nil) {
		t.Errorf("German description = %q", de[0].Description)
	}
}

// TestConcurrentUsers runs many users in parallel (run with -race): every
// user gets their own answers, in their own language.
func TestConcurrentUsers(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	langs := []string{"de", "en", "ar", "uk", "fa", "tr", "ru", "fr"}
	const users = 64
	var wg sync.WaitGroup
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := h.user(int64(10_000+i), langs[i%len(langs)])
			u.say("/start")
			u.say("Ausländerbehörde")
			u.press("t:housing:0")
			u.press("e:sprachcafe")
			u.press("l:" + langs[(i+1)%len(langs)])
		}()
	}
	wg.Wait()
	h.checkRecorder(t, users*3)
	for i := range users {
		u := h.user(int64(10_000+i), "")
		if s := u.mustSession(); s.Lang != langs[(i+1)%len(langs)] || !s.NoticeShown {
			t.Errorf("user %d: session %+v", i, s)
		}
		if n := len(h.rec.To(u.id)); n < 5 {
			t.Errorf("user %d got %d messages", i, n)
		}
	}
}

func TestMoreResults(t *testing.T) {
	kb := mustSampleKB(t)
	c := mustCatalog(t)
	var query string
	var want []string
	for _, q := range []string{"Deutschkurs", "Wohnung", "Integration", "Quartiermanager", "Kita", "Arbeit", "Beratung", "Schule"} {
		var ids []string
		for _, r := range kb.Search(q, "de", 4) {
			if r.Confident() {
				ids = append(ids, r.Entry.ID)
			}
		}
		if len(ids) >= 2 {
			query, want = q, ids
			break
		}
	}
	if query == "" {
		t.Skip("no sample question has two confident results")
	}
	h := newHarness(t, kb)
	u := h.user(77, "de")
	u.say("/start")
	got := u.say(query)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	if e, _ := kb.Entry(want[0]); !strings.HasPrefix(got[0].Text, e.Title["de"]) && !strings.HasPrefix(got[0].Text, e.NameDE) {
		t.Errorf("card does not start with the best result %s: %q", want[0], got[0].Text)
	}
	for _, id := range want[1:] {
		if !hasData(got, "e:"+id) {
			t.Errorf("no more-button for %s; have %v", id, allData(got))
		}
	}
	if !strings.Contains(got[0].Text, c.Plural("de", "MoreResults", len(want)-1, nil)) {
		t.Errorf("card lacks the more-results line: %q", got[0].Text)
	}
	if hasData(got, "e:"+want[0]) {
		t.Error("best result offered again as a more-button")
	}
}

// beginningStore adds the optional one-round-trip Begin to countingStore.
// It stands for a store that offers Begin but not the two-phase claim.
type beginningStore struct {
	*countingStore
	BeginClaim struct{} // hides countingStore's bot.UpdateClaimer
}

func (s beginningStore) Begin(ctx context.Context, id int64, ttl time.Duration, u bot.UserKey) (bool, bot.Session, error) {
	s.calls.Add(1)
	if s.failFirst.Load() {
		return false, bot.Session{}, errDown
	}
	first, err := s.Store.FirstSeen(ctx, id, ttl)
	if err != nil || !first {
		return first, bot.Session{}, err
	}
	sess, err := s.Store.Session(ctx, u)
	if errors.Is(err, bot.ErrNotFound) {
		return true, bot.Session{}, nil
	}
	return true, sess, err
}

func TestStoreRoundTripsWithBegin(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	b, err := bot.New(bot.Config{KB: knowledge.NewLive(h.kb), Store: beginningStore{countingStore: h.store}, Sender: h.rec,
		Catalog: h.cat, Now: func() time.Time { return testNow }, UserKeySecret: []byte("0123456789abcdef"),
		Flood: bot.FloodLimit{Off: true}, Logger: newTestLogger(h.log)})
	if err != nil {
		t.Fatal(err)
	}
	h.bot = b
	u := h.user(22, "de")
	u.say("/start")
	for _, q := range []string{"Ausländerbehörde", "Wohngeld", "Ausländerbehörde"} {
		before := h.store.calls.Load()
		u.say(q)
		if n := h.store.calls.Load() - before; n > 2 {
			t.Errorf("%q: %d store round trips, want ≤ 2 with Begin", q, n)
		}
	}
	u.press("menu")
	before := h.store.calls.Load()
	u.press("menu")
	if n := h.store.calls.Load() - before; n != 1 {
		t.Errorf("unchanged session: %d round trips, want 1 (begin)", n)
	}
	// A duplicate delivery is dropped by Begin alone.
	in := u.incoming(bot.InText)
	in.Text = "Wohngeld"
	if err := h.bot.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	sent := len(h.rec.Sent())
	if err := h.bot.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(h.rec.Sent()) != sent {
		t.Error("a repeated update id was answered twice")
	}
	// Begin failing: the user still gets an answer.
	h.store.failFirst.Store(true)
	sent = len(h.rec.Sent())
	u.say("Ausländerbehörde")
	if len(h.rec.Sent()) == sent {
		t.Error("no answer while the store is down")
	}
}
