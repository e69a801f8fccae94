package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/ical"
)

// This file is "what's on" (/events), the buttons of an event card
// (remind me, add to calendar), /subscriptions and the delivery of
// reminders in the subscriber's language.

// Callback data of events and subscriptions.
const (
	cbEvents   = "ev"   // what's on
	cbRemind   = "r:"   // r:<event> subscribe to an event's reminders
	cbCalendar = "c:"   // c:<event> send the event as an .ics file
	cbUnsub    = "u:"   // u:<subscription id> unsubscribe
	cbSubs     = "subs" // list subscriptions
	// cbFollow starts following a district: "fo" chooses the district,
	// "fo:<district>" the topic, "fo:<district>:<topic|*>" subscribes.
	cbFollow  = "fo"
	followAll = "*"
	// eventDays is the span of "what's on": today and the next six days.
	eventDays = 7
	// maxEventLines bounds the listing; a busy week is cut with a note.
	maxEventLines = 30
	// maxEventButtons bounds the buttons to event cards under a listing.
	maxEventButtons = 10
	// maxSubID is the longest subscription id accepted from a button.
	maxSubID = 32
)

// audience is whose events the user sees: volunteers also see the events
// for volunteers (round tables, trainings), everybody else the events for
// refugees and for everybody.
func (t *turn) audience() knowledge.Audience {
	if t.s.Role == RoleVolunteer {
		return knowledge.AudienceVolunteers
	}
	return knowledge.AudienceRefugees
}

// whatsOn lists the next seven days' event dates for the user's district
// (if known) and audience.
func (t *turn) whatsOn() {
	t.outcome = "events"
	if t.b.cfg.WhatsOn == nil {
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	items := t.b.cfg.WhatsOn(t.kb, t.now, eventDays, t.s.District, t.audience())
	var head string
	if d, ok := t.kb.Entry(t.s.District); ok && t.s.District != "" {
		head = t.T("EventsHeaderDistrict", map[string]any{"District": t.title(d)})
	} else {
		head = t.T("EventsHeader", nil)
	}
	if len(items) == 0 {
		t.text(head+"\n\n"+t.T("EventsNone", nil), append(t.followRow(), []Button{t.topicsButton()}))
		return
	}
	lines := []string{head, ""}
	var rows [][]Button
	seen := map[string]bool{}
	for i, it := range items {
		if i == maxEventLines {
			lines = append(lines, t.T("EventsMore", nil))
			break
		}
		lines = append(lines, t.eventLine(it))
		if id := it.Entry.ID; !seen[id] && len(rows) < maxEventButtons && !it.Occurrence.Cancelled {
			seen[id] = true
			if b, ok := button(t.title(it.Entry), cbEntry+id); ok {
				rows = append(rows, []Button{b})
			}
		}
	}
	lines = append(lines, "", t.T("EventsHint", nil))
	rows = append(rows, t.followRow()...)
	rows = append(rows, []Button{t.topicsButton()})
	t.text(clip(strings.Join(lines, "\n"), maxCardText), rows)
}

// eventLine is one date of a listing: weekday, date, times and title,
// marked when cancelled or moved.
func (t *turn) eventLine(it EventDate) string {
	loc := t.kb.Location()
	o := it.Occurrence
	start, end := o.Start.In(loc), o.End.In(loc)
	data := map[string]any{
		"Weekday": t.weekday(start.Weekday()), "Date": start.Format("02.01."),
		"Start": t.clock(start), "End": t.clock(end), "Title": t.title(it.Entry),
	}
	switch {
	case o.Cancelled:
		return t.T("EventsItemCancelled", data)
	case o.Changed:
		s := t.T("EventsItemChanged", data)
		if n := t.marked(o.Note); n != "" {
			s += " " + n
		}
		return s
	}
	return t.T("EventsItem", data)
}

// eventRow is the row of buttons under an event's card.
func (t *turn) eventRow(e *knowledge.Entry) []Button {
	var row []Button
	if t.b.cfg.Reminders != nil {
		if b, ok := button(t.T("ButtonRemind", nil), cbRemind+e.ID); ok {
			row = append(row, b)
		}
	}
	if b, ok := button(t.T("ButtonCalendar", nil), cbCalendar+e.ID); ok {
		row = append(row, b)
	}
	return row
}

// place is where an entry is: its own point, or for an event the point
// of the entry it takes place at.
func (t *turn) place(e *knowledge.Entry) (*knowledge.Point, *knowledge.Entry) {
	if e.Geo != nil {
		return e.Geo, e
	}
	if e.Event != nil && e.Event.Venue != "" {
		if v, ok := t.kb.Entry(e.Event.Venue); ok && v.Geo != nil {
			return v.Geo, v
		}
	}
	return nil, nil
}

// event returns the event entry named by callback data, or nil.
func (t *turn) event(id string) *knowledge.Entry {
	e := t.entryFromData(id)
	if e == nil || e.Event == nil {
		return nil
	}
	return e
}

// remindMe subscribes the user to an event's reminders.
func (t *turn) remindMe(e *knowledge.Entry) {
	r := t.b.cfg.Reminders
	if r == nil || t.user == "" {
		t.outcome = "remind_unavailable"
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	id, err := r.SubscribeEvent(t.ctx, t.user, t.in.ChatID, t.lang, e.ID, t.now)
	if errors.Is(err, ErrNoUpcoming) {
		t.outcome = "remind_no_date"
		t.text(t.T("RemindNoUpcoming", map[string]any{"Title": t.title(e)}), t.navButtons())
		return
	}
	if t.subscribeFailed(err, "remind", "subscribe failed") {
		return
	}
	t.outcome = "remind_subscribed"
	t.text(t.T("RemindSubscribed", map[string]any{"Title": t.title(e)}), t.subscribedButtons(id))
}

// subscribeFailed answers a failed subscription (outcome prefix_too_many
// or prefix_failed, warn logged) and reports whether err was one.
func (t *turn) subscribeFailed(err error, prefix, warn string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrTooMany):
		t.outcome = prefix + "_too_many"
		t.text(t.T("RemindTooMany", nil), [][]Button{{{Text: t.T("ButtonSubscriptions", nil), Data: cbSubs}}})
	case errors.Is(err, ErrNotFound):
		t.outdated()
	default:
		t.outcome = prefix + "_failed"
		t.warn(warn, err)
		t.text(t.T("Unavailable", nil), t.navButtons())
	}
	return true
}

// subscribedButtons are the buttons under a new subscription: end it,
// the list of subscriptions, the topics.
func (t *turn) subscribedButtons(id string) [][]Button {
	var rows [][]Button
	if b, ok := button(t.T("ButtonUnsubscribe", nil), cbUnsub+id); ok {
		rows = append(rows, []Button{b})
	}
	return append(rows, []Button{{Text: t.T("ButtonSubscriptions", nil), Data: cbSubs}, t.topicsButton()})
}

// calendar sends an event as an iCalendar file the phone's calendar
// imports.
func (t *turn) calendar(e *knowledge.Entry) {
	data, err := ical.Event(t.kb, e, t.lang, t.now)
	if err != nil {
		// A curated event the calendar cannot express: a data problem,
		// not the user's; the card still has the dates.
		t.outcome = "calendar_failed"
		t.b.log.Warn("calendar file failed", "entry", e.ID, "error_class", errClass(err))
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	t.outcome = "calendar"
	t.out = append(t.out, Outgoing{Document: &Document{
		Name: e.ID + ".ics", Content: data,
		Caption: clip(t.T("CalendarCaption", map[string]any{"Title": t.title(e)}), 1024),
	}})
}

// subscriptions lists the user's subscriptions, each with a button to end it.
func (t *turn) subscriptions(intro string) {
	t.outcome = "subscriptions"
	r := t.b.cfg.Reminders
	if r == nil {
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	subs, err := r.Subscriptions(t.ctx, t.user)
	if err != nil || t.user == "" {
		t.warn("list subscriptions failed", err)
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	var parts []string
	if intro != "" {
		parts = append(parts, intro)
	}
	if len(subs) == 0 {
		parts = append(parts, t.T("SubscriptionsNone", nil))
		t.text(strings.Join(parts, "\n\n"), append(t.followRow(), []Button{{Text: t.T("ButtonEvents", nil), Data: cbEvents}, t.topicsButton()}))
		return
	}
	lines := []string{t.T("SubscriptionsHeader", nil)}
	var rows [][]Button
	for _, s := range subs {
		name := t.subscriptionName(s)
		lines = append(lines, "• "+name)
		if b, ok := button(t.T("ButtonUnsubscribeFrom", map[string]any{"Title": name}), cbUnsub+s.ID); ok {
			rows = append(rows, []Button{b})
		}
	}
	parts = append(parts, strings.Join(lines, "\n"))
	rows = append(rows, t.followRow()...)
	rows = append(rows, []Button{{Text: t.T("ButtonEvents", nil), Data: cbEvents}, t.topicsButton()})
	t.text(clip(strings.Join(parts, "\n\n"), maxCardText), rows)
}

// subscriptionName names what a subscription follows in the user's language.
func (t *turn) subscriptionName(s Subscription) string {
	if s.Event != "" {
		if e, ok := t.kb.Entry(s.Event); ok {
			return t.title(e)
		}
		return s.Event
	}
	name := s.District
	if d, ok := t.kb.Entry(s.District); ok {
		name = t.title(d)
	}
	if s.Topic != "" {
		name += " · " + t.topicName(t.lang, s.Topic)
	}
	return t.T("SubscriptionDistrict", map[string]any{"District": name})
}

// unsubscribe ends one subscription and shows the rest.
func (t *turn) unsubscribe(id string) {
	r := t.b.cfg.Reminders
	if r == nil || !validSubID(id) {
		t.outdated()
		return
	}
	err := r.Unsubscribe(t.ctx, t.user, id)
	switch {
	case err == nil:
		t.outcome = "unsubscribed"
		t.subscriptions(t.T("Unsubscribed", nil))
	case errors.Is(err, ErrNotFound):
		// Pressed twice, or already expired: the wish is fulfilled.
		t.outcome = "unsubscribed_already"
		t.subscriptions(t.T("Unsubscribed", nil))
	default:
		t.outcome = "unsubscribe_failed"
		t.warn("unsubscribe failed", err)
		t.text(t.T("Unavailable", nil), t.navButtons())
	}
}

// validSubID accepts the hex ids subscriptions have.
func validSubID(s string) bool {
	if s == "" || len(s) > maxSubID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// DeliverReminder sends one reminder to chatID in lang: the event, its
// date (marked if moved), where it is, and buttons to its card and to
// unsubscribe. It implements the delivery the reminder scheduler needs
// (package remind adapts it to remind.Deliverer); errors follow Sender's
// contract (ErrBlocked, ErrUnavailable). A delivered reminder is counted
// for the monitoring report.
func (b *Bot) DeliverReminder(ctx context.Context, chatID int64, lang string, r ReminderNote) error {
	if r.Event == nil || chatID == 0 {
		return fmt.Errorf("deliver reminder: no event or chat: %w", ErrInvalid)
	}
	if !i18n.Supported(lang) {
		lang = i18n.SourceLanguage
	}
	kb := b.cfg.KB.Current()
	t := &turn{b: b, ctx: ctx, kb: kb, now: b.now(), lang: lang}
	loc := kb.Location()
	start, end := r.Occurrence.Start.In(loc), r.Occurrence.End.In(loc)
	parts := []string{t.T("ReminderText", map[string]any{
		"Title": t.titleLine(r.Event), "When": t.when(start),
		"Weekday": t.weekday(start.Weekday()), "Date": start.Format("02.01.2006"),
		"Start": t.clock(start), "End": t.clock(end),
	})}
	if r.Occurrence.Changed {
		note := t.T("CardEventChanged", nil)
		if n := t.marked(r.Occurrence.Note); n != "" {
			note += " " + n
		}
		parts = append(parts, note)
	}
	if _, at := t.place(r.Event); at != nil {
		if a := formatAddress(at.Address); a != "" {
			parts = append(parts, t.T("CardAddress", map[string]any{"Address": a}))
		}
	} else if a := formatAddress(r.Event.Address); a != "" {
		parts = append(parts, t.T("CardAddress", map[string]any{"Address": a}))
	}
	var row []Button
	if bt, ok := button(t.T("ButtonDetails", nil), cbEntry+r.Event.ID); ok {
		row = append(row, bt)
	}
	if bt, ok := button(t.T("ButtonUnsubscribe", nil), cbUnsub+r.SubscriptionID); ok && validSubID(r.SubscriptionID) {
		row = append(row, bt)
	}
	msg := Outgoing{ChatID: chatID, Text: strings.Join(parts, "\n"), RTL: i18n.IsRTL(lang)}
	if len(row) > 0 {
		msg.Buttons = [][]Button{row}
	}
	if _, err := b.cfg.Sender.Send(ctx, msg); err != nil {
		return fmt.Errorf("deliver reminder: %w", err)
	}
	b.record(ctx, "reminder", func(ctx context.Context, m monitor.Store) error {
		return m.Reminder(ctx, 1, t.now.In(loc))
	})
	return nil
}
