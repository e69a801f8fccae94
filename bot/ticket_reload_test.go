package bot_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// withoutUser is demo with user removed from person's desk.
func withoutUser(t *testing.T, demo *bot.StaffDirectory, person string, user int64) *bot.StaffDirectory {
	t.Helper()
	var desks []bot.Desk
	for _, p := range demo.All() {
		d, _ := demo.Desk(p)
		if p == person {
			var keep []int64
			for _, u := range d.Users {
				if u != user {
					keep = append(keep, u)
				}
			}
			d.Users = keep
		}
		desks = append(desks, d)
	}
	n, err := bot.NewStaffDirectory(desks, []int64{9001})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cardsWith returns the messages to chat that contain ref and carry buttons.
func (h *outboxHarness) cardsWith(chat int64, ref string) []bot.Outgoing {
	var out []bot.Outgoing
	for _, m := range h.rec.To(chat) {
		if strings.Contains(m.Text, ref) && len(m.Buttons) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// TestSetStaffReturnsRemovedStaffsTickets: a staff directory replaced
// while the bot runs is in force at once; a claim held by somebody it no
// longer has goes back to the desk (posted again), and their buttons are
// refused from then on.
func TestSetStaffReturnsRemovedStaffsTickets(t *testing.T) {
	kb := mustSampleKB(t)
	demo, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	h := newOutboxHarness(t, demo, memstore.New(func() time.Time { return testNow }))
	ref := h.mustRequest(h.requester(requesterID, "en"), "nord", "work", "Please help", "ks")
	card := h.mustArrive(nordChat, ref)
	h.staffPress(anna, nordChat, card.Buttons[0][0].Data)
	if tk := h.mustTicket(ref); tk.ClaimedBy != anna {
		t.Fatalf("not claimed by Anna: %+v", tk)
	}

	if err := h.bot.SetStaff(withoutUser(t, demo, "qm-nord", anna)); err != nil {
		t.Fatalf("SetStaff: %v", err)
	}
	n, err := h.bot.Requeue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	if tk := h.mustTicket(ref); tk.State != bot.TicketOpen || tk.ClaimedBy != 0 {
		t.Fatalf("after the reload: state %s, claimed by %d", tk.State, tk.ClaimedBy)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(h.cardsWith(nordChat, ref)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cards := h.cardsWith(nordChat, ref)
	if len(cards) != 2 {
		t.Fatalf("%d cards of %s in the desk chat, want the first and the requeued one", len(cards), ref)
	}
	again := cards[1]

	// Anna is no longer staff of qm-nord: her press on the new card is
	// refused; Malik, still on the desk, may claim.
	if _, notice := h.staffPress(anna, nordChat, again.Buttons[0][0].Data); notice == "" {
		t.Error("Anna's press after the reload got no refusal notice")
	}
	if tk := h.mustTicket(ref); tk.ClaimedBy != 0 {
		t.Fatalf("a removed staff member claimed the request: claimed by %d", tk.ClaimedBy)
	}
	h.staffPress(malik, nordChat, again.Buttons[0][0].Data)
	if tk := h.mustTicket(ref); tk.ClaimedBy != malik {
		t.Errorf("Malik could not claim after the reload: %+v", tk.ClaimedBy)
	}
	if n, _ := h.bot.Requeue(context.Background()); n != 0 {
		t.Errorf("second Requeue moved %d tickets", n)
	}
}

// TestSetStaffRefusesIncomplete: a directory that leaves a routing target
// without a desk is refused and the one in force stays.
func TestSetStaffRefusesIncomplete(t *testing.T) {
	kb := mustSampleKB(t)
	demo, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	h := newOutboxHarness(t, demo, nil)
	var desks []bot.Desk
	for _, p := range demo.All() {
		if p == "qm-nord" {
			continue
		}
		d, _ := demo.Desk(p)
		desks = append(desks, d)
	}
	partial, err := bot.NewStaffDirectory(desks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bot.SetStaff(partial); !errors.Is(err, bot.ErrInvalid) || !strings.Contains(err.Error(), "qm-nord") {
		t.Fatalf("SetStaff without qm-nord = %v; want ErrInvalid naming qm-nord", err)
	}
	// Still in force: a request to qm-nord reaches its chat.
	ref := h.mustRequest(h.requester(requesterID, "en"), "nord", "work", "Please help", "ks")
	h.mustArrive(nordChat, ref)
	if err := h.bot.SetStaff(nil); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("SetStaff(nil) = %v; want ErrInvalid", err)
	}
}

// TestSetStaffNeedsStaffAtStart: a bot started without staff cannot be
// given some later (the outbox and tokens are wired at start).
func TestSetStaffNeedsStaffAtStart(t *testing.T) {
	kb := mustSampleKB(t)
	demo, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Config{
		KB: knowledge.NewLive(kb), Store: memstore.New(nil), Sender: bottest.NewRecorder(),
		Catalog: mustCatalog(t), UserKeySecret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetStaff(demo); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("SetStaff on a bot without staff = %v; want ErrInvalid", err)
	}
}

// Desks moving to another chat (a reloaded staff file): the open
// requests follow them, posted once in the new chat through the outbox.

// movedChat is where qm-nord's requests arrive after the reload.
const movedChat = -1001999

// reloadStore is what a store provides to requests for people.
type reloadStore interface {
	bot.TicketStore
	bot.Outbox
	bot.TokenStore
}

// failingUpdates fails the next fail UpdateTicket calls, as a bot that
// dies (or loses Redis) after queueing a move and before recording it.
type failingUpdates struct {
	bot.TicketStore
	fail atomic.Int32
}

func (s *failingUpdates) UpdateTicket(ctx context.Context, ref string, fn func(*bot.Ticket) error) (bot.Ticket, error) {
	if s.fail.Add(-1) >= 0 {
		return bot.Ticket{}, fmt.Errorf("redis: i/o timeout: %w", bot.ErrUnavailable)
	}
	return s.TicketStore.UpdateTicket(ctx, ref, fn)
}

type reloadHarness struct {
	*staffHarness
	demo    *bot.StaffDirectory
	tickets *failingUpdates
}

// reloadStores are the stores the move tests run against.
var reloadStores = []struct {
	name  string
	store func(t *testing.T) reloadStore
	now   func() time.Time
}{
	{"memstore", func(*testing.T) reloadStore { return memstore.New(func() time.Time { return testNow }) }, func() time.Time { return testNow }},
	{"redis", func(t *testing.T) reloadStore { return mustRedisStore(t) }, time.Now},
}

// newReloadHarness is a bot with the demo staff whose tickets, outbox and
// tokens are in st, with a dispatcher running until the test ends.
func newReloadHarness(t *testing.T, st reloadStore, now func() time.Time) *reloadHarness {
	t.Helper()
	kb := mustSampleKB(t)
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	h.store = &countingStore{Store: memstore.New(now)}
	demo, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	tickets := &failingUpdates{TicketStore: st}
	b, err := bot.New(bot.Config{
		KB: knowledge.NewLive(kb), Store: h.store, Sender: h.rec, Catalog: h.cat,
		Now: now, UserKeySecret: secret, Logger: newTestLogger(h.log), Staff: demo,
		Tickets: tickets, Outbox: st, Tokens: st, Flood: bot.FloodLimit{Off: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.bot = b
	// demo itself follows SetStaff (Replace); edits start from a copy.
	if demo, err = staffconfig.Demo(kb); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.RunOutbox(ctx, "reload"); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &reloadHarness{staffHarness: &staffHarness{harness: h}, demo: demo, tickets: tickets}
}

func (h *reloadHarness) ticket(ref string) bot.Ticket {
	h.t.Helper()
	tk, err := h.tickets.Ticket(context.Background(), ref)
	if err != nil {
		h.t.Fatalf("ticket %s: %v", ref, err)
	}
	return tk
}

// with is the demo staff changed by edit, desk by desk.
func (h *reloadHarness) with(edit func(d *bot.Desk)) *bot.StaffDirectory {
	h.t.Helper()
	var desks []bot.Desk
	for _, p := range h.demo.All() {
		d, _ := h.demo.Desk(p)
		d.Users = slices.Clone(d.Users)
		d.Names = maps.Clone(d.Names)
		edit(&d)
		desks = append(desks, d)
	}
	n, err := bot.NewStaffDirectory(desks, []int64{9001})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// reload puts n in force and requeues, as SIGHUP does.
func (h *reloadHarness) reload(n *bot.StaffDirectory) (bot.Requeued, error) {
	h.t.Helper()
	if err := h.bot.SetStaff(n); err != nil {
		h.t.Fatalf("SetStaff: %v", err)
	}
	return h.bot.RequeueAll(context.Background())
}

// waitCount waits until chat has want messages containing all of subs,
// and fails if it has more.
func (h *reloadHarness) waitCount(chat int64, want int, subs ...string) []int {
	h.t.Helper()
	var ids []int
	count := func() {
		ids = ids[:0]
	next:
		for i, m := range h.rec.Sent() {
			if m.ChatID != chat {
				continue
			}
			for _, s := range subs {
				if !strings.Contains(m.Text, s) {
					continue next
				}
			}
			ids = append(ids, i+1)
		}
	}
	for range 1500 {
		if count(); len(ids) >= want {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(ids) != want {
		h.t.Fatalf("%d messages to %d with %q, want %d; log:\n%s", len(ids), chat, subs, want, h.log.String())
	}
	return ids
}

func (h *reloadHarness) msg(id int) bot.Outgoing { return h.rec.Sent()[id-1] }

func lastEvents(tk bot.Ticket, n int) []bot.EventKind {
	var ks []bot.EventKind
	for _, e := range tk.History[max(0, len(tk.History)-n):] {
		ks = append(ks, e.Kind)
	}
	return ks
}

// TestReloadMovesTicketsWithTheirDesk: qm-nord's requests move to another
// chat, and Anna moves from qm-nord to qm-hafen. Every open request of
// qm-nord is posted once in the new chat and the old chat is told, with
// the reference only; Malik keeps his claim; Anna's claim returns to the
// queue. A second run changes nothing; the buttons, staff replies and the
// requester's replies work in the new chat; moving back posts them again.
func TestReloadMovesTicketsWithTheirDesk(t *testing.T) {
	for _, sc := range reloadStores {
		t.Run(sc.name, func(t *testing.T) {
			h := newReloadHarness(t, sc.store(t), sc.now)
			texts := []string{"Open request about a letter", "Malik's request about a flat", "Anna's request about school"}
			var refs []string
			for i, text := range texts {
				refs = append(refs, h.mustRequest(h.requester(requesterID+int64(i), "en"), "nord", "work", text, "ks"))
			}
			open, mine, annas := refs[0], refs[1], refs[2]
			for _, ref := range refs {
				h.waitCount(nordChat, 1, "Neue Anfrage "+ref)
			}
			card := func(chat int64, ref string, header string) bot.Outgoing {
				return h.msg(h.waitCount(chat, 1, header, ref)[0])
			}
			h.staffPress(malik, nordChat, card(nordChat, mine, "Neue Anfrage").Buttons[0][0].Data)
			h.staffPress(anna, nordChat, card(nordChat, annas, "Neue Anfrage").Buttons[0][0].Data)
			if a, b := h.ticket(mine), h.ticket(annas); a.ClaimedBy != malik || b.ClaimedBy != anna {
				t.Fatalf("claims before the reload: %d, %d", a.ClaimedBy, b.ClaimedBy)
			}

			moved := h.with(func(d *bot.Desk) {
				switch d.Person {
				case "qm-nord":
					d.Chat, d.Users, d.Names = movedChat, []int64{malik}, map[int64]string{malik: "Malik"}
				case "qm-hafen":
					d.Users = append(d.Users, anna)
					d.Names[anna] = "Anna"
				}
			})
			r, err := h.reload(moved)
			if err != nil || r != (bot.Requeued{Tickets: 3, Returned: 1, Moved: 3}) {
				t.Fatalf("RequeueAll = %+v, %v; want 3 tickets, 3 moved, 1 returned", r, err)
			}
			for _, ref := range refs {
				if tk := h.ticket(ref); tk.AssigneeChat != movedChat || tk.Assignee != "qm-nord" {
					t.Errorf("%s after the reload: %s in %d", ref, tk.Assignee, tk.AssigneeChat)
				}
			}
			if tk := h.ticket(open); tk.State != bot.TicketOpen || !slices.Equal(lastEvents(tk, 1), []bot.EventKind{bot.EventMoved}) {
				t.Errorf("open request: %s, history ends %v", tk.State, lastEvents(tk, 1))
			}
			if tk := h.ticket(mine); tk.State != bot.TicketClaimed || tk.ClaimedBy != malik || !slices.Equal(lastEvents(tk, 1), []bot.EventKind{bot.EventMoved}) {
				t.Errorf("Malik's request: %s by %d, history ends %v", tk.State, tk.ClaimedBy, lastEvents(tk, 1))
			}
			if tk := h.ticket(annas); tk.State != bot.TicketOpen || tk.ClaimedBy != 0 ||
				!slices.Equal(lastEvents(tk, 2), []bot.EventKind{bot.EventMoved, bot.EventReleased}) {
				t.Errorf("Anna's request: %s by %d, history ends %v", tk.State, tk.ClaimedBy, lastEvents(tk, 2))
			}
			if tk := h.ticket(open); tk.History[len(tk.History)-1].AssigneeChat != movedChat || tk.History[len(tk.History)-1].Actor != bot.ActorSystem {
				t.Errorf("move event: %+v", tk.History[len(tk.History)-1])
			}
			if r, err := h.bot.RequeueAll(context.Background()); err != nil || r != (bot.Requeued{}) {
				t.Errorf("second RequeueAll = %+v, %v; want nothing", r, err)
			}

			// One card each in the new chat, with the request; one note
			// each in the old chat, with the reference only.
			for i, ref := range refs {
				c := card(movedChat, ref, "In diesen Chat verlegt")
				if !strings.Contains(c.Text, texts[i]) || len(c.Buttons) == 0 {
					t.Errorf("card of %s in the new chat: %q", ref, c.Text)
				}
				note := h.msg(h.waitCount(nordChat, 1, ref, "anderen Chat")[0])
				if strings.Contains(note.Text, texts[i]) || strings.Contains(note.Text, requesterName) || len(note.Buttons) != 0 {
					t.Errorf("note in the old chat holds more than the reference: %q", note.Text)
				}
			}

			// Anna is now at qm-hafen: refused. Malik claims in the new
			// chat, and the desk's notes arrive there.
			if _, notice := h.staffPress(anna, movedChat, card(movedChat, annas, "verlegt").Buttons[0][0].Data); notice == "" {
				t.Error("Anna's press after the reload got no refusal notice")
			}
			h.staffPress(malik, movedChat, card(movedChat, open, "verlegt").Buttons[0][0].Data)
			if tk := h.ticket(open); tk.ClaimedBy != malik {
				t.Fatalf("Malik could not claim in the new chat: %s by %d", tk.State, tk.ClaimedBy)
			}
			h.waitCount(movedChat, 1, open+" wird jetzt von Malik bearbeitet")
			// Everything queued for the new chat before the claim note has
			// arrived: still one card each.
			for _, ref := range refs {
				h.waitCount(movedChat, 1, "verlegt", ref)
			}

			// Malik answers by replying to the moved card; the requester's
			// answer back reaches the new chat.
			mineUser := h.requester(requesterID+1, "en")
			h.staffSay(malik, movedChat, "Come on Thursday.", h.waitCount(movedChat, 1, "verlegt", mine)[0])
			var answer bot.Outgoing
			waitFor(t, "the answer", func() bool {
				for _, m := range h.rec.To(mineUser.id) {
					if strings.Contains(m.Text, "Come on Thursday.") && len(m.Buttons) > 0 {
						answer = m
						return true
					}
				}
				return false
			})
			mineUser.press(answer.Buttons[0][0].Data)
			mineUser.say("Thank you, I will come.")
			h.waitCount(movedChat, 1, "Thank you, I will come.")
			if strings.Contains(allText(h.rec.To(nordChat)), "Thank you") {
				t.Error("the requester's reply reached the old chat")
			}

			// Moving back posts them in the first chat again, once.
			r, err = h.reload(h.with(func(*bot.Desk) {}))
			if err != nil || r.Moved != 3 {
				t.Fatalf("moving back: %+v, %v", r, err)
			}
			for _, ref := range refs {
				h.waitCount(nordChat, 1, "In diesen Chat verlegt", ref)
				h.waitCount(nordChat, 1, ref, "anderen Chat")
				h.waitCount(movedChat, 1, ref, "anderen Chat")
				if tk := h.ticket(ref); tk.AssigneeChat != nordChat {
					t.Errorf("%s not back in the first chat: %d", ref, tk.AssigneeChat)
				}
			}
			if logs := h.log.String(); strings.Contains(logs, "request about") || strings.Contains(logs, requesterName) {
				t.Error("the log holds a request text or a name")
			}
		})
	}
}

// TestReloadMoveAfterCrashPostsOnce: the move was queued but the ticket
// did not record it (the bot died, Redis went away); the next run
// records it and posts nothing twice.
func TestReloadMoveAfterCrashPostsOnce(t *testing.T) {
	for _, sc := range reloadStores {
		t.Run(sc.name, func(t *testing.T) {
			h := newReloadHarness(t, sc.store(t), sc.now)
			ref := h.mustRequest(h.requester(requesterID, "en"), "nord", "work", "Please help", "ks")
			h.waitCount(nordChat, 1, "Neue Anfrage "+ref)
			moved := h.with(func(d *bot.Desk) {
				if d.Person == "qm-nord" {
					d.Chat = movedChat
				}
			})
			h.tickets.fail.Store(1)
			if r, err := h.reload(moved); !errors.Is(err, bot.ErrUnavailable) || r.Moved != 0 {
				t.Fatalf("RequeueAll with the store failing = %+v, %v; want nothing moved, ErrUnavailable", r, err)
			}
			if tk := h.ticket(ref); tk.AssigneeChat != nordChat {
				t.Fatalf("the move was recorded although the update failed: %d", tk.AssigneeChat)
			}
			h.waitCount(movedChat, 1, "verlegt", ref) // queued before the failure
			for i := range 2 {
				r, err := h.bot.RequeueAll(context.Background())
				if want := (bot.Requeued{Tickets: 1 - i, Moved: 1 - i}); err != nil || r != want {
					t.Fatalf("run %d after the failure = %+v, %v; want %+v", i+2, r, err, want)
				}
			}
			if tk := h.ticket(ref); tk.AssigneeChat != movedChat {
				t.Fatalf("not moved: %d", tk.AssigneeChat)
			}
			// Per-chat order: once Anna's claim note arrived in the new
			// chat and the move back's card in the old one, everything
			// queued before them has too.
			h.staffPress(anna, movedChat, h.msg(h.waitCount(movedChat, 1, "verlegt", ref)[0]).Buttons[0][0].Data)
			h.waitCount(movedChat, 1, ref+" wird jetzt von Anna bearbeitet")
			if _, err := h.reload(h.with(func(*bot.Desk) {})); err != nil {
				t.Fatal(err)
			}
			h.waitCount(nordChat, 1, "verlegt", ref)
			h.waitCount(movedChat, 1, "verlegt", ref)
			h.waitCount(nordChat, 1, ref, "anderen Chat")
			if tk := h.ticket(ref); tk.ClaimedBy != anna || tk.AssigneeChat != nordChat {
				t.Errorf("after moving back: claimed by %d in %d; want Anna's claim kept", tk.ClaimedBy, tk.AssigneeChat)
			}
		})
	}
}

func TestTicketMovedEvent(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	base := func(state bot.TicketState) bot.Ticket {
		tk := bot.Ticket{Assignee: "qm-nord", AssigneeChat: nordChat, State: state}
		if state == bot.TicketClaimed || state == bot.TicketAnswered {
			tk.ClaimedBy = malik
		}
		return tk
	}
	moved := bot.TicketEvent{At: at, Kind: bot.EventMoved, Actor: bot.ActorSystem, Assignee: "qm-nord", AssigneeChat: movedChat}
	for _, tc := range []struct {
		name  string
		state bot.TicketState
		ev    func(bot.TicketEvent) bot.TicketEvent
		err   error
	}{
		{"open", bot.TicketOpen, nil, nil},
		{"claimed keeps the claim", bot.TicketClaimed, nil, nil},
		{"answered", bot.TicketAnswered, nil, nil},
		{"closed", bot.TicketClosed, nil, bot.ErrInvalidTransition},
		{"by staff", bot.TicketOpen, func(e bot.TicketEvent) bot.TicketEvent { e.Actor = bot.StaffActor(malik); return e }, bot.ErrInvalidTransition},
		{"by the requester", bot.TicketOpen, func(e bot.TicketEvent) bot.TicketEvent { e.Actor = bot.ActorRequester; return e }, bot.ErrInvalidTransition},
		{"no chat", bot.TicketOpen, func(e bot.TicketEvent) bot.TicketEvent { e.AssigneeChat = 0; return e }, bot.ErrInvalid},
		{"another assignee", bot.TicketOpen, func(e bot.TicketEvent) bot.TicketEvent { e.Assignee = "qm-sued"; return e }, bot.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk, ev := base(tc.state), moved
			if tc.ev != nil {
				ev = tc.ev(ev)
			}
			err := tk.Apply(ev)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || tk.AssigneeChat != nordChat || len(tk.History) != 0 {
					t.Errorf("Apply = %v, chat %d; want %v and no change", err, tk.AssigneeChat, tc.err)
				}
				return
			}
			if err != nil || tk.AssigneeChat != movedChat || tk.State != tc.state || tk.Assignee != "qm-nord" ||
				tk.ClaimedBy != base(tc.state).ClaimedBy || len(tk.History) != 1 {
				t.Errorf("Apply = %v: %+v", err, tk)
			}
		})
	}
}
