package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file keeps requests from being forgotten: the escalation job, and
// the staff commands /tickets, /ticket, /away and /back.

// escalateBatch is how many due tickets one Escalate call handles; the
// rest wait for the next tick.
const escalateBatch = 100

var errNotDue = errors.New("not due")

// Escalate acts on the tickets whose Due has passed at now: a claimed
// ticket whose assignee has not been reminded since the claim gets a
// reminder; any other goes to the route's deputy on its first
// escalation and to the knowledge base's escalation target after that,
// and the new assignee's chat receives it. The requester hears only, on
// the first escalation, that we are still on it. Every step is one
// atomic UpdateTicket that re-checks the Due, so replicas running the job
// at once act on each ticket exactly once. It returns how many tickets it
// acted on.
func (b *Bot) Escalate(ctx context.Context, now time.Time) (int, error) {
	if b.cfg.Staff == nil {
		return 0, nil
	}
	kb := b.cfg.KB.Current()
	refs, err := b.cfg.Tickets.DueTickets(ctx, now, escalateBatch)
	if err != nil {
		return 0, fmt.Errorf("escalate: %w", err)
	}
	n := 0
	var errs []error
	for _, ref := range refs {
		acted, err := b.escalateOne(ctx, kb, ref, now)
		if err != nil {
			errs = append(errs, err)
		}
		if acted {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (b *Bot) escalateOne(ctx context.Context, kb *knowledge.KB, ref string, now time.Time) (bool, error) {
	cur, err := b.cfg.Tickets.Ticket(ctx, ref)
	if err != nil {
		return false, fmt.Errorf("escalate %s: %w", ref, err)
	}
	// Targets are chosen outside the update: it must not read the store.
	deputy := ""
	if rt, err := kb.Route(RouteRequest{District: cur.District, Topic: cur.Topic}); err == nil && rt.Deputy != nil {
		if away, err := b.cfg.Tickets.Absent(ctx, rt.Deputy.ID, now); err != nil || !away {
			deputy = rt.Deputy.ID
		}
	}
	final := ""
	if e := kb.EscalationTarget(); e != nil {
		final = e.ID
	}
	var reminded, handed bool
	var from int64 // the chat it leaves if handed over
	tk, err := b.cfg.Tickets.UpdateTicket(ctx, ref, func(x *Ticket) error {
		reminded, handed, from = false, false, x.AssigneeChat
		if !x.Overdue(now) {
			return errNotDue
		}
		if x.State == TicketClaimed && !remindedSinceClaim(x) {
			if err := x.Apply(TicketEvent{At: now, Kind: EventReminded, Actor: ActorSystem}); err != nil {
				return err
			}
			x.Due = kb.AddWorkingTime(now, b.cfg.AnswerWorkingDays)
			reminded = true
			return nil
		}
		to := final
		if x.Escalations == 0 && deputy != "" && deputy != x.Assignee {
			to = deputy
		}
		if err := x.Apply(TicketEvent{At: now, Kind: EventEscalated, Actor: ActorSystem}); err != nil {
			return err
		}
		if desk, ok := b.cfg.Staff.Desk(to); ok && to != x.Assignee {
			if err := x.Apply(TicketEvent{At: now, Kind: EventHandedOver, Actor: ActorSystem, Assignee: to, AssigneeChat: desk.Chat, Note: "escalation"}); err != nil {
				return err
			}
			handed = true
		} else if x.State == TicketClaimed {
			// Nobody above: the claimer was reminded and did not answer,
			// so the request goes back to the whole desk.
			if err := x.Apply(TicketEvent{At: now, Kind: EventReleased, Actor: ActorSystem, Note: "escalation"}); err != nil {
				return err
			}
		}
		x.Due = kb.AddWorkingTime(now, b.cfg.ClaimWorkingDays)
		return nil
	})
	switch {
	case errors.Is(err, errNotDue):
		return false, nil // another replica was first, or it changed meanwhile
	case err != nil:
		return false, fmt.Errorf("escalate %s: %w", ref, err)
	}
	b.log.Info("ticket escalation", "reminded", reminded, "handed_over", handed, "escalations", tk.Escalations)
	if !reminded {
		b.recordTicket(ctx, kb, monitor.TicketEscalated, tk, "", 0, now)
	}
	if reminded {
		desk, _ := b.cfg.Staff.Desk(tk.Assignee)
		tks := b.newTokens(tk.AssigneeChat, "")
		msg := Outgoing{ChatID: tk.AssigneeChat,
			Text:    b.cfg.Catalog.T(desk.Lang, "StaffReminder", map[string]any{"Ref": ref}),
			Buttons: b.staffButtons(tks, desk.Lang, ref)}
		err := tks.save(ctx)
		if err == nil {
			err = b.enqueue(ctx, OutboxEntry{ID: "rem:" + ref + ":" + idemSuffix(tk), Ref: ref, Link: true,
				Topic: b.topicMode(tk.AssigneeChat, TopicIn), Msg: msg})
		}
		if err != nil {
			b.log.Warn("reminder not queued", "error_class", errClass(err))
		}
		return true, nil
	}
	if handed && from != tk.AssigneeChat {
		b.closeTopic(ctx, tk, from)
	}
	// Re-posted even without a new assignee: the message may never have
	// arrived, and it is due again.
	if err := b.postTicket(ctx, kb, tk, "StaffHeaderEscalated", "esc:"+ref+":"+idemSuffix(tk)); err != nil {
		b.log.Warn("escalated request not queued", "error_class", errClass(err))
	}
	if tk.Escalations == 1 {
		if err := b.toRequester(ctx, tk, "RequestStillLooking", map[string]any{"Ref": ref}, nil); err != nil && !errors.Is(err, ErrNotFound) {
			b.log.Warn("note to requester failed", "error_class", errClass(err))
		}
	}
	return true, nil
}

// remindedSinceClaim reports whether the claimer was reminded since the
// ticket was last claimed or replied to.
func remindedSinceClaim(t *Ticket) bool {
	for i := len(t.History) - 1; i >= 0; i-- {
		switch t.History[i].Kind {
		case EventReminded:
			return true
		case EventClaimed, EventReply:
			return false
		}
	}
	return false
}

// staffCommand runs /tickets, /ticket REF, /away and /back for a staff
// member.
func (t *turn) staffCommand() {
	switch strings.ToLower(t.in.Command) {
	case "tickets":
		t.staffTickets()
	case "ticket":
		ref, ok := ParseRef(t.in.Args)
		if !ok {
			t.outcome = "staff_ticket_usage"
			t.text(t.T("StaffUnknownRef", nil), nil)
			return
		}
		if tk, ok := t.staffTicket(ref); ok {
			t.outcome = "staff_ticket"
			if err := t.b.postTicketTo(t.ctx, t.kb, tk, "StaffHeaderShow", t.in.ChatID, t.lang, t.idemKey("show", tk.Ref)); err != nil {
				t.warn("show ticket failed", err)
			}
		}
	case "away":
		t.away()
	case "back":
		t.setAbsent(time.Time{})
	}
}

func (t *turn) staffTickets() {
	t.outcome = "staff_tickets"
	st := t.b.cfg.Staff
	persons := st.Persons(t.in.UserID)
	if st.IsCoordinator(t.in.UserID) {
		persons = st.All()
	}
	var lines []string
	for _, p := range persons {
		ts, err := t.b.cfg.Tickets.AssignedTickets(t.ctx, p)
		if err != nil {
			t.warn("list assigned tickets failed", err)
			t.text(t.T("Unavailable", nil), nil)
			return
		}
		for _, tk := range ts {
			if len(lines) == 30 {
				break
			}
			line := tk.Ref + " · " + t.T(stateMessage(tk.State), nil) + " · " + personName(t.kb, t.lang, p)
			if n := t.topicName(t.lang, tk.Topic); n != "" {
				line += " · " + n
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		t.text(t.T("StaffTicketsNone", nil), nil)
		return
	}
	t.text(t.T("StaffTicketsHeader", nil)+"\n"+strings.Join(lines, "\n"), nil)
}

var (
	awayDays  = regexp.MustCompile(`^(\d{1,3})\s*[dt]$`)
	awayRange = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(?:\s*\.\.\s*(\d{4}-\d{2}-\d{2}))?$`)
)

// away parses "/away 3d", "/away 2027-01-06" (until that day) or
// "/away 2026-12-24..2027-01-06". An absence starts now: the store knows
// only its end, so a range must begin today or earlier.
func (t *turn) away() {
	arg := strings.ToLower(strings.TrimSpace(t.in.Args))
	loc := t.kb.Location()
	now := t.now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	var until time.Time
	if m := awayDays.FindStringSubmatch(arg); m != nil {
		n, _ := strconv.Atoi(m[1])
		until = today.AddDate(0, 0, n+1) // the rest of today and n more days
	} else if m := awayRange.FindStringSubmatch(arg); m != nil {
		from, err1 := time.ParseInLocation("2006-01-02", m[1], loc)
		last, err2 := from, error(nil)
		if m[2] != "" {
			last, err2 = time.ParseInLocation("2006-01-02", m[2], loc)
		} else {
			from = today
		}
		if err1 != nil || err2 != nil || from.After(today) || last.Before(today) {
			t.outcome = "staff_away_usage"
			t.text(t.T("StaffAwayUsage", nil), nil)
			return
		}
		until = last.AddDate(0, 0, 1)
	}
	if until.IsZero() || until.Sub(t.now) > MaxAbsence {
		t.outcome = "staff_away_usage"
		t.text(t.T("StaffAwayUsage", nil), nil)
		return
	}
	t.setAbsent(until)
}

func (t *turn) setAbsent(until time.Time) {
	persons := t.b.cfg.Staff.Persons(t.in.UserID)
	if len(persons) == 0 {
		t.text(t.T("StaffNotAllowed", nil), nil)
		return
	}
	for _, p := range persons {
		if err := t.b.cfg.Tickets.SetAbsent(t.ctx, p, until); err != nil {
			t.warn("set absence failed", err)
			t.text(t.T("Unavailable", nil), nil)
			return
		}
	}
	if until.IsZero() {
		t.outcome = "staff_back"
		t.text(t.T("StaffBack", nil), nil)
		return
	}
	t.outcome = "staff_away"
	last := until.Add(-time.Minute).In(t.kb.Location())
	t.text(t.T("StaffAway", map[string]any{"Date": last.Format("02.01.2006")}), nil)
}
