package bot

import (
	"context"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file counts the anonymous indicators (package monitor) as things
// happen. Recording is best effort: it runs after the user's replies where
// it can, a failure is logged at debug level with its class only (never a
// text, a key or an id), and nothing here returns an error to a flow.

// recordTimeout bounds one recording, so a slow store cannot hold a
// handler (and with it the user's next message) for long.
const recordTimeout = 500 * time.Millisecond

// record runs fn against the monitor, if one is configured.
func (b *Bot) record(ctx context.Context, what string, fn func(context.Context, monitor.Store) error) {
	m := b.cfg.Monitor
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := fn(ctx, m); err != nil {
		b.log.Debug("monitoring not recorded", "what", what, "error_class", errClass(err))
	}
}

// recordActive counts the user as active this week and month.
func (b *Bot) recordActive(ctx context.Context, user UserKey, now time.Time) {
	if user == "" {
		return
	}
	b.record(ctx, "active", func(ctx context.Context, m monitor.Store) error {
		return m.Active(ctx, string(user), now)
	})
}

// recordQuestion counts a question after the replies went out; an
// unanswered question also keeps its (cleaned) text, with no reference
// to the user, for the curators.
func (t *turn) recordQuestion(best *knowledge.Entry, query string) {
	if t.b.cfg.Monitor == nil {
		return
	}
	q := monitor.Q{District: t.s.District, Lang: t.lang, Answered: best != nil, Day: t.now.In(t.kb.Location())}
	if best != nil && len(best.Topics) > 0 {
		q.Topic = best.Topics[0]
	}
	if !monitor.ValidDim(q.District) {
		q.District = ""
	}
	b, ctx := t.b, t.ctx
	t.after = append(t.after, func() {
		b.record(ctx, "question", func(ctx context.Context, m monitor.Store) error { return m.Question(ctx, q) })
		if best == nil {
			b.record(ctx, "unanswered", func(ctx context.Context, m monitor.Store) error {
				return m.Unanswered(ctx, query, q.Lang, q.Day)
			})
		}
	})
}

// recordTicket counts one step of tk. wait is the time to the first
// answer (answered) or to closing (closed), else zero.
func (b *Bot) recordTicket(ctx context.Context, kb *knowledge.KB, kind string, tk Ticket, outcome string, wait time.Duration, now time.Time) {
	ev := monitor.TicketEvent{Kind: kind, District: tk.District, Topic: tk.Topic, Outcome: outcome, Wait: max(wait, 0), Day: now.In(kb.Location())}
	b.record(ctx, "ticket", func(ctx context.Context, m monitor.Store) error { return m.Ticket(ctx, ev) })
}

// answeredBefore reports whether staff answered tk before.
func answeredBefore(tk *Ticket) bool {
	for _, e := range tk.History {
		if e.Kind == EventAnswered {
			return true
		}
	}
	return false
}
