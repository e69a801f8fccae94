package broadcast

import (
	"context"
	"slices"

	"golang.org/x/time/rate"
)

// LocalPacer is a Pacer for a single process: an even spacing of 1/rate
// (a token bucket with a burst of one never exceeds rate in any window
// of a second). Use the Redis pacer when several replicas send.
type LocalPacer struct{ lim *rate.Limiter }

// NewLocalPacer returns a pacer of perSecond messages per second.
func NewLocalPacer(perSecond float64) *LocalPacer {
	return &LocalPacer{lim: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// Wait implements Pacer.
func (p *LocalPacer) Wait(ctx context.Context) error {
	if err := p.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// Member is a recipient with what an Audience selects on.
type Member struct {
	Recipient
	District string
	// Role is RoleAll or RoleVolunteer.
	Role string
	// Topics and Events the member subscribed to.
	Topics []string
	Events []string
}

// List is an in-memory Recipients: the test double, and enough for a
// fixed list of chats.
type List []Member

// Recipients implements Recipients: a member belongs to a if it matches
// every field a sets (RoleVolunteer: volunteers only).
func (l List) Recipients(ctx context.Context, a Audience, fn func(Recipient) error) error {
	for _, m := range l {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case a.District != "" && m.District != a.District,
			a.Role == RoleVolunteer && m.Role != RoleVolunteer,
			a.Topic != "" && !slices.Contains(m.Topics, a.Topic),
			a.EventID != "" && !slices.Contains(m.Events, a.EventID):
			continue
		}
		if err := fn(m.Recipient); err != nil {
			return err
		}
	}
	return nil
}
