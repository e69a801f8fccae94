package bot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file is the volunteer role: chosen with a button (/volunteer) or
// set by a coordinator's invitation link. Volunteers see the events for
// volunteers and get the contacts of their district's Quartiermanager and
// of the volunteer coordination.

// Roles of Session.Role.
const (
	RoleVolunteer = "volunteer"
)

// Volunteer callback data and invitation payloads.
const (
	cbVolunteer = "v:" // v:y take the role, v:n give it up
	// invitePrefix starts an invitation's start payload:
	// v-<district>-<token>, district "city" for no district.
	invitePrefix = "v-"
	inviteCity   = "city"
	// inviteTokenLen is the hex length of an invitation token: 64 bits
	// of HMAC, enough that guessing one takes longer than it is worth,
	// short enough for Telegram's 64-character start parameter.
	inviteTokenLen = 16
)

// inviteToken is the HMAC of the district under the user key secret,
// domain-separated from user keys.
func (b *Bot) inviteToken(district string) string {
	m := hmac.New(sha256.New, b.cfg.UserKeySecret)
	m.Write([]byte("volunteer-invite\x00" + district))
	return hex.EncodeToString(m.Sum(nil))[:inviteTokenLen]
}

// VolunteerInvite returns the start payload of an invitation that makes
// its user a volunteer of district ("" for the whole city), for a link
// t.me/<bot>?start=<payload>. The payload carries a keyed hash, so only
// whoever holds the bot's secret can make one.
func (b *Bot) VolunteerInvite(district string) string {
	d := district
	if d == "" {
		d = inviteCity
	}
	return invitePrefix + d + "-" + b.inviteToken(district)
}

// checkInvite returns the district of a genuine invitation payload.
func (b *Bot) checkInvite(kb *knowledge.KB, payload string) (district string, ok bool) {
	rest, found := strings.CutPrefix(payload, invitePrefix)
	i := strings.LastIndexByte(rest, '-')
	if !found || i <= 0 {
		return "", false
	}
	d, token := rest[:i], rest[i+1:]
	if d == inviteCity {
		d = ""
	} else if e, ok := kb.Entry(d); !ok || e.Kind != knowledge.KindDistrict {
		return "", false
	}
	if !hmac.Equal([]byte(token), []byte(b.inviteToken(d))) {
		return "", false
	}
	return d, true
}

// invitation handles /start v-…: a genuine one sets the role (and the
// district it names), a forged or outdated one is refused kindly.
func (t *turn) invitation(payload string) {
	d, ok := t.b.checkInvite(t.kb, payload)
	if !ok {
		t.outcome = "invite_invalid"
		t.b.log.Info("invitation refused", "kind", "start")
		t.withLanguage(func() { t.menu(t.T("InviteInvalid", nil)) })
		return
	}
	t.outcome = "invite_accepted"
	t.s.Role = RoleVolunteer
	if d != "" {
		t.s.District = d
	}
	t.withLanguage(func() { t.volunteerInfo(t.T("VolunteerWelcome", nil)) })
}

// volunteerPrompt asks whether the user volunteers.
func (t *turn) volunteerPrompt() {
	t.outcome = "volunteer_prompt"
	key := "VolunteerPrompt"
	if t.s.Role == RoleVolunteer {
		key = "VolunteerPromptIsVolunteer"
	}
	t.text(t.T(key, nil), [][]Button{
		{{Text: t.T("ButtonVolunteerYes", nil), Data: cbVolunteer + yes}},
		{{Text: t.T("ButtonVolunteerNo", nil), Data: cbVolunteer + no}},
	})
}

// setVolunteer takes or gives up the role.
func (t *turn) setVolunteer(on bool) {
	if !on {
		t.outcome = "volunteer_off"
		t.s.Role = ""
		t.text(t.T("VolunteerOff", nil), t.navButtons())
		return
	}
	t.outcome = "volunteer_on"
	t.s.Role = RoleVolunteer
	t.volunteerInfo(t.T("VolunteerOn", nil))
}

// volunteerInfo shows intro with the contacts volunteers need: the
// volunteer coordination the routing names for them and the
// Quartiermanager of their district.
func (t *turn) volunteerInfo(intro string) {
	var people []*knowledge.Entry
	add := func(e *knowledge.Entry) {
		for _, p := range people {
			if p == e {
				return
			}
		}
		people = append(people, e)
	}
	if t.s.District != "" {
		for _, e := range t.kb.OfKind(knowledge.KindPerson) {
			if e.Role == "quartiermanager" && e.District == t.s.District {
				add(e)
			}
		}
	}
	if rt, err := t.kb.Route(RouteRequest{District: t.s.District, Volunteer: true}); err == nil {
		add(rt.Primary)
	}
	for _, e := range t.kb.OfKind(knowledge.KindPerson) {
		if e.Role == "volunteer_coordinator" {
			add(e)
		}
	}
	parts := []string{intro}
	var rows [][]Button
	if len(people) > 0 {
		lines := []string{t.T("VolunteerContacts", nil)}
		for _, e := range people {
			line := "• " + t.titleLine(e)
			if e.ContactPerson != "" {
				line += "\n  " + t.T("CardContactPerson", map[string]any{"Name": e.ContactPerson})
			}
			if e.Contact.Phone != "" {
				line += "\n  " + t.T("CardPhone", map[string]any{"Phone": e.Contact.Phone})
			}
			if e.Contact.Email != "" {
				line += "\n  " + t.T("CardEmail", map[string]any{"Email": e.Contact.Email})
			}
			lines = append(lines, line)
			if bt, ok := button(t.title(e), cbEntry+e.ID); ok {
				rows = append(rows, []Button{bt})
			}
		}
		parts = append(parts, strings.Join(lines, "\n"))
	}
	if u := t.b.cfg.CalendarURL; u != "" && t.s.District != "" {
		parts = append(parts, t.T("VolunteerCalendarFeed", map[string]any{
			"URL": strings.TrimSuffix(u, "/") + "/" + t.s.District + ".ics?audience=volunteers&lang=" + t.lang,
		}))
	}
	rows = append(rows, []Button{{Text: t.T("ButtonEvents", nil), Data: cbEvents}, t.topicsButton()})
	t.text(clip(strings.Join(parts, "\n\n"), maxCardText), rows)
}

// invite gives a coordinator an invitation link for volunteers of a
// district (/invite nord) or of the whole city (/invite).
func (t *turn) invite(arg string) {
	if t.b.cfg.Staff == nil || !t.b.cfg.Staff.IsCoordinator(t.in.UserID) {
		t.outcome = "invite_refused"
		t.text(t.T("CoordinatorsOnly", nil), t.navButtons())
		return
	}
	t.outcome = "invite"
	district := ""
	if arg = strings.TrimSpace(arg); arg != "" {
		d, ok := monitor.FindDistrict(t.kb, arg)
		if !ok {
			t.text(t.T("ReportUnknownDistrict", map[string]any{"District": clip(arg, 40), "Districts": t.districtIDs()}), nil)
			return
		}
		district = d
	}
	payload := t.b.VolunteerInvite(district)
	link := "/start " + payload
	if t.b.cfg.BotName != "" {
		link = "https://t.me/" + t.b.cfg.BotName + "?start=" + payload
	}
	t.text(t.T("InviteLink", map[string]any{"URL": link}), nil)
}

// districtIDs lists the district ids, for an error message.
func (t *turn) districtIDs() string {
	var ids []string
	for _, e := range t.kb.OfKind(knowledge.KindDistrict) {
		ids = append(ids, e.ID)
	}
	return strings.Join(ids, ", ")
}
