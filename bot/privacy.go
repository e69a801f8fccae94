package bot

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
)

// This file is the user's side of data protection: /forget deletes
// everything Lotse stores about the user (the anonymous counters stay),
// /mydata exports it.

// forget closes the user's open requests (their assignees are told),
// deletes subscriptions, tickets' personal content and the session, and
// confirms. A user with nothing stored is told so calmly.
func (t *turn) forget() {
	t.outcome = "forget"
	had := t.loaded
	var errs []error
	if tk := t.b.cfg.Tickets; tk != nil && t.user != "" {
		open, err := tk.OpenTicketsOf(t.ctx, t.user)
		errs = append(errs, err)
		for _, o := range open {
			had = true
			// Cancelled before the store redacts it, so the ticket leaves
			// the desk's queue and the escalation job.
			nt, err := tk.UpdateTicket(t.ctx, o.Ref, func(x *Ticket) error {
				if x.Requester != t.user || x.State.Final() {
					return ErrInvalidTransition
				}
				return x.Apply(TicketEvent{At: t.now, Kind: EventCancelled, Actor: ActorRequester, Note: "forget"})
			})
			if errors.Is(err, ErrInvalidTransition) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			t.b.toDesk(t.ctx, nt, "StaffForgotten", map[string]any{"Ref": nt.Ref}, nil)
			t.b.closeTopic(t.ctx, nt, nt.AssigneeChat)
			t.b.recordTicket(t.ctx, t.kb, monitor.TicketClosed, nt, "forgotten", t.now.Sub(nt.Created), t.now)
		}
	}
	if r := t.b.cfg.Reminders; r != nil && t.user != "" {
		subs, err := r.Subscriptions(t.ctx, t.user)
		if len(subs) > 0 {
			had = true
		}
		errs = append(errs, err, r.ForgetSubscriptions(t.ctx, t.user))
	}
	if k, ok := t.b.cfg.Reminders.(AudienceKeeper); ok && t.user != "" {
		errs = append(errs, k.LeaveAudience(t.ctx, t.user))
	}
	errs = append(errs, t.b.cfg.Store.Forget(t.ctx, t.user))
	if err := errors.Join(errs...); err != nil {
		t.warn("forget failed", err)
		t.text(t.T("ForgetFailed", nil), nil)
		return
	}
	t.forgotten = true
	if !had {
		t.outcome = "forget_nothing"
		t.text(t.T("ForgetNothing", nil), nil)
		return
	}
	t.text(t.T("Forgotten", nil), nil)
}

// TicketLister is an optional TicketStore capability /mydata uses: all of
// user's requests that still hold personal content — open and closed,
// until redaction (retention or /forget) — oldest first. Without it the
// export lists the open requests only. No tickets is not an error.
type TicketLister interface {
	TicketsOf(ctx context.Context, user UserKey) ([]Ticket, error)
}

// AudienceReader is an optional capability of Reminders and of the
// audience index stores /mydata uses: user's entry in the broadcast
// audience index (ok false if none).
type AudienceReader interface {
	AudienceOf(ctx context.Context, user UserKey) (m AudienceMember, ok bool, err error)
}

// myData is the export /mydata sends: everything stored about the user,
// readable as JSON. Every kind of record the stores keep under the user's
// key or with their texts appears here (TestRunEventsPrivacyRedis in
// cmd/lotse compares the export with a scan of Redis); the anonymous counters,
// which cannot be linked to anybody, do not.
type myData struct {
	Note     string    `json:"note"`
	Exported time.Time `json:"exported"`
	// Chat is the Telegram chat replies and reminders are sent to, kept
	// with subscriptions and requests (0: none stored).
	Chat          int64         `json:"chat_id,omitempty"`
	Session       *sessionData  `json:"session,omitempty"`
	Consents      consentData   `json:"consents"`
	Subscriptions []subData     `json:"subscriptions"`
	Requests      []requestData `json:"requests"`
	// Audience is the entry in the index of people the city's
	// announcements reach (nil: none).
	Audience *audienceData `json:"announcements,omitempty"`
}

type audienceData struct {
	Language string    `json:"language"`
	Role     string    `json:"role,omitempty"`
	District string    `json:"district,omitempty"`
	Expires  time.Time `json:"deleted_after"`
}

type sessionData struct {
	Language       string    `json:"language"`
	LanguageChosen bool      `json:"language_chosen"`
	Role           string    `json:"role,omitempty"`
	District       string    `json:"district,omitempty"`
	NoticeShown    bool      `json:"privacy_notice_shown"`
	Step           string    `json:"conversation_step,omitempty"`
	LastEntry      string    `json:"last_entry_shown,omitempty"`
	LastResults    []string  `json:"last_results,omitempty"`
	Draft          *Draft    `json:"request_draft,omitempty"`
	Updated        time.Time `json:"last_changed"`
	Expires        time.Time `json:"deleted_after"`
}

// consentData lists what the user agreed to.
type consentData struct {
	// RememberDistrict: the user agreed that their district is kept.
	RememberDistrict bool `json:"remember_district"`
	// Volunteer: the user took the volunteer role.
	Volunteer bool `json:"volunteer"`
	// ShareIdentity: the requests whose staff may see who the user is
	// (their first name).
	ShareIdentity []string `json:"identity_shown_to_staff_in,omitempty"`
}

type subData struct {
	ID       string    `json:"id"`
	Event    string    `json:"event,omitempty"`
	District string    `json:"district,omitempty"`
	Topic    string    `json:"topic,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"deleted_after"`
}

type requestData struct {
	Ref         string      `json:"ref"`
	State       TicketState `json:"state"`
	Created     time.Time   `json:"created"`
	Updated     time.Time   `json:"last_changed"`
	Language    string      `json:"language,omitempty"`
	District    string      `json:"district,omitempty"`
	Topic       string      `json:"topic,omitempty"`
	Person      string      `json:"sent_to,omitempty"`
	Volunteer   bool        `json:"as_volunteer,omitempty"`
	Text        string      `json:"text,omitempty"`
	Files       []string    `json:"files,omitempty"`
	Name        string      `json:"name_shown_to_staff,omitempty"`
	History     []eventData `json:"history,omitempty"`
	Escalations int         `json:"escalations,omitempty"`
}

type eventData struct {
	At    time.Time `json:"at"`
	Kind  EventKind `json:"what"`
	Actor Actor     `json:"by"`
	Note  string    `json:"note,omitempty"`
}

// myData sends what is stored about the user as a JSON document, with a
// short summary.
func (t *turn) myData() {
	t.outcome = "mydata"
	d := myData{Note: t.T("MyDataNote", nil), Exported: t.now, Subscriptions: []subData{}, Requests: []requestData{}}
	if t.loaded {
		s := t.orig
		d.Session = &sessionData{
			Language: s.Lang, LanguageChosen: s.LangChosen, Role: s.Role, District: s.District,
			NoticeShown: s.NoticeShown, Step: s.State, LastEntry: s.Entry, LastResults: s.Results,
			Draft: s.Draft, Updated: s.Updated, Expires: s.Updated.Add(t.b.cfg.SessionTTL),
		}
		d.Consents.RememberDistrict = s.District != ""
		d.Consents.Volunteer = s.Role == RoleVolunteer
	}
	var failed bool
	if r := t.b.cfg.Reminders; r != nil && t.user != "" {
		subs, err := r.Subscriptions(t.ctx, t.user)
		if err != nil {
			failed = true
			t.warn("export subscriptions failed", err)
		}
		for _, s := range subs {
			d.Subscriptions = append(d.Subscriptions, subData{ID: s.ID, Event: s.Event, District: s.District, Topic: s.Topic, Created: s.Created, Expires: s.Expires})
		}
	}
	if a, ok := t.b.cfg.Reminders.(AudienceReader); ok && t.user != "" {
		m, found, err := a.AudienceOf(t.ctx, t.user)
		if err != nil {
			failed = true
			t.warn("export audience failed", err)
		}
		if found {
			d.Audience = &audienceData{Language: m.Lang, Role: m.Role, District: m.District, Expires: m.Expires}
			d.Chat = m.ChatID
		}
	}
	open := 0
	if tk := t.b.cfg.Tickets; tk != nil && t.user != "" {
		var all []Ticket
		var err error
		if l, ok := tk.(TicketLister); ok {
			all, err = l.TicketsOf(t.ctx, t.user)
		} else {
			all, err = tk.OpenTicketsOf(t.ctx, t.user)
		}
		if err != nil {
			failed = true
			t.warn("export tickets failed", err)
		}
		for _, x := range all {
			if x.Requester != t.user {
				continue
			}
			if !x.State.Final() {
				open++
			}
			d.Requests = append(d.Requests, exportTicket(x))
			if x.ShareIdentity {
				d.Consents.ShareIdentity = append(d.Consents.ShareIdentity, x.Ref)
			}
			if x.RequesterChat != 0 {
				d.Chat = x.RequesterChat
			}
		}
	}
	if len(d.Subscriptions) > 0 && d.Chat == 0 {
		// Subscriptions keep the chat reminders go to: this one.
		d.Chat = t.in.ChatID
	}
	if failed {
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.warn("export failed", err)
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	summary := t.T("MyDataSummary", map[string]any{
		"Subscriptions": len(d.Subscriptions), "Requests": open,
	})
	if closed := len(d.Requests) - open; closed > 0 {
		summary += "\n" + t.T("CuratorMyDataClosed", map[string]any{"Requests": closed})
	}
	t.text(summary, nil)
	t.out = append(t.out, Outgoing{Document: &Document{Name: "lotse-my-data.json", Content: append(raw, '\n'),
		Caption: clip(t.T("MyDataCaption", nil), 1024)}})
}

// exportTicket is the user's view of one of their requests: everything
// stored, with the attachments as their kinds (the file ids are
// Telegram's handles, meaningless outside the bot).
func exportTicket(x Ticket) requestData {
	r := requestData{Ref: x.Ref, State: x.State, Created: x.Created, Updated: x.Updated, Language: x.Lang,
		District: x.District, Topic: x.Topic, Person: x.Assignee, Volunteer: x.Volunteer, Text: x.Text,
		Name: x.RequesterName, Escalations: x.Escalations}
	for _, a := range x.Attachments {
		r.Files = append(r.Files, a.Kind)
	}
	for _, e := range x.History {
		r.History = append(r.History, eventData{At: e.At, Kind: e.Kind, Actor: e.Actor, Note: e.Note})
	}
	return r
}
