package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// NewTicketStoreFunc builds a fresh, empty ticket store whose clock is now.
type NewTicketStoreFunc func(t *testing.T, now func() time.Time) bot.TicketStore

// Dumper is implemented by test adapters of stores that can list all they
// hold (every key and value of a Redis namespace). RunTickets uses it to
// prove that redaction leaves no personal data anywhere: not in the
// ticket, not in an index, not in a key name.
type Dumper interface {
	Dump(ctx context.Context) (string, error)
}

// RunTickets runs the conformance suite for bot.TicketStore. Each subtest
// gets a fresh store and clock. If the store also implements bot.Store,
// Forget is checked to redact tickets; Advancer and Dumper are used as in
// Run.
func RunTickets(t *testing.T, newStore NewTicketStoreFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *tenv {
		return &tenv{newStoreEnv(t, clk, newStore)}
	}, []suiteTest[*tenv]{
		{"Create/RoundTrip", testTicketRoundTrip},
		{"Create/Invalid", testTicketCreateInvalid},
		{"Create/RefUnique", testTicketRefUnique},
		{"NotFound", testTicketNotFound},
		{"Update/Lifecycle", testTicketLifecycle},
		{"Update/FailedFnWritesNothing", testTicketFnError},
		{"Update/InvalidResult", testTicketInvalidResult},
		{"Update/RefImmutable", testTicketRefImmutable},
		{"Update/Copies", testTicketCopies},
		{"Update/ClaimRace", testTicketClaimRace},
		{"Update/NoLostUpdates", testTicketConcurrentUpdates},
		{"OpenTicketsOf", testOpenTicketsOf},
		{"AssignedTickets", testAssignedTickets},
		{"Links", testTicketLinks},
		{"DueTickets", testDueTickets},
		{"Absence", testAbsence},
		{"Redact", testRedact},
		{"Forget", testForgetRedactsTickets},
		{"PurgeClosed", testPurgeClosed},
		{"Expiry", testTicketExpiry},
	})
}

// tenv is one subtest's ticket store and clock.
type tenv struct{ storeEnv[bot.TicketStore] }

// Fixture values. They are distinctive so that Dump searches cannot match
// by accident.
const (
	assigneeA     = "qm-nord"
	assigneeB     = "amt-wohnen"
	assigneeAChat = int64(-1001234567)
	assigneeBChat = int64(-1007654321)
	staff1        = int64(31337001)
	staff2        = int64(31337002)
)

func requesterChat(n int) int64 { return 4242424200 + int64(n) }
func secretText(n int) string {
	return fmt.Sprintf("Mein Vermieter Herr Geheim-%d droht mit Kündigung ‏رسالة‎ \u200b*bold*", n)
}
func secretName(n int) string { return fmt.Sprintf("Oksana%d", n) }

// newTicket returns a complete open ticket of user(n), created now and
// due in a day.
func (e *tenv) newTicket(n int) bot.Ticket {
	e.t.Helper()
	now := e.clk.Now()
	t := bot.Ticket{
		Requester:     user(n),
		RequesterChat: requesterChat(n),
		RequesterName: secretName(n),
		ShareIdentity: true,
		Lang:          "uk",
		District:      "nord",
		Topic:         "wohnen",
		Volunteer:     n%2 == 1,
		Text:          secretText(n),
		Attachments:   []bot.Attachment{{Kind: "photo", FileID: fmt.Sprintf("AgAD-secret-file-%d", n)}, {Kind: "document", FileID: "BQAD-doc"}},
		Assignee:      assigneeA,
		AssigneeChat:  assigneeAChat,
		Due:           now.Add(24 * time.Hour),
	}
	if err := t.Apply(bot.TicketEvent{At: now, Kind: bot.EventCreated, Actor: bot.ActorRequester}); err != nil {
		e.t.Fatalf("Apply(created): %v", err)
	}
	return t
}

func (e *tenv) mustCreate(t bot.Ticket) bot.Ticket {
	e.t.Helper()
	got, err := e.s.CreateTicket(e.ctx, t)
	if err != nil {
		e.t.Fatalf("CreateTicket: %v", err)
	}
	return got
}

func (e *tenv) mustTicket(ref string) bot.Ticket {
	e.t.Helper()
	got, err := e.s.Ticket(e.ctx, ref)
	if err != nil {
		e.t.Fatalf("Ticket(%s): %v", ref, err)
	}
	return got
}

func (e *tenv) mustNoTicket(ref string) {
	e.t.Helper()
	if got, err := e.s.Ticket(e.ctx, ref); !errors.Is(err, bot.ErrNotFound) {
		e.t.Fatalf("Ticket(%s) = %+v, %v; want ErrNotFound", ref, got, err)
	}
}

// event returns an event of kind by actor at the current time.
func (e *tenv) event(kind bot.EventKind, actor bot.Actor) bot.TicketEvent {
	return bot.TicketEvent{At: e.clk.Now(), Kind: kind, Actor: actor}
}

// apply applies ev to ticket ref through UpdateTicket.
func (e *tenv) apply(ref string, ev bot.TicketEvent) (bot.Ticket, error) {
	return e.s.UpdateTicket(e.ctx, ref, func(t *bot.Ticket) error { return t.Apply(ev) })
}

func (e *tenv) mustApply(ref string, ev bot.TicketEvent) bot.Ticket {
	e.t.Helper()
	t, err := e.apply(ref, ev)
	if err != nil {
		e.t.Fatalf("apply %s to %s: %v", ev.Kind, ref, err)
	}
	return t
}

func (e *tenv) mustOpenOf(n int, want ...string) {
	e.t.Helper()
	ts, err := e.s.OpenTicketsOf(e.ctx, user(n))
	if err != nil {
		e.t.Fatalf("OpenTicketsOf(user %d): %v", n, err)
	}
	if got := refs(ts); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
		e.t.Fatalf("OpenTicketsOf(user %d) = %v, want %v", n, got, want)
	}
	for _, t := range ts {
		if t.Requester != user(n) {
			e.t.Fatalf("OpenTicketsOf(user %d) returned %s of another requester", n, t.Ref)
		}
	}
}

func (e *tenv) mustAssigned(assignee string, want ...string) {
	e.t.Helper()
	ts, err := e.s.AssignedTickets(e.ctx, assignee)
	if err != nil {
		e.t.Fatalf("AssignedTickets(%s): %v", assignee, err)
	}
	if got := refs(ts); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
		e.t.Fatalf("AssignedTickets(%s) = %v, want %v", assignee, got, want)
	}
}

func (e *tenv) mustDue(now time.Time, limit int, want ...string) {
	e.t.Helper()
	got, err := e.s.DueTickets(e.ctx, now, limit)
	if err != nil {
		e.t.Fatalf("DueTickets: %v", err)
	}
	if !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
		e.t.Fatalf("DueTickets(%v, %d) = %v, want %v", now.Sub(Epoch), limit, got, want)
	}
}

func refs(ts []bot.Ticket) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Ref)
	}
	return out
}

func kinds(t bot.Ticket) string {
	var ks []string
	for _, ev := range t.History {
		ks = append(ks, string(ev.Kind))
	}
	return strings.Join(ks, ",")
}

// normalize makes tickets comparable by meaning: instants in UTC without
// monotonic readings, nil for empty slices.
func normalize(t bot.Ticket) bot.Ticket {
	t = t.Clone()
	utc := func(x time.Time) time.Time {
		if x.IsZero() {
			return time.Time{}
		}
		return x.UTC().Round(0)
	}
	t.Created, t.Updated, t.Due = utc(t.Created), utc(t.Updated), utc(t.Due)
	for i := range t.History {
		t.History[i].At = utc(t.History[i].At)
	}
	if len(t.Attachments) == 0 {
		t.Attachments = nil
	}
	if len(t.History) == 0 {
		t.History = nil
	}
	return t
}

func (e *tenv) mustEqualTicket(got, want bot.Ticket) {
	e.t.Helper()
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		e.t.Fatalf("ticket = %+v\nwant     %+v", g, w)
	}
}

func testTicketRoundTrip(t *testing.T, e *tenv) {
	in := e.newTicket(1)
	in.Ref = "K-0000" // ignored: the store assigns refs
	got := e.mustCreate(in)
	canon, ok := bot.ParseRef(got.Ref)
	if !ok || canon != got.Ref || !strings.HasPrefix(got.Ref, bot.RefPrefix) || len(got.Ref) != len(bot.RefPrefix)+bot.RefDigits {
		t.Fatalf("Ref = %q, want a canonical fresh reference", got.Ref)
	}
	if got.Ref == "K-0000" {
		t.Fatal("CreateTicket kept the caller's Ref")
	}
	want := in
	want.Ref = got.Ref
	e.mustEqualTicket(got, want)
	e.mustEqualTicket(e.mustTicket(got.Ref), want)
	// As a person types it.
	typed := strings.ToLower(strings.ReplaceAll(got.Ref, "-", " "))
	e.mustEqualTicket(e.mustTicket(typed), want)
	// Every field set in the fixture must survive the store.
	v := reflect.ValueOf(normalize(e.mustTicket(got.Ref)))
	for _, name := range []string{"Requester", "RequesterChat", "RequesterName", "ShareIdentity", "Lang", "District",
		"Topic", "Text", "Attachments", "Assignee", "AssigneeChat", "State", "Created", "Updated", "Due", "History"} {
		if v.FieldByName(name).IsZero() {
			t.Errorf("field %s lost", name)
		}
	}
}

func testTicketCreateInvalid(t *testing.T, e *tenv) {
	long := strings.Repeat("ن", bot.MaxTicketText+1)
	tests := []struct {
		name   string
		mutate func(*bot.Ticket)
	}{
		{"text too long", func(t *bot.Ticket) { t.Text = long }},
		{"text not UTF-8", func(t *bot.Ticket) { t.Text = "a\xffb" }},
		{"too many attachments", func(t *bot.Ticket) {
			for len(t.Attachments) <= bot.MaxAttachments {
				t.Attachments = append(t.Attachments, bot.Attachment{Kind: "photo", FileID: "x"})
			}
		}},
		{"attachment without file", func(t *bot.Ticket) { t.Attachments[0].FileID = "" }},
		{"no requester", func(t *bot.Ticket) { t.Requester = "" }},
		{"no requester chat", func(t *bot.Ticket) { t.RequesterChat = 0 }},
		{"no assignee", func(t *bot.Ticket) { t.Assignee = "" }},
		{"no assignee chat", func(t *bot.Ticket) { t.AssigneeChat = 0 }},
		{"no history", func(t *bot.Ticket) { t.History = nil }},
		{"not open", func(t *bot.Ticket) { t.State, t.ClaimedBy = bot.TicketClaimed, staff1 }},
		{"closed", func(t *bot.Ticket) { t.State = bot.TicketClosed }},
		{"unknown state", func(t *bot.Ticket) { t.State = "pending" }},
		{"name too long", func(t *bot.Ticket) { t.RequesterName = strings.Repeat("x", 65) }},
	}
	for _, tc := range tests {
		tk := e.newTicket(1)
		tc.mutate(&tk)
		if got, err := e.s.CreateTicket(e.ctx, tk); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: CreateTicket = %s, %v; want ErrInvalid", tc.name, got.Ref, err)
		}
	}
	e.mustOpenOf(1)
	e.mustAssigned(assigneeA)

	// The limits themselves are allowed.
	tk := e.newTicket(2)
	tk.Text = strings.Repeat("😀", bot.MaxTicketText)
	for len(tk.Attachments) < bot.MaxAttachments {
		tk.Attachments = append(tk.Attachments, bot.Attachment{Kind: "photo", FileID: "f" + strconv.Itoa(len(tk.Attachments))})
	}
	got := e.mustCreate(tk)
	if back := e.mustTicket(got.Ref); back.Text != tk.Text || len(back.Attachments) != bot.MaxAttachments {
		t.Fatal("ticket at the limits not stored intact")
	}
}

// testTicketRefUnique creates 10,000 tickets concurrently: refs are short,
// so collisions happen and must be retried, never overwrite.
func testTicketRefUnique(t *testing.T, e *tenv) {
	const n, workers = 10000, 8
	tmpl := e.newTicket(1)
	tmpl.Attachments, tmpl.RequesterName = nil, ""
	refsOf := make([][]string, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				tk := tmpl.Clone()
				tk.Text = "#" + strconv.Itoa(i)
				got, err := e.s.CreateTicket(e.ctx, tk)
				if err != nil {
					errs <- err
					return
				}
				refsOf[w] = append(refsOf[w], got.Ref+"="+tk.Text)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateTicket: %v", err)
	}
	seen := map[string]string{}
	for _, rs := range refsOf {
		for _, r := range rs {
			ref, text, _ := strings.Cut(r, "=")
			if prev, dup := seen[ref]; dup {
				t.Fatalf("ref %s given to %s and %s", ref, prev, text)
			}
			seen[ref] = text
		}
	}
	if len(seen) != n {
		t.Fatalf("%d refs for %d tickets", len(seen), n)
	}
	for ref, text := range seen {
		if got := e.mustTicket(ref); got.Text != text {
			t.Fatalf("ticket %s has text %q, want %q: a collision overwrote it", ref, got.Text, text)
		}
	}
}

func testTicketNotFound(t *testing.T, e *tenv) {
	real := e.mustCreate(e.newTicket(1))
	for _, ref := range []string{"K-ZZZZ", "nonsense", "", "K-", "K-{tk}", real.Ref + "Z"} {
		if ref == real.Ref {
			continue
		}
		e.mustNoTicket(ref)
		called := false
		_, err := e.s.UpdateTicket(e.ctx, ref, func(*bot.Ticket) error { called = true; return nil })
		if !errors.Is(err, bot.ErrNotFound) || called {
			t.Errorf("UpdateTicket(%q) = %v (fn called: %v); want ErrNotFound without calling fn", ref, err, called)
		}
		if err := e.s.LinkMessage(e.ctx, 1, 1, ref); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("LinkMessage(%q) = %v; want ErrNotFound", ref, err)
		}
	}
	if _, err := e.s.TicketForMessage(e.ctx, 1, 1); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("TicketForMessage(unlinked) = %v; want ErrNotFound", err)
	}
}

func testTicketLifecycle(t *testing.T, e *tenv) {
	ref := e.mustCreate(e.newTicket(1)).Ref
	e.advance(time.Hour)
	got := e.mustApply(ref, e.event(bot.EventClaimed, bot.StaffActor(staff1)))
	if got.State != bot.TicketClaimed || got.ClaimedBy != staff1 || !got.Updated.Equal(e.clk.Now()) {
		t.Fatalf("after claim: %s by %d at %v", got.State, got.ClaimedBy, got.Updated)
	}
	e.mustApply(ref, e.event(bot.EventAnswered, bot.StaffActor(staff1)))
	e.mustApply(ref, e.event(bot.EventReply, bot.ActorRequester))
	if st := e.mustTicket(ref).State; st != bot.TicketClaimed {
		t.Fatalf("requester reply to an answer: state %s, want claimed", st)
	}
	e.mustApply(ref, e.event(bot.EventAnswered, bot.StaffActor(staff1)))
	closeEv := e.event(bot.EventClosed, bot.StaffActor(staff1))
	closeEv.Note = "resolved"
	e.mustApply(ref, closeEv)
	stored := e.mustTicket(ref)
	if stored.State != bot.TicketClosed || kinds(stored) != "created,claimed,answered,reply,answered,closed" {
		t.Fatalf("after close: %s, history %s", stored.State, kinds(stored))
	}

	// Closing twice and claiming a closed ticket fail and change nothing;
	// the caller gets the current ticket to explain why.
	for _, ev := range []bot.TicketEvent{closeEv, e.event(bot.EventClaimed, bot.StaffActor(staff2))} {
		got, err := e.apply(ref, ev)
		if !errors.Is(err, bot.ErrInvalidTransition) {
			t.Fatalf("%s on closed ticket: %v; want ErrInvalidTransition", ev.Kind, err)
		}
		e.mustEqualTicket(got, stored)
	}
	e.mustEqualTicket(e.mustTicket(ref), stored)
}

func testTicketFnError(t *testing.T, e *tenv) {
	created := e.mustCreate(e.newTicket(1))
	boom := errors.New("boom")
	got, err := e.s.UpdateTicket(e.ctx, created.Ref, func(t *bot.Ticket) error {
		t.Text = "changed"
		t.Attachments[0].FileID = "changed"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateTicket = %v, want fn's error", err)
	}
	e.mustEqualTicket(got, created)
	e.mustEqualTicket(e.mustTicket(created.Ref), created)
}

func testTicketInvalidResult(t *testing.T, e *tenv) {
	created := e.mustCreate(e.newTicket(1))
	for name, fn := range map[string]func(*bot.Ticket){
		"text too long":  func(t *bot.Ticket) { t.Text = strings.Repeat("x", bot.MaxTicketText+1) },
		"no assignee":    func(t *bot.Ticket) { t.Assignee = "" },
		"claimed by nil": func(t *bot.Ticket) { t.State = bot.TicketClaimed },
	} {
		_, err := e.s.UpdateTicket(e.ctx, created.Ref, func(t *bot.Ticket) error { fn(t); return nil })
		if !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: UpdateTicket = %v; want ErrInvalid", name, err)
		}
	}
	e.mustEqualTicket(e.mustTicket(created.Ref), created)
}

func testTicketRefImmutable(t *testing.T, e *tenv) {
	a := e.mustCreate(e.newTicket(1))
	b := e.mustCreate(e.newTicket(2))
	got, err := e.s.UpdateTicket(e.ctx, a.Ref, func(t *bot.Ticket) error {
		t.Ref = b.Ref
		t.Topic = "schule"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != a.Ref || e.mustTicket(a.Ref).Topic != "schule" {
		t.Fatalf("update moved the ticket: got ref %s", got.Ref)
	}
	e.mustEqualTicket(e.mustTicket(b.Ref), b)
}

func testTicketCopies(t *testing.T, e *tenv) {
	in := e.newTicket(1)
	got := e.mustCreate(in)
	in.Attachments[0].FileID = "after-create"
	got.Attachments[0].FileID = "returned-changed"
	got.History[0].Note = "changed"
	read := e.mustTicket(got.Ref)
	if read.Attachments[0].FileID != "AgAD-secret-file-1" || read.History[0].Note != "" {
		t.Fatalf("store shares slices with callers: %+v", read.Attachments)
	}
	read.Attachments[0].FileID = "read-changed"
	upd := e.mustApply(got.Ref, e.event(bot.EventEscalated, bot.ActorSystem))
	upd.History[0].Kind = "changed"
	if again := e.mustTicket(got.Ref); again.Attachments[0].FileID != "AgAD-secret-file-1" || again.History[0].Kind != bot.EventCreated {
		t.Fatal("store shares slices with callers")
	}
}

// testTicketClaimRace: many staff pressing Claim at once; exactly one wins
// and every loser learns who.
func testTicketClaimRace(t *testing.T, e *tenv) {
	ref := e.mustCreate(e.newTicket(1)).Ref
	const n = 50
	type result struct {
		staff int64
		t     bot.Ticket
		err   error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := staff1 + int64(i)
			got, err := e.apply(ref, e.event(bot.EventClaimed, bot.StaffActor(id)))
			results <- result{id, got, err}
		})
	}
	wg.Wait()
	close(results)
	var winners []int64
	var losers []result
	for r := range results {
		switch {
		case r.err == nil:
			winners = append(winners, r.staff)
		case errors.Is(r.err, bot.ErrInvalidTransition):
			losers = append(losers, r)
		default:
			t.Fatalf("claim by %d: %v", r.staff, r.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners (%v), want exactly 1", len(winners), winners)
	}
	for _, l := range losers {
		if l.t.ClaimedBy != winners[0] {
			t.Fatalf("loser %d told ticket is claimed by %d, winner is %d", l.staff, l.t.ClaimedBy, winners[0])
		}
	}
	stored := e.mustTicket(ref)
	if stored.ClaimedBy != winners[0] || kinds(stored) != "created,claimed" {
		t.Fatalf("stored: claimed by %d, history %s", stored.ClaimedBy, kinds(stored))
	}
}

// testTicketConcurrentUpdates: concurrent read-modify-writes must not lose
// any event.
func testTicketConcurrentUpdates(t *testing.T, e *tenv) {
	ref := e.mustCreate(e.newTicket(1)).Ref
	const workers, rounds = 12, 8
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				ev := e.event(bot.EventReply, bot.ActorRequester)
				ev.Note = fmt.Sprintf("w%d-r%d", w, r)
				if _, err := e.apply(ref, ev); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("reply: %v", err)
	}
	got := e.mustTicket(ref)
	notes := map[string]bool{}
	for _, ev := range got.History[1:] {
		notes[ev.Note] = true
	}
	if len(got.History) != 1+workers*rounds || len(notes) != workers*rounds {
		t.Fatalf("history has %d events (%d distinct), want %d: updates were lost", len(got.History), len(notes), 1+workers*rounds)
	}
}

func testOpenTicketsOf(t *testing.T, e *tenv) {
	e.mustOpenOf(1)
	a := e.mustCreate(e.newTicket(1)).Ref
	e.advance(time.Minute)
	b := e.mustCreate(e.newTicket(2)).Ref
	e.advance(time.Minute)
	c := e.mustCreate(e.newTicket(1)).Ref
	e.advance(time.Minute)
	d := e.mustCreate(e.newTicket(1)).Ref
	e.mustOpenOf(1, a, c, d)
	e.mustOpenOf(2, b)
	e.mustApply(c, e.event(bot.EventClaimed, bot.StaffActor(staff1)))
	e.mustApply(c, e.event(bot.EventAnswered, bot.StaffActor(staff1)))
	e.mustApply(a, e.event(bot.EventCancelled, bot.ActorRequester))
	e.mustOpenOf(1, c, d)
	e.mustApply(d, e.event(bot.EventClosed, bot.StaffActor(staff1)))
	e.mustOpenOf(1, c)
	e.mustOpenOf(3)
}

func testAssignedTickets(t *testing.T, e *tenv) {
	e.mustAssigned(assigneeA)
	a := e.mustCreate(e.newTicket(1)).Ref
	e.advance(time.Minute)
	b := e.mustCreate(e.newTicket(2)).Ref
	e.mustAssigned(assigneeA, a, b)
	e.mustAssigned(assigneeB)

	ev := e.event(bot.EventHandedOver, bot.StaffActor(staff1))
	ev.Assignee, ev.AssigneeChat, ev.Note = assigneeB, assigneeBChat, "housing"
	got := e.mustApply(a, ev)
	if got.Assignee != assigneeB || got.AssigneeChat != assigneeBChat || got.State != bot.TicketOpen {
		t.Fatalf("after hand-over: %s/%d %s", got.Assignee, got.AssigneeChat, got.State)
	}
	e.mustAssigned(assigneeA, b)
	e.mustAssigned(assigneeB, a)
	e.mustApply(a, e.event(bot.EventClosed, bot.StaffActor(staff2)))
	e.mustAssigned(assigneeB)
	e.mustAssigned(assigneeA, b)
}

func testTicketLinks(t *testing.T, e *tenv) {
	a := e.mustCreate(e.newTicket(1)).Ref
	b := e.mustCreate(e.newTicket(2)).Ref
	links := []struct {
		chat int64
		msg  int
		ref  string
	}{
		{requesterChat(1), 10, a},
		{assigneeAChat, 10, b}, // same message id, other chat
		{assigneeAChat, 11, a},
		{requesterChat(2), 10, b},
	}
	for _, l := range links {
		if err := e.s.LinkMessage(e.ctx, l.chat, l.msg, strings.ToLower(l.ref)); err != nil {
			t.Fatalf("LinkMessage(%d, %d, %s): %v", l.chat, l.msg, l.ref, err)
		}
	}
	for _, l := range links {
		got, err := e.s.TicketForMessage(e.ctx, l.chat, l.msg)
		if err != nil || got != l.ref {
			t.Fatalf("TicketForMessage(%d, %d) = %q, %v; want %s", l.chat, l.msg, got, err, l.ref)
		}
	}
	if _, err := e.s.TicketForMessage(e.ctx, requesterChat(1), 11); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("unlinked message: %v; want ErrNotFound", err)
	}
	for _, bad := range []struct {
		chat int64
		msg  int
	}{{0, 1}, {1, 0}, {1, -1}} {
		if err := e.s.LinkMessage(e.ctx, bad.chat, bad.msg, a); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("LinkMessage(%d, %d) = %v; want ErrInvalid", bad.chat, bad.msg, err)
		}
	}
}

func testDueTickets(t *testing.T, e *tenv) {
	mk := func(n int, due time.Duration) string {
		tk := e.newTicket(n)
		tk.Due = e.clk.Now().Add(due)
		if due == 0 {
			tk.Due = time.Time{}
		}
		return e.mustCreate(tk).Ref
	}
	t3 := mk(3, 3*time.Hour)
	t1 := mk(1, time.Hour)
	never := mk(4, 0)
	t2 := mk(2, 2*time.Hour)
	now := e.clk.Now()
	e.mustDue(now, 10)
	e.mustDue(now.Add(time.Hour), 10, t1) // due at exactly Due
	e.mustDue(now.Add(150*time.Minute), 10, t1, t2)
	e.mustDue(now.Add(150*time.Minute), 1, t1)
	e.mustDue(now.Add(150*time.Minute), 0)
	e.mustDue(now.Add(1000*time.Hour), 10, t1, t2, t3)

	// Claimed tickets still await staff (an answer); answered ones do not.
	e.mustApply(t1, e.event(bot.EventClaimed, bot.StaffActor(staff1)))
	e.mustApply(t2, e.event(bot.EventClaimed, bot.StaffActor(staff1)))
	e.mustApply(t2, e.event(bot.EventAnswered, bot.StaffActor(staff1)))
	e.mustDue(now.Add(1000*time.Hour), 10, t1, t3)
	// The requester writes back: staff owe an answer again.
	e.mustApply(t2, e.event(bot.EventReply, bot.ActorRequester))
	e.mustDue(now.Add(1000*time.Hour), 10, t1, t2, t3)

	// Escalation moves Due.
	if _, err := e.s.UpdateTicket(e.ctx, t1, func(t *bot.Ticket) error {
		t.Due = now.Add(5 * time.Hour)
		return t.Apply(bot.TicketEvent{At: now, Kind: bot.EventEscalated, Actor: bot.ActorSystem})
	}); err != nil {
		t.Fatal(err)
	}
	e.mustDue(now.Add(4*time.Hour), 10, t2, t3)
	e.mustDue(now.Add(5*time.Hour), 10, t2, t3, t1)
	e.mustApply(t3, e.event(bot.EventClosed, bot.StaffActor(staff1)))
	e.mustDue(now.Add(1000*time.Hour), 10, t2, t1)
	_ = never
}

func testAbsence(t *testing.T, e *tenv) {
	now := e.clk.Now()
	absent := func(id string, at time.Time, want bool) {
		t.Helper()
		got, err := e.s.Absent(e.ctx, id, at)
		if err != nil || got != want {
			t.Fatalf("Absent(%s, +%v) = %v, %v; want %v", id, at.Sub(now), got, err, want)
		}
	}
	absent(assigneeA, now, false)
	if err := e.s.SetAbsent(e.ctx, assigneeA, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	absent(assigneeA, now, true)
	absent(assigneeA, now.Add(47*time.Hour), true)
	absent(assigneeA, now.Add(48*time.Hour), false)
	absent(assigneeB, now, false)

	// Back early.
	if err := e.s.SetAbsent(e.ctx, assigneeA, time.Time{}); err != nil {
		t.Fatal(err)
	}
	absent(assigneeA, now, false)
	if err := e.s.SetAbsent(e.ctx, assigneeA, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	absent(assigneeA, now, false)

	if err := e.s.SetAbsent(e.ctx, assigneeA, e.clk.Now().Add(bot.MaxAbsence+time.Hour)); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("absence beyond MaxAbsence: %v; want ErrInvalid", err)
	}
	if err := e.s.SetAbsent(e.ctx, "", e.clk.Now().Add(time.Hour)); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("empty staff id: %v; want ErrInvalid", err)
	}
}

// personal lists what must not survive redaction of user n's tickets.
func personal(n int) []string {
	return []string{secretText(n), "Geheim-" + strconv.Itoa(n), secretName(n),
		strconv.FormatInt(requesterChat(n), 10), fmt.Sprintf("AgAD-secret-file-%d", n)}
}

func (e *tenv) dump() (string, bool) {
	e.t.Helper()
	d, ok := e.s.(Dumper)
	if !ok {
		return "", false
	}
	s, err := d.Dump(e.ctx)
	if err != nil {
		e.t.Fatalf("Dump: %v", err)
	}
	return s, true
}

// mustNoPersonal checks the store's whole content for user n's data, and
// that user m's data is still visible (so the check can fail).
func (e *tenv) mustNoPersonal(n, m int, extra ...string) {
	e.t.Helper()
	all, ok := e.dump()
	if !ok {
		return
	}
	for _, p := range append(personal(n), extra...) {
		if strings.Contains(all, p) {
			e.t.Errorf("store still holds %q after redaction", p)
		}
	}
	for _, p := range personal(m) {
		if !strings.Contains(all, p) {
			e.t.Fatalf("Dump lacks %q of an unredacted ticket; it does not show everything", p)
		}
	}
}

func (e *tenv) mustRedacted(ref string, wantState bot.TicketState, keep bot.Ticket) {
	e.t.Helper()
	got := e.mustTicket(ref)
	if !got.Redacted || got.State != wantState {
		e.t.Fatalf("%s: redacted %v, state %s; want redacted, %s", ref, got.Redacted, got.State, wantState)
	}
	if got.Requester != "" || got.RequesterChat != 0 || got.RequesterName != "" || got.Text != "" || len(got.Attachments) != 0 || got.ShareIdentity {
		e.t.Fatalf("%s keeps personal content after redaction: %+v", ref, got)
	}
	if got.District != keep.District || got.Topic != keep.Topic || got.Lang != keep.Lang || !got.Created.Equal(keep.Created) ||
		got.Assignee != keep.Assignee || len(got.History) < 2 {
		e.t.Fatalf("%s lost anonymous fields in redaction: %+v", ref, got)
	}
	if last := got.History[len(got.History)-1]; last.Kind != bot.EventRedacted {
		e.t.Fatalf("%s: last event %s, want redacted", ref, last.Kind)
	}
}

func testRedact(t *testing.T, e *tenv) {
	open := e.mustCreate(e.newTicket(1))
	claimed := e.mustCreate(e.newTicket(1))
	closed := e.mustCreate(e.newTicket(1))
	other := e.mustCreate(e.newTicket(2))
	e.mustApply(claimed.Ref, e.event(bot.EventClaimed, bot.StaffActor(staff1)))
	e.mustApply(closed.Ref, e.event(bot.EventClosed, bot.StaffActor(staff1)))
	for i, ref := range []string{open.Ref, claimed.Ref, closed.Ref} {
		for _, chat := range []int64{requesterChat(1), assigneeAChat} {
			if err := e.s.LinkMessage(e.ctx, chat, 100+i, ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.s.LinkMessage(e.ctx, requesterChat(2), 100, other.Ref); err != nil {
		t.Fatal(err)
	}

	n, err := e.s.RedactTickets(e.ctx, user(1))
	if err != nil || n != 3 {
		t.Fatalf("RedactTickets = %d, %v; want 3", n, err)
	}
	e.mustRedacted(open.Ref, bot.TicketCancelled, open)
	e.mustRedacted(claimed.Ref, bot.TicketCancelled, claimed)
	e.mustRedacted(closed.Ref, bot.TicketClosed, closed)
	e.mustEqualTicket(e.mustTicket(other.Ref), other)
	e.mustOpenOf(1)
	e.mustOpenOf(2, other.Ref)
	for i := range 3 {
		if ref, err := e.s.TicketForMessage(e.ctx, requesterChat(1), 100+i); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("link in the requester's chat survives redaction: %s, %v", ref, err)
		}
	}
	if ref, err := e.s.TicketForMessage(e.ctx, requesterChat(2), 100); err != nil || ref != other.Ref {
		t.Fatalf("other user's link: %s, %v", ref, err)
	}
	if err := e.s.LinkMessage(e.ctx, requesterChat(1), 200, open.Ref); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("LinkMessage to a redacted ticket: %v; want ErrNotFound", err)
	}
	// Redacted tickets accept no more events.
	if _, err := e.apply(open.Ref, e.event(bot.EventReply, bot.ActorRequester)); !errors.Is(err, bot.ErrInvalidTransition) {
		t.Fatalf("reply to a redacted ticket: %v; want ErrInvalidTransition", err)
	}
	e.mustDue(e.clk.Now().Add(1000*time.Hour), 10, other.Ref)
	e.mustNoPersonal(1, 2, string(user(1)))

	if n, err := e.s.RedactTickets(e.ctx, user(1)); err != nil || n != 0 {
		t.Fatalf("second RedactTickets = %d, %v; want 0", n, err)
	}
	if n, err := e.s.RedactTickets(e.ctx, user(9)); err != nil || n != 0 {
		t.Fatalf("RedactTickets(no tickets) = %d, %v; want 0", n, err)
	}
}

func testForgetRedactsTickets(t *testing.T, e *tenv) {
	s, ok := e.s.(bot.Store)
	if !ok {
		t.Skipf("%T is not a bot.Store", e.s)
	}
	if err := s.SaveSession(e.ctx, user(1), full(), time.Hour); err != nil {
		t.Fatal(err)
	}
	a := e.mustCreate(e.newTicket(1))
	e.mustCreate(e.newTicket(2))
	if err := e.s.LinkMessage(e.ctx, requesterChat(1), 5, a.Ref); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(e.ctx, user(1)); err != nil {
		t.Fatal(err)
	}
	e.mustRedacted(a.Ref, bot.TicketCancelled, a)
	e.mustNoPersonal(1, 2, string(user(1)))
}

func testPurgeClosed(t *testing.T, e *tenv) {
	old := e.mustCreate(e.newTicket(1))
	oldCancelled := e.mustCreate(e.newTicket(2))
	open := e.mustCreate(e.newTicket(3))
	e.mustApply(old.Ref, e.event(bot.EventClosed, bot.StaffActor(staff1)))
	e.mustApply(oldCancelled.Ref, e.event(bot.EventCancelled, bot.ActorRequester))
	e.advance(80 * day)
	recent := e.mustCreate(e.newTicket(4))
	e.mustApply(recent.Ref, e.event(bot.EventClosed, bot.StaffActor(staff1)))
	e.mustApply(open.Ref, e.event(bot.EventReply, bot.ActorRequester))
	e.advance(11 * day)

	cutoff := e.clk.Now().Add(-bot.ClosedRetention)
	n, err := e.s.PurgeClosed(e.ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("PurgeClosed = %d, %v; want 2", n, err)
	}
	e.mustRedacted(old.Ref, bot.TicketClosed, old)
	e.mustRedacted(oldCancelled.Ref, bot.TicketCancelled, oldCancelled)
	if got := e.mustTicket(recent.Ref); got.Redacted || got.Text != secretText(4) {
		t.Fatal("recently closed ticket purged")
	}
	if got := e.mustTicket(open.Ref); got.Redacted || got.Text != secretText(3) {
		t.Fatal("open ticket purged")
	}
	e.mustNoPersonal(1, 4)
	if n, err := e.s.PurgeClosed(e.ctx, cutoff); err != nil || n != 0 {
		t.Fatalf("second PurgeClosed = %d, %v; want 0", n, err)
	}
	e.advance(80 * day)
	if n, err := e.s.PurgeClosed(e.ctx, e.clk.Now().Add(-bot.ClosedRetention)); err != nil || n != 1 {
		t.Fatalf("PurgeClosed 80 days later = %d, %v; want 1", n, err)
	}
}

func testTicketExpiry(t *testing.T, e *tenv) {
	ttl := bot.DefaultTicketTTL
	a := e.mustCreate(e.newTicket(1)).Ref
	b := e.mustCreate(e.newTicket(1)).Ref
	if err := e.s.LinkMessage(e.ctx, requesterChat(1), 1, a); err != nil {
		t.Fatal(err)
	}
	e.advance(ttl - day)
	e.mustTicket(a)
	e.mustApply(b, e.event(bot.EventReply, bot.ActorRequester)) // refreshes b only
	e.advance(2 * day)
	e.mustNoTicket(a)
	e.mustTicket(b)
	if _, err := e.s.TicketForMessage(e.ctx, requesterChat(1), 1); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("link outlived its ticket's TTL: %v", err)
	}
	e.mustOpenOf(1, b)
	e.mustDue(e.clk.Now(), 10, b)
	e.mustAssigned(assigneeA, b)
	e.advance(ttl)
	e.mustNoTicket(b)
	e.mustOpenOf(1)
	e.mustDue(e.clk.Now(), 10)
	e.mustAssigned(assigneeA)
}
