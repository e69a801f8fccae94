package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/lotse-bot/lotse/knowledge"
)

// errNoLongerOrphan: the ticket changed before it was requeued.
var errNoLongerOrphan = errors.New("ticket no longer orphaned")

// Requeued counts what Requeue did.
type Requeued struct {
	// Tickets is how many tickets it changed.
	Tickets int
	// Returned tickets are back in a queue: routed to another desk, or
	// released by a claimer who may no longer act on them.
	Returned int
	// Moved tickets followed their desk to its new chat and were posted
	// there (a ticket may be moved and returned at once).
	Moved int
}

// Requeue is RequeueAll's count of changed tickets.
func (b *Bot) Requeue(ctx context.Context) (int, error) {
	r, err := b.RequeueAll(ctx)
	return r.Tickets, err
}

// RequeueAll puts the open tickets in line with the staff directory in
// force, so that nothing waits for somebody who left or in a chat nobody
// reads any more:
//   - a ticket assigned to a person without a desk is routed again
//     (district and topic; the escalation target if the route has no desk
//     either) and handed over;
//   - a ticket claimed by a user who may no longer act on it (removed, or
//     moved to another desk) is released to its desk;
//   - a ticket whose desk now receives requests in another chat moves
//     there: its card is posted in the new chat and the old chat is told
//     (reference only) that it moved; a claim the claimer may still act
//     on stays.
//
// Every ticket is posted again through the outbox. Run it at start-up and
// after the staff file changed; every step is an atomic update that
// re-checks the condition, and a move is queued under a key derived from
// the ticket's history before the ticket records it, so replicas may run
// it at once and a crash in between posts nothing twice. Tickets assigned
// to person ids that are not in the knowledge base at all are found by
// the escalation job instead.
func (b *Bot) RequeueAll(ctx context.Context) (Requeued, error) {
	var r Requeued
	st := b.cfg.Staff
	if st == nil {
		return r, nil
	}
	kb := b.cfg.KB.Current()
	persons := map[string]bool{}
	for _, e := range kb.OfKind(knowledge.KindPerson) {
		persons[e.ID] = true
	}
	for _, p := range st.All() {
		persons[p] = true
	}
	var errs []error
	for p := range persons {
		ts, err := b.cfg.Tickets.AssignedTickets(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("requeue %s: %w", p, err))
			continue
		}
		for _, tk := range ts {
			returned, moved, err := b.requeueOne(ctx, kb, tk)
			if err != nil {
				errs = append(errs, err)
			}
			if returned || moved {
				r.Tickets++
			}
			if returned {
				r.Returned++
			}
			if moved {
				r.Moved++
			}
		}
	}
	if r.Tickets > 0 {
		b.log.Info("tickets requeued", "returned", r.Returned, "moved", r.Moved)
	}
	return r, errors.Join(errs...)
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
// no desk (reroute) or a claimer who may not act (release); or in a chat
// its desk no longer uses (move, only with a desk).
func (b *Bot) orphaned(tk *Ticket) (reroute, release, move bool) {
	if tk.State.Final() || tk.Redacted {
		return false, false, false
	}
	desk, ok := b.cfg.Staff.Desk(tk.Assignee)
	if !ok {
		return true, false, false
	}
	claimed := tk.State == TicketClaimed || tk.State == TicketAnswered
	return false, claimed && !b.cfg.Staff.MayAct(tk.ClaimedBy, tk.Assignee), desk.Chat != tk.AssigneeChat
}

func (b *Bot) requeueOne(ctx context.Context, kb *knowledge.KB, tk Ticket) (returned, moved bool, err error) {
	reroute, release, move := b.orphaned(&tk)
	if move {
		return b.moveOne(ctx, kb, tk)
	}
	if !reroute && !release {
		return false, false, nil
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
				return false, false, fmt.Errorf("requeue %s: no route and no escalation target", tk.Ref)
			}
			d, ok := b.cfg.Staff.Desk(e.ID)
			if !ok {
				return false, false, fmt.Errorf("requeue %s: escalation target has no desk", tk.Ref)
			}
			to, toChat = e.ID, d.Chat
		}
	}
	var from int64 // the chat it leaves if rerouted
	nt, err := b.cfg.Tickets.UpdateTicket(ctx, tk.Ref, func(x *Ticket) error {
		from = x.AssigneeChat
		rr, rl, mv := b.orphaned(x)
		switch {
		case mv:
			// Its desk moved meanwhile: the next run moves it.
			return errNoLongerOrphan
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
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("requeue %s: %w", tk.Ref, err)
	}
	b.log.Info("ticket returned to the queue", "rerouted", reroute, "released", release)
	if nt.AssigneeChat != from {
		b.closeTopic(ctx, nt, from)
	}
	if err := b.postTicket(ctx, kb, nt, "StaffHeaderHandedOver", "rq:"+nt.Ref+":"+idemSuffix(nt)); err != nil {
		// The ticket is due again; escalation posts it if this failed.
		b.log.Warn("requeued request not queued for staff", "error_class", errClass(err))
	}
	return true, false, nil
}

// moveOne moves tk, whose desk now receives requests in another chat,
// there. The card (new chat) and the note (old chat) are queued first,
// under keys made of the ticket's count of moves and the new chat, and
// only then does the ticket record the move (EventMoved, with the new
// chat: the chat it was last posted to). A crash in between, or a
// replica doing the same, queues the same keys again, which the outbox
// skips; once recorded, the ticket is no longer found to have moved. A
// claimer who may no longer act on it loses the claim in the same step.
func (b *Bot) moveOne(ctx context.Context, kb *knowledge.KB, tk Ticket) (returned, moved bool, err error) {
	desk, _ := b.cfg.Staff.Desk(tk.Assignee)
	from, to, n := tk.AssigneeChat, desk.Chat, movesOf(&tk)
	now := b.now()
	apply := func(x *Ticket) (released bool, err error) {
		_, rl, mv := b.orphaned(x)
		if !mv || x.Assignee != tk.Assignee || x.AssigneeChat != from || movesOf(x) != n {
			return false, errNoLongerOrphan
		}
		if err := x.Apply(TicketEvent{At: now, Kind: EventMoved, Actor: ActorSystem, Assignee: x.Assignee, AssigneeChat: to, Note: "staff_reload"}); err != nil {
			return false, err
		}
		if rl {
			if err := x.Apply(TicketEvent{At: now, Kind: EventReleased, Actor: ActorSystem, Note: "staff_reload"}); err != nil {
				return false, err
			}
			x.Due = kb.AddWorkingTime(now, b.cfg.ClaimWorkingDays)
		}
		return rl, nil
	}
	// The card shows the ticket as it will be after the move.
	after := tk.Clone()
	if _, err := apply(&after); err != nil {
		return false, false, fmt.Errorf("move %s: %w", tk.Ref, err)
	}
	key := "mv:" + tk.Ref + ":" + strconv.Itoa(n) + ":" + b.outboxOrder(to)
	if err := b.postTicketTo(ctx, kb, after, "ReloadHeaderMoved", to, desk.Lang, key); err != nil {
		return false, false, fmt.Errorf("move %s: post: %w", tk.Ref, err)
	}
	// The note goes into the ticket's topic in the old chat, if it has
	// one there, which is then closed.
	es := []OutboxEntry{{ID: key + ":from", Ref: tk.Ref, Topic: b.ticketTopicMode(tk, from, TopicIn),
		Msg: Outgoing{ChatID: from, Text: b.cfg.Catalog.T(desk.Lang, "ReloadNoteMoved", map[string]any{"Ref": tk.Ref})}}}
	if e, ok := b.topicCloseEntry(tk, from, key+":close"); ok {
		es = append(es, e)
	}
	if err := b.enqueue(ctx, es...); err != nil {
		return false, false, fmt.Errorf("move %s: note: %w", tk.Ref, err)
	}
	var released bool
	_, err = b.cfg.Tickets.UpdateTicket(ctx, tk.Ref, func(x *Ticket) error {
		var err error
		released, err = apply(x)
		return err
	})
	switch {
	case errors.Is(err, errNoLongerOrphan), errors.Is(err, ErrNotFound):
		// Moved by another run, or changed meanwhile (handed over,
		// closed): the card posted is a stale copy whose buttons check
		// the ticket as it is.
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("move %s: %w", tk.Ref, err)
	}
	b.log.Info("ticket moved to its desk's new chat", "released", released)
	return released, true, nil
}

// movesOf counts the ticket's moves (EventMoved), which tells apart the
// outbox keys of successive moves.
func movesOf(tk *Ticket) int {
	n := 0
	for _, e := range tk.History {
		if e.Kind == EventMoved {
			n++
		}
	}
	return n
}
