package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/lotse-bot/lotse/knowledge"
)

// errNoLongerOrphan: the ticket changed before it was requeued.
var errNoLongerOrphan = errors.New("ticket no longer orphaned")

// Requeue returns to the queue the open tickets of people who are no
// longer in the staff directory, so that nothing waits for somebody who
// left: a ticket assigned to a person without a desk is routed again
// (district and topic; the escalation target if the route has no desk
// either) and handed over; a ticket claimed by a user who may no longer
// act on it is released to its desk. Both are posted again through the
// outbox. Run it at start-up and after the staff file changed; every
// step is an atomic update that re-checks the condition, so replicas may
// run it at once. Tickets assigned to person ids that are not in the
// knowledge base at all are found by the escalation job instead. It
// returns how many tickets it moved.
func (b *Bot) Requeue(ctx context.Context) (int, error) {
	st := b.cfg.Staff
	if st == nil {
		return 0, nil
	}
	kb := b.cfg.KB.Current()
	persons := map[string]bool{}
	for _, e := range kb.OfKind(knowledge.KindPerson) {
		persons[e.ID] = true
	}
	for _, p := range st.All() {
		persons[p] = true
	}
	moved := 0
	var errs []error
	for p := range persons {
		ts, err := b.cfg.Tickets.AssignedTickets(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("requeue %s: %w", p, err))
			continue
		}
		for _, tk := range ts {
			ok, err := b.requeueOne(ctx, kb, tk)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				moved++
			}
		}
	}
	if moved > 0 {
		b.log.Info("tickets returned to the queue", "count", moved)
	}
	return moved, errors.Join(errs...)
}

// SetStaff puts n in force in place of the staff directory the Bot was
// configured with (a staff file changed); call Requeue next, so that the
// tickets of staff n no longer has return to the queue. n is refused
// (ErrInvalid; the current directory stays) if it leaves a routing target
// of the current knowledge base without a desk, or if the Bot was started
// without staff: requests to people need the outbox and button tokens
// wired at start, so turning them on takes a restart.
func (b *Bot) SetStaff(n *StaffDirectory) error {
	if b.cfg.Staff == nil {
		return fmt.Errorf("set staff: started without staff: %w", ErrInvalid)
	}
	if n == nil {
		return fmt.Errorf("set staff: no directory: %w", ErrInvalid)
	}
	if err := n.Check(b.cfg.KB.Current()); err != nil {
		return fmt.Errorf("set staff: %w: %w", ErrInvalid, err)
	}
	b.cfg.Staff.Replace(n)
	return nil
}

// orphaned reports whether tk waits for somebody no longer configured:
// no desk (reroute) or a claimer who may not act (release).
func (b *Bot) orphaned(tk *Ticket) (reroute, release bool) {
	if tk.State.Final() || tk.Redacted {
		return false, false
	}
	if _, ok := b.cfg.Staff.Desk(tk.Assignee); !ok {
		return true, false
	}
	claimed := tk.State == TicketClaimed || tk.State == TicketAnswered
	return false, claimed && !b.cfg.Staff.MayAct(tk.ClaimedBy, tk.Assignee)
}

func (b *Bot) requeueOne(ctx context.Context, kb *knowledge.KB, tk Ticket) (bool, error) {
	reroute, release := b.orphaned(&tk)
	if !reroute && !release {
		return false, nil
	}
	now := b.now()
	to, toChat := "", int64(0)
	if reroute {
		nt, err := b.newTicket(kb, RouteRequest{District: tk.District, Topic: tk.Topic}, ctx, now)
		if err == nil {
			to, toChat = nt.Assignee, nt.AssigneeChat
		}
		if _, ok := b.cfg.Staff.Desk(to); !ok || to == tk.Assignee {
			e := kb.EscalationTarget()
			if e == nil {
				return false, fmt.Errorf("requeue %s: no route and no escalation target", tk.Ref)
			}
			d, ok := b.cfg.Staff.Desk(e.ID)
			if !ok {
				return false, fmt.Errorf("requeue %s: escalation target has no desk", tk.Ref)
			}
			to, toChat = e.ID, d.Chat
		}
	}
	nt, err := b.cfg.Tickets.UpdateTicket(ctx, tk.Ref, func(x *Ticket) error {
		rr, rl := b.orphaned(x)
		switch {
		case rr && reroute:
			if err := x.Apply(TicketEvent{At: now, Kind: EventHandedOver, Actor: ActorSystem, Assignee: to, AssigneeChat: toChat, Note: "staff_removed"}); err != nil {
				return err
			}
		case rl && release:
			if err := x.Apply(TicketEvent{At: now, Kind: EventReleased, Actor: ActorSystem, Note: "staff_removed"}); err != nil {
				return err
			}
		default:
			return errNoLongerOrphan
		}
		x.Due = kb.AddWorkingTime(now, b.cfg.ClaimWorkingDays)
		return nil
	})
	switch {
	case errors.Is(err, errNoLongerOrphan), errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("requeue %s: %w", tk.Ref, err)
	}
	b.log.Info("ticket returned to the queue", "rerouted", reroute, "released", release)
	if err := b.postTicket(ctx, kb, nt, "StaffHeaderHandedOver", "rq:"+nt.Ref+":"+idemSuffix(nt)); err != nil {
		// The ticket is due again; escalation posts it if this failed.
		b.log.Warn("requeued request not queued for staff", "error_class", errClass(err))
	}
	return true, nil
}
