package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// newFloodHarness is the usual harness with the inbound limit on and a
// clock the test moves.
func newFloodHarness(t *testing.T, kb *knowledge.KB, staff *bot.StaffDirectory) (*harness, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: testNow}
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	mem := memstore.New(clk.Now)
	h.store = &countingStore{Store: mem}
	cfg := bot.Config{KB: knowledge.NewLive(kb), Store: h.store, Sender: h.rec, Catalog: h.cat,
		Now: clk.Now, UserKeySecret: secret, Logger: newTestLogger(h.log)}
	if staff != nil {
		cfg.Staff, cfg.Tickets = staff, &ticketStore{Store: mem}
	}
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	h.bot = b
	return h, clk
}

func countText(msgs []bot.Outgoing, s string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Text, s) {
			n++
		}
	}
	return n
}

// TestFlood: one user sending 100 messages at once gets the answers to
// the first five and one notice; nothing of the rest reaches the store;
// others are unaffected; after a pause the user is answered again.
func TestFlood(t *testing.T) {
	h, clk := newFloodHarness(t, mustTestKB(t), nil)
	notice := h.cat.T("de", "FloodNotice", nil)
	calm, flooder := h.user(501, "de"), h.user(500, "de")
	// The first contact adds the privacy notice; greet both first.
	calm.say("/start")
	flooder.say("/start")
	clk.Advance(time.Duration(bot.DefaultFloodLimit.Burst) * bot.DefaultFloodLimit.Every)
	per := len(calm.say("Wohngeld")) // messages of one answer
	if per == 0 {
		t.Fatal("no answer to the reference question")
	}

	before := h.store.calls.Load()
	var got []bot.Outgoing
	for range 100 {
		got = append(got, flooder.say("Wohngeld")...)
	}
	burst := bot.DefaultFloodLimit.Burst
	if n := countText(got, notice); n != 1 {
		t.Errorf("%d flood notices, want 1", n)
	}
	if len(got) != burst*per+1 {
		t.Errorf("%d messages for 100 updates, want %d answers of %d messages and one notice", len(got), burst, per)
	}
	if got[len(got)-1].Text != notice {
		t.Errorf("the notice is not the last message: %q", got[len(got)-1].Text)
	}
	if n := h.store.calls.Load() - before; n > int64(2*burst) {
		t.Errorf("%d store round trips for 100 updates, want at most %d (dropped updates cost none)", n, 2*burst)
	}
	if strings.Contains(h.log.String(), "Wohngeld") {
		t.Error("message text logged")
	}

	// Others keep being answered in full.
	for range 3 {
		if n := len(calm.say("Wohngeld")); n != per {
			t.Errorf("other user got %d messages, want %d", n, per)
		}
	}

	// Button presses while limited are acknowledged, without messages.
	answeredBefore := len(h.rec.Answered())
	for range 3 {
		if n := len(flooder.press("menu")); n != 0 {
			t.Errorf("limited button press got %d messages", n)
		}
	}
	if n := len(h.rec.Answered()) - answeredBefore; n != 3 {
		t.Errorf("%d of 3 limited button presses answered", n)
	}

	// One update per refill; no second notice while still flooding.
	clk.Advance(bot.DefaultFloodLimit.Every)
	if n := len(flooder.say("Wohngeld")); n != per {
		t.Errorf("after one refill: %d messages, want %d", n, per)
	}
	if n := len(flooder.say("Wohngeld")); n != 0 {
		t.Errorf("limited again: %d messages, want none (the notice was given)", n)
	}
	// A full bucket ends the limited period: the next one gets a notice.
	clk.Advance(time.Duration(burst) * bot.DefaultFloodLimit.Every)
	got = nil
	for range burst + 3 {
		got = append(got, flooder.say("Wohngeld")...)
	}
	if n := countText(got, notice); n != 1 || len(got) != burst*per+1 {
		t.Errorf("second period: %d messages, %d notices; want %d and 1", len(got), n, burst*per+1)
	}
	for _, p := range h.rec.Problems() {
		t.Error(p)
	}
}

// TestFloodNoticeLanguage: the notice follows the Telegram client's
// language (no session is loaded for a dropped update).
func TestFloodNoticeLanguage(t *testing.T) {
	h, _ := newFloodHarness(t, mustTestKB(t), nil)
	u := h.user(600, "ar")
	var got []bot.Outgoing
	for range 10 {
		got = append(got, u.say("?")...)
	}
	want := h.cat.T("ar", "FloodNotice", nil)
	if countText(got, want) != 1 {
		t.Fatalf("no Arabic notice among %q", allText(got))
	}
	for _, m := range got {
		if m.Text == want && !m.RTL {
			t.Error("Arabic notice not marked right-to-left")
		}
	}
}

// TestFloodStaffExempt: staff send bursts (claims, replies, commands) as
// part of their work and are never limited.
func TestFloodStaffExempt(t *testing.T) {
	kb := mustSampleKB(t)
	staff, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newFloodHarness(t, kb, staff)
	notice := h.cat.T("de", "FloodNotice", nil)
	member := h.user(9101, "de") // a staff member in the demo directory
	var got []bot.Outgoing
	for range 20 {
		got = append(got, member.say("/start")...)
	}
	if countText(got, notice) != 0 {
		t.Error("staff member was flood-limited")
	}
	if len(got) < 20 {
		t.Errorf("staff member got %d messages for 20 commands", len(got))
	}
	// The same burst from anyone else is limited.
	other := h.user(4242, "de")
	got = nil
	for range 20 {
		got = append(got, other.say("/start")...)
	}
	if countText(got, notice) != 1 {
		t.Error("non-staff burst not limited")
	}
}
