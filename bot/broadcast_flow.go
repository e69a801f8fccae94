package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file is the coordinator's side of broadcasts: /broadcast, choose
// an audience, write the text, preview, confirm or cancel, progress and
// the final tally. Delivery is package broadcast's (which imports bot,
// so the bot only knows the small Broadcaster port below). Recipients
// are refugees and volunteers; only coordinators (StaffDirectory) may
// broadcast.

// Errors of the broadcast port, besides ErrNotFound, ErrInvalid and
// ErrUnavailable.
var (
	// ErrNotCoordinator: the author may not broadcast.
	ErrNotCoordinator = errors.New("not a coordinator")
	// ErrBroadcastState: the broadcast is not in the state the operation
	// needs (confirmed twice, cancelled after it ended).
	ErrBroadcastState = errors.New("wrong broadcast state")
	// ErrUnknownAudience: the audience names a district or topic the
	// knowledge base does not hold (any more).
	ErrUnknownAudience = errors.New("audience not in the knowledge base")
)

// Roles of a BroadcastAudience.
const (
	AudienceEverybody  = ""
	AudienceVolunteers = RoleVolunteer
	AudienceRefugees   = "refugee"
)

// BroadcastAudience is whom a broadcast reaches, in a district ("" the
// whole city): with Topic "", the users of the pseudonymous audience
// index (AudienceIndex: everybody active within the session retention)
// of Role, plus for everybody and volunteers the subscribers of the
// district's events; with a Topic, those who subscribed to that topic's
// events (Role must be AudienceEverybody).
type BroadcastAudience struct {
	District string
	Role     string
	Topic    string
}

// BroadcastStatus is a broadcast as the coordinator sees it.
type BroadcastStatus struct {
	ID string
	// Author is the coordinator's Telegram user id; their private chat
	// has the same id.
	Author int64
	// Final: nothing more will be sent; Cancelled says why.
	Final, Cancelled                    bool
	Delivered, Blocked, Failed, Pending int
}

// Broadcaster is what the conversation needs of the broadcast engine
// (package broadcast adapts its Engine to it).
type Broadcaster interface {
	// Prepare stores a draft of text (sent verbatim to everybody) for a
	// and returns its id and the number of recipients it would reach
	// now. Returns ErrNotCoordinator if author may not broadcast,
	// ErrInvalid if the text is not acceptable (empty, too long),
	// ErrUnknownAudience if a's district or topic is unknown.
	Prepare(ctx context.Context, author int64, a BroadcastAudience, text string) (id string, recipients int, err error)
	// Confirm starts delivering draft id. Returns ErrBroadcastState if it
	// is no longer a draft, ErrNotFound if there is none.
	Confirm(ctx context.Context, id string) error
	// Cancel stops broadcast id. Returns ErrBroadcastState if it ended.
	Cancel(ctx context.Context, id string) error
	// Status returns broadcast id. Returns ErrNotFound if there is none.
	Status(ctx context.Context, id string) (BroadcastStatus, error)
}

// Broadcast callback data and session states. An audience spec is
// "<a|r|v>:<district|*>" (everybody, refugees, volunteers) or
// "t:<district|*>:<topic>" (subscribers of a topic).
const (
	cbBroadcast         = "bc:"
	cbBroadcastDistrict = "bc:d:" // bc:d:<district|*> audience district
	cbBroadcastTopics   = "bc:p:" // bc:p:<district|*> choose a topic
	cbBroadcastRole     = "bc:r:" // bc:r:<spec> the audience is chosen
	cbBroadcastConfirm  = "bc:y:" // bc:y:<id>
	cbBroadcastCancel   = "bc:n:" // bc:n:<id>
	// stBroadcastText waits for the text: bc:t:<spec>.
	stBroadcastText = "bc:t:"
	allDistricts    = "*"
	specTopic       = "t"
)

// broadcastRoles are the audience kinds besides topics: spec code,
// BroadcastAudience role, button label.
var broadcastRoles = []struct{ code, role, label string }{
	{"a", AudienceEverybody, "BcAudienceEverybody"},
	{"r", AudienceRefugees, "BcAudienceRefugees"},
	{"v", AudienceVolunteers, "BcAudienceVolunteers"},
}

// broadcastHook handles /broadcast, its buttons and the text it waits
// for; it reports whether it did. Every private turn passes here, so it
// also keeps the user in the broadcast audience index (keepAudience).
func (t *turn) broadcastHook() bool {
	t.keepAudience()
	in := t.in
	switch {
	case in.Kind == InCallback && strings.HasPrefix(in.CallbackData, cbBroadcast):
		t.broadcastCallback(in.CallbackData)
		return true
	case in.Kind != InText:
		return false
	case in.Command != "":
		switch strings.ToLower(in.Command) {
		case "broadcast", "rundruf", "rundnachricht":
			t.broadcastStart()
			return true
		case "cancel", "abbrechen":
			if strings.HasPrefix(t.s.State, stBroadcastText) {
				t.s.State = ""
				t.outcome = "broadcast_abandoned"
				t.text(t.T("BroadcastAbandoned", nil), nil)
				return true
			}
		}
		return false
	case strings.HasPrefix(t.s.State, stBroadcastText):
		t.broadcastText()
		return true
	}
	return false
}

// mayBroadcast refuses non-coordinators politely; the attempt is logged
// without anything identifying the user.
func (t *turn) mayBroadcast() bool {
	if t.isCoordinator() && t.b.cfg.Broadcasts != nil {
		return true
	}
	if !t.isCoordinator() {
		t.outcome = "broadcast_refused"
		t.b.log.Warn("broadcast refused: not a coordinator")
		t.withLanguage(func() { t.text(t.T("CoordinatorsOnly", nil), t.navButtons()) })
		return false
	}
	t.outcome = "broadcast_unavailable"
	t.text(t.T("Unavailable", nil), nil)
	return false
}

// broadcastStart offers the audiences.
func (t *turn) broadcastStart() {
	if !t.mayBroadcast() {
		return
	}
	t.outcome = "broadcast_start"
	rows := [][]Button{{{Text: t.T("BcAudienceWholeCity", nil), Data: cbBroadcastDistrict + allDistricts}}}
	for _, d := range t.kb.OfKind(knowledge.KindDistrict) {
		if b, ok := button(t.title(d), cbBroadcastDistrict+d.ID); ok {
			rows = append(rows, []Button{b})
		}
	}
	t.text(t.T("BcAudienceChooseDistrict", nil), rows)
}

func (t *turn) broadcastCallback(data string) {
	if !t.mayBroadcast() {
		return
	}
	switch {
	case strings.HasPrefix(data, cbBroadcastDistrict):
		if d := data[len(cbBroadcastDistrict):]; t.broadcastDistrict(d) {
			t.outcome = "broadcast_district"
			var rows [][]Button
			for _, r := range broadcastRoles {
				if b, ok := button(t.T(r.label, nil), cbBroadcastRole+r.code+":"+d); ok {
					rows = append(rows, []Button{b})
				}
			}
			if len(t.kb.Topics()) > 0 {
				rows = append(rows, []Button{{Text: t.T("BcAudienceTopic", nil), Data: cbBroadcastTopics + d}})
			}
			t.text(t.T("BcAudienceChooseRole", map[string]any{"Audience": t.broadcastDistrictName(d)}), rows)
			return
		}
	case strings.HasPrefix(data, cbBroadcastTopics):
		if d := data[len(cbBroadcastTopics):]; t.broadcastDistrict(d) {
			t.outcome = "broadcast_topics"
			var rows [][]Button
			for _, tp := range t.kb.Topics() {
				if b, ok := button(t.topicName(t.lang, tp.ID), cbBroadcastRole+specTopic+":"+d+":"+tp.ID); ok {
					rows = append(rows, []Button{b})
				}
			}
			t.text(t.T("BcAudienceChooseTopic", map[string]any{"Audience": t.broadcastDistrictName(d)}), rows)
			return
		}
	case strings.HasPrefix(data, cbBroadcastRole):
		spec := data[len(cbBroadcastRole):]
		a, ok := t.parseAudience(spec)
		if ok {
			t.outcome = "broadcast_audience"
			t.s.State = stBroadcastText + spec
			t.text(t.T("BroadcastWriteText", map[string]any{"Audience": t.audienceName(a)}), nil)
			return
		}
		if t.unknownTopic(a) {
			return
		}
	case strings.HasPrefix(data, cbBroadcastConfirm), strings.HasPrefix(data, cbBroadcastCancel):
		id := data[len(cbBroadcastConfirm):]
		if st, ok := t.ownBroadcast(id); ok {
			if strings.HasPrefix(data, cbBroadcastConfirm) {
				t.broadcastConfirm(st)
			} else {
				t.broadcastCancel(st)
			}
			return
		}
	}
	t.outdated()
}

// broadcastDistrict reports whether d names a district or all of them.
func (t *turn) broadcastDistrict(d string) bool {
	if d == allDistricts {
		return true
	}
	e := t.entryFromData(d)
	return e != nil && e.Kind == knowledge.KindDistrict
}

// parseAudience reads an audience spec from callback data or state. It
// reports false for a malformed spec, and also, with the topic in a, for
// a topic the knowledge base does not hold (any more; see unknownTopic).
func (t *turn) parseAudience(s string) (BroadcastAudience, bool) {
	code, rest, ok := strings.Cut(s, ":")
	if !ok {
		return BroadcastAudience{}, false
	}
	var a BroadcastAudience
	d := rest
	if code == specTopic {
		d, a.Topic, ok = strings.Cut(rest, ":")
		if !ok || !validID(a.Topic) || !t.broadcastDistrict(d) {
			return BroadcastAudience{}, false
		}
	} else {
		i := slices.IndexFunc(broadcastRoles, func(r struct{ code, role, label string }) bool { return r.code == code })
		if i < 0 || !t.broadcastDistrict(d) {
			return BroadcastAudience{}, false
		}
		a.Role = broadcastRoles[i].role
	}
	if d != allDistricts {
		a.District = d
	}
	if a.Topic != "" {
		if _, ok := t.kb.Topic(a.Topic); !ok {
			return a, false
		}
	}
	return a, true
}

// unknownTopic tells the coordinator, if a (from parseAudience) names a
// topic that is not (any more) in the knowledge base, and reports whether
// it did; the broadcast starts over.
func (t *turn) unknownTopic(a BroadcastAudience) bool {
	if a.Topic == "" {
		return false
	}
	t.s.State = ""
	t.outcome = "broadcast_unknown_topic"
	t.text(t.T("BcAudienceUnknownTopic", map[string]any{"Topic": a.Topic}), nil)
	return true
}

// broadcastDistrictName names a district id, or all districts for "" or "*".
func (t *turn) broadcastDistrictName(d string) string {
	if e, ok := t.kb.Entry(d); ok && d != "" && d != allDistricts {
		return t.title(e)
	}
	return t.T("BcAudienceWholeCity", nil)
}

// audienceName names a for the coordinator: "Nord · Volunteers".
func (t *turn) audienceName(a BroadcastAudience) string {
	name := t.broadcastDistrictName(a.District) + " · "
	if a.Topic != "" {
		return name + t.T("BcAudienceTopicName", map[string]any{"Topic": t.topicName(t.lang, a.Topic)})
	}
	for _, r := range broadcastRoles {
		if r.role == a.Role {
			return name + t.T(r.label, nil)
		}
	}
	return name + a.Role
}

// audienceWho says whom a reaches, for the preview.
func (t *turn) audienceWho(a BroadcastAudience) string {
	switch {
	case a.Topic != "":
		return t.T("BcAudienceWhoTopic", nil)
	case a.Role == AudienceRefugees:
		return t.T("BcAudienceWhoRefugees", nil)
	case a.Role == AudienceVolunteers:
		return t.T("BcAudienceWhoVolunteers", nil)
	}
	return t.T("BcAudienceWhoEverybody", nil)
}

// broadcastText prepares the text the coordinator wrote and previews it.
func (t *turn) broadcastText() {
	if !t.mayBroadcast() {
		t.s.State = ""
		return
	}
	a, ok := t.parseAudience(t.s.State[len(stBroadcastText):])
	if !ok {
		if !t.unknownTopic(a) {
			t.s.State = ""
			t.outdated()
		}
		return
	}
	text := t.in.Text
	id, n, err := t.b.cfg.Broadcasts.Prepare(t.ctx, t.in.UserID, a, text)
	switch {
	case errors.Is(err, ErrUnknownAudience):
		// The knowledge base changed since the audience was chosen.
		t.s.State = ""
		t.outcome = "broadcast_unknown_audience"
		t.text(t.T("BcAudienceUnknown", nil), nil)
		return
	case errors.Is(err, ErrInvalid):
		// The state stays: the coordinator may send a corrected text.
		t.outcome = "broadcast_invalid"
		t.text(t.T("BroadcastTextInvalid", nil), nil)
		return
	case err != nil:
		t.warn("broadcast prepare failed", err)
		t.outcome = "broadcast_failed"
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	t.s.State = ""
	if n == 0 {
		t.outcome = "broadcast_empty"
		if err := t.b.cfg.Broadcasts.Cancel(t.ctx, id); err != nil {
			t.warn("broadcast cancel failed", err)
		}
		t.text(t.T("BcAudienceNobody", map[string]any{"Audience": t.audienceName(a)}), nil)
		return
	}
	t.outcome = "broadcast_preview"
	t.text(t.T("BcAudiencePreview", map[string]any{"Count": n, "Audience": t.audienceName(a)})+"\n"+t.audienceWho(a), nil)
	// Exactly what recipients get: the same string, plain text, no
	// direction mark added by the coordinator's language.
	t.out = append(t.out, Outgoing{Text: text})
	t.text(t.T("BroadcastAsk", nil), [][]Button{{
		{Text: t.T("BroadcastConfirm", nil), Data: cbBroadcastConfirm + id},
		{Text: t.T("BroadcastCancel", nil), Data: cbBroadcastCancel + id},
	}})
}

// ownBroadcast returns broadcast id if the user wrote it: a coordinator
// does not confirm or cancel another's announcement by a forwarded button.
func (t *turn) ownBroadcast(id string) (BroadcastStatus, bool) {
	if id == "" || len(id) > 32 {
		return BroadcastStatus{}, false
	}
	st, err := t.b.cfg.Broadcasts.Status(t.ctx, id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			t.warn("broadcast status failed", err)
		}
		return BroadcastStatus{}, false
	}
	return st, st.Author == t.in.UserID
}

func (t *turn) broadcastConfirm(st BroadcastStatus) {
	err := t.b.cfg.Broadcasts.Confirm(t.ctx, st.ID)
	switch {
	case errors.Is(err, ErrBroadcastState):
		t.outcome = "broadcast_repeat"
		t.notice = t.T("BroadcastAlreadyHandled", nil)
	case err != nil:
		t.warn("broadcast confirm failed", err)
		t.outcome = "broadcast_failed"
		t.text(t.T("Unavailable", nil), nil)
	default:
		t.outcome = "broadcast_confirmed"
		t.text(t.T("BroadcastStarted", nil), [][]Button{{{Text: t.T("BroadcastStop", nil), Data: cbBroadcastCancel + st.ID}}})
	}
}

func (t *turn) broadcastCancel(st BroadcastStatus) {
	err := t.b.cfg.Broadcasts.Cancel(t.ctx, st.ID)
	switch {
	case errors.Is(err, ErrBroadcastState):
		t.outcome = "broadcast_repeat"
		t.notice = t.T("BroadcastAlreadyHandled", nil)
	case err != nil:
		t.warn("broadcast cancel failed", err)
		t.outcome = "broadcast_failed"
		t.text(t.T("Unavailable", nil), nil)
	default:
		t.outcome = "broadcast_cancelled"
		t.text(t.T("BroadcastCancelled", nil), nil)
	}
}

// BroadcastProgress tells the author of a broadcast how it is going, in
// the language of their session, and records the reach of a finished
// one in the anonymous indicators. The broadcast engine's Reporter calls
// it; errors are returned for it to log.
func (b *Bot) BroadcastProgress(ctx context.Context, st BroadcastStatus) error {
	if st.Final {
		b.record(ctx, "broadcast", func(ctx context.Context, m monitor.Store) error {
			return m.Broadcast(ctx, st.Delivered, st.Blocked, st.Failed, b.now())
		})
	}
	lang := i18n.SourceLanguage
	if s, err := b.cfg.Store.Session(ctx, b.UserKey(st.Author)); err == nil && i18n.Supported(s.Lang) {
		lang = s.Lang
	}
	data := map[string]any{
		"Delivered": st.Delivered, "Blocked": st.Blocked, "Failed": st.Failed, "Pending": st.Pending,
		"Done": st.Delivered + st.Blocked + st.Failed, "Total": st.Delivered + st.Blocked + st.Failed + st.Pending,
	}
	id := "BroadcastProgress"
	switch {
	case st.Final && st.Cancelled:
		id = "BroadcastStopped"
	case st.Final:
		id = "BroadcastDone"
	}
	_, err := b.cfg.Sender.Send(ctx, Outgoing{ChatID: st.Author, Text: b.cfg.Catalog.T(lang, id, data), RTL: i18n.IsRTL(lang)})
	if err != nil {
		return fmt.Errorf("broadcast progress: %w", err)
	}
	return nil
}

// ForgetChat removes what Lotse keeps about the user of a private chat
// who blocked the bot (a private chat's id is its user's id): their
// subscriptions and, through Store.Forget, everything else the store
// keeps about them. Nobody can answer them any more, so nothing of theirs
// is of use. It implements broadcast.ChatForgetter.
func (b *Bot) ForgetChat(ctx context.Context, chatID int64) error {
	if chatID <= 0 {
		return nil // groups and channels: nothing is stored about them
	}
	user := b.UserKey(chatID)
	var errs []error
	if r := b.cfg.Reminders; r != nil {
		errs = append(errs, r.ForgetSubscriptions(ctx, user))
	}
	if k, ok := b.cfg.Reminders.(AudienceKeeper); ok {
		errs = append(errs, k.LeaveAudience(ctx, user))
	}
	errs = append(errs, b.cfg.Store.Forget(ctx, user))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("forget chat: %w", err)
	}
	return nil
}
