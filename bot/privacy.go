package bot

import (
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

// myData is the export /mydata sends: everything stored about the user,
// readable as JSON.
type myData struct {
	Note          string        `json:"note"`
	Exported      time.Time     `json:"exported"`
	Session       *sessionData  `json:"session,omitempty"`
	Subscriptions []subData     `json:"subscriptions"`
	Requests      []requestData `json:"requests"`
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

type subData struct {
	ID       string    `json:"id"`
	Event    string    `json:"event,omitempty"`
	District string    `json:"district,omitempty"`
	Topic    string    `json:"topic,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"deleted_after"`
}

type requestData struct {
	Ref      string      `json:"ref"`
	State    TicketState `json:"state"`
	Created  time.Time   `json:"created"`
	District string      `json:"district,omitempty"`
	Topic    string      `json:"topic,omitempty"`
	Text     string      `json:"text,omitempty"`
	Files    int         `json:"files,omitempty"`
	Name     string      `json:"name_shown_to_staff,omitempty"`
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
	if tk := t.b.cfg.Tickets; tk != nil && t.user != "" {
		open, err := tk.OpenTicketsOf(t.ctx, t.user)
		if err != nil {
			failed = true
			t.warn("export tickets failed", err)
		}
		for _, x := range open {
			d.Requests = append(d.Requests, requestData{Ref: x.Ref, State: x.State, Created: x.Created,
				District: x.District, Topic: x.Topic, Text: x.Text, Files: len(x.Attachments), Name: x.RequesterName})
		}
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
	t.text(t.T("MyDataSummary", map[string]any{
		"Subscriptions": len(d.Subscriptions), "Requests": len(d.Requests),
	}), nil)
	t.out = append(t.out, Outgoing{Document: &Document{Name: "lotse-my-data.json", Content: append(raw, '\n'),
		Caption: clip(t.T("MyDataCaption", nil), 1024)}})
}
