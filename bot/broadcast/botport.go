package broadcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file adapts the engine to the small port the bot core declares
// (bot.Broadcaster; the core must not import broadcast), and the stores
// the bot already has to the engine's ports: subscriptions are the
// recipients, the bot reports progress and forgets blocked chats.

// BotBroadcaster implements bot.Broadcaster on an Engine: one text, sent
// verbatim to every recipient whatever their language.
type BotBroadcaster struct{ Engine *Engine }

var _ bot.Broadcaster = BotBroadcaster{}

// textLangOne is the language the single text is filed under: German,
// which TextFor falls back to for every recipient without English.
const textLangOne = "de"

// Prepare implements bot.Broadcaster.
func (p BotBroadcaster) Prepare(ctx context.Context, author int64, a bot.BroadcastAudience, text string) (string, int, error) {
	aud := Audience{District: a.District, Topic: a.Topic}
	switch a.Role {
	case bot.AudienceEverybody:
	case bot.AudienceVolunteers:
		aud.Role = RoleVolunteer
	case bot.AudienceRefugees:
		aud.Role = RoleRefugee
	default:
		return "", 0, fmt.Errorf("broadcast prepare: role %q: %w", a.Role, bot.ErrInvalid)
	}
	b, pv, err := p.Engine.Prepare(ctx, author, aud, map[string]string{textLangOne: text})
	if err != nil {
		return "", 0, mapErr(err)
	}
	return b.ID, pv.Recipients, nil
}

// Confirm implements bot.Broadcaster.
func (p BotBroadcaster) Confirm(ctx context.Context, id string) error {
	_, err := p.Engine.Confirm(ctx, id)
	return mapErr(err)
}

// Cancel implements bot.Broadcaster.
func (p BotBroadcaster) Cancel(ctx context.Context, id string) error {
	_, err := p.Engine.Cancel(ctx, id)
	return mapErr(err)
}

// Status implements bot.Broadcaster.
func (p BotBroadcaster) Status(ctx context.Context, id string) (bot.BroadcastStatus, error) {
	if !ValidID(id) {
		return bot.BroadcastStatus{}, fmt.Errorf("broadcast status: %w", bot.ErrNotFound)
	}
	b, err := p.Engine.Status(ctx, id)
	if err != nil {
		return bot.BroadcastStatus{}, mapErr(err)
	}
	return botStatus(b), nil
}

func botStatus(b Broadcast) bot.BroadcastStatus {
	return bot.BroadcastStatus{
		ID: b.ID, Author: b.Author, Final: b.State.Final(), Cancelled: b.State == Cancelled,
		Delivered: b.Tally.Delivered, Blocked: b.Tally.Blocked, Failed: b.Tally.Failed, Pending: b.Tally.Pending,
	}
}

// mapErr adds the bot's sentinels to the engine's own errors, keeping
// both.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrForbidden):
		return fmt.Errorf("%w: %w", bot.ErrNotCoordinator, err)
	case errors.Is(err, ErrState):
		return fmt.Errorf("%w: %w", bot.ErrBroadcastState, err)
	case errors.Is(err, ErrUnknown):
		return fmt.Errorf("%w: %w", bot.ErrUnknownAudience, err)
	}
	return err
}

// BotReporter reports progress to the broadcast's author through the
// bot, which also records the reach of finished broadcasts.
type BotReporter struct {
	Bot interface {
		BroadcastProgress(ctx context.Context, st bot.BroadcastStatus) error
	}
	// Logger receives failed reports (default: discard).
	Logger *slog.Logger
}

var _ Reporter = BotReporter{}

// Progress implements Reporter.
func (r BotReporter) Progress(ctx context.Context, b Broadcast) {
	if err := r.Bot.BroadcastProgress(ctx, botStatus(b)); err != nil && r.Logger != nil {
		r.Logger.LogAttrs(ctx, slog.LevelWarn, "broadcast: progress not reported", slog.String("broadcast", b.ID), slog.String("err", err.Error()))
	}
}

// subscribersPage is how many subscriptions one SubscribersOf call reads.
const subscribersPage = 500

// Subscribers implements Recipients on the event subscriptions, the only
// list of people Lotse keeps: an audience's District selects the
// district's subscribers ("" all districts of the knowledge base),
// Topic narrows them to those who subscribed to that topic (not those
// following all of a district's events), EventID selects an event's subscribers
// instead. Role RoleVolunteer keeps subscribers whose session says they
// are volunteers (a volunteer whose session expired is not one any more).
type Subscribers struct {
	Subs remind.Store
	// KB is the current knowledge base (knowledge.Live.Current), for the
	// list of districts.
	KB func() *knowledge.KB
	// Sessions holds the users' roles; required for RoleVolunteer.
	Sessions bot.Store
}

var _ Recipients = Subscribers{}

// Recipients implements Recipients.
func (s Subscribers) Recipients(ctx context.Context, a Audience, fn func(Recipient) error) error {
	var targets []remind.Target
	switch {
	case a.EventID != "":
		targets = []remind.Target{remind.EventTarget(a.EventID)}
	case a.District != "":
		targets = []remind.Target{remind.DistrictTarget(a.District, a.Topic)}
	default:
		for _, d := range s.KB().OfKind(knowledge.KindDistrict) {
			targets = append(targets, remind.DistrictTarget(d.ID, a.Topic))
		}
	}
	if a.Role == RoleVolunteer && s.Sessions == nil {
		return fmt.Errorf("recipients: volunteers need sessions: %w", bot.ErrUnavailable)
	}
	// A user subscribed to several districts or topics is looked up once.
	role := map[bot.UserKey]bool{}
	for _, t := range targets {
		cursor := ""
		for {
			subs, next, err := s.Subs.SubscribersOf(ctx, t, cursor, subscribersPage)
			if err != nil {
				return fmt.Errorf("recipients: %w", err)
			}
			for _, sub := range subs {
				if a.EventID == "" && a.Topic != "" && sub.Target.Topic != a.Topic {
					// SubscribersOf adds the district's followers of
					// every topic (they get reminders of all its
					// events); a topic audience is those who chose it.
					continue
				}
				if a.Role == RoleVolunteer {
					ok, seen := role[sub.User]
					if !seen {
						ses, err := s.Sessions.Session(ctx, sub.User)
						if err != nil && !errors.Is(err, bot.ErrNotFound) {
							return fmt.Errorf("recipients: session: %w", err)
						}
						ok = err == nil && ses.Role == bot.RoleVolunteer
						role[sub.User] = ok
					}
					if !ok {
						continue
					}
				}
				if err := fn(Recipient{ChatID: sub.ChatID, Lang: sub.Lang}); err != nil {
					return err
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return nil
}
