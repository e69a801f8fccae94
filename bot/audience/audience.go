// Package audience lists the recipients of coordinators' broadcasts
// (broadcast.Recipients) from the pseudonymous audience index
// (bot.AudienceIndex: the users active within the conversation retention,
// with their district, role and language) together with the event
// subscriptions: "volunteers in Nord" are the volunteers whose session
// names Nord plus the volunteers following Nord's events; "refugees in
// Nord" are the index members of Nord without the volunteer role who are
// not staff (subscriptions cannot tell refugees apart); a topic or an
// event audience is that topic's or event's subscribers.
//
// It imports both bot/broadcast and bot/remind (through broadcast's
// Subscribers), so it lives beside them rather than in either.
package audience

import (
	"context"
	"fmt"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/broadcast"
)

// RoleRefugee selects the members without the volunteer role (the bot's
// Session.Role "") who are not staff (Recipients.Staff), for an audience
// of refugees.
const RoleRefugee = broadcast.RoleRefugee

// Limits of one listing.
const (
	pageSize = 500
	// maxPages bounds one iteration (pageSize*maxPages members), so a
	// broken store cursor cannot loop for ever.
	maxPages = 10000
)

// Recipients implements broadcast.Recipients.
type Recipients struct {
	// Index is the audience index; required.
	Index bot.AudienceIndex
	// Subscribers lists the subscribers of districts, topics and events.
	Subscribers broadcast.Recipients
	// Staff reports whether the user of a private chat (its id is the
	// user's) is staff (bot.StaffDirectory.IsStaff): staff use the bot
	// too, without the volunteer role, but are no refugees. Nil: nobody
	// is.
	Staff func(chatID int64) bool
}

var _ broadcast.Recipients = Recipients{}

// Recipients implements broadcast.Recipients. A chat may be passed twice
// (in the index and subscribed); the engine delivers once per chat.
func (r Recipients) Recipients(ctx context.Context, a broadcast.Audience, fn func(broadcast.Recipient) error) error {
	if r.Index == nil {
		return fmt.Errorf("recipients: no audience index: %w", bot.ErrUnavailable)
	}
	if a.Topic == "" && a.EventID == "" {
		if err := r.members(ctx, a, fn); err != nil {
			return err
		}
	}
	if r.Subscribers == nil || a.Role == RoleRefugee {
		// Subscribers tells volunteers apart, not refugees: an audience
		// of refugees is the index's alone.
		return nil
	}
	return r.Subscribers.Recipients(ctx, a, fn)
}

// members passes the index members of a's district with a's role.
func (r Recipients) members(ctx context.Context, a broadcast.Audience, fn func(broadcast.Recipient) error) error {
	cursor := ""
	for range maxPages {
		ms, next, err := r.Index.Members(ctx, a.District, cursor, pageSize)
		if err != nil {
			return fmt.Errorf("recipients: %w", err)
		}
		for _, m := range ms {
			if !wants(a.Role, m.Role) || a.Role == RoleRefugee && r.Staff != nil && r.Staff(m.ChatID) {
				continue
			}
			if err := fn(broadcast.Recipient{ChatID: m.ChatID, Lang: m.Lang}); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
	return fmt.Errorf("recipients: audience index does not end: %w", bot.ErrUnavailable)
}

// wants reports whether a member with role has the audience's role.
func wants(audienceRole, role string) bool {
	switch audienceRole {
	case broadcast.RoleVolunteer:
		return role == bot.RoleVolunteer
	case RoleRefugee:
		return role == ""
	}
	return true
}
