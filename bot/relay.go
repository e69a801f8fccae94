package bot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file is the staff's side: the request in the desk chat with its
// buttons, claiming, answering (Reply button or a reply to the request
// message), handing over, closing, and relaying in both directions.

// Staff callback data ("s?:<ref>[:<arg>]").
const (
	cbStaffClaim    = "sc:"
	cbStaffReply    = "sr:"
	cbStaffHandOver = "sh:" // sh:<ref> choose; sh:<ref>:<person> do it
	cbStaffClose    = "sx:" // sx:<ref> choose; sx:<ref>:<outcome> do it
	// stReplying prefixes a staff session's State: "rp:<ref>:<chat>".
	stReplying = "rp:"
)

// Outcomes of a closed request, recorded for monitoring.
var outcomes = []struct{ id, msg string }{
	{"solved", "OutcomeSolved"}, {"referred", "OutcomeReferred"}, {"other", "OutcomeOther"},
}

var errNotAllowed = errors.New("not responsible for this request")

func isStaffData(d string) bool {
	for _, p := range []string{cbStaffClaim, cbStaffReply, cbStaffHandOver, cbStaffClose} {
		if strings.HasPrefix(d, p) {
			return true
		}
	}
	return false
}

// staffKey is the store key of a staff member's reply state, apart from
// their session as a private user of the bot.
func (b *Bot) staffKey(userID int64) UserKey {
	sum := b.keyedMAC("staff:", userID)
	return UserKey(hex.EncodeToString(sum[:16]))
}

// linkChat is the chat under which message links are stored: a private
// chat's id is the user's Telegram id, so it is replaced by a keyed hash
// (positive, like private chats; groups keep their negative ids).
func (b *Bot) linkChat(chat int64) int64 {
	if chat < 0 {
		return chat
	}
	sum := b.keyedMAC("link:", chat)
	var v int64
	for _, c := range sum[:7] {
		v = v<<8 | int64(c)
	}
	return v | 1 // 56 bits, never 0
}

// staffGroupUpdate reports whether a group update is staff work: anything
// in a desk's group, and staff buttons anywhere.
func (b *Bot) staffGroupUpdate(in Incoming) bool {
	s := b.cfg.Staff
	return s != nil && (s.IsStaffChat(in.ChatID) || in.Kind == InCallback && (isStaffData(in.CallbackData) || isToken(in.CallbackData)))
}

// newTicket routes req and returns an open ticket for the responsible
// person (the deputy while the person is absent), without requester data.
func (b *Bot) newTicket(kb *knowledge.KB, req RouteRequest, ctx context.Context, now time.Time) (Ticket, error) {
	rt, err := kb.Route(req)
	if errors.Is(err, knowledge.ErrUnknownID) {
		// A district or topic removed by a reload: the fallback decides.
		rt, err = kb.Route(RouteRequest{Escalate: req.Escalate})
	}
	if err != nil {
		return Ticket{}, err
	}
	person := rt.Primary
	if rt.Deputy != nil {
		if away, err := b.cfg.Tickets.Absent(ctx, person.ID, now); err == nil && away {
			person = rt.Deputy
		}
	}
	desk, ok := b.cfg.Staff.Desk(person.ID)
	if !ok {
		return Ticket{}, fmt.Errorf("no desk for %q: %w", person.ID, ErrInvalid)
	}
	tk := Ticket{Assignee: person.ID, AssigneeChat: desk.Chat}
	if err := tk.Apply(TicketEvent{At: now, Kind: EventCreated, Actor: ActorRequester}); err != nil {
		return Ticket{}, err
	}
	tk.Due = kb.AddWorkingTime(now, b.cfg.ClaimWorkingDays)
	return tk, nil
}

// sendLinked sends msg and links the sent message to ticket ref, so a
// reply to it finds the ticket.
func (b *Bot) sendLinked(ctx context.Context, ref string, msg Outgoing) error {
	id, err := b.cfg.Sender.Send(ctx, msg)
	if err != nil {
		return err
	}
	if id != 0 {
		if err := b.cfg.Tickets.LinkMessage(ctx, b.linkChat(msg.ChatID), id, ref); err != nil {
			b.log.Warn("link message failed", "error_class", errClass(err))
		}
	}
	return nil
}

// fileMsg is the photo or document of in for chat, by file id,
// captioned with the reference.
func fileMsg(ref string, chat int64, in Incoming) (Outgoing, error) {
	kind := AttachPhoto
	if in.Kind == InDocument {
		kind = AttachDocument
	}
	if in.FileID == "" {
		return Outgoing{}, fmt.Errorf("relay file: no file id: %w", ErrInvalid)
	}
	caption := ref
	if c := displayText(in.Text, 900); c != "" {
		caption += ": " + c
	}
	return Outgoing{ChatID: chat, File: &FileRef{Kind: kind, FileID: in.FileID, Caption: caption}}, nil
}

// staffButtons are the buttons of a request message, their tokens
// collected in tks (bound to the chat the message goes to).
func (b *Bot) staffButtons(tks *tokens, lang, ref string) [][]Button {
	T := func(id string) string { return b.cfg.Catalog.T(lang, id, nil) }
	return [][]Button{
		{tks.button(T("ButtonClaim"), cbStaffClaim+ref), tks.button(T("ButtonReply"), cbStaffReply+ref)},
		{tks.button(T("ButtonHandOver"), cbStaffHandOver+ref), tks.button(T("ButtonClose"), cbStaffClose+ref)},
	}
}

// idemSuffix tells apart the messages of successive changes of tk in
// idempotency keys: the time of its last change.
func idemSuffix(tk Ticket) string { return strconv.FormatInt(tk.Updated.UnixMilli(), 36) }

// personName is a person entry's name in lang.
func personName(kb *knowledge.KB, lang, id string) string {
	e, ok := kb.Entry(id)
	if !ok {
		return id
	}
	if s, _ := e.Title.In(lang); s != "" {
		return s
	}
	return e.NameDE
}

// staffCard renders a ticket for staff. The requester appears by first
// name only, and only if they agreed; never by username, phone or id.
func (b *Bot) staffCard(kb *knowledge.KB, lang string, tk Ticket, header string) string {
	c := b.cfg.Catalog
	t := &turn{b: b, kb: kb, lang: lang}
	topic := t.topicName(lang, tk.Topic)
	if topic == "" {
		topic = c.T(lang, "RequestNotKnown", nil)
	}
	name := c.T(lang, "StaffNameHidden", nil)
	if tk.ShareIdentity && tk.RequesterName != "" {
		name = displayText(tk.RequesterName, maxName)
	}
	language := i18n.NativeNames[tk.Lang]
	if language == "" {
		language = tk.Lang
	}
	text := c.T(lang, header, map[string]any{"Ref": tk.Ref, "Person": personName(kb, lang, tk.Assignee)}) + "\n" +
		c.T(lang, "StaffTicket", map[string]any{
			"Topic": topic, "District": t.districtName(lang, tk.District), "Language": language,
			"Name": name, "Due": b.formatTime(kb, lang, kb.ResponseDue(tk.Created)),
			"State": c.T(lang, stateMessage(tk.State), nil),
		})
	if len(tk.Attachments) > 0 {
		text += "\n" + c.T(lang, "StaffFiles", map[string]any{"Count": len(tk.Attachments)})
	}
	return text + "\n\n" + clip(displayText(tk.Text, maxStaffText), maxStaffText)
}

// postTicket queues the ticket for its assignee's chat with the staff
// buttons, then its files, each linked to the ticket. key is the
// idempotency key of this posting ("new:K-7F3Q", ...).
func (b *Bot) postTicket(ctx context.Context, kb *knowledge.KB, tk Ticket, header, key string) error {
	desk, ok := b.cfg.Staff.Desk(tk.Assignee)
	if !ok {
		return fmt.Errorf("post ticket: no desk for %q: %w", tk.Assignee, ErrInvalid)
	}
	return b.postTicketTo(ctx, kb, tk, header, tk.AssigneeChat, desk.Lang, key)
}

// postTicketTo is postTicket to chat in lang. Only the assignee's chat
// opens a topic for the ticket (forum.go); in another chat (/ticket) the
// card goes into the ticket's topic there, if any, else the chat.
func (b *Bot) postTicketTo(ctx context.Context, kb *knowledge.KB, tk Ticket, header string, chat int64, lang, key string) error {
	tks := b.newTokens(chat, "")
	mode := b.topicMode(chat, TopicOpen)
	if chat != tk.AssigneeChat {
		mode = b.ticketTopicMode(tk, chat, TopicIn)
	}
	es := []OutboxEntry{{ID: key, Ref: tk.Ref, Link: true, User: tk.Requester, Topic: mode,
		Msg: Outgoing{ChatID: chat, Text: b.staffCard(kb, lang, tk, header), Buttons: b.staffButtons(tks, lang, tk.Ref)}}}
	for i, a := range tk.Attachments {
		es = append(es, OutboxEntry{ID: key + ":f" + strconv.Itoa(i), Ref: tk.Ref, Link: true, User: tk.Requester, Topic: b.topicMode(chat, TopicIn),
			Msg: Outgoing{ChatID: chat, File: &FileRef{Kind: a.Kind, FileID: a.FileID, Caption: tk.Ref}}})
	}
	if err := tks.save(ctx); err != nil {
		return err
	}
	return b.enqueue(ctx, es...)
}

// toDesk queues a short note about tk for its assignee's chat. The note
// holds no personal data (the reference and catalog text only).
func (b *Bot) toDesk(ctx context.Context, tk Ticket, id string, data map[string]any, buttons [][]Button) {
	desk, _ := b.cfg.Staff.Desk(tk.Assignee)
	err := b.enqueue(ctx, OutboxEntry{ID: "note:" + id + ":" + tk.Ref + ":" + idemSuffix(tk), Ref: tk.Ref, Topic: b.topicMode(tk.AssigneeChat, TopicIn),
		Msg: Outgoing{ChatID: tk.AssigneeChat, Text: b.cfg.Catalog.T(desk.Lang, id, data), Buttons: buttons}})
	if err != nil {
		b.log.Warn("note to staff failed", "error_class", errClass(err))
	}
}

// toRequester queues a note for the requester in their language.
func (b *Bot) toRequester(ctx context.Context, tk Ticket, id string, data map[string]any, buttons [][]Button) error {
	if tk.Redacted || tk.RequesterChat == 0 {
		return ErrNotFound
	}
	return b.enqueue(ctx, OutboxEntry{ID: "note:" + id + ":" + tk.Ref + ":" + idemSuffix(tk), Ref: tk.Ref, User: tk.Requester,
		Msg: Outgoing{ChatID: tk.RequesterChat, Text: b.cfg.Catalog.T(tk.Lang, id, data), Buttons: buttons, RTL: i18n.IsRTL(tk.Lang)}})
}

// staffGroup handles an update in a desk's group or a staff button in
// any group: no requester session is involved.
func (t *turn) staffGroup() error {
	if fresh, err := t.b.cfg.Store.FirstSeen(t.ctx, t.in.UpdateID, t.b.cfg.DedupeTTL); err == nil && !fresh {
		t.outcome = "duplicate"
		return nil
	}
	t.lang = "de"
	if ps := t.b.cfg.Staff.ChatPersons(t.in.ChatID); len(ps) > 0 {
		d, _ := t.b.cfg.Staff.Desk(ps[0])
		t.lang = d.Lang
	}
	in := t.in
	staff := t.b.cfg.Staff.IsStaff(in.UserID)
	switch {
	case in.Kind == InCallback:
		t.staffCallback()
	case in.Kind == InText && in.Command != "":
		switch strings.ToLower(in.Command) {
		case "tickets", "ticket", "away", "back":
			if staff {
				t.staffCommand()
			}
		case "cancel", "abbrechen":
			if staff {
				t.staffCancelReply()
			}
		}
	case in.Kind == InText || in.Kind == InPhoto || in.Kind == InDocument:
		if !((in.ReplyTo != 0 || in.TopicMessage) && t.replyToTicket()) && staff {
			t.staffReplying()
		}
	}
	if t.outcome == "" {
		t.outcome = "ignored_staff_group"
	}
	t.answerCallback()
	t.inTopic()
	return t.send()
}

// staffTicket loads ref for the acting staff member; it reports false
// (after telling them) if the ticket is unknown or not theirs. Refusals
// are logged without personal data.
func (t *turn) staffTicket(ref string) (Ticket, bool) {
	tk, err := t.b.cfg.Tickets.Ticket(t.ctx, ref)
	switch {
	case errors.Is(err, ErrNotFound):
		t.staffNotice(t.T("StaffUnknownRef", nil))
		return Ticket{}, false
	case err != nil:
		t.warn("load ticket failed", err)
		t.staffNotice(t.T("Unavailable", nil))
		return Ticket{}, false
	case !t.b.cfg.Staff.MayAct(t.in.UserID, tk.Assignee):
		t.outcome = "staff_refused"
		t.b.log.Warn("staff action refused", "kind", kindName(t.in.Kind), "staff", t.b.cfg.Staff.IsStaff(t.in.UserID))
		t.staffNotice(t.T("StaffNotAllowed", nil))
		return Ticket{}, false
	case tk.State.Final():
		t.staffNotice(t.T("StaffTicketFinal", map[string]any{"Ref": tk.Ref}))
		return Ticket{}, false
	}
	return tk, true
}

// staffNotice is a short notice: on the button for a press, else a message.
func (t *turn) staffNotice(s string) {
	if t.in.Kind == InCallback {
		t.notice = clip(s, 200)
		return
	}
	t.text(s, nil)
}

// staffCallback handles a staff button pressed in a group: a token is
// resolved first; bare staff data is refused where tokens are in use (it
// may have been forged).
func (t *turn) staffCallback() {
	if !t.ticketToken() {
		return
	}
	t.staffAction()
}

// ticketToken resolves a token button (see token.go) and reports whether
// the press may go on; refusals are answered and logged here.
func (t *turn) ticketToken() bool {
	d := t.in.CallbackData
	if !isToken(d) {
		if t.b.cfg.Tokens != nil && (isStaffData(d) || isTicketData(d)) {
			t.outcome = "stale_callback"
			t.b.log.Warn("ticket button refused", "reason", "not_a_token", "kind", "callback")
			t.notice = t.T("ButtonOutdatedShort", nil)
			return false
		}
		return true
	}
	err := t.resolveToken()
	switch {
	case err == nil:
		return true
	case errors.Is(err, errTokenRefused):
		t.outcome = "staff_refused"
		t.notice = t.T("StaffNotAllowed", nil)
	case errors.Is(err, ErrNotFound):
		t.outcome = "stale_callback"
		t.notice = t.T("ButtonOutdatedShort", nil)
	default:
		t.warn("load button token failed", err)
		t.notice = t.T("Unavailable", nil)
	}
	return false
}

// staffAction carries out a staff button's (resolved) data.
func (t *turn) staffAction() {
	t.outcome = "staff_button"
	data := t.in.CallbackData
	if len(data) > maxCBData || len(data) < 3 {
		t.notice = t.T("ButtonOutdatedShort", nil)
		return
	}
	action, rest := data[:3], data[3:]
	refPart, arg, _ := strings.Cut(rest, ":")
	ref, ok := ParseRef(refPart)
	if !ok {
		t.outcome = "stale_callback"
		t.notice = t.T("ButtonOutdatedShort", nil)
		return
	}
	if !t.b.cfg.Staff.IsStaff(t.in.UserID) {
		// Somebody who is not staff got hold of a request message.
		t.outcome = "staff_refused"
		t.b.log.Warn("staff button pressed by non-staff", "kind", "callback")
		t.notice = t.T("StaffNotAllowed", nil)
		return
	}
	tk, ok := t.staffTicket(ref)
	if !ok {
		return
	}
	switch action {
	case cbStaffClaim:
		t.claim(tk)
	case cbStaffReply:
		t.startStaffReply(tk)
	case cbStaffHandOver:
		if arg == "" {
			t.handOverPrompt(tk)
			return
		}
		t.handOver(tk, arg)
	case cbStaffClose:
		if arg == "" {
			t.closePrompt(tk)
			return
		}
		t.closeTicket(tk, arg)
	}
}

func (t *turn) staffName(id int64) string {
	if n := t.b.cfg.Staff.Name(id); n != "" {
		return n
	}
	return t.T("StaffColleague", nil)
}

func (t *turn) actorName() string {
	if n := t.b.cfg.Staff.Name(t.in.UserID); n != "" {
		return n
	}
	if n := displayText(t.in.FirstName, maxName); n != "" {
		return n
	}
	return t.T("StaffColleague", nil)
}

// claim takes a ticket atomically: of two simultaneous presses exactly
// one wins, and the other is told who has it.
func (t *turn) claim(tk Ticket) {
	uid := t.in.UserID
	cur, err := t.b.cfg.Tickets.UpdateTicket(t.ctx, tk.Ref, func(x *Ticket) error {
		if !t.b.cfg.Staff.MayAct(uid, x.Assignee) {
			return errNotAllowed
		}
		if err := x.Apply(TicketEvent{At: t.now, Kind: EventClaimed, Actor: StaffActor(uid)}); err != nil {
			return err
		}
		x.Due = t.kb.AddWorkingTime(t.now, t.b.cfg.AnswerWorkingDays)
		return nil
	})
	switch {
	case err == nil:
		t.outcome = "staff_claimed"
		t.b.recordTicket(t.ctx, t.kb, monitor.TicketClaimed, cur, "", 0, t.now)
		t.notice = t.T("StaffClaimedYou", map[string]any{"Ref": tk.Ref})
		t.out = append(t.out, Outgoing{Text: t.T("StaffClaimed", map[string]any{"Ref": tk.Ref, "Name": t.actorName()})})
	case errors.Is(err, ErrInvalidTransition) && cur.ClaimedBy == uid:
		t.notice = t.T("StaffClaimedYou", map[string]any{"Ref": tk.Ref})
	case errors.Is(err, ErrInvalidTransition) && cur.ClaimedBy != 0:
		t.outcome = "staff_claim_lost"
		t.notice = t.T("StaffAlreadyClaimed", map[string]any{"Ref": tk.Ref, "Name": t.staffName(cur.ClaimedBy)})
	case errors.Is(err, errNotAllowed):
		t.notice = t.T("StaffNotAllowed", nil)
	default:
		t.warn("claim failed", err)
		t.notice = t.T("StaffTicketFinal", map[string]any{"Ref": tk.Ref})
	}
}

// startStaffReply makes the staff member's next message in this chat the
// answer.
func (t *turn) startStaffReply(tk Ticket) {
	key := t.b.staffKey(t.in.UserID)
	s := Session{State: stReplying + tk.Ref + ":" + strconv.FormatInt(t.in.ChatID, 10), Updated: t.now}
	if err := t.b.cfg.Store.SaveSession(t.ctx, key, s, 24*time.Hour); err != nil {
		t.warn("save staff state failed", err)
		t.notice = t.T("Unavailable", nil)
		return
	}
	t.outcome = "staff_reply_prompt"
	t.out = append(t.out, Outgoing{Text: t.T("StaffReplyPrompt", map[string]any{"Ref": tk.Ref})})
}

// staffReplying relays the message of a staff member who pressed Reply;
// it reports false if they are not answering anything here.
func (t *turn) staffReplying() bool {
	key := t.b.staffKey(t.in.UserID)
	s, err := t.b.cfg.Store.Session(t.ctx, key)
	if err != nil {
		return false
	}
	rest, ok := strings.CutPrefix(s.State, stReplying)
	if !ok {
		return false
	}
	ref, chat, _ := strings.Cut(rest, ":")
	if chat != strconv.FormatInt(t.in.ChatID, 10) {
		return false
	}
	if t.in.Kind != InText && t.in.Kind != InPhoto && t.in.Kind != InDocument {
		return false
	}
	if t.in.Kind == InText {
		// A text ends the answer; files before it keep the thread open.
		if err := t.b.cfg.Store.SaveSession(t.ctx, key, Session{Updated: t.now}, time.Minute); err != nil {
			t.warn("clear staff state failed", err)
		}
	}
	t.staffAnswer(ref)
	return true
}

func (t *turn) staffCancelReply() bool {
	key := t.b.staffKey(t.in.UserID)
	s, err := t.b.cfg.Store.Session(t.ctx, key)
	if err != nil || !strings.HasPrefix(s.State, stReplying) {
		return false
	}
	if err := t.b.cfg.Store.SaveSession(t.ctx, key, Session{Updated: t.now}, time.Minute); err != nil {
		t.warn("clear staff state failed", err)
	}
	t.outcome = "staff_reply_cancelled"
	t.out = append(t.out, Outgoing{Text: t.T("StaffReplyCancelled", nil)})
	return true
}

// replyToTicket handles a reply to a message linked to a ticket: from the
// requester in their chat, or from staff responsible for it. It reports
// false if the message is not linked (or the sender has nothing to do
// with the ticket), so the update is handled as usual.
//
// A message the bot sent but never linked (it died after Telegram
// accepted the message and before the link was stored; see outbox.go)
// is recognised by the header it starts with (linkedRef), with the same
// rules for who may answer, and linked then.
//
// A message written inside a ticket's forum topic counts as a reply to
// the topic's first message, which is linked to the ticket (forum.go).
func (t *turn) replyToTicket() bool {
	if t.in.ReplyTo != 0 && t.replyToMessage(t.in.ReplyTo, t.in.ReplyHead) {
		return true
	}
	return t.inTicketTopic()
}

// replyToMessage is replyToTicket for a reply to message msgID whose
// first line is head.
func (t *turn) replyToMessage(msgID int, head string) bool {
	if t.in.Kind != InText && t.in.Kind != InPhoto && t.in.Kind != InDocument {
		return false
	}
	ref, err := t.b.cfg.Tickets.TicketForMessage(t.ctx, t.b.linkChat(t.in.ChatID), msgID)
	unlinked := false
	if err != nil {
		var ok bool
		if ref, ok = t.linkedRef(head); !errors.Is(err, ErrNotFound) || !ok {
			return false
		}
		unlinked = true
	}
	tk, err := t.b.cfg.Tickets.Ticket(t.ctx, ref)
	if err != nil {
		return false
	}
	requester := t.user != "" && tk.Requester == t.user && tk.RequesterChat == t.in.ChatID
	switch {
	case requester:
		t.withLanguage(func() { t.requesterReply(ref) })
	case t.b.cfg.Staff.IsStaff(t.in.UserID):
		t.staffAnswer(ref)
	default:
		return false
	}
	if unlinked && (requester || t.b.cfg.Staff.MayAct(t.in.UserID, tk.Assignee)) {
		t.b.log.Info("unlinked ticket message recognised", "kind", kindName(t.in.Kind))
		if err := t.b.cfg.Tickets.LinkMessage(t.ctx, t.b.linkChat(t.in.ChatID), msgID, ref); err != nil {
			t.b.log.Warn("link message failed", "error_class", errClass(err))
		}
	}
	return true
}

// linkedHeads are the messages that start the texts the outbox links to
// a ticket (postTicketTo, requesterReply, staffAnswer, the reminder):
// their first line with the reference is how linkedRef knows them.
var linkedHeads = []string{"StaffHeaderNew", "StaffHeaderEscalated", "StaffHeaderShow", "StaffReminder",
	"StaffRequesterReply", "RequestAnswer"}

// linkedRef returns the ticket of a message the bot sent and would have
// linked, from its first line head (Incoming.ReplyHead): one of the
// linkedHeads, in any language, or a relayed file's caption ("K-7F3Q",
// "K-7F3Q: ..."). Notes about a ticket ("K-7F3Q is now handled by
// ...") are never linked, so a reply to them is no answer either.
func (t *turn) linkedRef(head string) (string, bool) {
	head = strings.TrimSpace(strings.TrimLeft(head, "\u200e\u200f\u061c"))
	ref, ok := RefInText(head)
	if !ok {
		return "", false
	}
	if head == ref || strings.HasPrefix(head, ref+": ") {
		return ref, true
	}
	c := t.b.cfg.Catalog
	first := func(s string) string { s, _, _ = strings.Cut(s, "\n"); return strings.TrimSpace(s) }
	for _, lang := range c.Languages() {
		for _, id := range linkedHeads {
			if first(c.T(lang, id, map[string]any{"Ref": ref})) == head {
				return ref, true
			}
		}
		for _, p := range t.b.cfg.Staff.All() {
			if first(c.T(lang, "StaffHeaderHandedOver", map[string]any{"Ref": ref, "Person": personName(t.kb, lang, p)})) == head {
				return ref, true
			}
		}
	}
	return "", false
}

// staffAnswer relays a staff member's message to the requester, then
// records it (claiming an unclaimed ticket on the way).
func (t *turn) staffAnswer(ref string) {
	tk, ok := t.staffTicket(ref)
	if !ok {
		return
	}
	b := t.b
	var (
		msg Outgoing
		err error
	)
	switch {
	case tk.Redacted || tk.RequesterChat == 0:
		err = ErrNotFound
	case t.in.Kind == InText:
		text := b.cfg.Catalog.T(tk.Lang, "RequestAnswer", map[string]any{"Ref": ref}) + "\n\n" +
			clip(displayText(t.in.Text, maxStaffText), maxStaffText)
		tks := b.newTokens(tk.RequesterChat, tk.Requester)
		msg = Outgoing{ChatID: tk.RequesterChat, Text: text, RTL: i18n.IsRTL(tk.Lang),
			Buttons: [][]Button{{tks.button(b.cfg.Catalog.T(tk.Lang, "ButtonAnswer", nil), cbReqAnswer+ref)}}}
		err = tks.save(t.ctx)
	default:
		msg, err = fileMsg(ref, tk.RequesterChat, t.in)
	}
	if err == nil {
		err = b.enqueue(t.ctx, OutboxEntry{ID: t.idemKey("ans", ref), Ref: ref, Link: true, User: tk.Requester, Msg: msg})
	}
	switch {
	case errors.Is(err, ErrBlocked), errors.Is(err, ErrNotFound):
		t.outcome = "staff_answer_unreachable"
		t.text(t.T("StaffRequesterGone", map[string]any{"Ref": ref}), nil)
		return
	case err != nil:
		t.outcome = "staff_answer_failed"
		t.warn("relay to requester failed", err)
		t.text(t.T("RelayFailed", nil), nil)
		return
	}
	uid := t.in.UserID
	first := false
	if nt, err := b.cfg.Tickets.UpdateTicket(t.ctx, ref, func(x *Ticket) error {
		first = !answeredBefore(x)
		if x.State == TicketOpen {
			if err := x.Apply(TicketEvent{At: t.now, Kind: EventClaimed, Actor: StaffActor(uid)}); err != nil {
				return err
			}
		}
		return x.Apply(TicketEvent{At: t.now, Kind: EventAnswered, Actor: StaffActor(uid)})
	}); err != nil {
		t.warn("record answer failed", err)
	} else if first {
		// Only the first answer counts towards "time to first answer".
		b.recordTicket(t.ctx, t.kb, monitor.TicketAnswered, nt, "", t.now.Sub(nt.Created), t.now)
	}
	t.outcome = "staff_answered"
	t.text(t.T("StaffAnswerSent", map[string]any{"Ref": ref}), nil)
}

func (t *turn) handOverPrompt(tk Ticket) {
	t.outcome = "staff_handover_prompt"
	tks := t.b.newTokens(t.in.ChatID, "")
	var rows [][]Button
	for _, p := range t.b.cfg.Staff.All() {
		if p == tk.Assignee {
			continue
		}
		if bt, ok := button(personName(t.kb, t.lang, p), cbStaffHandOver+tk.Ref+":"+p); ok {
			rows = append(rows, []Button{tks.button(bt.Text, bt.Data)})
		}
	}
	if err := tks.save(t.ctx); err != nil {
		t.warn("hand over prompt failed", err)
		t.notice = t.T("Unavailable", nil)
		return
	}
	t.out = append(t.out, Outgoing{Text: t.T("StaffHandOverPrompt", map[string]any{"Ref": tk.Ref}), Buttons: rows})
}

func (t *turn) handOver(tk Ticket, person string) {
	desk, ok := t.b.cfg.Staff.Desk(person)
	if !validID(person) || !ok || person == tk.Assignee {
		t.notice = t.T("ButtonOutdatedShort", nil)
		return
	}
	uid := t.in.UserID
	nt, err := t.b.cfg.Tickets.UpdateTicket(t.ctx, tk.Ref, func(x *Ticket) error {
		if !t.b.cfg.Staff.MayAct(uid, x.Assignee) {
			return errNotAllowed
		}
		if err := x.Apply(TicketEvent{At: t.now, Kind: EventHandedOver, Actor: StaffActor(uid), Assignee: person, AssigneeChat: desk.Chat}); err != nil {
			return err
		}
		x.Due = t.kb.AddWorkingTime(t.now, t.b.cfg.ClaimWorkingDays)
		return nil
	})
	if err != nil {
		t.warn("hand over failed", err)
		t.notice = t.T("StaffTicketFinal", map[string]any{"Ref": tk.Ref})
		return
	}
	t.outcome = "staff_handed_over"
	if tk.AssigneeChat != nt.AssigneeChat {
		t.b.closeTopic(t.ctx, nt, tk.AssigneeChat)
	}
	if err := t.b.postTicket(t.ctx, t.kb, nt, "StaffHeaderHandedOver", "ho:"+nt.Ref+":"+idemSuffix(nt)); err != nil {
		t.b.log.Warn("handed-over request not delivered; escalation will retry", "error_class", errClass(err))
	}
	t.out = append(t.out, Outgoing{Text: t.T("StaffHandedOver", map[string]any{"Ref": tk.Ref, "Person": personName(t.kb, t.lang, person)})})
}

func (t *turn) closePrompt(tk Ticket) {
	t.outcome = "staff_close_prompt"
	tks := t.b.newTokens(t.in.ChatID, "")
	var row []Button
	for _, o := range outcomes {
		row = append(row, tks.button(t.T(o.msg, nil), cbStaffClose+tk.Ref+":"+o.id))
	}
	if err := tks.save(t.ctx); err != nil {
		t.warn("close prompt failed", err)
		t.notice = t.T("Unavailable", nil)
		return
	}
	t.out = append(t.out, Outgoing{Text: t.T("StaffClosePrompt", map[string]any{"Ref": tk.Ref}), Buttons: [][]Button{row}})
}

func (t *turn) closeTicket(tk Ticket, outcome string) {
	msg := ""
	for _, o := range outcomes {
		if o.id == outcome {
			msg = o.msg
		}
	}
	if msg == "" {
		t.notice = t.T("ButtonOutdatedShort", nil)
		return
	}
	uid := t.in.UserID
	nt, err := t.b.cfg.Tickets.UpdateTicket(t.ctx, tk.Ref, func(x *Ticket) error {
		if !t.b.cfg.Staff.MayAct(uid, x.Assignee) {
			return errNotAllowed
		}
		return x.Apply(TicketEvent{At: t.now, Kind: EventClosed, Actor: StaffActor(uid), Note: outcome})
	})
	if err != nil {
		t.warn("close failed", err)
		t.notice = t.T("StaffTicketFinal", map[string]any{"Ref": tk.Ref})
		return
	}
	t.outcome = "staff_closed"
	t.b.recordTicket(t.ctx, t.kb, monitor.TicketClosed, nt, outcome, t.now.Sub(nt.Created), t.now)
	t.out = append(t.out, Outgoing{Text: t.T("StaffClosed", map[string]any{"Ref": tk.Ref, "Outcome": t.T(msg, nil)})})
	t.b.closeTopic(t.ctx, nt, nt.AssigneeChat)
	if err := t.b.toRequester(t.ctx, nt, "RequestClosed", map[string]any{"Ref": tk.Ref}, nil); err != nil && !errors.Is(err, ErrNotFound) {
		t.warn("closing note to requester failed", err)
	}
}
