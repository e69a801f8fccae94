package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// Scripted conversations for events, reminders, calendars, nearby places,
// volunteers, privacy and reports, against the sample city, memstore and
// the demo staff (coordinator Sabine, 9001).

const coordinator = 9001

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fullHarness is a bot with every side store wired.
type fullHarness struct {
	*harness
	mem   *memstore.Store
	subs  *memstore.Reminders
	mon   *memstore.Monitor
	clock *clock
}

func newFullHarness(t *testing.T, now time.Time) *fullHarness {
	t.Helper()
	kb := mustSampleKB(t)
	c := &clock{t: now}
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	mem := memstore.New(c.now)
	h.store = &countingStore{Store: mem}
	staff, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	subs, mon := memstore.NewReminders(c.now), memstore.NewMonitor(c.now)
	live := knowledge.NewLive(kb)
	b, err := bot.New(bot.Config{
		KB: live, Store: h.store, Sender: h.rec, Catalog: h.cat,
		Now: c.now, UserKeySecret: secret, Logger: newTestLogger(h.log), Staff: staff, Tickets: mem,
		Reminders: remind.BotReminders{Subs: subs, KB: live.Current, Queue: subs, Audience: subs},
		WhatsOn:   remind.BotWhatsOn, Monitor: mon, ReportThreshold: 1,
		CalendarURL: "https://lotse.example.org/calendar/", Flood: bot.FloodLimit{Off: true},
	})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	h.bot = b
	return &fullHarness{harness: h, mem: mem, subs: subs, mon: mon, clock: c}
}

// T is the catalog text, for expectations.
func (h *fullHarness) T(lang, id string) string { return h.cat.T(lang, id, nil) }

func mustContain(t *testing.T, msgs []bot.Outgoing, want ...string) {
	t.Helper()
	got := allText(msgs)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("reply lacks %q; got:\n%s", w, got)
		}
	}
}

func documents(msgs []bot.Outgoing) []*bot.Document {
	var out []*bot.Document
	for _, m := range msgs {
		if m.Document != nil {
			out = append(out, m.Document)
		}
	}
	return out
}

func TestWhatsOnRemindCalendarUnsubscribe(t *testing.T) {
	h := newFullHarness(t, testNow) // Tuesday 24.11.2026 10:00
	u := h.user(700, "de")
	u.say("/start")
	out := u.say("/events")
	// The women's breakfast is every Friday; the 27th is within 7 days.
	mustContain(t, out, h.T("de", "EventsHeader"), "27.11., 09:30–11:30", h.T("de", "EventsHint"))
	if !hasData(out, "e:internationales-frauenfruehstueck") {
		t.Fatalf("no button to the event; have %v", allData(out))
	}
	card := u.press("e:internationales-frauenfruehstueck")
	for _, d := range []string{"r:internationales-frauenfruehstueck", "c:internationales-frauenfruehstueck", "m:internationales-frauenfruehstueck"} {
		if !hasData(card, d) {
			t.Errorf("event card lacks button %s; have %v", d, allData(card))
		}
	}
	out = u.press("r:internationales-frauenfruehstueck")
	mustContain(t, out, "Internationales Frauenfrühstück", "einen Tag und eine Stunde")
	subs, err := h.subs.SubscriptionsOf(context.Background(), h.bot.UserKey(700))
	if err != nil || len(subs) != 1 || subs[0].Lang != "de" || subs[0].ChatID != 700 {
		t.Fatalf("subscriptions = %+v, %v", subs, err)
	}
	if !hasData(out, "u:"+subs[0].ID) {
		t.Errorf("confirmation lacks the unsubscribe button; have %v", allData(out))
	}

	out = u.press("c:internationales-frauenfruehstueck")
	docs := documents(out)
	if len(docs) != 1 || !strings.HasSuffix(docs[0].Name, ".ics") {
		t.Fatalf("calendar: want one .ics document, got %+v", out)
	}
	ics := string(docs[0].Content)
	for _, w := range []string{"BEGIN:VCALENDAR", "TZID=Europe/Berlin", "RRULE:FREQ=WEEKLY", "EXDATE"} {
		if !strings.Contains(ics, w) {
			t.Errorf(".ics lacks %q", w)
		}
	}

	out = u.say("/subscriptions")
	mustContain(t, out, h.T("de", "SubscriptionsHeader"))
	out = u.press("u:" + subs[0].ID)
	mustContain(t, out, h.T("de", "Unsubscribed"), h.T("de", "SubscriptionsNone"))
	// Pressing the old button again is calm, not an error.
	out = u.press("u:" + subs[0].ID)
	mustContain(t, out, h.T("de", "Unsubscribed"))
	out = u.press("u:NOT-HEX")
	mustContain(t, out, h.T("de", "ButtonOutdated"))
	h.checkRecorder(t, -1)
}

func TestWhatsOnShowsCancelledAndAudience(t *testing.T) {
	// Monday 21.12.2026: the Friday breakfast on the 25th is cancelled;
	// the volunteers' round table was on the 14th, the next is 11.01.
	h := newFullHarness(t, time.Date(2027, 1, 5, 9, 0, 0, 0, testNow.Location()))
	u := h.user(701, "en")
	u.say("/start")
	out := u.say("/events")
	if strings.Contains(allText(out), "Volunteers' round table") {
		t.Errorf("refugee sees the volunteers' event:\n%s", allText(out))
	}
	u.say("/volunteer")
	out = u.press("v:y")
	mustContain(t, out, h.T("en", "VolunteerOn"), h.T("en", "VolunteerContacts"))
	if s := u.mustSession(); s.Role != bot.RoleVolunteer {
		t.Fatalf("role = %q", s.Role)
	}
	out = u.say("/events")
	mustContain(t, out, "Volunteers' round table")

	h.clock.set(time.Date(2026, 12, 21, 9, 0, 0, 0, testNow.Location()))
	out = u.say("/events")
	mustContain(t, out, "❌", "25.12.")
	out = u.press("v:n")
	mustContain(t, out, h.T("en", "VolunteerOff"))
}

func TestVolunteerInvitation(t *testing.T) {
	h := newFullHarness(t, testNow)
	link := h.bot.VolunteerInvite("nord")
	if len(link) > 64 {
		t.Fatalf("start payload %q longer than Telegram's 64", link)
	}
	u := h.user(702, "uk")
	out := u.say("/start " + link)
	mustContain(t, out, h.T("uk", "VolunteerWelcome"), "https://lotse.example.org/calendar/nord.ics")
	if s := u.mustSession(); s.Role != bot.RoleVolunteer || s.District != "nord" {
		t.Fatalf("session after invitation = %+v", s)
	}
	if !hasData(out, "e:qm-nord") {
		t.Errorf("Quartiermanager Nord not offered; have %v", allData(out))
	}
	for _, forged := range []string{"v-nord-0000000000000000", "v-mitte-" + link[len("v-nord-"):], "v-nowhere-abc", "v-"} {
		v := h.user(703, "fr")
		out := v.say("/start " + forged)
		mustContain(t, out, h.T("fr", "InviteInvalid"))
		if s, err := v.session(); err == nil && s.Role != "" {
			t.Errorf("forged %q gave role %q", forged, s.Role)
		}
	}
	// Only coordinators make invitations.
	out = h.user(704, "de").say("/invite nord")
	mustContain(t, out, h.T("de", "CoordinatorsOnly"))
	out = h.user(coordinator, "de").say("/invite nord")
	mustContain(t, out, link)
}

func TestNearby(t *testing.T) {
	h := newFullHarness(t, testNow)
	u := h.user(705, "ar")
	u.say("/start")
	out := u.say("/near")
	mustContain(t, out, h.T("ar", "NearPrompt"))
	in := u.incoming(bot.InLocation)
	in.Location = &bot.Location{Lat: 51.5702, Lon: 6.7498} // Mitte
	out = u.send(in)
	mustContain(t, out, h.T("ar", "NearbyHeader"), "دقيقة")
	var venue string
	for _, d := range allData(out) {
		if strings.HasPrefix(d, "m:") {
			venue = d
			break
		}
	}
	if venue == "" {
		t.Fatalf("no place offered; have %v", allData(out))
	}
	out = u.press(venue)
	if len(out) != 1 || out[0].Venue == nil {
		t.Fatalf("choosing a place: want a venue, got %+v", out)
	}
	if s := u.mustSession(); s.District != "" {
		t.Errorf("location stored as district %q", s.District)
	}
}

func TestReminderDeliveredInSubscribersLanguage(t *testing.T) {
	h := newFullHarness(t, testNow)
	u := h.user(706, "fa")
	u.say("/start")
	u.press("r:internationales-frauenfruehstueck")
	sch, err := remind.New(remind.Config{
		Subs: h.subs, Queue: h.subs, KB: func() *knowledge.KB { return h.kb },
		Deliver: remind.BotDeliverer(h.bot), Now: h.clock.now, Log: newTestLogger(h.log),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Thursday 26.11. 10:00: the 24-hour reminder for Friday 09:30 is due.
	h.clock.set(time.Date(2026, 11, 26, 10, 0, 0, 0, testNow.Location()))
	if _, err := sch.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(h.rec.To(706))
	if _, err := sch.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	got := h.rec.To(706)[before:]
	if len(got) != 1 {
		t.Fatalf("want one reminder, got %d", len(got))
	}
	if !strings.HasPrefix(got[0].Text, "⏰ یادآوری") || !got[0].RTL {
		t.Errorf("reminder not in Farsi: %q", got[0].Text)
	}
	subs, _ := h.subs.SubscriptionsOf(ctx, h.bot.UserKey(706))
	if len(subs) != 1 || !hasData(got, "u:"+subs[0].ID) {
		t.Errorf("reminder lacks unsubscribe button: %v", allData(got))
	}
	// Dispatching again sends nothing twice.
	if _, err := sch.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.To(706)) - before; n != 1 {
		t.Errorf("%d reminders after a second dispatch", n)
	}
	f, err := h.mon.Figures(ctx, h.clock.now().AddDate(0, 0, -1), h.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, d := range f.Days {
		n += d.Reminders
	}
	if n != 1 {
		t.Errorf("reminders counted = %d, want 1", n)
	}
}

func TestPrivacyMyDataForget(t *testing.T) {
	h := newFullHarness(t, testNow)
	ctx := context.Background()
	u := h.user(requesterID, "ru")
	u.say("/start")
	out := u.say("/privacy")
	mustContain(t, out, "90", "/mydata", "/forget")
	u.press("r:internationales-frauenfruehstueck")
	// A request to a person, routed to qm-nord (district chosen).
	u.say("/person")
	u.press("kd:nord")
	u.press("kr:y")
	u.press("kt:housing")
	u.say("Мне нужна помощь с квартирой, Samira")
	out = u.press("ksn")
	mustContain(t, out, "K-")
	open, err := h.mem.OpenTicketsOf(ctx, h.bot.UserKey(requesterID))
	if err != nil || len(open) != 1 {
		t.Fatalf("open tickets = %v, %v", open, err)
	}

	out = u.say("/mydata")
	docs := documents(out)
	if len(docs) != 1 {
		t.Fatalf("/mydata: want one document, got %+v", out)
	}
	var export map[string]any
	if err := json.Unmarshal(docs[0].Content, &export); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	raw := string(docs[0].Content)
	for _, w := range []string{`"language": "ru"`, `"district": "nord"`, "internationales-frauenfruehstueck", open[0].Ref, "квартирой"} {
		if !strings.Contains(raw, w) {
			t.Errorf("export lacks %q:\n%s", w, raw)
		}
	}

	deskChat := open[0].AssigneeChat
	deskBefore := len(h.rec.To(deskChat))
	out = u.say("/forget")
	mustContain(t, out, h.T("ru", "Forgotten"))
	desk := h.rec.To(deskChat)[deskBefore:]
	mustContain(t, desk, "Anfrage "+open[0].Ref+" wurde zurückgezogen")
	tk, err := h.mem.Ticket(ctx, open[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	if tk.State != bot.TicketCancelled || tk.Text != "" || tk.RequesterName != "" || tk.Requester != "" || tk.RequesterChat != 0 {
		t.Errorf("ticket after /forget = %+v", tk)
	}
	if subs, _ := h.subs.SubscriptionsOf(ctx, h.bot.UserKey(requesterID)); len(subs) != 0 {
		t.Errorf("subscriptions after /forget: %v", subs)
	}
	if _, err := u.session(); err == nil {
		t.Error("session kept after /forget")
	}
	out = u.say("/forget")
	mustContain(t, out, h.T("ru", "ForgetNothing"))
	// No message text or name in the logs.
	for _, secretText := range []string{"квартирой", "Samira", requesterName} {
		if strings.Contains(h.log.String(), secretText) {
			t.Errorf("log contains %q", secretText)
		}
	}
}

func TestMonitoringAndReport(t *testing.T) {
	h := newFullHarness(t, testNow)
	ctx := context.Background()
	u := h.user(707, "tr")
	u.say("/start")
	u.say("Almanca kursu")                           // answered
	u.say("zxqv blorf wibble 0176 12345678 grobnik") // not known
	f, err := h.mon.Figures(ctx, testNow, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var answered, unanswered int64
	for _, d := range f.Days {
		for k, n := range d.Questions {
			if k.Lang != "tr" {
				t.Errorf("question counted in %q", k.Lang)
			}
			if k.Answered {
				answered += n
			} else {
				unanswered += n
			}
		}
	}
	if answered != 1 || unanswered != 1 {
		t.Errorf("answered %d, unanswered %d; want 1 and 1", answered, unanswered)
	}
	qs, err := h.mon.UnansweredTexts(ctx, testNow, testNow)
	if err != nil || len(qs) != 1 || !strings.Contains(qs[0].Text, "blorf") || strings.Contains(qs[0].Text, "12345678") {
		t.Errorf("unanswered texts = %+v, %v", qs, err)
	}

	out := u.say("/report")
	mustContain(t, out, h.T("tr", "CoordinatorsOnly"))
	c := h.user(coordinator, "de")
	out = c.say("/report")
	mustContain(t, out, h.T("de", "ReportChoosePeriod"))
	out = c.press("rep:2026-11:")
	if !hasData(out, "rep:2026-11:nord") || !hasData(out, "rep:2026-11:all") {
		t.Fatalf("district buttons missing: %v", allData(out))
	}
	out = c.press("rep:2026-11:all")
	docs := documents(out)
	if len(docs) != 2 || !strings.HasSuffix(docs[0].Name, ".png") || !strings.HasSuffix(docs[1].Name, ".csv") {
		t.Fatalf("report documents = %+v", docs)
	}
	if string(docs[0].Content[:4]) != "\x89PNG" {
		t.Error("chart is not a PNG")
	}
	mustContain(t, out, "Fragen ohne Antwort", "blorf")
	out = c.say("/report 2026-11 nord")
	if len(documents(out)) != 2 {
		t.Errorf("/report 2026-11 nord: %d documents", len(documents(out)))
	}
	for _, tt := range []struct{ args, want string }{
		{"2026-11-30..2026-11-01", h.T("de", "ReportBadPeriod")[:20]},
		{"2020-01-01..2026-11-01", h.T("de", "ReportBadPeriod")[:20]},
		{"2026-11 atlantis", "atlantis"},
	} {
		out := c.say("/report " + tt.args)
		mustContain(t, out, tt.want)
		if len(documents(out)) != 0 {
			t.Errorf("/report %s sent documents", tt.args)
		}
	}
	h.checkRecorder(t, -1)
}

// TestNewMessagesEveryLanguage renders the new flows in every language:
// no message id leaks through as text.
func TestNewMessagesEveryLanguage(t *testing.T) {
	h := newFullHarness(t, testNow)
	for i, lang := range i18n.Languages {
		u := h.user(int64(800+i), lang)
		var all []bot.Outgoing
		all = append(all, u.say("/start")...)
		all = append(all, u.say("/events")...)
		all = append(all, u.press("e:internationales-frauenfruehstueck")...)
		all = append(all, u.press("r:internationales-frauenfruehstueck")...)
		all = append(all, u.say("/subscriptions")...)
		all = append(all, u.say("/volunteer")...)
		all = append(all, u.say("/privacy")...)
		all = append(all, u.say("/help")...)
		all = append(all, u.say("/mydata")...)
		all = append(all, u.say("/forget")...)
		text := allText(all)
		for _, id := range []string{"EventsHeader", "ButtonRemind", "RemindSubscribed", "SubscriptionsHeader", "VolunteerPrompt", "HelpMore", "MyDataSummary", "Forgotten"} {
			if strings.Contains(text, id) {
				t.Errorf("%s: message id %s shown as text", lang, id)
			}
		}
		for _, m := range all {
			for _, b := range bottest.Buttons(m) {
				if strings.HasPrefix(b.Text, "Button") {
					t.Errorf("%s: button label %q", lang, b.Text)
				}
			}
		}
	}
	h.checkRecorder(t, -1)
	_ = monitor.DefaultThreshold
}
