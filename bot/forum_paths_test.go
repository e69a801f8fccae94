package bot_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
)

// The other ways a ticket leaves a forum desk's chat, end to end as in
// forum_test.go: /forget cancels it, escalation hands it to the deputy
// and then the coordination office, a reloaded staff file moves its desk
// to another chat. Each closes the ticket's topic in the chat it leaves,
// and the chat it arrives in, if a forum desk, opens one.

// pathsRig is a forumRig with the bot and its staff directory at hand.
type pathsRig struct {
	*forumRig
	bot   *bot.Bot
	staff *bot.StaffDirectory
}

// newPathsRig starts the stack with the demo staff, the desks of
// forumDesks marked "forum: true"; every group chat of the demo staff
// and the extra chats exist in the fake, forums those of fakeForums.
func newPathsRig(t *testing.T, forumDesks []string, fakeForums []int64, extra ...int64) *pathsRig {
	t.Helper()
	r, b, staff := startForumRig(t, forumDesks, append([]int64{nordChat, hafenChat, coordChat}, extra...), fakeForums, nil)
	return &pathsRig{forumRig: r, bot: b, staff: staff}
}

// topicClosed waits until topic thread of chat is closed.
func (r *pathsRig) topicClosed(chat int64, thread int) {
	r.t.Helper()
	waitFor(r.t, "the topic closed", func() bool {
		for _, tp := range r.fake.Topics(chat) {
			if tp.Thread == thread {
				return tp.Closed
			}
		}
		return false
	})
}

// closedTopics counts the closed topics of chat.
func (r *pathsRig) closedTopics(chat int64) int {
	n := 0
	for _, tp := range r.fake.Topics(chat) {
		if tp.Closed {
			n++
		}
	}
	return n
}

// noTopicWarnings fails the test if a topic was not closed, its closing
// not recorded or a message not posted into its topic.
func (r *pathsRig) noTopicWarnings() {
	r.t.Helper()
	for _, w := range []string{"forum topic not closed", "forum topic close not", "posting into forum topic failed", "forum topic not opened"} {
		if strings.Contains(r.log.String(), w) {
			r.t.Errorf("logged %q:\n%s", w, r.log.String())
		}
	}
}

// escalate runs the escalation job just after ref is due and checks that
// it went to person.
func (r *pathsRig) escalate(ref, person string) bot.Ticket {
	r.t.Helper()
	due := r.ticket(ref).Due
	if n, err := r.bot.Escalate(context.Background(), due.Add(time.Minute)); n != 1 || err != nil {
		r.t.Fatalf("Escalate = %d, %v; want 1 ticket", n, err)
	}
	tk := r.ticket(ref)
	if tk.Assignee != person {
		r.t.Fatalf("escalated to %s, want %s", tk.Assignee, person)
	}
	return tk
}

// TestForumForgetClosesTopic: /forget cancels the request; the desk's
// note lands in the ticket's topic and the topic is closed.
func TestForumForgetClosesTopic(t *testing.T) {
	r := newPathsRig(t, []string{"qm-nord"}, []int64{nordChat})
	ref := r.request("I need help with a letter from the Jobcenter")
	_, topic := r.card(nordChat, ref)
	u := int64(requesterID)
	r.handled(r.fake.PushText(u, u, "en", "/forget"))
	r.topicClosed(nordChat, topic.Thread)
	tk := r.ticket(ref)
	if tk.State != bot.TicketCancelled || !tk.Redacted {
		t.Errorf("ticket %s, redacted %v; want cancelled and redacted", tk.State, tk.Redacted)
	}
	var notes []bottest.SentMessage
	for _, m := range r.sentTo(nordChat, ref) {
		if m.Markup == nil {
			notes = append(notes, m)
		}
	}
	if len(notes) != 1 || notes[0].ThreadID != topic.Thread {
		t.Errorf("notes about %s in the desk: %+v; want one, in topic %d", ref, notes, topic.Thread)
	}
	if errs := r.fake.Errors(); len(errs) != 0 {
		t.Errorf("API errors: %+v", errs)
	}
	r.noTopicWarnings()
	checkForumLog(t, r.forumRig)
}

// TestForumEscalationMovesTopic: a request claimed and not answered in
// time: its claimer is reminded in the ticket's topic; then it goes to
// the deputy (qm-hafen, no forum) and then to the coordination office (a
// forum): the first hand-over closes the topic at qm-nord and posts the
// card in qm-hafen's group as usual; the second opens a topic at the
// coordination office. Closing the request there closes that topic.
func TestForumEscalationMovesTopic(t *testing.T) {
	r := newPathsRig(t, []string{"qm-nord", "koordinierungsstelle"}, []int64{nordChat, coordChat})
	ref := r.request("I need help with a letter from the Jobcenter")
	nordCard, nordTopic := r.card(nordChat, ref)
	r.press(nordChat, 1101, buttonData(nordCard, func(string, string) bool { return true }), nordCard.MessageID) // Claim

	r.escalate(ref, "qm-nord")
	waitFor(t, "the reminder", func() bool { return len(r.sentTo(nordChat, "Erinnerung: "+ref)) > 0 })
	if m := r.sentTo(nordChat, "Erinnerung: "+ref)[0]; m.ThreadID != nordTopic.Thread {
		t.Errorf("reminder in thread %d, want the topic %d", m.ThreadID, nordTopic.Thread)
	}
	r.escalate(ref, "qm-hafen")
	r.topicClosed(nordChat, nordTopic.Thread)
	hafen := r.cardWhere(hafenChat, ref, nil)
	if hafen.ThreadID != 0 || len(r.fake.Topics(hafenChat)) != 0 {
		t.Errorf("card at qm-hafen in thread %d, topics %+v; want the chat itself", hafen.ThreadID, r.fake.Topics(hafenChat))
	}

	// A coordinator looks it up in the coordination office's group: the
	// card is shown there, and no topic opens for a request of another desk.
	r.handled(r.fake.PushText(coordChat, 9001, "de", "/ticket "+ref))
	waitFor(t, "the card shown", func() bool { return len(r.sentTo(coordChat, ref)) > 0 })
	if shown := r.sentTo(coordChat, ref); len(shown) != 1 || shown[0].ThreadID != 0 || len(r.fake.Topics(coordChat)) != 0 {
		t.Errorf("/ticket: %d cards, thread %d, topics %+v; want the card in the chat, no topic", len(shown), shown[0].ThreadID, r.fake.Topics(coordChat))
	}

	tk := r.escalate(ref, "koordinierungsstelle")
	if tk.AssigneeChat != coordChat {
		t.Fatalf("escalated to chat %d, want %d", tk.AssigneeChat, coordChat)
	}
	card := r.cardWhere(coordChat, ref, func(m bottest.SentMessage) bool { return m.ThreadID != 0 })
	coordTopic := r.fake.Topics(coordChat)[0]
	if card.ThreadID != coordTopic.Thread || len(r.fake.Topics(coordChat)) != 1 {
		t.Fatalf("card in thread %d, topics %+v; want one topic with the card", card.ThreadID, r.fake.Topics(coordChat))
	}
	if !strings.HasPrefix(coordTopic.Name, ref+" · ") {
		t.Errorf("coordination office topic named %q", coordTopic.Name)
	}
	if tk := r.ticket(ref); tk.TopicIn(coordChat) != coordTopic.Thread {
		got := tk.TopicIn(coordChat)
		t.Errorf("ticket records thread %d at the coordination office, want %d", got, coordTopic.Thread)
	}
	if n := len(r.fake.Topics(nordChat)); n != 1 {
		t.Errorf("%d topics at qm-nord, want 1", n)
	}

	// Sabine closes it in the topic: the coordination office's topic closes.
	r.press(coordChat, 9001, cbData(card, 1, 1), card.MessageID)
	var solved string
	for _, m := range r.fake.Sent(coordChat) {
		if m.Markup != nil && len(m.Markup.InlineKeyboard) == 1 && len(m.Markup.InlineKeyboard[0]) == 3 {
			solved = buttonData(m, func(string, string) bool { return true })
		}
	}
	if solved == "" {
		t.Fatal("no close prompt")
	}
	r.press(coordChat, 9001, solved, card.MessageID)
	r.topicClosed(coordChat, coordTopic.Thread)
	if errs := r.fake.Errors(); len(errs) != 0 {
		t.Errorf("API errors: %+v", errs)
	}
	r.noTopicWarnings()
	checkForumLog(t, r.forumRig)
}

// nordIn is the rig's staff with qm-nord's desk in chat.
func (r *pathsRig) nordIn(chat int64) *bot.StaffDirectory {
	r.t.Helper()
	var desks []bot.Desk
	for _, p := range r.staff.All() {
		d, _ := r.staff.Desk(p)
		d.Users, d.Names = slices.Clone(d.Users), maps.Clone(d.Names)
		if p == "qm-nord" {
			d.Chat = chat
		}
		desks = append(desks, d)
	}
	n, err := bot.NewStaffDirectory(desks, []int64{9001})
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// reload puts n in force and requeues, as SIGHUP does; one ticket moves.
func (r *pathsRig) reload(n *bot.StaffDirectory) {
	r.t.Helper()
	if err := r.bot.SetStaff(n); err != nil {
		r.t.Fatal(err)
	}
	if res, err := r.bot.RequeueAll(context.Background()); err != nil || res.Moved != 1 {
		r.t.Fatalf("RequeueAll = %+v, %v; want one moved", res, err)
	}
}

// TestForumReloadMovesTopic: a reloaded staff file moves qm-nord's desk
// to another forum group. The ticket's topic in the old group gets the
// note that it moved and is closed; the new group opens a topic for the
// card; staff writing in it reach the requester. Moving back closes that
// topic and opens a new one in the first group, not the closed one.
func TestForumReloadMovesTopic(t *testing.T) {
	r := newPathsRig(t, []string{"qm-nord"}, []int64{nordChat, movedChat}, movedChat)
	ref := r.request("I need help with a letter from the Jobcenter")
	_, oldTopic := r.card(nordChat, ref)

	r.reload(r.nordIn(movedChat))
	r.topicClosed(nordChat, oldTopic.Thread)
	_, newTopic := r.card(movedChat, ref)
	if tk := r.ticket(ref); tk.TopicIn(movedChat) != newTopic.Thread || tk.AssigneeChat != movedChat {
		t.Errorf("ticket in chat %d, topics %+v; want %d with thread %d", tk.AssigneeChat, tk.Topics, movedChat, newTopic.Thread)
	}
	var notes []bottest.SentMessage
	for _, m := range r.sentTo(nordChat, ref) {
		if m.Markup == nil {
			notes = append(notes, m)
		}
	}
	if len(notes) != 1 || notes[0].ThreadID != oldTopic.Thread {
		t.Errorf("notes about %s in the old group: %+v; want one, in topic %d", ref, notes, oldTopic.Thread)
	}

	r.handled(r.fake.PushTopicText(movedChat, 1101, "de", "ANS-7 im neuen Thema", newTopic.Thread))
	waitFor(t, "the answer at the requester", func() bool { return len(r.sentTo(requesterID, "ANS-7")) == 1 })
	if n := r.closedTopics(movedChat); n != 0 {
		t.Errorf("%d closed topics in the new group, want 0", n)
	}

	r.reload(r.nordIn(nordChat))
	r.topicClosed(movedChat, newTopic.Thread)
	waitFor(t, "a second topic in the first group", func() bool { return len(r.fake.Topics(nordChat)) == 2 })
	back := r.fake.Topics(nordChat)[1]
	if tk := r.ticket(ref); back.Closed || tk.TopicIn(nordChat) != back.Thread {
		t.Errorf("topic %+v; ticket topics %+v; want the new topic open and recorded", back, tk.Topics)
	}
	r.cardWhere(nordChat, ref, func(m bottest.SentMessage) bool { return m.ThreadID == back.Thread })
	if errs := r.fake.Errors(); len(errs) != 0 {
		t.Errorf("API errors: %+v", errs)
	}
	r.noTopicWarnings()
	checkForumLog(t, r.forumRig)
}
