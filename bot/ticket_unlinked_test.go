package bot_test

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/knowledge"
)

// Requests whose message in the staff chat was never linked to the ticket:
// the bot died after Telegram accepted the message and before the link
// was stored (see outbox.go). A reply to such a message still reaches the
// requester, recognised by the reference in the message's header, which
// the transport passes on only for the bot's own messages.

const testBotName = "lotse_test_bot"

// linkDropper is a ticket store that loses the next links, as a bot
// killed between Telegram's answer and storing the link does.
type linkDropper struct {
	*redisstore.Store
	drop  atomic.Int32
	calls atomic.Int32
}

func (s *linkDropper) LinkMessage(ctx context.Context, chat int64, msg int, ref string) error {
	defer s.calls.Add(1)
	if s.drop.Add(-1) >= 0 {
		return nil
	}
	return s.Store.LinkMessage(ctx, chat, msg, ref)
}

type unlinkedHarness struct {
	*staffHarness
	store   *redisstore.Store
	tickets *linkDropper
}

// newUnlinkedHarness is a bot on real Redis (store, tickets, outbox and
// tokens) with the demo staff; run starts its dispatcher.
func newUnlinkedHarness(t *testing.T) (*unlinkedHarness, func(consumer string)) {
	t.Helper()
	kb := mustSampleKB(t)
	store := mustRedisStore(t)
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	staff, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	tickets := &linkDropper{Store: store}
	b, err := bot.New(bot.Config{
		KB: knowledge.NewLive(kb), Store: store, Sender: h.rec, Catalog: h.cat,
		Now: time.Now, UserKeySecret: secret, Logger: newTestLogger(h.log), Staff: staff,
		Tickets: tickets, Outbox: store, Tokens: store, Flood: bot.FloodLimit{Off: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.bot = b
	run := func(consumer string) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { b.RunOutbox(ctx, consumer); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return &unlinkedHarness{staffHarness: &staffHarness{harness: h}, store: store, tickets: tickets}, run
}

// reply is staff member (or anybody) uid replying with text in chat to
// message to, whose author is from and text toText, converted as the
// Telegram transport does.
func (h *unlinkedHarness) reply(uid, chat int64, text string, to int, from *tgbotapi.User, toText string) {
	h.t.Helper()
	typ := "supergroup"
	if chat > 0 {
		typ = "private"
	}
	c := &tgbotapi.Chat{ID: chat, Type: typ}
	u := tgbotapi.Update{UpdateID: int(h.updateID()), Message: &tgbotapi.Message{
		MessageID: 7000 + int(h.updateID()), Date: int(time.Now().Unix()), Chat: c, Text: text,
		From:           &tgbotapi.User{ID: uid, FirstName: "Staff", LanguageCode: "de"},
		ReplyToMessage: &tgbotapi.Message{MessageID: to, Chat: c, From: from, Text: toText},
	}}
	in, ok := telegram.ConvertFor(u, testBotName)
	if !ok {
		h.t.Fatal("reply not converted")
	}
	if err := h.bot.Handle(context.Background(), in); err != nil {
		h.t.Errorf("Handle: %v", err)
	}
}

var (
	lotseUser = &tgbotapi.User{ID: 123456, IsBot: true, FirstName: "Lotse", UserName: testBotName}
	otherBot  = &tgbotapi.User{ID: 654321, IsBot: true, FirstName: "Helper", UserName: "other_helper_bot"}
)

// cards are the messages to chat holding substr, with their Recorder ids.
func (h *unlinkedHarness) cards(chat int64, substr string) (ids []int, texts []string) {
	for i, m := range h.rec.Sent() {
		if m.ChatID == chat && strings.Contains(m.Text, substr) {
			ids, texts = append(ids, i+1), append(texts, m.Text)
		}
	}
	return ids, texts
}

func (h *unlinkedHarness) count(chat int64, substr string) int {
	n := 0
	for _, m := range h.rec.To(chat) {
		if strings.Contains(m.Text, substr) {
			n++
		}
	}
	return n
}

// TestReplyToUnlinkedDuplicateCard: the dispatcher dies after Telegram
// accepted the request message (neither settled nor linked); the next
// dispatcher sends it again (the documented duplicate) and links that
// copy. Staff use the first copy: its Claim button works (the tokens
// were stored before the send), and replying to it answers the
// requester, exactly once; the copy is linked then, so a later reply
// finds the ticket by its link alone.
func TestReplyToUnlinkedDuplicateCard(t *testing.T) {
	h, run := newUnlinkedHarness(t)
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "I need help with a letter", "ks")

	// A dispatcher takes the card, sends it and dies.
	ctx := context.Background()
	items, err := h.store.FetchOutbox(ctx, "dead", 64, 0)
	if err != nil {
		t.Fatal(err)
	}
	var card bot.OutboxItem
	for _, it := range items {
		if it.ID == "new:"+ref {
			card = it
		}
	}
	if card.ID == "" {
		t.Fatalf("card of %s not queued: %+v", ref, items)
	}
	e, st, err := h.store.TakeOutbox(ctx, "dead", card, 50*time.Millisecond)
	if err != nil || st != bot.TakeReady {
		t.Fatalf("take: %v %v", st, err)
	}
	if _, err := h.rec.Send(ctx, e.Msg); err != nil {
		t.Fatal(err)
	}
	// The next dispatcher delivers it again once the lease is over.
	run("next")
	waitFor(t, "the redelivered card", func() bool { ids, _ := h.cards(nordChat, ref); return len(ids) == 2 })
	ids, texts := h.cards(nordChat, ref)
	first := ids[0]
	if texts[0] != texts[1] || !strings.Contains(h.log.String(), "outbox redelivery") {
		t.Fatalf("not the documented duplicate: %q / %q", texts[0], texts[1])
	}
	if _, err := h.store.TicketForMessage(ctx, nordChat, first); err == nil { // groups are linked by their id
		t.Fatal("the first copy is linked: nothing to test")
	}

	// Claim on the first copy: its token works.
	sent := h.rec.Sent()
	claim := sent[first-1].Buttons[0][0].Data
	if _, notice := h.staffPress(anna, nordChat, claim); !strings.Contains(notice, ref) {
		t.Errorf("claim on the unlinked copy: notice %q", notice)
	}
	if tk, _ := h.store.Ticket(ctx, ref); tk.State != bot.TicketClaimed || tk.ClaimedBy != anna {
		t.Errorf("after claim: state %v by %d", tk.State, tk.ClaimedBy)
	}

	// Anna replies to the first copy.
	h.reply(anna, nordChat, "Come on Thursday ANS-ONE", first, lotseUser, texts[0])
	waitFor(t, "the answer", func() bool { return h.count(requesterID, "ANS-ONE") > 0 })
	if n := h.count(nordChat, h.cat.T("de", "StaffAnswerSent", map[string]any{"Ref": ref})); n != 1 {
		t.Errorf("staff told %d times that the answer was sent, want 1", n)
	}
	// Linked now: a reply whose quoted text the transport did not pass on
	// (as Telegram leaves it out for old messages) still finds it.
	h.reply(anna, nordChat, "And bring the letter ANS-TWO", first, &tgbotapi.User{ID: 1}, "")
	waitFor(t, "the second answer", func() bool { return h.count(requesterID, "ANS-TWO") > 0 })
	time.Sleep(300 * time.Millisecond) // a duplicate would come from the running dispatcher
	if a, b := h.count(requesterID, "ANS-ONE"), h.count(requesterID, "ANS-TWO"); a != 1 || b != 1 {
		t.Errorf("requester got the answers %d and %d times, want once each", a, b)
	}
	if tk, _ := h.store.Ticket(ctx, ref); tk.State != bot.TicketAnswered {
		t.Errorf("ticket %s is %v, want answered", ref, tk.State)
	}
	checkNoPersonalData(t, h)
}

// TestReplyToUnlinkedCardAfterSettle: the bot died after the outbox
// settled the card and before the link was stored, so the only copy is
// unlinked; a file the requester sent is relayed to its caption's
// ticket too.
func TestReplyToUnlinkedCardAfterSettle(t *testing.T) {
	h, run := newUnlinkedHarness(t)
	h.tickets.drop.Store(1)
	run("d1")
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "I need help with a letter", "ks")
	waitFor(t, "the card", func() bool { ids, _ := h.cards(nordChat, ref); return len(ids) == 1 })
	ids, texts := h.cards(nordChat, ref)
	h.reply(anna, nordChat, "Call us ANS-ONE", ids[0], lotseUser, texts[0])
	waitFor(t, "the answer", func() bool { return h.count(requesterID, "ANS-ONE") > 0 })

	// A caption: "K-7F3Q: ..." of a relayed file, never linked. (The
	// requester replies to the answer, linked once the links of the card
	// (dropped), of the card on the reply and of the answer were written.)
	waitFor(t, "the answer's link", func() bool { return h.tickets.calls.Load() == 3 })
	h.tickets.drop.Store(1)
	ph := u.incoming(bot.InPhoto)
	ph.FileID = "AgACphoto"
	ph.Text = "the letter"
	ph.ReplyTo = h.lastMessageID(requesterID, "ANS-ONE")
	u.send(ph)
	var fileID int
	waitFor(t, "the relayed photo", func() bool {
		for i, m := range h.rec.Sent() {
			if m.ChatID == nordChat && m.File != nil && m.File.Caption == ref+": the letter" {
				fileID = i + 1
				return true
			}
		}
		return false
	})
	c := &tgbotapi.Chat{ID: nordChat, Type: "supergroup"}
	u2 := tgbotapi.Update{UpdateID: int(h.updateID()), Message: &tgbotapi.Message{
		MessageID: 9001, Date: int(time.Now().Unix()), Chat: c, Text: "Thanks ANS-TWO",
		From:           &tgbotapi.User{ID: malik, FirstName: "Staff"},
		ReplyToMessage: &tgbotapi.Message{MessageID: fileID, Chat: c, From: lotseUser, Caption: ref + ": the letter"},
	}}
	in, _ := telegram.ConvertFor(u2, testBotName)
	if err := h.bot.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the answer to the photo", func() bool { return h.count(requesterID, "ANS-TWO") > 0 })
	time.Sleep(300 * time.Millisecond)
	if a, b := h.count(requesterID, "ANS-ONE"), h.count(requesterID, "ANS-TWO"); a != 1 || b != 1 {
		t.Errorf("requester got the answers %d and %d times, want once each", a, b)
	}
}

// TestReplyToUnlinkedCardRefused: a bot message quoting the reference of
// a request the replying staff member is not responsible for is no way
// into it: refused, logged without personal data, nothing relayed and
// nothing linked. Replies to somebody else's message showing a
// reference (a colleague's, another bot's) are no ticket replies at all.
func TestReplyToUnlinkedCardRefused(t *testing.T) {
	h, run := newUnlinkedHarness(t)
	h.tickets.drop.Store(1)
	run("d1")
	u := h.requester(requesterID, "en")
	ref := h.mustRequest(u, "nord", "work", "I need help with a letter", "ks")
	waitFor(t, "the card", func() bool { ids, _ := h.cards(nordChat, ref); return len(ids) == 1 })
	ids, texts := h.cards(nordChat, ref)
	before := len(h.rec.To(requesterID))

	// Jan (qm-hafen) is no staff of qm-nord, whichever chat he is in.
	h.reply(jan, nordChat, "Not mine ANS-JAN", ids[0], lotseUser, texts[0])
	if !strings.Contains(allText(h.rec.To(nordChat)), h.cat.T("de", "StaffNotAllowed", nil)) {
		t.Error("Jan not told that he may not answer")
	}
	if !strings.Contains(h.log.String(), "staff action refused") {
		t.Error("refusal not logged")
	}
	// In his own group the bot's copy of a card names K-… as well.
	h.reply(jan, hafenChat, "Not mine either ANS-JAN", 424242, lotseUser, texts[0])
	// Anna answers a colleague quoting the header, and another bot's copy.
	h.reply(anna, nordChat, "Yes ANS-COLLEAGUE", 424243, &tgbotapi.User{ID: malik, FirstName: "Malik"}, texts[0])
	h.reply(anna, nordChat, "Yes ANS-OTHERBOT", 424244, otherBot, texts[0])
	// A reply to the bot's note about the request is no answer either.
	note := h.cat.T("de", "StaffClaimed", map[string]any{"Ref": ref, "Name": "Anna"})
	h.reply(anna, nordChat, "Thanks ANS-NOTE", 424245, lotseUser, note)

	time.Sleep(300 * time.Millisecond) // what was queued is delivered meanwhile
	if got := h.rec.To(requesterID)[before:]; len(got) != 0 {
		t.Fatalf("requester got %q", allText(got))
	}
	if tk, _ := h.store.Ticket(context.Background(), ref); tk.State != bot.TicketOpen {
		t.Errorf("ticket %s is %v, want still open", ref, tk.State)
	}
	ctx := context.Background()
	for _, id := range []int{ids[0], 424243, 424244, 424245} {
		if r, err := h.store.TicketForMessage(ctx, nordChat, id); err == nil {
			t.Errorf("message %d linked to %s", id, r)
		}
	}
	checkNoPersonalData(t, h)
}

// rawID finds the Telegram ids of the tests above (not inside a longer
// number, such as a time).
var rawID = regexp.MustCompile(`(^|[^0-9])(50123|1101|1102|1501)([^0-9]|$)`)

// checkNoPersonalData: the log at info level and above holds no text,
// name or Telegram id of the tests above.
func checkNoPersonalData(t *testing.T, h *unlinkedHarness) {
	t.Helper()
	for _, line := range strings.Split(h.log.String(), "\n") {
		if strings.Contains(line, "level=DEBUG") {
			continue
		}
		for _, s := range []string{"ANS-", "letter", requesterName, "Anna"} {
			if strings.Contains(line, s) {
				t.Errorf("log holds %q: %s", s, line)
			}
		}
		if id := rawID.FindString(line); id != "" {
			t.Errorf("log holds the Telegram id %s: %s", id, line)
		}
	}
}
