package bot_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

var t0 = time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)

const (
	staffA = int64(1001)
	staffB = int64(1002)
)

// ticketIn returns a valid ticket in state st (built through Apply, so
// the fixture itself follows the rules).
func ticketIn(t *testing.T, st bot.TicketState) bot.Ticket {
	t.Helper()
	tk := bot.Ticket{
		Ref: "K-7F3Q", Requester: "u1", RequesterChat: 42, RequesterName: "Amina", Text: "Hilfe", Lang: "ar",
		District: "nord", Topic: "schule", Assignee: "qm-nord", AssigneeChat: -100,
		Attachments: []bot.Attachment{{Kind: "photo", FileID: "AgAD"}},
	}
	steps := map[bot.TicketState][]bot.TicketEvent{
		bot.TicketOpen:      nil,
		bot.TicketClaimed:   {ev(bot.EventClaimed, bot.StaffActor(staffA))},
		bot.TicketAnswered:  {ev(bot.EventClaimed, bot.StaffActor(staffA)), ev(bot.EventAnswered, bot.StaffActor(staffA))},
		bot.TicketClosed:    {ev(bot.EventClosed, bot.StaffActor(staffA))},
		bot.TicketCancelled: {ev(bot.EventCancelled, bot.ActorRequester)},
	}
	mustApply(t, &tk, ev(bot.EventCreated, bot.ActorRequester))
	for _, e := range steps[st] {
		mustApply(t, &tk, e)
	}
	if err := tk.Validate(); err != nil {
		t.Fatalf("fixture in state %s invalid: %v", st, err)
	}
	return tk
}

func ev(kind bot.EventKind, a bot.Actor) bot.TicketEvent {
	return bot.TicketEvent{At: t0.Add(time.Minute), Kind: kind, Actor: a}
}

func mustApply(t *testing.T, tk *bot.Ticket, e bot.TicketEvent) {
	t.Helper()
	if err := tk.Apply(e); err != nil {
		t.Fatalf("Apply(%s by %s) in %s: %v", e.Kind, e.Actor, tk.State, err)
	}
}

func TestApplyTransitions(t *testing.T) {
	staff, other, req, sys := bot.StaffActor(staffA), bot.StaffActor(staffB), bot.ActorRequester, bot.ActorSystem
	handover := ev(bot.EventHandedOver, staff)
	handover.Assignee, handover.AssigneeChat = "amt-wohnen", -200
	const (
		open, claimed, answered = bot.TicketOpen, bot.TicketClaimed, bot.TicketAnswered
		closed, cancelled       = bot.TicketClosed, bot.TicketCancelled
		invalid                 = bot.TicketState("")
	)
	tests := []struct {
		from bot.TicketState
		ev   bot.TicketEvent
		want bot.TicketState // invalid: ErrInvalidTransition
	}{
		{open, ev(bot.EventCreated, req), invalid},
		{open, ev(bot.EventClaimed, staff), claimed},
		{open, ev(bot.EventClaimed, req), invalid},
		{open, ev(bot.EventClaimed, sys), invalid},
		{claimed, ev(bot.EventClaimed, other), invalid},
		{claimed, ev(bot.EventClaimed, staff), invalid},
		{answered, ev(bot.EventClaimed, other), invalid},
		{closed, ev(bot.EventClaimed, staff), invalid},
		{cancelled, ev(bot.EventClaimed, staff), invalid},
		{open, ev(bot.EventAnswered, staff), invalid},
		{claimed, ev(bot.EventAnswered, staff), answered},
		{answered, ev(bot.EventAnswered, staff), answered},
		{claimed, ev(bot.EventAnswered, req), invalid},
		{closed, ev(bot.EventAnswered, staff), invalid},
		{open, ev(bot.EventReply, req), open},
		{claimed, ev(bot.EventReply, req), claimed},
		{answered, ev(bot.EventReply, req), claimed},
		{answered, ev(bot.EventReply, staff), invalid},
		{closed, ev(bot.EventReply, req), invalid},
		{cancelled, ev(bot.EventReply, req), invalid},
		{open, handover, open},
		{claimed, handover, open},
		{answered, handover, open},
		{closed, handover, invalid},
		{open, ev(bot.EventReleased, sys), invalid},
		{claimed, ev(bot.EventReleased, sys), open},
		{answered, ev(bot.EventReleased, staff), open},
		{claimed, ev(bot.EventReleased, req), invalid},
		{claimed, ev(bot.EventReminded, sys), claimed},
		{open, ev(bot.EventReminded, sys), invalid},
		{answered, ev(bot.EventReminded, sys), invalid},
		{open, ev(bot.EventEscalated, sys), open},
		{claimed, ev(bot.EventEscalated, sys), claimed},
		{answered, ev(bot.EventEscalated, sys), invalid},
		{open, ev(bot.EventEscalated, req), invalid},
		{closed, ev(bot.EventEscalated, sys), invalid},
		{open, ev(bot.EventClosed, staff), closed},
		{claimed, ev(bot.EventClosed, other), closed},
		{answered, ev(bot.EventClosed, staff), closed},
		{closed, ev(bot.EventClosed, staff), invalid},
		{cancelled, ev(bot.EventClosed, staff), invalid},
		{open, ev(bot.EventClosed, req), invalid},
		{open, ev(bot.EventClosed, sys), invalid},
		{open, ev(bot.EventCancelled, req), cancelled},
		{answered, ev(bot.EventCancelled, sys), cancelled},
		{claimed, ev(bot.EventCancelled, staff), invalid},
		{cancelled, ev(bot.EventCancelled, req), invalid},
		{closed, ev(bot.EventCancelled, req), invalid},
		{open, ev(bot.EventRedacted, req), cancelled},
		{claimed, ev(bot.EventRedacted, sys), cancelled},
		{closed, ev(bot.EventRedacted, sys), closed},
		{cancelled, ev(bot.EventRedacted, req), cancelled},
		{closed, ev(bot.EventRedacted, staff), invalid},
	}
	for _, tc := range tests {
		name := string(tc.from) + "/" + string(tc.ev.Kind) + "/" + string(tc.ev.Actor)
		t.Run(name, func(t *testing.T) {
			tk := ticketIn(t, tc.from)
			before := tk.Clone()
			err := tk.Apply(tc.ev)
			if tc.want == invalid {
				if !errors.Is(err, bot.ErrInvalidTransition) {
					t.Fatalf("err = %v, want ErrInvalidTransition", err)
				}
				if tk.State != before.State || len(tk.History) != len(before.History) || !tk.Updated.Equal(before.Updated) {
					t.Fatalf("failed Apply changed the ticket: %+v", tk)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if tk.State != tc.want {
				t.Fatalf("state = %s, want %s", tk.State, tc.want)
			}
			if last := tk.History[len(tk.History)-1]; last.Kind != tc.ev.Kind || !tk.Updated.Equal(tc.ev.At) {
				t.Fatalf("history/updated not recorded: %v %v", last, tk.Updated)
			}
			if err := tk.Validate(); err != nil {
				t.Fatalf("result invalid: %v", err)
			}
		})
	}
}

func TestApplyEffects(t *testing.T) {
	tk := ticketIn(t, bot.TicketOpen)
	mustApply(t, &tk, ev(bot.EventClaimed, bot.StaffActor(staffB)))
	if tk.ClaimedBy != staffB {
		t.Fatalf("ClaimedBy = %d", tk.ClaimedBy)
	}
	mustApply(t, &tk, ev(bot.EventEscalated, bot.ActorSystem))
	mustApply(t, &tk, ev(bot.EventEscalated, bot.ActorSystem))
	if tk.Escalations != 2 {
		t.Fatalf("Escalations = %d", tk.Escalations)
	}
	h := ev(bot.EventHandedOver, bot.ActorSystem)
	h.Assignee, h.AssigneeChat = "koordination", -300
	mustApply(t, &tk, h)
	if tk.ClaimedBy != 0 || tk.Assignee != "koordination" || tk.AssigneeChat != -300 {
		t.Fatalf("hand-over: %+v", tk)
	}
	if err := tk.Apply(ev(bot.EventHandedOver, bot.ActorSystem)); !errors.Is(err, bot.ErrInvalid) {
		t.Fatalf("hand-over without assignee: %v; want ErrInvalid", err)
	}

	mustApply(t, &tk, ev(bot.EventRedacted, bot.ActorRequester))
	if tk.Text != "" || tk.RequesterName != "" || tk.Requester != "" || tk.RequesterChat != 0 || tk.Attachments != nil || !tk.Redacted {
		t.Fatalf("redaction left personal content: %+v", tk)
	}
	if tk.District != "nord" || tk.Topic != "schule" || tk.Lang != "ar" || tk.Created.IsZero() {
		t.Fatalf("redaction removed anonymous fields: %+v", tk)
	}
	if err := tk.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := tk.Apply(ev(bot.EventRedacted, bot.ActorSystem)); !errors.Is(err, bot.ErrInvalidTransition) {
		t.Fatalf("redacting twice: %v", err)
	}
}

func TestApplyMalformedEvent(t *testing.T) {
	for name, e := range map[string]bot.TicketEvent{
		"no time":       {Kind: bot.EventReply, Actor: bot.ActorRequester},
		"unknown actor": {At: t0, Kind: bot.EventReply, Actor: "admin"},
		"staff 0":       {At: t0, Kind: bot.EventClaimed, Actor: "staff:0"},
		"staff not int": {At: t0, Kind: bot.EventClaimed, Actor: "staff:01"},
		"unknown kind":  {At: t0, Kind: "reopened", Actor: bot.ActorSystem},
		"long note":     {At: t0, Kind: bot.EventEscalated, Actor: bot.ActorSystem, Note: strings.Repeat("n", bot.MaxNote+1)},
	} {
		tk := ticketIn(t, bot.TicketOpen)
		if err := tk.Apply(e); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", name, err)
		}
	}
}

func TestHistoryBounded(t *testing.T) {
	tk := ticketIn(t, bot.TicketOpen)
	for i := range 3 * bot.MaxHistory {
		e := ev(bot.EventReply, bot.ActorRequester)
		e.At = t0.Add(time.Duration(i) * time.Second)
		mustApply(t, &tk, e)
	}
	if len(tk.History) != bot.MaxHistory || tk.History[0].Kind != bot.EventCreated {
		t.Fatalf("history %d events, first %s; want %d starting with created", len(tk.History), tk.History[0].Kind, bot.MaxHistory)
	}
	if last := tk.History[len(tk.History)-1]; !last.At.Equal(t0.Add(time.Duration(3*bot.MaxHistory-1) * time.Second)) {
		t.Fatalf("newest event dropped: %v", last.At)
	}
	if err := tk.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOverdue(t *testing.T) {
	tk := ticketIn(t, bot.TicketOpen)
	if tk.Overdue(t0.Add(1000 * time.Hour)) {
		t.Fatal("ticket without Due is overdue")
	}
	tk.Due = t0.Add(time.Hour)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{59 * time.Minute, false}, {time.Hour, true}, {2 * time.Hour, true}} {
		if got := tk.Overdue(t0.Add(tc.at)); got != tc.want {
			t.Errorf("Overdue(+%v) = %v", tc.at, got)
		}
	}
	mustApply(t, &tk, ev(bot.EventClaimed, bot.StaffActor(staffA)))
	mustApply(t, &tk, ev(bot.EventAnswered, bot.StaffActor(staffA)))
	if tk.Overdue(t0.Add(2 * time.Hour)) {
		t.Fatal("answered ticket (waiting for the requester) is overdue")
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"K-7F3Q", "K-7F3Q"},
		{"k-7f3q", "K-7F3Q"},
		{"K7F3Q", "K-7F3Q"},
		{"7f3q", "K-7F3Q"},
		{" k 7f 3q ", "K-7F3Q"},
		{"K-7F3O", "K-7F30"},   // O read as zero
		{"K-IL10", "K-1110"},   // I and L read as one
		{"K-7F3QX", "K-7F3QX"}, // lengthened after collisions
		{"KK7F3", ""},          // no digits start with K
		{"K-7F3", ""},
		{"K-7F3U", ""}, // U is not a digit
		{"", ""},
		{"K-", ""},
		{"K-{tk}", ""},
		{"K-7F3Q7F3Q7", ""},
		{"Ｋ-７Ｆ３Ｑ", ""},
	}
	for _, tc := range tests {
		got, ok := bot.ParseRef(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestNewRef(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		r := bot.NewRef(bot.RefDigits)
		if back, ok := bot.ParseRef(r); !ok || back != r || len(r) != len(bot.RefPrefix)+bot.RefDigits {
			t.Fatalf("NewRef = %q, not canonical", r)
		}
		seen[r] = true
	}
	// 2000 draws from ~10⁶: a handful of repeats at most, unless the
	// source is broken.
	if len(seen) < 1980 {
		t.Fatalf("only %d distinct refs in 2000", len(seen))
	}
	if r := bot.NewRef(bot.RefDigits + 2); len(r) != len(bot.RefPrefix)+bot.RefDigits+2 {
		t.Fatalf("NewRef(6) = %q", r)
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]func(*bot.Ticket){
		"ref not canonical":   func(t *bot.Ticket) { t.Ref = "k-7f3q" },
		"text 4097":           func(t *bot.Ticket) { t.Text = strings.Repeat("ß", bot.MaxTicketText+1) },
		"11 attachments":      func(t *bot.Ticket) { t.Attachments = make([]bot.Attachment, 11) },
		"redacted with text":  func(t *bot.Ticket) { t.Redacted, t.Requester, t.RequesterChat = true, "", 0 },
		"open but claimed by": func(t *bot.Ticket) { t.ClaimedBy = staffA },
		"district too long":   func(t *bot.Ticket) { t.District = strings.Repeat("d", 65) },
		"no created time":     func(t *bot.Ticket) { t.Created = time.Time{} },
		"negative escalation": func(t *bot.Ticket) { t.Escalations = -1 },
	}
	for name, mutate := range tests {
		tk := ticketIn(t, bot.TicketOpen)
		mutate(&tk)
		if err := tk.Validate(); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", name, err)
		}
	}
	tk := ticketIn(t, bot.TicketOpen)
	tk.Text = strings.Repeat("😀", bot.MaxTicketText) // runes, not bytes
	if err := tk.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestStaffActor(t *testing.T) {
	a := bot.StaffActor(-12345)
	if id, ok := a.StaffID(); !ok || id != -12345 {
		t.Fatalf("StaffID(%q) = %d, %v", a, id, ok)
	}
	for _, a := range []bot.Actor{bot.ActorRequester, bot.ActorSystem, "staff:", "staff:x", "staff:+5"} {
		if _, ok := a.StaffID(); ok {
			t.Errorf("StaffID(%q) ok", a)
		}
	}
}

func TestClone(t *testing.T) {
	tk := ticketIn(t, bot.TicketOpen)
	c := tk.Clone()
	c.Attachments[0].FileID = "x"
	c.History[0].Note = "x"
	if tk.Attachments[0].FileID == "x" || tk.History[0].Note == "x" {
		t.Fatal("Clone shares slices")
	}
}
