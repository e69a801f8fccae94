package bot

import (
	"context"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// This file is following a district: the user chooses a district, then
// all of its events or one topic (field of action), and gets reminders
// before every matching event date, city-wide events included (package
// remind plans them, also for events added by a later knowledge-base
// reload). It also keeps the user in the broadcast audience index.

// followRow is the button that starts following a district, if
// reminders are available.
func (t *turn) followRow() [][]Button {
	if t.b.cfg.Reminders == nil {
		return nil
	}
	return [][]Button{{{Text: t.T("SubscribeButtonFollow", nil), Data: cbFollow}}}
}

// followCallback handles "fo", "fo:<district>" and
// "fo:<district>:<topic|*>"; it reports false for data it cannot read, or
// naming a district or topic that does not exist (any more).
func (t *turn) followCallback(data string) bool {
	if data == cbFollow {
		t.withLanguage(t.followDistricts)
		return true
	}
	rest, ok := strings.CutPrefix(data, cbFollow+":")
	if !ok {
		return false
	}
	district, topic, hasTopic := strings.Cut(rest, ":")
	if d := t.entryFromData(district); d == nil || d.Kind != knowledge.KindDistrict {
		return false
	}
	if !hasTopic {
		t.withLanguage(func() { t.followTopics(district) })
		return true
	}
	if topic == followAll {
		topic = ""
	} else if _, found := t.kb.Topic(topic); !validID(topic) || !found {
		return false
	}
	t.withLanguage(func() { t.follow(district, topic) })
	return true
}

// followDistricts offers the districts, the user's own first.
func (t *turn) followDistricts() {
	t.outcome = "follow_districts"
	var rows [][]Button
	for _, d := range t.kb.OfKind(knowledge.KindDistrict) {
		b, ok := button(t.title(d), cbFollow+":"+d.ID)
		if !ok {
			continue
		}
		if d.ID == t.s.District {
			rows = append([][]Button{{b}}, rows...)
			continue
		}
		rows = append(rows, []Button{b})
	}
	rows = append(rows, []Button{t.topicsButton()})
	t.text(t.T("SubscribeChooseDistrict", nil), rows)
}

// followTopics offers all events of district, or those of one topic;
// only topics some event has are offered.
func (t *turn) followTopics(district string) {
	t.outcome = "follow_topics"
	used := map[string]bool{}
	for _, e := range t.kb.OfKind(knowledge.KindEvent) {
		if e.District == "" || e.District == district {
			for _, tp := range e.Topics {
				used[tp] = true
			}
		}
	}
	rows := [][]Button{{{Text: t.T("SubscribeAllTopics", nil), Data: cbFollow + ":" + district + ":" + followAll}}}
	for _, tp := range t.kb.Topics() {
		if !used[tp.ID] {
			continue
		}
		if b, ok := button(t.topicName(t.lang, tp.ID), cbFollow+":"+district+":"+tp.ID); ok {
			rows = append(rows, []Button{b})
		}
	}
	d, _ := t.kb.Entry(district)
	t.text(t.T("SubscribeChooseTopic", map[string]any{"District": t.title(d)}), rows)
}

// follow subscribes the user to the events of district (of topic, unless
// it is "").
func (t *turn) follow(district, topic string) {
	r := t.b.cfg.Reminders
	if r == nil || t.user == "" {
		t.outcome = "follow_unavailable"
		t.text(t.T("Unavailable", nil), t.navButtons())
		return
	}
	id, err := r.SubscribeDistrict(t.ctx, t.user, t.in.ChatID, t.lang, district, topic, t.now)
	if t.subscribeFailed(err, "follow", "subscribe to district failed") {
		return
	}
	t.outcome = "follow_subscribed"
	name := t.subscriptionName(Subscription{District: district, Topic: topic})
	t.text(t.T("SubscribeDone", map[string]any{"Title": name}), t.subscribedButtons(id))
}

// audienceRefresh is how often an unchanged audience entry is written
// again to renew its expiry: as often as an unchanged session is saved
// (sessionToSave), so the entry expires with the session, at most a day
// before it.
const audienceRefresh = 24 * time.Hour

// keepAudience queues, for after the replies, the upkeep of the user's
// entry in the broadcast audience index: written when stampAudience found
// it due and the session was saved (so it carries the saved role,
// district and language and lives as long as the session), removed when
// the user was forgotten or blocked the bot.
func (t *turn) keepAudience() {
	k, ok := t.b.cfg.Reminders.(AudienceKeeper)
	if !ok || t.user == "" || t.in.ChatID == 0 {
		return
	}
	t.after = append(t.after, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), recordTimeout)
		defer cancel()
		var err error
		switch {
		case t.forgotten:
			err = k.LeaveAudience(ctx, t.user)
		case !t.audDue || t.storeDown || !t.s.Updated.Equal(t.now):
			return // not due, or the session was not saved: the entry stays as it is
		default:
			err = k.KeepAudience(ctx, AudienceMember{
				User: t.user, ChatID: t.in.ChatID, Lang: t.lang, Role: t.s.Role,
				District: t.s.District, Expires: t.now.Add(t.b.cfg.SessionTTL), Seen: t.now,
			})
		}
		if err != nil {
			t.b.log.Debug("audience index not updated", "error_class", errClass(err))
		}
	})
}

// stampAudience runs when the turn's conversation is done, before the
// session is saved. It stamps the session (Session.Audience) if the
// user's audience entry is due, which keepAudience then writes; a stamped
// session is saved (sameSession). Due is decided from the session loaded
// anyway, never by reading the entry: it is due
//   - if never written (by this session: /forget deletes both);
//   - if the language, role or district differ from the loaded session's,
//     which the entry has, being written whenever they change;
//   - once audienceRefresh has passed, to renew its expiry;
//   - on /start: after a user unblocked the bot, the entry removed when
//     they blocked it (here, or by a reminder or a broadcast) is back at
//     once, not only at the next refresh;
//   - in a chat that is not the user's private one (never so from
//     Telegram: a private chat's id is its user's), which the session
//     cannot tell apart.
func (t *turn) stampAudience() {
	if _, ok := t.b.cfg.Reminders.(AudienceKeeper); !ok || t.user == "" || t.in.ChatID == 0 || t.storeDown || t.forgotten {
		return
	}
	o := t.orig
	if !t.loaded || o.Audience.IsZero() || t.now.Sub(o.Audience) >= audienceRefresh ||
		t.lang != o.Lang || t.s.Role != o.Role || t.s.District != o.District ||
		t.in.ChatID != t.in.UserID || (t.in.Kind == InText && strings.EqualFold(t.in.Command, "start")) {
		t.s.Audience, t.audDue = t.now, true
	}
}
