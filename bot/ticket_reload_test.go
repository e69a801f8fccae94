package bot_test

import (
	"context"
	"errors"
	"strings"
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
