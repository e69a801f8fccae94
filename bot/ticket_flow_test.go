package bot_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// Demo staff (bot/staffconfig/demo.yaml): qm-nord is served by Anna
// (1101) and Malik (1102) in group -1001101; its deputy qm-hafen by Jan
// (1501) in group -1001501; the coordination office (escalation target)
// by Sabine (9001, coordinator) in group -1009001; qm-sued by Ivana
// (1201) in her private chat.
const (
	anna, malik, jan, ivana = 1101, 1102, 1501, 1201
	nordChat, hafenChat     = -1001101, -1001501
	coordChat               = -1009001
	requesterID             = 50123
	requesterName           = "Samira"
)

// ticketStore lets a test make ticket creation fail.
type ticketStore struct {
	*memstore.Store
	failCreate bool
	mu         sync.Mutex
}

func (s *ticketStore) CreateTicket(ctx context.Context, t bot.Ticket) (bot.Ticket, error) {
	s.mu.Lock()
	fail := s.failCreate
	s.mu.Unlock()
	if fail {
		return bot.Ticket{}, fmt.Errorf("redis: i/o timeout: %w", bot.ErrUnavailable)
	}
	return s.Store.CreateTicket(ctx, t)
}

func (s *ticketStore) setFail(v bool) {
	s.mu.Lock()
	s.failCreate = v
	s.mu.Unlock()
}

type staffHarness struct {
	*harness
	tickets *ticketStore
}

func newStaffHarness(t *testing.T) *staffHarness {
	t.Helper()
	kb := mustSampleKB(t)
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	mem := memstore.New(func() time.Time { return testNow })
	h.store = &countingStore{Store: mem}
	staff, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	ts := &ticketStore{Store: mem}
	b, err := bot.New(bot.Config{
		KB: knowledge.NewLive(kb), Store: h.store, Sender: h.rec, Catalog: h.cat,
		Now: func() time.Time { return testNow }, UserKeySecret: secret,
		Logger: newTestLogger(h.log), Staff: staff, Tickets: ts,
		Flood: bot.FloodLimit{Off: true},
	})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	h.bot = b
	return &staffHarness{harness: h, tickets: ts}
}

// requester is a user whose first name is requesterName.
func (h *staffHarness) requester(id int64, lang string) *user { return h.user(id, lang) }

// staffIn sends in as staff member uid in chat (a group if negative).
func (h *staffHarness) staffIn(uid, chat int64, in bot.Incoming) []bot.Outgoing {
	h.t.Helper()
	in.UpdateID = h.updateID()
	in.ChatID, in.UserID, in.LanguageCode, in.FirstName, in.Time = chat, uid, "de", "Staff", testNow
	in.ChatType = bot.ChatPrivate
	if chat < 0 {
		in.ChatType = bot.ChatSupergroup
	}
	before := len(h.rec.Sent())
	if err := h.bot.Handle(context.Background(), in); err != nil {
		h.t.Errorf("Handle: %v", err)
	}
	return h.rec.Sent()[before:]
}

func (h *staffHarness) staffPress(uid, chat int64, data string) ([]bot.Outgoing, string) {
	h.t.Helper()
	id := fmt.Sprintf("scb-%d", h.updateID())
	out := h.staffIn(uid, chat, bot.Incoming{Kind: bot.InCallback, CallbackID: id, CallbackData: data})
	for _, a := range h.rec.Answered() {
		if a.CallbackID == id {
			return out, a.Notice
		}
	}
	h.t.Errorf("callback %s not answered", data)
	return out, ""
}

func (h *staffHarness) staffSay(uid, chat int64, text string, replyTo int) []bot.Outgoing {
	in := bot.Incoming{Kind: bot.InText, Text: text, ReplyTo: replyTo}
	if c, ok := strings.CutPrefix(text, "/"); ok {
		in.Command, in.Args, _ = strings.Cut(c, " ")
	}
	return h.staffIn(uid, chat, in)
}

// lastMessageID is the Recorder's id of the last message to chat
// containing substr (the Recorder numbers all messages from 1).
func (h *staffHarness) lastMessageID(chat int64, substr string) int {
	h.t.Helper()
	sent := h.rec.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].ChatID == chat && strings.Contains(sent[i].Text, substr) {
			return i + 1
		}
	}
	h.t.Fatalf("no message to %d containing %q", chat, substr)
	return 0
}

func (h *staffHarness) mustTicket(ref string) bot.Ticket {
	h.t.Helper()
	tk, err := h.tickets.Ticket(context.Background(), ref)
	if err != nil {
		h.t.Fatalf("ticket %s: %v", ref, err)
	}
	return tk
}

var refRe = regexp.MustCompile(`K-[0-9A-Z]{4,8}`)

// mustRequest runs the requester's flow for district/topic and text and
// returns the reference shown to the user.
func (h *staffHarness) mustRequest(u *user, district, topic, text, send string) string {
	h.t.Helper()
	u.say("/person")
	out := u.press("kd:" + district)
	if hasData(out, "kr:y") {
		u.press("kr:n")
	}
	u.press("kt:" + topic)
	u.say(text)
	out = u.press(send)
	m := refRe.FindString(allText(out))
	if m == "" {
		h.t.Fatalf("no reference in %q", allText(out))
	}
	return m
}

func TestTicketFullPath(t *testing.T) {
	h := newStaffHarness(t)
	u := h.requester(requesterID, "en")
	T := func(id string, d map[string]any) string { return h.cat.T("en", id, d) }

	// Ask a person: districts as buttons.
	out := u.say("/person")
	if !hasData(out, "kd:nord") || !hasData(out, "kd:-") || !strings.Contains(allText(out), T("RequestDistrictPrompt", nil)) {
		t.Fatalf("district prompt: %q %v", allText(out), allData(out))
	}
	// A typo'd district name is confirmed with buttons; the postcode is certain.
	out = u.say("Nrdstat")
	if !hasData(out, "kd:nord") {
		t.Errorf("no confirm button for a typo: %q %v", allText(out), allData(out))
	}
	out = u.say("47101")
	if !strings.Contains(allText(out), T("RequestRememberDistrict", map[string]any{"District": "North"})[:20]) || !hasData(out, "kr:y") {
		t.Fatalf("remember question: %q %v", allText(out), allData(out))
	}
	u.press("kr:y")
	if s := u.mustSession(); s.District != "nord" {
		t.Errorf("district not remembered: %q", s.District)
	}
	out = u.say("my letter")
	if !strings.Contains(allText(out), T("RequestConfirm", nil)[:20]) {
		// Typing instead of choosing a topic takes the text.
		t.Errorf("typed text at the topic step: %q", allText(out))
	}
	// A photo is added by file id; the confirmation counts it.
	ph := u.incoming(bot.InPhoto)
	ph.FileID = "AgACAgIAAxkBAAIBZ2photo"
	out = u.send(ph)
	if !strings.Contains(allText(out), "Files: 1") {
		t.Errorf("photo not counted: %q", allText(out))
	}
	out = u.say("I got a letter from the Jobcenter & I don't understand it <b>.")
	if !hasData(out, "ks") || !hasData(out, "ksn") {
		t.Fatalf("confirmation buttons: %v", allData(out))
	}
	before := len(h.rec.To(nordChat))
	out = u.press("ks")
	ref := refRe.FindString(allText(out))
	if ref == "" || !strings.Contains(allText(out), "2 working days") {
		t.Fatalf("sent message: %q", allText(out))
	}
	tk := h.mustTicket(ref)
	if tk.State != bot.TicketOpen || tk.Assignee != "qm-nord" || tk.AssigneeChat != nordChat || tk.Due.IsZero() || len(tk.Attachments) != 1 {
		t.Fatalf("ticket: %+v", tk)
	}
	staffMsgs := h.rec.To(nordChat)[before:]
	if len(staffMsgs) != 2 || !strings.Contains(staffMsgs[0].Text, "Neue Anfrage "+ref) ||
		!strings.Contains(staffMsgs[0].Text, "Jobcenter & I don't understand it <b>.") ||
		!hasData(staffMsgs[:1], "sc:"+ref) || !hasData(staffMsgs[:1], "sr:"+ref) || !hasData(staffMsgs[:1], "sh:"+ref) || !hasData(staffMsgs[:1], "sx:"+ref) {
		t.Fatalf("staff chat got %d messages: %q", len(staffMsgs), allText(staffMsgs))
	}
	if f := staffMsgs[1].File; f == nil || f.FileID != ph.FileID || f.Kind != bot.AttachPhoto {
		t.Errorf("photo not relayed by file id: %+v", staffMsgs[1])
	}
	if s := u.mustSession(); s.State != "" || s.Draft != nil {
		t.Errorf("draft kept after sending: %+v", s)
	}

	// Claim, then answer by replying to the request message.
	_, notice := h.staffPress(anna, nordChat, "sc:"+ref)
	if !strings.Contains(notice, ref) {
		t.Errorf("claim notice %q", notice)
	}
	if tk := h.mustTicket(ref); tk.State != bot.TicketClaimed || tk.ClaimedBy != anna {
		t.Errorf("after claim: %s by %d", tk.State, tk.ClaimedBy)
	}
	reqBefore := len(h.rec.To(requesterID))
	h.staffSay(anna, nordChat, "Please come on Thursday at 10.", h.lastMessageID(nordChat, "Neue Anfrage"))
	got := h.rec.To(requesterID)[reqBefore:]
	if len(got) != 1 || !strings.Contains(got[0].Text, T("RequestAnswer", map[string]any{"Ref": ref})) ||
		!strings.Contains(got[0].Text, "Please come on Thursday at 10.") || !hasData(got, "ka:"+ref) {
		t.Fatalf("answer to requester: %q", allText(got))
	}
	if tk := h.mustTicket(ref); tk.State != bot.TicketAnswered {
		t.Errorf("after answer: %s", tk.State)
	}

	// The requester answers with the button, then by replying.
	u.press("ka:" + ref)
	out = u.say("Thank you, I will come.")
	if !strings.Contains(allText(out), ref) {
		t.Errorf("relay confirmation: %q", allText(out))
	}
	if !strings.Contains(allText(h.rec.To(nordChat)), "Thank you, I will come.") {
		t.Error("requester's answer did not reach the staff chat")
	}
	if tk := h.mustTicket(ref); tk.State != bot.TicketClaimed {
		t.Errorf("after the requester's reply: %s", tk.State)
	}
	// Staff answer with the Reply button, requester replies to the answer.
	h.staffPress(malik, nordChat, "sr:"+ref)
	h.staffSay(malik, nordChat, "Bring the letter.", 0)
	ansID := h.lastMessageID(requesterID, "Bring the letter.")
	in := u.incoming(bot.InText)
	in.Text, in.ReplyTo = "OK, I will.", ansID
	u.send(in)
	if !strings.Contains(allText(h.rec.To(nordChat)), "OK, I will.") {
		t.Error("reply to the answer message did not reach the staff chat")
	}

	// Close with an outcome; the requester is told.
	out, _ = h.staffPress(anna, nordChat, "sx:"+ref)
	if !hasData(out, "sx:"+ref+":solved") {
		t.Fatalf("outcome buttons: %v", allData(out))
	}
	reqBefore = len(h.rec.To(requesterID))
	h.staffPress(anna, nordChat, "sx:"+ref+":solved")
	if tk := h.mustTicket(ref); tk.State != bot.TicketClosed || tk.History[len(tk.History)-1].Note != "solved" {
		t.Errorf("after close: %s %+v", tk.State, tk.History[len(tk.History)-1])
	}
	if !strings.Contains(allText(h.rec.To(requesterID)[reqBefore:]), T("RequestClosed", map[string]any{"Ref": ref})) {
		t.Error("requester not told about closing")
	}
	out = u.say("/mytickets")
	if !strings.Contains(allText(out), T("MyRequestsNone", nil)) {
		t.Errorf("/mytickets after close: %q", allText(out))
	}
	h.checkPrivacy(t)
	h.checkRecorder(t, -1)
}

// checkPrivacy asserts that no message to a staff chat names the
// requester unless they agreed, nor shows their Telegram id.
func (h *staffHarness) checkPrivacy(t *testing.T) {
	t.Helper()
	for _, m := range h.rec.Sent() {
		if m.ChatID == requesterID {
			continue
		}
		text := m.Text
		if m.File != nil {
			text += m.File.Caption
		}
		if strings.Contains(text, strconv.Itoa(requesterID)) || strings.Contains(text, requesterName) {
			t.Errorf("message to chat %d reveals the requester: %q", m.ChatID, text)
		}
	}
}

func TestTicketShareNameOnlyWithConsent(t *testing.T) {
	h := newStaffHarness(t)
	u := h.requester(requesterID, "ar")
	named := func(press string) string {
		u.say("/person")
		u.press("kd:nord")
		u.press("kr:n")
		u.press("kt:work")
		u.say("رسالة من مركز العمل")
		in := u.incoming(bot.InCallback)
		in.CallbackID, in.CallbackData, in.FirstName = "c"+press, press, requesterName
		out := u.send(in)
		if len(out) == 0 || !out[0].RTL {
			t.Errorf("Arabic reply not marked RTL: %+v", out)
		}
		return refRe.FindString(allText(out))
	}
	ref := named("ks")
	if ref == "" || strings.Contains(allText(h.rec.To(nordChat)), requesterName) {
		t.Fatalf("name shown without consent (ref %q)", ref)
	}
	ref2 := named("ksn")
	if tk := h.mustTicket(ref2); !tk.ShareIdentity || tk.RequesterName != requesterName {
		t.Errorf("consented name not stored: %+v", tk)
	}
	if !strings.Contains(allText(h.rec.To(nordChat)), requesterName) {
		t.Error("consented name not shown to staff")
	}
	if strings.Contains(allText(h.rec.To(nordChat)), strconv.Itoa(requesterID)) {
		t.Error("Telegram id shown to staff")
	}
	h.checkRecorder(t, -1)
}

func TestTicketClaimRace(t *testing.T) {
	h := newStaffHarness(t)
	ref := h.mustRequest(h.requester(requesterID, "en"), "nord", "work", "Need help with a form.", "ks")
	var wg sync.WaitGroup
	notices := make([]string, 2)
	for i, uid := range []int64{anna, malik} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, notices[i] = h.staffPress(uid, nordChat, "sc:"+ref)
		}()
	}
	wg.Wait()
	tk := h.mustTicket(ref)
	winner, loser := "Anna", "Malik"
	if tk.ClaimedBy == malik {
		winner, loser = loser, winner
	}
	won := 0
	for _, n := range notices {
		if strings.Contains(n, "Sie bearbeiten "+ref) {
			won++
		} else if !strings.Contains(n, "schon von "+winner) {
			t.Errorf("loser's notice %q does not name %s", n, winner)
		}
	}
	if won != 1 || tk.State != bot.TicketClaimed {
		t.Errorf("%d winners (%q), state %s; %s should have lost", won, notices, tk.State, loser)
	}
}

func TestTicketHandOverAndPermissions(t *testing.T) {
	h := newStaffHarness(t)
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "Question about my flat.", "ks")

	// Not staff, other desk, forged: refused, nothing changes.
	in := u.incoming(bot.InCallback)
	in.CallbackID, in.CallbackData = "x1", "sc:"+ref
	u.send(in)
	if tk := h.mustTicket(ref); tk.State != bot.TicketOpen {
		t.Fatalf("a requester claimed: %s", tk.State)
	}
	if n := h.rec.Answered(); n[len(n)-1].Notice != h.cat.T("en", "StaffNotAllowed", nil) {
		t.Errorf("non-staff notice %q", n[len(n)-1].Notice)
	}
	_, notice := h.staffPress(ivana, ivana, "sc:"+ref)
	if notice != h.cat.T("de", "StaffNotAllowed", nil) {
		t.Errorf("other desk notice %q", notice)
	}
	out := h.staffSay(ivana, ivana, "/ticket "+ref, 0)
	if strings.Contains(allText(out), "Question about my flat.") {
		t.Error("/ticket showed another desk's request")
	}
	for _, data := range []string{"sc:K-ZZZZ", "sc:garbage", "sx:" + ref + ":bogus", "sh:" + ref + ":nobody", "sh:" + ref + ":qm-nord", "sc:" + strings.Repeat("K", 70)} {
		h.staffPress(anna, nordChat, data)
	}
	if tk := h.mustTicket(ref); tk.State != bot.TicketOpen || tk.Assignee != "qm-nord" {
		t.Fatalf("forged data changed the ticket: %+v", tk)
	}
	// The requester's forged buttons.
	for _, data := range []string{"kd:nowhere", "kt:../..", "ks", "ka:K-ZZZZ", "kw:K-ZZZZ", "kr:y"} {
		out := u.press(data)
		if len(out) == 0 {
			t.Errorf("no reply to forged %q", data)
		}
	}
	other := h.requester(requesterID+1, "en")
	if out := other.press("kw:" + ref); !strings.Contains(allText(out), h.cat.T("en", "RequestNotFound", nil)) {
		t.Errorf("someone else withdrew the request: %q", allText(out))
	}

	// Hand over to the Hafenviertel.
	out, _ = h.staffPress(anna, nordChat, "sh:"+ref)
	if !hasData(out, "sh:"+ref+":qm-hafen") {
		t.Fatalf("hand-over options: %v", allData(out))
	}
	h.staffPress(anna, nordChat, "sh:"+ref+":qm-hafen")
	tk := h.mustTicket(ref)
	if tk.Assignee != "qm-hafen" || tk.AssigneeChat != hafenChat || tk.State != bot.TicketOpen {
		t.Fatalf("after hand-over: %+v", tk)
	}
	if !strings.Contains(allText(h.rec.To(hafenChat)), "Question about my flat.") {
		t.Error("new desk did not get the request")
	}
	if _, n := h.staffPress(anna, nordChat, "sc:"+ref); n != h.cat.T("de", "StaffNotAllowed", nil) {
		t.Errorf("old desk may still claim: %q", n)
	}
	if _, n := h.staffPress(jan, hafenChat, "sc:"+ref); !strings.Contains(n, ref) {
		t.Errorf("new desk cannot claim: %q", n)
	}
	// The requester withdraws; the desk is told.
	u.press("kw:" + ref)
	if tk := h.mustTicket(ref); tk.State != bot.TicketCancelled {
		t.Errorf("after withdrawal: %s", tk.State)
	}
	if !strings.Contains(allText(h.rec.To(hafenChat)), ref) {
		t.Error("desk not told about the withdrawal")
	}
	h.checkPrivacy(t)
	h.checkRecorder(t, -1)
}

func TestTicketAbsentGoesToDeputy(t *testing.T) {
	h := newStaffHarness(t)
	out := h.staffSay(anna, anna, "/away 3d", 0)
	if !strings.Contains(allText(out), "27.11.2026") {
		t.Fatalf("/away reply: %q", allText(out))
	}
	ref := h.mustRequest(h.requester(requesterID, "en"), "nord", "work", "Help please.", "ks")
	if tk := h.mustTicket(ref); tk.Assignee != "qm-hafen" || tk.AssigneeChat != hafenChat {
		t.Errorf("absent Quartiermanager: assigned to %s", tk.Assignee)
	}
	h.staffSay(anna, anna, "/back", 0)
	ref = h.mustRequest(h.requester(requesterID+1, "en"), "nord", "work", "Help again.", "ks")
	if tk := h.mustTicket(ref); tk.Assignee != "qm-nord" {
		t.Errorf("after /back: assigned to %s", tk.Assignee)
	}
	for _, bad := range []string{"/away", "/away soon", "/away 2099-01-01..2099-01-02", "/away 999d"} {
		if out := h.staffSay(anna, anna, bad, 0); !strings.Contains(allText(out), "/away 3d") {
			t.Errorf("%q: %q", bad, allText(out))
		}
	}
	out = h.staffSay(anna, anna, "/tickets", 0)
	if !strings.Contains(allText(out), ref) {
		t.Errorf("/tickets lacks %s: %q", ref, allText(out))
	}
}

func TestTicketEscalation(t *testing.T) {
	h := newStaffHarness(t)
	ctx := context.Background()
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "Nobody answers me.", "ks")
	tk := h.mustTicket(ref)
	// Tuesday 10:00 + one working day = Wednesday 10:00.
	if want := testNow.AddDate(0, 0, 1); !tk.Due.Equal(want) {
		t.Fatalf("due %v, want %v", tk.Due, want)
	}
	if n, err := h.bot.Escalate(ctx, testNow.Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("escalated early: %d, %v", n, err)
	}
	// Two replicas at once: exactly one acts.
	at := tk.Due.Add(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := h.bot.Escalate(ctx, at)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	tk = h.mustTicket(ref)
	if total != 1 || tk.Assignee != "qm-hafen" || tk.Escalations != 1 {
		t.Fatalf("first escalation: acted %d, %+v", total, tk)
	}
	if !strings.Contains(allText(h.rec.To(hafenChat)), "Eskaliert: "+ref) {
		t.Error("deputy not notified")
	}
	if !strings.Contains(allText(h.rec.To(requesterID)), h.cat.T("en", "RequestStillLooking", map[string]any{"Ref": ref})) {
		t.Error("requester not reassured")
	}
	// Still nobody: the coordination office.
	if n, _ := h.bot.Escalate(ctx, tk.Due.Add(time.Minute)); n != 1 {
		t.Fatalf("second escalation acted on %d", n)
	}
	if tk = h.mustTicket(ref); tk.Assignee != "koordinierungsstelle" || tk.AssigneeChat != coordChat || tk.Escalations != 2 {
		t.Fatalf("second escalation: %+v", tk)
	}
	// Claimed but unanswered: a reminder first, then escalation.
	h.staffPress(9002, coordChat, "sc:"+ref)
	tk = h.mustTicket(ref)
	if n, _ := h.bot.Escalate(ctx, tk.Due.Add(time.Minute)); n != 1 {
		t.Fatal("no reminder")
	}
	if !strings.Contains(allText(h.rec.To(coordChat)), "Erinnerung: "+ref) {
		t.Error("reminder not sent")
	}
	if tk = h.mustTicket(ref); tk.State != bot.TicketClaimed || tk.Escalations != 2 {
		t.Errorf("after reminder: %+v", tk)
	}
	if n, _ := h.bot.Escalate(ctx, tk.Due.Add(time.Minute)); n != 1 {
		t.Fatal("no escalation after the reminder")
	}
	// At the top already: the claim is released for the whole desk.
	if tk = h.mustTicket(ref); tk.State != bot.TicketOpen || tk.Escalations != 3 || tk.ClaimedBy != 0 {
		t.Errorf("after escalation of a claimed ticket: %+v", tk)
	}
	h.checkPrivacy(t)
	h.checkRecorder(t, -1)
}

func TestTicketStoreDownAtSubmit(t *testing.T) {
	h := newStaffHarness(t)
	u := h.requester(requesterID, "de")
	u.say("/person")
	u.press("kd:nord")
	u.press("kr:n")
	u.press("kt:work")
	u.say("Ich brauche Hilfe mit einem Brief.")
	h.tickets.setFail(true)
	before := len(h.rec.To(nordChat))
	out := u.press("ks")
	text := allText(out)
	if !strings.Contains(text, h.cat.T("de", "RequestFailed", nil)) || refRe.MatchString(text) || strings.Contains(text, "Gesendet") {
		t.Fatalf("store down: %q", text)
	}
	if len(h.rec.To(nordChat)) != before {
		t.Fatal("staff got a request that was not stored")
	}
	if s := u.mustSession(); s.Draft == nil || s.Draft.Text == "" {
		t.Fatalf("draft lost: %+v", s)
	}
	h.tickets.setFail(false)
	out = u.press("ks")
	if ref := refRe.FindString(allText(out)); ref == "" {
		t.Fatalf("retry: %q", allText(out))
	}
	if len(h.rec.To(nordChat)) == before {
		t.Error("retry did not reach staff")
	}
}

func TestTicketRelaysFilesFromStaff(t *testing.T) {
	h := newStaffHarness(t)
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "Which form?", "ks")
	// A reply to a message that is no ticket is ordinary chatter.
	if out := h.staffSay(anna, nordChat, "lunch?", 99999); len(out) != 0 {
		t.Errorf("chatter answered: %q", allText(out))
	}
	h.staffPress(anna, nordChat, "sr:"+ref)
	doc := bot.Incoming{Kind: bot.InDocument, FileID: "BQACAgIAAxkBform", Text: "This form"}
	h.staffIn(anna, nordChat, doc)
	got := h.rec.To(requesterID)
	last := got[len(got)-1]
	if last.File == nil || last.File.Kind != bot.AttachDocument || last.File.FileID != "BQACAgIAAxkBform" || !strings.Contains(last.File.Caption, ref) {
		t.Fatalf("document not relayed: %+v", last)
	}
	// The document kept the thread open; the text closes it.
	h.staffSay(anna, nordChat, "Fill in page 2.", 0)
	if !strings.Contains(allText(h.rec.To(requesterID)), "Fill in page 2.") {
		t.Error("text after the document not relayed")
	}
	if out := h.staffSay(anna, nordChat, "lunch?", 0); len(out) != 0 {
		t.Errorf("chatter after the answer relayed: %q", allText(out))
	}
}

func TestTicketCommandsListed(t *testing.T) {
	h := newStaffHarness(t)
	var names []string
	for _, c := range h.bot.Commands("fa") {
		names = append(names, c.Name)
		if c.Description == "" || strings.HasPrefix(c.Description, "Command") {
			t.Errorf("command %s lacks a description", c.Name)
		}
	}
	if !strings.Contains(strings.Join(names, " "), "person mytickets") {
		t.Errorf("commands %v", names)
	}
}
