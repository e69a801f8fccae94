package bot_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

// flakySender fails sends to one chat with ErrUnavailable while down.
type flakySender struct {
	*bottest.Recorder
	chat int64
	down atomic.Bool
}

func (f *flakySender) Send(ctx context.Context, m bot.Outgoing) (int, error) {
	if f.down.Load() && m.ChatID == f.chat {
		return 0, bot.ErrUnavailable
	}
	return f.Recorder.Send(ctx, m)
}

type outboxHarness struct {
	*staffHarness
	mem    *memstore.Store
	sender *flakySender
	stop   func() // ends the dispatcher
}

// newOutboxHarness is the staff harness with the memstore's outbox and
// callback tokens, and a dispatcher running until the test ends.
func newOutboxHarness(t *testing.T, staff *bot.StaffDirectory, mem *memstore.Store) *outboxHarness {
	t.Helper()
	kb := mustSampleKB(t)
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	if mem == nil {
		mem = memstore.New(func() time.Time { return testNow })
	}
	h.store = &countingStore{Store: mem}
	if staff == nil {
		var err error
		if staff, err = staffconfig.Demo(kb); err != nil {
			t.Fatal(err)
		}
	}
	fs := &flakySender{Recorder: h.rec, chat: nordChat}
	b, err := bot.New(bot.Config{
		KB: knowledge.NewLive(kb), Store: h.store, Sender: fs, Catalog: h.cat,
		Now: func() time.Time { return testNow }, UserKeySecret: secret,
		Logger: newTestLogger(h.log), Staff: staff, Tickets: mem, Outbox: mem, Tokens: mem,
		Flood: bot.FloodLimit{Off: true},
	})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	h.bot = b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.RunOutbox(ctx, "test"); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &outboxHarness{staffHarness: &staffHarness{harness: h, tickets: &ticketStore{Store: mem}}, mem: mem, sender: fs, stop: stop}
}

// mustArrive waits for a message to chat containing substr.
func (h *outboxHarness) mustArrive(chat int64, substr string) bot.Outgoing {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range h.rec.To(chat) {
			if strings.Contains(m.Text, substr) {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no message to %d containing %q; log:\n%s", chat, substr, h.log.String())
	return bot.Outgoing{}
}

func TestOutboxDeliversAfterOutageInOrder(t *testing.T) {
	h := newOutboxHarness(t, nil, nil)
	h.sender.down.Store(true)
	var refs []string
	for i, id := range []int64{requesterID, requesterID + 1, requesterID + 2} {
		refs = append(refs, h.mustRequest(h.requester(id, "en"), "nord", "work", "Request number "+string(rune('A'+i)), "ks"))
	}
	time.Sleep(300 * time.Millisecond) // the dispatcher tries and fails
	if n := len(h.rec.To(nordChat)); n != 0 {
		t.Fatalf("%d messages reached the staff chat during the outage", n)
	}
	h.sender.down.Store(false)
	h.mustArrive(nordChat, refs[2])
	var order []string
	for _, m := range h.rec.To(nordChat) {
		if r := refRe.FindString(m.Text); r != "" {
			order = append(order, r)
		}
	}
	if !slices.Equal(order, refs) {
		t.Errorf("staff chat got %v, want each once in order %v", order, refs)
	}
}

func TestTicketButtonsAreBoundTokens(t *testing.T) {
	h := newOutboxHarness(t, nil, nil)
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "I need help with a letter ‮gnihtemos​", "ks")
	card := h.mustArrive(nordChat, ref)
	if strings.ContainsAny(card.Text, "\u202e\u200b") {
		t.Errorf("staff card shows bidi override or zero-width characters: %q", card.Text)
	}
	claim := card.Buttons[0][0].Data
	if !strings.HasPrefix(claim, "~") || strings.Contains(claim, ref) || len(claim) > 64 {
		t.Fatalf("claim button data %q is not an opaque token", claim)
	}
	const stranger = 4711
	for _, tc := range []struct {
		name       string
		user, chat int64
		data       string
	}{
		{"forged data with the reference", anna, nordChat, "sc:" + ref},
		{"token pressed by a non-staff user", stranger, nordChat, claim},
		{"token pressed in another chat", anna, hafenChat, claim},
		{"token pressed by staff of another desk", jan, nordChat, claim},
		{"unknown token", anna, nordChat, "~AAAAAAAAAAAAAAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, notice := h.staffPress(tc.user, tc.chat, tc.data)
			if notice == "" {
				t.Error("no refusal notice")
			}
			if tk := h.mustTicket(ref); tk.State != bot.TicketOpen {
				t.Errorf("ticket state %s after a refused press", tk.State)
			}
		})
	}
	if !strings.Contains(h.log.String(), "refused") {
		t.Error("refusals not logged")
	}
	if strings.Contains(h.log.String(), "letter") {
		t.Error("log holds the request text")
	}
	h.staffPress(anna, nordChat, claim)
	if tk := h.mustTicket(ref); tk.State != bot.TicketClaimed || tk.ClaimedBy != anna {
		t.Fatalf("after Anna's press: state %s, claimed by %d", tk.State, tk.ClaimedBy)
	}

	// The requester's own buttons are bound to the requester.
	out := u.say("/mytickets")
	var withdraw string
	for _, row := range out[len(out)-1].Buttons {
		for _, b := range row {
			if strings.HasPrefix(b.Data, "~") && withdraw == "" {
				withdraw = b.Data
			}
		}
	}
	if withdraw == "" {
		t.Fatalf("no token button in /mytickets: %+v", out)
	}
	other := h.requester(requesterID+7, "en")
	other.say("/start")
	other.press(withdraw)
	if tk := h.mustTicket(ref); tk.State.Final() {
		t.Fatal("another user withdrew the request with its button")
	}
	u.press(withdraw)
	if tk := h.mustTicket(ref); tk.State != bot.TicketCancelled {
		t.Errorf("the requester's own withdraw button: state %s", tk.State)
	}
}

func TestForgetRemovesQueuedMessages(t *testing.T) {
	h := newOutboxHarness(t, nil, nil)
	h.sender.down.Store(true)
	u := h.requester(requesterID, "en")
	h.mustRequest(u, "nord", "work", "Very private matter", "ks")
	// Forgotten while the dispatcher waits to retry: a send already
	// under way cannot be called back.
	time.Sleep(300 * time.Millisecond)
	n, err := h.mem.ForgetOutbox(context.Background(), h.bot.UserKey(requesterID))
	if err != nil || n == 0 {
		t.Fatalf("ForgetOutbox = %d, %v; want the queued request removed", n, err)
	}
	h.sender.down.Store(false)
	time.Sleep(2500 * time.Millisecond) // past the dispatcher's first backoff
	for _, m := range h.rec.To(nordChat) {
		if strings.Contains(m.Text, "Very private matter") {
			t.Fatal("a forgotten user's request was delivered")
		}
	}
}

func TestRequeueStaffRemoved(t *testing.T) {
	kb := mustSampleKB(t)
	demo, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New(func() time.Time { return testNow })
	h := newOutboxHarness(t, demo, mem)
	ref := h.mustRequest(h.requester(requesterID, "en"), "nord", "work", "Please help", "ks")
	card := h.mustArrive(nordChat, ref)
	h.staffPress(anna, nordChat, card.Buttons[0][0].Data)
	if tk := h.mustTicket(ref); tk.ClaimedBy != anna {
		t.Fatalf("not claimed by Anna: %+v", tk)
	}
	// Anna leaves qm-nord; the bot restarts with the new configuration.
	h.stop()
	var desks []bot.Desk
	for _, p := range demo.All() {
		d, _ := demo.Desk(p)
		if p == "qm-nord" {
			d.Users = []int64{malik}
		}
		desks = append(desks, d)
	}
	without, err := bot.NewStaffDirectory(desks, []int64{9001})
	if err != nil {
		t.Fatal(err)
	}
	h2 := newOutboxHarness(t, without, mem)
	n, err := h2.bot.Requeue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	tk := h2.mustTicket(ref)
	if tk.State != bot.TicketOpen || tk.ClaimedBy != 0 {
		t.Errorf("after requeue: state %s, claimed by %d", tk.State, tk.ClaimedBy)
	}
	h2.mustArrive(nordChat, ref)
	if n, _ := h2.bot.Requeue(context.Background()); n != 0 {
		t.Errorf("second Requeue moved %d tickets", n)
	}
}
