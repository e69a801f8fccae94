package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// # One forum topic per ticket
//
// A desk whose chat is a supergroup with topics (Desk.Forum, "forum:
// true" in the staff file) gets one topic per ticket: the card is posted
// into it, and so is everything that follows about the ticket in that
// chat (the requester's follow-ups, its files, notes); any message staff
// write inside the topic is an answer to the ticket, under the same
// rules as a reply to the card (replyToTicket); closing or cancelling the
// ticket closes the topic. Other desks are unchanged.
//
// Every way a ticket becomes final or leaves a chat calls closeTopic for
// that chat: closed by staff, withdrawn, /forget, handed over, escalated
// to another desk, rerouted or moved with its desk by a staff-file
// reload (requeue.go). The chat it arrives in opens a topic if it is a
// forum desk; only the assignee's chat opens one (/ticket elsewhere does
// not). A chat that is no forum desk any more (its desk moved to another
// chat or left the staff file) keeps the ticket's topic there, for the
// note that the ticket moved and for closing it (ticketTopicMode). A
// closed topic is marked on the ticket (ForumTopic.Closed): a ticket
// that comes back to that chat gets a new topic, a final ticket none.
//
// Everything goes through the outbox. An entry's Topic mode says what
// its delivery does about topics (sendForum): TopicOpen (the card) opens
// the ticket's topic in the chat if it has none, then posts into it;
// TopicIn posts into the topic if there is one; TopicClose closes it.
// The entries of one chat are delivered in order, so a follow-up never
// overtakes the card that opens the topic.
//
// Crash safety: the topic is opened at delivery time, under the entry's
// lease, and recorded before the card is sent: first linked
// (TicketStore.LinkMessage with the topic's thread id, which is the id
// of the topic's first message, so staff messages in it find the
// ticket), then stored on the ticket (Ticket.Topics). A crash after
// Telegram opened the topic and before it was stored on the ticket makes
// the redelivery open a second topic and post the card there: the first
// topic stays empty (if it was linked, messages written in it still
// reach the ticket). That unused topic is the accepted cost; the card
// itself is neither lost nor posted twice by this (the outbox's own
// redelivery window, see outbox.go, is unchanged). If Telegram refuses
// the topic (the chat is no forum, the bot may not manage topics: a
// 400), the card is posted in the chat as without topics and a warning
// is logged.

// ForumTopic is a forum topic opened for a ticket in a desk chat.
type ForumTopic struct {
	// Chat is the desk chat (a supergroup), Thread the topic's
	// message_thread_id.
	Chat   int64 `json:"c"`
	Thread int   `json:"t"`
	// Closed: the topic was closed (the ticket became final or left
	// the chat). A ticket that comes back to the chat gets a new topic:
	// staff who are no admins cannot write in a closed one.
	Closed bool `json:"x,omitempty"`
}

// MaxTopics bounds Ticket.Topics: one per forum desk the ticket was
// handed to.
const MaxTopics = 8

// MaxTopicName is the Bot API's limit on a topic name, in characters.
const MaxTopicName = 128

// TopicIn returns the thread of t's topic in chat, 0 if it has none.
func (t *Ticket) TopicIn(chat int64) int {
	for _, ft := range t.Topics {
		if ft.Chat == chat {
			return ft.Thread
		}
	}
	return 0
}

// topicClosed reports whether t's topic in chat was closed.
func (t *Ticket) topicClosed(chat int64) bool {
	for _, ft := range t.Topics {
		if ft.Chat == chat {
			return ft.Closed
		}
	}
	return false
}

// setTopic records thread as t's (open) topic in chat, dropping the
// oldest topic beyond MaxTopics.
func (t *Ticket) setTopic(chat int64, thread int) {
	for i, ft := range t.Topics {
		if ft.Chat == chat {
			t.Topics[i] = ForumTopic{Chat: chat, Thread: thread}
			return
		}
	}
	t.Topics = append(t.Topics, ForumTopic{Chat: chat, Thread: thread})
	if n := len(t.Topics); n > MaxTopics {
		t.Topics = append(t.Topics[:0:0], t.Topics[n-MaxTopics:]...)
	}
}

// ForumSender is an optional Sender capability: topics of forum groups.
// Without it, forum desks get their tickets like any group.
type ForumSender interface {
	// CreateForumTopic opens a topic named name (at most MaxTopicName
	// characters) in chat and returns its message_thread_id. Returns an
	// error wrapping ErrUnavailable if Telegram could not be reached or
	// kept failing (try again later), ErrBlocked if the chat is gone; any
	// other error means Telegram refused (the chat is no forum, the bot
	// may not manage topics): trying again cannot help.
	CreateForumTopic(ctx context.Context, chat int64, name string) (int, error)
	// CloseForumTopic closes topic thread of chat; errors as for
	// CreateForumTopic.
	CloseForumTopic(ctx context.Context, chat int64, thread int) error
}

// Topic modes of an OutboxEntry (OutboxEntry.Topic); see sendForum.
const (
	// TopicOpen: post into the ticket's topic in the chat, opening one
	// first if it has none there.
	TopicOpen = "open"
	// TopicIn: post into the ticket's topic in the chat if it has one,
	// else in the chat.
	TopicIn = "in"
	// TopicClose: close the ticket's topic in the chat (if any); the
	// entry's message is not sent.
	TopicClose = "close"
)

// forumDesk returns a desk in chat marked as a forum.
func (b *Bot) forumDesk(chat int64) (Desk, bool) {
	if b.cfg.Staff == nil || chat >= 0 {
		return Desk{}, false
	}
	for _, p := range b.cfg.Staff.ChatPersons(chat) {
		if d, ok := b.cfg.Staff.Desk(p); ok && d.Forum {
			return d, true
		}
	}
	return Desk{}, false
}

// topicMode is mode for messages about a ticket to chat if chat is a
// forum desk, else "" (no topics).
func (b *Bot) topicMode(chat int64, mode string) string {
	if _, ok := b.forumDesk(chat); ok {
		return mode
	}
	return ""
}

// ticketTopicMode is topicMode for messages about tk to chat, where a
// chat that is no forum desk any more (the desk moved to another chat or
// left the staff file) still counts for tk's topic there: to post into
// it (TopicIn) or to close it (TopicClose), never to open one.
func (b *Bot) ticketTopicMode(tk Ticket, chat int64, mode string) string {
	if mode != TopicOpen && tk.TopicIn(chat) != 0 {
		return mode
	}
	return b.topicMode(chat, mode)
}

// closeTopic queues the closing of tk's topic in chat (a no-op at
// delivery if it has none), after everything queued for chat before.
// Call it whenever tk becomes final or leaves chat (a hand-over,
// escalation or move to another chat). Failures are logged: the ticket
// is closed or moved whether or not its topic is.
func (b *Bot) closeTopic(ctx context.Context, tk Ticket, chat int64) {
	e, ok := b.topicCloseEntry(tk, chat, "topic-close:"+tk.Ref+":"+idemSuffix(tk)+":"+strconv.FormatInt(b.linkChat(chat), 36))
	if !ok {
		return
	}
	if err := b.enqueue(ctx, e); err != nil {
		b.log.Warn("forum topic close not queued", "error_class", errClass(err))
	}
}

// topicCloseEntry is the outbox entry, under the idempotency key id,
// that closes tk's topic in chat; false where tk can have none there.
func (b *Bot) topicCloseEntry(tk Ticket, chat int64, id string) (OutboxEntry, bool) {
	if b.ticketTopicMode(tk, chat, TopicClose) == "" {
		return OutboxEntry{}, false
	}
	return OutboxEntry{ID: id, Ref: tk.Ref, Topic: TopicClose, Msg: Outgoing{ChatID: chat}}, true
}

// retryable reports whether err is worth trying again later.
func retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// storeUnavailable marks a store error as worth retrying, so that the
// dispatcher keeps the entry rather than dropping it as refused.
func storeUnavailable(what string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, errors.Join(ErrUnavailable, err))
}

// sendForum delivers outbox entry e whose Topic is set: it resolves (or
// opens, or closes) the ticket's topic in e's chat and sends e's message
// with send, into the topic. Where topics do not apply (no forum desk
// and no topic of the ticket in the chat, no ForumSender, no ticket) the
// message goes to the chat as usual and a TopicClose entry does nothing.
// A chat that is no forum desk any more keeps the ticket's topic there
// (ticketTopicMode), so the note that the ticket moved is posted into it
// and the topic is closed.
func (b *Bot) sendForum(ctx context.Context, e OutboxEntry, send func(context.Context, OutboxEntry) (int, error)) (int, error) {
	chat := e.Msg.ChatID
	fs, ok := b.cfg.Sender.(ForumSender)
	desk, forum := b.forumDesk(chat)
	var tk Ticket
	if ok && (forum || e.Topic != TopicOpen) && chat < 0 && e.Ref != "" && b.cfg.Tickets != nil {
		var err error
		tk, err = b.cfg.Tickets.Ticket(ctx, e.Ref)
		switch {
		case errors.Is(err, ErrNotFound):
			ok = false
		case err != nil:
			return 0, storeUnavailable("forum topic: load ticket", err)
		}
		if !forum && tk.TopicIn(chat) == 0 {
			ok = false
		}
	} else {
		ok = false
	}
	if e.Topic == TopicClose {
		thread := tk.TopicIn(chat)
		if !ok || thread == 0 || tk.topicClosed(chat) {
			return 0, nil
		}
		err := fs.CloseForumTopic(ctx, chat, thread)
		switch {
		case err == nil:
		case retryable(err):
			return 0, err
		default:
			b.log.Warn("forum topic not closed", "error_class", errClass(err))
		}
		_, err = b.cfg.Tickets.UpdateTicket(ctx, tk.Ref, func(x *Ticket) error {
			for i, ft := range x.Topics {
				if ft.Chat == chat && ft.Thread == thread {
					x.Topics[i].Closed = true
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			// The topic is closed: coming back, the ticket would be
			// posted into it instead of a new one.
			b.log.Warn("forum topic close not recorded", "error_class", errClass(err))
		}
		return 0, nil
	}
	if !ok {
		return send(ctx, e)
	}
	thread := tk.TopicIn(chat)
	// A final ticket gets no new topic: it would never be closed.
	if e.Topic == TopicOpen && !tk.State.Final() && (thread == 0 || tk.topicClosed(chat)) {
		var err error
		thread, err = b.openTopic(ctx, fs, tk, chat, desk.Lang)
		switch {
		case err == nil:
		case retryable(err), errors.Is(err, ErrBlocked):
			return 0, err
		default:
			b.log.Warn("forum topic not opened; posting in the chat", "error_class", errClass(err))
			thread = 0
		}
	}
	e.Msg.ThreadID = thread
	id, err := send(ctx, e)
	if err != nil && thread != 0 && !retryable(err) && !errors.Is(err, ErrBlocked) && !errors.Is(err, ErrWouldWait) {
		// The topic is gone (an admin deleted it): the chat still is.
		b.log.Warn("posting into forum topic failed; posting in the chat", "error_class", errClass(err))
		e.Msg.ThreadID = 0
		return send(ctx, e)
	}
	return id, err
}

// openTopic opens tk's topic in chat and records it: linked first (see
// the comment at the top), then on the ticket.
func (b *Bot) openTopic(ctx context.Context, fs ForumSender, tk Ticket, chat int64, lang string) (int, error) {
	thread, err := fs.CreateForumTopic(ctx, chat, b.topicTitle(tk, lang))
	if err != nil {
		return 0, err
	}
	if thread <= 0 {
		return 0, fmt.Errorf("forum topic: no thread id: %w", ErrInvalid)
	}
	// A crash from here on leaves this topic unused (see above).
	if err := b.cfg.Tickets.LinkMessage(ctx, b.linkChat(chat), thread, tk.Ref); err != nil && !errors.Is(err, ErrNotFound) {
		return 0, storeUnavailable("forum topic: link", err)
	}
	_, err = b.cfg.Tickets.UpdateTicket(ctx, tk.Ref, func(x *Ticket) error {
		x.setTopic(chat, thread)
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, storeUnavailable("forum topic: record", err)
	}
	return thread, nil
}

// topicTitle names tk's topic from anonymous fields only: "K-7F3Q ·
// topic · district" in the desk's language, at most MaxTopicName
// characters (UTF-16 units, as Telegram counts), never cut inside a
// character.
func (b *Bot) topicTitle(tk Ticket, lang string) string {
	parts := []string{tk.Ref}
	if b.cfg.KB != nil {
		if kb := b.cfg.KB.Current(); kb != nil {
			t := &turn{b: b, kb: kb, lang: lang}
			if s := t.topicName(lang, tk.Topic); s != "" {
				parts = append(parts, s)
			}
			if tk.District != "" {
				parts = append(parts, t.districtName(lang, tk.District))
			}
		}
	}
	return clipUTF16(displayText(strings.Join(parts, " · "), MaxTopicName), MaxTopicName)
}

// clipUTF16 cuts s to at most max UTF-16 units, at a rune boundary.
func clipUTF16(s string, max int) string {
	n := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > max {
			return strings.TrimSpace(s[:i])
		}
		n += w
	}
	return s
}

// inTicketTopic handles a message written inside a forum topic as a
// reply to the message the topic started with: the topic of a ticket is
// linked to it like the card (openTopic), so the reply rules apply
// unchanged (replyToMessage). It reports false for messages outside a
// topic or in a topic that is not a ticket's.
func (t *turn) inTicketTopic() bool {
	if !t.in.TopicMessage || t.in.ThreadID <= 0 || t.in.ChatID >= 0 {
		return false
	}
	return t.replyToMessage(t.in.ThreadID, "")
}

// inTopic keeps the turn's replies in the forum topic the update came
// from (a staff member's message or button press in a ticket's topic).
func (t *turn) inTopic() {
	if !t.in.TopicMessage || t.in.ThreadID <= 0 {
		return
	}
	for i := range t.out {
		if t.out[i].ThreadID == 0 {
			t.out[i].ThreadID = t.in.ThreadID
		}
	}
}
