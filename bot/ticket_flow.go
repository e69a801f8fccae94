package bot

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file is the requester's side of a request for a person: district,
// topic, "nobody helped me so far", the text and files, confirmation,
// and afterwards answering, listing and withdrawing requests.

// Draft is a request for a person being put together, kept in the
// session between the steps.
type Draft struct {
	District    string       `json:"d,omitempty"`
	DistrictSet bool         `json:"ds,omitempty"` // chosen ("" = the user does not know)
	Topic       string       `json:"t,omitempty"`
	Concepts    []string     `json:"c,omitempty"`
	Escalate    bool         `json:"x,omitempty"` // nobody helped so far
	Text        string       `json:"tx,omitempty"`
	Attachments []Attachment `json:"a,omitempty"`
}

func (d *Draft) equal(o *Draft) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.District == o.District && d.DistrictSet == o.DistrictSet && d.Topic == o.Topic &&
		slices.Equal(d.Concepts, o.Concepts) && d.Escalate == o.Escalate && d.Text == o.Text &&
		slices.Equal(d.Attachments, o.Attachments)
}

// clone copies d (a zero Draft for nil): drafts are replaced, never
// changed in place, so the session loaded and the one saved stay apart.
func (d *Draft) clone() *Draft {
	if d == nil {
		return &Draft{}
	}
	c := *d
	c.Concepts = slices.Clone(d.Concepts)
	c.Attachments = slices.Clone(d.Attachments)
	return &c
}

// Session states of the request flow.
const (
	stDistrict = "tk:d"  // waiting for a district (text, location or button)
	stRemember = "tk:r"  // asking whether to remember the district
	stTopic    = "tk:t"  // waiting for a topic button
	stText     = "tk:x"  // waiting for the request text and files
	stConfirm  = "tk:c"  // showing the request before it is sent
	stAnswer   = "tk:a:" // + ref: the requester is answering staff
)

// Callback data of the request flow ("k…"); ids and refs only.
const (
	cbReqDistrict = "kd:" // kd:<district> | kd:- (unknown) | kd:? (choose again)
	cbReqRemember = "kr:" // kr:y | kr:n
	cbReqTopic    = "kt:" // kt:<topic> | kt:- (none)
	cbReqNobody   = "kn"  // nobody helped so far
	cbReqSend     = "ks"  // send
	cbReqSendName = "ksn" // send, showing the first name
	cbReqCancel   = "kc"  // discard the draft
	cbReqAnswer   = "ka:" // ka:<ref> answer staff
	cbReqWithdraw = "kw:" // kw:<ref> withdraw a request
	cbReqMine     = "km"  // list my requests
	confirmDist   = 0.9   // below this, a typed district is confirmed
	maxShownText  = 1500  // request text shown in the confirmation
	maxStaffText  = 3300  // request text shown to staff (4096 with header)
	maxListed     = 10    // requests listed by /mytickets
	candidateRows = 3     // districts offered for an unsure match
	distUnknown   = "-"   // kd:- and kt:-
	distAgain     = "?"   // kd:?
	yes, no       = "y", "n"
)

// ticketHook handles everything about requests for a person; it reports
// whether it took the update.
func (t *turn) ticketHook() bool {
	if t.b.cfg.Staff == nil {
		return false
	}
	in := t.in
	staff := t.b.cfg.Staff.IsStaff(in.UserID)
	switch in.Kind {
	case InCallback:
		d := in.CallbackData
		if isToken(d) || isStaffData(d) || isTicketData(d) {
			if !t.ticketToken() {
				if t.outcome == "stale_callback" {
					t.withLanguage(func() { t.text(t.T("ButtonOutdated", nil), [][]Button{t.navRow()}) })
				}
				return true
			}
			d = t.in.CallbackData
		}
		switch {
		case isStaffData(d):
			t.staffAction()
			return true
		case isRequestData(d):
			t.withLanguage(t.requestCallback)
			return true
		}
		return false
	case InText:
		if in.Command != "" {
			switch strings.ToLower(in.Command) {
			case "person", "kontakt":
				t.withLanguage(t.startRequest)
				return true
			case "mytickets", "anfragen":
				t.withLanguage(t.myTickets)
				return true
			case "cancel", "abbrechen":
				if staff && t.staffCancelReply() {
					return true
				}
				if strings.HasPrefix(t.s.State, "tk:") {
					t.withLanguage(t.cancelDraft)
					return true
				}
				return false
			case "tickets", "ticket", "away", "back":
				if staff {
					t.staffCommand()
					return true
				}
			}
			return false
		}
	case InPhoto, InDocument:
	case InLocation:
		if t.s.State == stDistrict {
			t.withLanguage(t.districtInput)
			return true
		}
		return false
	default:
		return false
	}
	if (in.ReplyTo != 0 || in.TopicMessage) && t.replyToTicket() {
		return true
	}
	if staff && t.staffReplying() {
		return true
	}
	switch st := t.s.State; {
	case st == stDistrict && in.Kind == InText:
		t.withLanguage(t.districtInput)
	case st == stTopic && in.Kind == InText, st == stText, st == stConfirm:
		t.withLanguage(t.requestInput)
	case strings.HasPrefix(st, stAnswer):
		ref := st[len(stAnswer):]
		t.withLanguage(func() {
			if t.in.Kind == InText {
				t.s.State = "" // photos keep the thread open; a text ends it
			}
			t.requesterReply(ref)
		})
	default:
		return false
	}
	return true
}

func isRequestData(d string) bool {
	for _, p := range []string{cbReqDistrict, cbReqRemember, cbReqTopic, cbReqAnswer, cbReqWithdraw} {
		if strings.HasPrefix(d, p) {
			return true
		}
	}
	switch d {
	case cbReqNobody, cbReqSend, cbReqSendName, cbReqCancel, cbReqMine:
		return true
	}
	return false
}

func (t *turn) requestCallback() {
	d := t.in.CallbackData
	arg := func(prefix string) (string, bool) { return strings.CutPrefix(d, prefix) }
	draft := t.s.Draft
	inFlow := draft != nil && strings.HasPrefix(t.s.State, "tk:")
	switch {
	case d == cbReqMine:
		t.myTickets()
		return
	case strings.HasPrefix(d, cbReqAnswer):
		if ref, ok := ParseRef(d[len(cbReqAnswer):]); ok {
			t.answerPrompt(ref)
			return
		}
	case strings.HasPrefix(d, cbReqWithdraw):
		if ref, ok := ParseRef(d[len(cbReqWithdraw):]); ok {
			t.withdraw(ref)
			return
		}
	case !inFlow:
		// The draft is gone (sent, cancelled, expired): an old button.
	case d == cbReqCancel:
		t.cancelDraft()
		return
	case d == cbReqSend, d == cbReqSendName:
		if t.s.State == stConfirm && draft.Text != "" {
			t.submit(d == cbReqSendName)
			return
		}
	case d == cbReqNobody:
		nd := draft.clone()
		nd.Escalate = true
		t.s.Draft = nd
		t.textPrompt()
		return
	default:
		if id, ok := arg(cbReqDistrict); ok {
			switch {
			case id == distAgain:
				t.districtPrompt("")
				return
			case id == distUnknown:
				t.chooseDistrict("")
				return
			case validID(id):
				if e, found := t.kb.Entry(id); found && e.Kind == knowledge.KindDistrict {
					t.chooseDistrict(id)
					return
				}
			}
		}
		if v, ok := arg(cbReqRemember); ok && t.s.State == stRemember && (v == yes || v == no) {
			if v == yes && draft.District != "" {
				t.s.District = draft.District
			}
			t.topicPrompt()
			return
		}
		if id, ok := arg(cbReqTopic); ok {
			if _, found := t.kb.Topic(id); found || id == distUnknown {
				nd := draft.clone()
				nd.Topic = ""
				if id != distUnknown {
					nd.Topic = id
				}
				t.s.Draft = nd
				t.textPrompt()
				return
			}
		}
	}
	t.outcome = "stale_callback"
	t.notice = t.T("ButtonOutdatedShort", nil)
	t.text(t.T("ButtonOutdated", nil), [][]Button{t.navRow()})
}

// startRequest begins a request: the topic is guessed from the entry the
// user last looked at, the district taken from the session if the user
// let us remember it.
func (t *turn) startRequest() {
	t.outcome = "request_start"
	d := &Draft{}
	if e, ok := t.kb.Entry(t.s.Entry); ok && t.s.Entry != "" {
		if len(e.Topics) > 0 {
			d.Topic = e.Topics[0]
		}
		d.Concepts = slices.Clone(e.Concepts)
	}
	t.s.Draft = d
	if e, ok := t.kb.Entry(t.s.District); ok && e.Kind == knowledge.KindDistrict {
		d.District, d.DistrictSet = e.ID, true
		t.topicPrompt()
		return
	}
	t.districtPrompt("")
}

func (t *turn) districtPrompt(intro string) {
	t.s.State = stDistrict
	text := t.T("RequestDistrictPrompt", nil)
	if intro != "" {
		text = intro + "\n\n" + text
	}
	var rows [][]Button
	var row []Button
	for _, e := range t.kb.OfKind(knowledge.KindDistrict) {
		if b, ok := button(t.title(e), cbReqDistrict+e.ID); ok {
			row = append(row, b)
		}
		if len(row) == 2 {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	rows = append(rows,
		[]Button{{Text: t.T("ButtonDistrictUnknown", nil), Data: cbReqDistrict + distUnknown}},
		[]Button{{Text: t.T("ButtonCancel", nil), Data: cbReqCancel}})
	t.text(text, rows)
}

// districtInput resolves a typed place or a shared location.
func (t *turn) districtInput() {
	t.outcome = "request_district"
	if loc := t.in.Location; t.in.Kind == InLocation && loc != nil {
		if e, km := t.kb.NearestDistrict(loc.Lat, loc.Lon); e != nil && km <= nearDistrictKm {
			t.chooseDistrict(e.ID)
			return
		}
		t.districtPrompt(t.T("RequestDistrictNotFound", nil))
		return
	}
	text := cleanQuery(t.in.Text)
	e, conf := t.kb.ResolveDistrict(text)
	switch {
	case e != nil && conf >= confirmDist:
		t.chooseDistrict(e.ID)
	case e != nil:
		var rows [][]Button
		for i, m := range t.kb.DistrictCandidates(text) {
			if i == candidateRows {
				break
			}
			if b, ok := button(t.title(m.District), cbReqDistrict+m.District.ID); ok {
				rows = append(rows, []Button{b})
			}
		}
		rows = append(rows, []Button{{Text: t.T("ButtonOtherDistrict", nil), Data: cbReqDistrict + distAgain}})
		t.text(t.T("RequestDistrictConfirm", map[string]any{"District": t.title(e)}), rows)
	default:
		t.districtPrompt(t.T("RequestDistrictNotFound", nil))
	}
}

// chooseDistrict records the district ("" unknown) and asks, once per
// request, whether to remember it.
func (t *turn) chooseDistrict(id string) {
	d := t.s.Draft.clone()
	d.District, d.DistrictSet = id, true
	t.s.Draft = d
	if id == "" || t.s.District == id {
		t.topicPrompt()
		return
	}
	t.s.State = stRemember
	e, _ := t.kb.Entry(id)
	t.text(t.T("RequestRememberDistrict", map[string]any{"District": t.title(e)}), [][]Button{{
		{Text: t.T("ButtonYes", nil), Data: cbReqRemember + yes},
		{Text: t.T("ButtonNo", nil), Data: cbReqRemember + no},
	}})
}

func (t *turn) topicName(lang, id string) string {
	tp, ok := t.kb.Topic(id)
	if !ok {
		return ""
	}
	if s, _ := tp.Name.In(lang); s != "" {
		return s
	}
	return tp.ID
}

func (t *turn) topicPrompt() {
	t.s.State = stTopic
	d := t.s.Draft
	text := t.T("RequestTopicPrompt", nil)
	var rows [][]Button
	if name := t.topicName(t.lang, d.Topic); name != "" {
		text = t.T("RequestTopicGuess", map[string]any{"Topic": name})
		if b, ok := button("✓ "+name, cbReqTopic+d.Topic); ok {
			rows = append(rows, []Button{b})
		}
	}
	var row []Button
	for _, tp := range t.kb.Topics() {
		if tp.ID == d.Topic {
			continue
		}
		if b, ok := button(t.topicName(t.lang, tp.ID), cbReqTopic+tp.ID); ok {
			row = append(row, b)
		}
		if len(row) == 2 {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	rows = append(rows,
		[]Button{{Text: t.T("ButtonTopicOther", nil), Data: cbReqTopic + distUnknown}},
		[]Button{{Text: t.T("ButtonNobodyHelped", nil), Data: cbReqNobody}},
		[]Button{{Text: t.T("ButtonOtherDistrict", nil), Data: cbReqDistrict + distAgain},
			{Text: t.T("ButtonCancel", nil), Data: cbReqCancel}})
	t.text(text, rows)
}

func (t *turn) textPrompt() {
	t.outcome = "request_text_prompt"
	t.s.State = stText
	t.text(t.T("RequestTextPrompt", nil), [][]Button{{{Text: t.T("ButtonCancel", nil), Data: cbReqCancel}}})
}

// requestInput takes the request's text and files. More text after the
// confirmation is added to it, never silently replacing what was written.
func (t *turn) requestInput() {
	t.outcome = "request_input"
	d := t.s.Draft.clone()
	in := t.in
	switch in.Kind {
	case InPhoto, InDocument:
		if len(d.Attachments) >= MaxAttachments {
			t.text(t.T("RequestTooManyFiles", nil), nil)
			return
		}
		kind := AttachPhoto
		if in.Kind == InDocument {
			kind = AttachDocument
		}
		if in.FileID == "" || len(in.FileID) > maxFileID {
			t.text(t.T("OnlyText", nil), nil)
			return
		}
		d.Attachments = append(d.Attachments, Attachment{Kind: kind, FileID: in.FileID})
		d.Text = appendText(d.Text, requestText(in.Text))
	case InText:
		s := requestText(in.Text)
		if !hasWord(s) {
			t.text(t.T("RequestTextPrompt", nil), nil)
			return
		}
		d.Text = appendText(d.Text, s)
	default:
		return
	}
	t.s.Draft = d
	if d.Text == "" {
		t.s.State = stText
		t.text(t.T("RequestFileAdded", nil), [][]Button{{{Text: t.T("ButtonCancel", nil), Data: cbReqCancel}}})
		return
	}
	t.confirmPrompt()
}

// requestText keeps a request as written, minus invalid UTF-8 and
// control characters other than line breaks; staff see a cleaned copy.
func requestText(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// appendText adds s to text within MaxTicketText.
func appendText(text, s string) string {
	switch {
	case s == "":
		return text
	case text != "":
		s = text + "\n\n" + s
	}
	if utf8.RuneCountInString(s) > MaxTicketText {
		s = string([]rune(s)[:MaxTicketText])
	}
	return s
}

func (t *turn) districtName(lang, id string) string {
	if e, ok := t.kb.Entry(id); ok && id != "" {
		if s, _ := e.Title.In(lang); s != "" {
			return s
		}
		return e.NameDE
	}
	return t.b.cfg.Catalog.T(lang, "RequestNotKnown", nil)
}

func (t *turn) confirmPrompt() {
	t.s.State = stConfirm
	d := t.s.Draft
	topic := t.topicName(t.lang, d.Topic)
	if topic == "" {
		topic = t.T("RequestNotKnown", nil)
	}
	text := t.T("RequestConfirm", map[string]any{
		"District": t.districtName(t.lang, d.District), "Topic": topic,
		"Files": len(d.Attachments), "Text": clip(d.Text, maxShownText),
		"Days": t.workingDays(),
	})
	t.text(text, [][]Button{
		{{Text: t.T("ButtonSend", nil), Data: cbReqSend}},
		{{Text: t.T("ButtonSendWithName", nil), Data: cbReqSendName}},
		{{Text: t.T("ButtonCancel", nil), Data: cbReqCancel}},
	})
}

func (t *turn) cancelDraft() {
	t.outcome = "request_cancelled"
	t.s.Draft, t.s.State = nil, ""
	t.text(t.T("RequestDiscarded", nil), t.navButtons())
}

// submit stores the ticket and only then tells the user it was sent; the
// staff chat gets it afterwards (if that fails, escalation finds it).
func (t *turn) submit(share bool) {
	d := t.s.Draft
	b := t.b
	// A redelivered "send" (the bot died after storing the request and
	// before saving the session) finds the request it stored: the same
	// text, still open. It is not stored twice, and queued again (the
	// outbox skips it if it was queued already).
	if tk, ok := t.sameOpenRequest(d, share); ok {
		t.requestSent(tk)
		return
	}
	tk, err := b.newTicket(t.kb, RouteRequest{
		District: d.District, Topic: d.Topic, Concepts: d.Concepts, Escalate: d.Escalate,
	}, t.ctx, t.now)
	if err == nil {
		tk.Requester, tk.RequesterChat, tk.Lang = t.user, t.in.ChatID, t.lang
		tk.District, tk.Topic, tk.Text = d.District, d.Topic, d.Text
		tk.Attachments = slices.Clone(d.Attachments)
		if share {
			tk.ShareIdentity = true
			tk.RequesterName = clip(displayText(t.in.FirstName, maxName), maxName)
		}
		tk, err = b.cfg.Tickets.CreateTicket(t.ctx, tk)
	}
	if err != nil || t.user == "" {
		t.outcome = "request_failed"
		t.warn("create ticket failed", err)
		data := cbReqSend
		if share {
			data = cbReqSendName
		}
		t.text(t.T("RequestFailed", nil), [][]Button{
			{{Text: t.T("ButtonSend", nil), Data: data}},
			{{Text: t.T("ButtonCancel", nil), Data: cbReqCancel}},
		})
		return
	}
	t.requestSent(tk)
}

// sameOpenRequest finds the user's open request with the draft's text,
// district, topic and consent to show the name.
func (t *turn) sameOpenRequest(d *Draft, share bool) (Ticket, bool) {
	if t.user == "" || d == nil {
		return Ticket{}, false
	}
	ts, err := t.b.cfg.Tickets.OpenTicketsOf(t.ctx, t.user)
	if err != nil {
		return Ticket{}, false
	}
	for _, tk := range ts {
		if tk.State == TicketOpen && tk.Text == d.Text && tk.District == d.District && tk.Topic == d.Topic && tk.ShareIdentity == share {
			return tk, true
		}
	}
	return Ticket{}, false
}

// requestSent queues a stored request for staff and tells the user.
func (t *turn) requestSent(tk Ticket) {
	b := t.b
	// Queued for staff before the requester hears "sent": a crash after
	// the reply must not leave the request unposted until escalation.
	// With the outbox this is one store write; if it fails, the
	// escalation job posts the request.
	if err := b.postTicket(t.ctx, t.kb, tk, "StaffHeaderNew", "new:"+tk.Ref); err != nil {
		b.log.Warn("request not queued for staff; escalation will retry", "error_class", errClass(err))
	}
	t.outcome = "request_sent"
	t.s.Draft, t.s.State = nil, ""
	t.text(t.T("RequestSent", map[string]any{
		"Ref": tk.Ref, "Days": t.workingDays(), "Due": b.formatTime(t.kb, t.lang, t.kb.ResponseDue(t.now)),
	}), [][]Button{{{Text: t.T("ButtonMyRequests", nil), Data: cbReqMine}, t.topicsButton()}})
	kb, now := t.kb, t.now
	t.after = append(t.after, func() {
		b.recordTicket(t.ctx, kb, monitor.TicketOpened, tk, "", 0, now)
	})
}

// RouteRequest is knowledge.RouteRequest, named here for brevity.
type RouteRequest = knowledge.RouteRequest

// myTickets lists the user's open requests with their state.
func (t *turn) myTickets() {
	t.outcome = "my_requests"
	ts, err := t.b.cfg.Tickets.OpenTicketsOf(t.ctx, t.user)
	if err != nil || t.user == "" {
		t.warn("list tickets failed", err)
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	if len(ts) == 0 {
		t.text(t.T("MyRequestsNone", nil), [][]Button{t.navRow()})
		return
	}
	lines := []string{t.T("MyRequestsHeader", nil)}
	tks := t.b.newTokens(t.in.ChatID, t.user)
	var rows [][]Button
	for i, tk := range ts {
		if i == maxListed {
			break
		}
		line := tk.Ref + " · " + t.T(stateMessage(tk.State), nil)
		if n := t.topicName(t.lang, tk.Topic); n != "" {
			line += " · " + n
		}
		lines = append(lines, line)
		row := []Button{tks.button(t.T("ButtonWithdraw", map[string]any{"Ref": tk.Ref}), cbReqWithdraw+tk.Ref)}
		if tk.State == TicketAnswered || tk.State == TicketClaimed {
			row = append(row, tks.button(t.T("ButtonAnswerRef", map[string]any{"Ref": tk.Ref}), cbReqAnswer+tk.Ref))
		}
		rows = append(rows, row)
	}
	if err := tks.save(t.ctx); err != nil {
		t.warn("list tickets failed", err)
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	rows = append(rows, []Button{t.topicsButton()})
	t.text(strings.Join(lines, "\n"), rows)
}

func stateMessage(s TicketState) string {
	switch s {
	case TicketOpen:
		return "StateOpen"
	case TicketClaimed:
		return "StateClaimed"
	case TicketAnswered:
		return "StateAnswered"
	}
	return "StateClosed"
}

// ownTicket loads ref if it is the user's own, live request; otherwise it
// tells the user and reports false.
func (t *turn) ownTicket(ref string) (Ticket, bool) {
	tk, err := t.b.cfg.Tickets.Ticket(t.ctx, ref)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		t.warn("load ticket failed", err)
		t.text(t.T("Unavailable", nil), nil)
		return Ticket{}, false
	case err != nil, t.user == "", tk.Requester != t.user, tk.State.Final():
		t.outcome = "request_not_found"
		t.text(t.T("RequestNotFound", nil), [][]Button{{{Text: t.T("ButtonMyRequests", nil), Data: cbReqMine}}})
		return Ticket{}, false
	}
	return tk, true
}

func (t *turn) answerPrompt(ref string) {
	if _, ok := t.ownTicket(ref); !ok {
		return
	}
	t.outcome = "request_answer_prompt"
	t.s.State = stAnswer + ref
	t.text(t.T("RequestAnswerPrompt", map[string]any{"Ref": ref}), nil)
}

func (t *turn) withdraw(ref string) {
	tk, ok := t.ownTicket(ref)
	if !ok {
		return
	}
	tk, err := t.b.cfg.Tickets.UpdateTicket(t.ctx, ref, func(x *Ticket) error {
		if x.Requester != t.user {
			return ErrInvalidTransition
		}
		return x.Apply(TicketEvent{At: t.now, Kind: EventCancelled, Actor: ActorRequester})
	})
	if err != nil {
		t.warn("withdraw failed", err)
		t.text(t.T("RequestNotFound", nil), nil)
		return
	}
	t.outcome = "request_withdrawn"
	if strings.HasPrefix(t.s.State, stAnswer) {
		t.s.State = ""
	}
	t.text(t.T("RequestWithdrawn", map[string]any{"Ref": ref}), t.navButtons())
	t.b.toDesk(t.ctx, tk, "StaffWithdrawn", map[string]any{"Ref": ref}, nil)
	t.b.closeTopic(t.ctx, tk, tk.AssigneeChat)
	t.b.recordTicket(t.ctx, t.kb, monitor.TicketClosed, tk, "withdrawn", t.now.Sub(tk.Created), t.now)
}

// requesterReply relays the requester's message to the assignee's chat.
func (t *turn) requesterReply(ref string) {
	tk, ok := t.ownTicket(ref)
	if !ok {
		return
	}
	t.outcome = "request_reply"
	b := t.b
	desk, _ := b.cfg.Staff.Desk(tk.Assignee)
	lang := desk.Lang
	var (
		msg Outgoing
		err error
	)
	if t.in.Kind == InText {
		text := b.cfg.Catalog.T(lang, "StaffRequesterReply", map[string]any{"Ref": ref}) + "\n\n" +
			clip(displayText(t.in.Text, maxStaffText), maxStaffText)
		tks := b.newTokens(tk.AssigneeChat, "")
		msg = Outgoing{ChatID: tk.AssigneeChat, Text: text, Buttons: b.staffButtons(tks, lang, ref)}
		err = tks.save(t.ctx)
	} else {
		msg, err = fileMsg(ref, tk.AssigneeChat, t.in)
	}
	if err == nil {
		err = b.enqueue(t.ctx, OutboxEntry{ID: t.idemKey("rep", ref), Ref: ref, Link: true, User: tk.Requester,
			Topic: b.topicMode(tk.AssigneeChat, TopicIn), Msg: msg})
	}
	if err != nil {
		t.warn("relay to staff failed", err)
		t.text(t.T("RelayFailed", nil), nil)
		return
	}
	if _, err := b.cfg.Tickets.UpdateTicket(t.ctx, ref, func(x *Ticket) error {
		was := x.State
		if err := x.Apply(TicketEvent{At: t.now, Kind: EventReply, Actor: ActorRequester}); err != nil {
			return err
		}
		if was == TicketAnswered {
			x.Due = t.kb.AddWorkingTime(t.now, b.cfg.AnswerWorkingDays)
		}
		return nil
	}); err != nil {
		t.warn("record reply failed", err)
	}
	t.text(t.T("RequestReplyRelayed", map[string]any{"Ref": ref}), nil)
}

// workingDays is the promised response time, "2 working days".
func (t *turn) workingDays() string {
	return t.b.cfg.Catalog.Plural(t.lang, "WorkingDays", t.kb.ResponseWorkingDays(), nil)
}

// formatTime is a moment for people: weekday, date and time in the
// city's time zone.
func (b *Bot) formatTime(kb *knowledge.KB, lang string, tm time.Time) string {
	tm = tm.In(kb.Location())
	return b.cfg.Catalog.T(lang, weekdayIDs[tm.Weekday()%7], nil) + " " + tm.Format("02.01.2006 15:04")
}

// displayText makes user text safe to show to someone else: no control,
// format or bidi-override characters (which could disguise a text or
// reorder what staff read), except line breaks, tabs and the zero-width
// non-joiner of Persian spelling.
func displayText(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case r == '\n', r == '\t', r == '\u200c':
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), unicode.In(r, unicode.Cf):
			continue
		}
		if n == max {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
