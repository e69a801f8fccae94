package bot_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/remind"
)

// Following a district (and topic) from the events flow, and the
// broadcast audience index the conversation keeps.

func TestFollowDistrictTopicListUnsubscribe(t *testing.T) {
	h := newFullHarness(t, testNow)
	ctx := context.Background()
	u := h.user(710, "de")
	u.say("/start")
	if out := u.say("/events"); !hasData(out, "fo") {
		t.Fatalf("what's on lacks the follow button; have %v", allData(out))
	}
	out := u.press("fo")
	mustContain(t, out, h.T("de", "SubscribeChooseDistrict"))
	if !hasData(out, "fo:nord") || !hasData(out, "fo:sued") {
		t.Fatalf("district choice offers %v", allData(out))
	}
	out = u.press("fo:nord")
	if !hasData(out, "fo:nord:*") {
		t.Fatalf("topic choice offers %v", allData(out))
	}
	var topic string
	for _, d := range allData(out) {
		if tp, ok := strings.CutPrefix(d, "fo:nord:"); ok && tp != "*" {
			topic = tp
			break
		}
	}
	if topic == "" {
		t.Fatalf("no topic offered: %v", allData(out))
	}
	out = u.press("fo:nord:" + topic)
	key := h.bot.UserKey(710)
	subs, err := h.subs.SubscriptionsOf(ctx, key)
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions = %+v, %v", subs, err)
	}
	s := subs[0]
	if s.Target != remind.DistrictTarget("nord", topic) || s.Lang != "de" || s.ChatID != 710 || !s.Expires.Equal(testNow.Add(remind.DistrictTTL)) {
		t.Fatalf("subscription = %+v", s)
	}
	if !hasData(out, "u:"+s.ID) || !strings.Contains(allText(out), "Nord") {
		t.Fatalf("confirmation %q lacks the district or the unsubscribe button %v", allText(out), allData(out))
	}
	u.press("fo:nord:*")
	u.press("fo:nord:*") // again: renewed, not doubled
	subs, _ = h.subs.SubscriptionsOf(ctx, key)
	if len(subs) != 2 {
		t.Fatalf("after following all of Nord: %+v", subs)
	}
	out = u.say("/subscriptions")
	for _, s := range subs {
		if !hasData(out, "u:"+s.ID) {
			t.Errorf("/subscriptions lacks the unsubscribe button of %s; have %v", s.Target, allData(out))
		}
	}
	if !hasData(out, "fo") {
		t.Errorf("/subscriptions lacks the follow button")
	}
	u.press("u:" + subs[0].ID)
	if left, _ := h.subs.SubscriptionsOf(ctx, key); len(left) != 1 || left[0].ID != subs[1].ID {
		t.Fatalf("after unsubscribing: %+v", left)
	}

	// Forged or outdated data: the friendly notice, nothing stored.
	for _, data := range []string{"fo:nope", "fo:nope:*", "fo:nord:nope", "fo:nord:*:x", "fo:amt-x:*", "fo:" + strings.Repeat("a", 70)} {
		out := u.press(data)
		if !strings.Contains(allText(out), h.T("de", "ButtonOutdated")) {
			t.Errorf("%q answered %q", data, allText(out))
		}
	}
	if left, _ := h.subs.SubscriptionsOf(ctx, key); len(left) != 1 {
		t.Fatalf("forged buttons changed the subscriptions: %+v", left)
	}
}

// TestFollowTooMany: at the limit, following one more district is refused
// with a clear message and nothing is stored.
func TestFollowTooMany(t *testing.T) {
	h := newFullHarness(t, testNow)
	ctx := context.Background()
	key := h.bot.UserKey(711)
	for i := range remind.MaxPerUser {
		// District subscriptions: the user's turn renews them (Renew),
		// where subscriptions to events that do not exist would go.
		tg := remind.DistrictTarget("sued", fmt.Sprintf("topic-%03d", i))
		s := remind.Subscription{ID: remind.SubscriptionID(key, tg), User: key, ChatID: 711, Lang: "de", Target: tg, Created: testNow, Expires: testNow.Add(time.Hour)}
		if err := h.subs.Subscribe(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	u := h.user(711, "de")
	out := u.press("fo:nord:*")
	mustContain(t, out, h.T("de", "RemindTooMany"))
	if !hasData(out, "subs") {
		t.Errorf("refusal lacks the way to the subscriptions: %v", allData(out))
	}
	if subs, _ := h.subs.SubscriptionsOf(ctx, key); len(subs) != remind.MaxPerUser {
		t.Fatalf("%d subscriptions stored, want %d", len(subs), remind.MaxPerUser)
	}
}

func members(t *testing.T, idx bot.AudienceIndex, district string) map[bot.UserKey]bot.AudienceMember {
	t.Helper()
	ms, next, err := idx.Members(context.Background(), district, "", 1000)
	if err != nil || next != "" {
		t.Fatalf("Members(%q) = %v, %q, %v", district, ms, next, err)
	}
	out := map[bot.UserKey]bot.AudienceMember{}
	for _, m := range ms {
		out[m.User] = m
	}
	return out
}

// TestAudienceIndexFollowsSession: the conversation writes the audience
// entry with the session (role, district, language, the session's
// retention) and /forget removes it with the district subscriptions.
func TestAudienceIndexFollowsSession(t *testing.T) {
	h := newFullHarness(t, testNow)
	key := h.bot.UserKey(720)
	u := h.user(720, "uk")
	u.say("/start")
	m, ok := members(t, h.subs, "")[key]
	if !ok || m.ChatID != 720 || m.Lang != "uk" || m.Role != "" || m.District != "" || !m.Expires.Equal(testNow.Add(bot.DefaultSessionTTL)) {
		t.Fatalf("after /start: member %+v (present %v)", m, ok)
	}
	u.say("/start " + h.bot.VolunteerInvite("nord"))
	m, ok = members(t, h.subs, "nord")[key]
	if !ok || m.Role != bot.RoleVolunteer || m.District != "nord" {
		t.Fatalf("after the invitation: member %+v (present %v)", m, ok)
	}
	u.press("fo:nord:*")
	out := u.say("/forget")
	mustContain(t, out, h.T("uk", "Forgotten"))
	if _, ok := members(t, h.subs, "")[key]; ok {
		t.Fatal("/forget left the audience entry")
	}
	if subs, _ := h.subs.SubscriptionsOf(context.Background(), key); len(subs) != 0 {
		t.Fatalf("/forget left subscriptions %+v", subs)
	}
}

// TestBroadcastAudienceFromIndex: "volunteers in Nord" reaches the
// volunteers whose session names Nord, without any subscription; a user
// who blocked the bot leaves the index.
func TestBroadcastAudienceFromIndex(t *testing.T) {
	h := newBroadcastHarness(t)
	ctx := context.Background()
	h.user(300, "ar").say("/start " + h.bot.VolunteerInvite("nord"))
	h.user(301, "fa").say("/start " + h.bot.VolunteerInvite("sued"))
	// A refugee who told the bot their district earlier.
	if err := h.mem.SaveSession(ctx, h.bot.UserKey(302), bot.Session{Lang: "uk", LangChosen: true, NoticeShown: true, District: "nord", Updated: testNow.Add(-48 * time.Hour)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	h.user(302, "uk").say("Hallo")
	if got := members(t, h.subs, "nord"); len(got) != 2 {
		t.Fatalf("index of nord = %+v, want users 300 and 302", got)
	}
	c := h.user(coordinator, "de")
	out := h.prepare(t, c, "nord", "v", "Helferkreis Nord: Treffen")
	if !strings.Contains(out[0].Text, "Empfänger: 1 (") {
		t.Fatalf("preview %q: want one volunteer", out[0].Text)
	}
	c.press(dataWithPrefix(out, "bc:y:"))
	h.waitFor(t, coordinator, "Rundnachricht gesendet")
	h.waitFor(t, 300, "Helferkreis Nord")
	for _, chat := range []int64{301, 302} {
		if strings.Contains(allText(h.rec.To(chat)), "Helferkreis") {
			t.Errorf("chat %d got the volunteers' announcement", chat)
		}
	}

	// A user who blocked the bot leaves the index at their next update.
	h.sender.mu.Lock()
	h.sender.blocked[302] = true
	h.sender.mu.Unlock()
	h.user(302, "uk").say("Hallo")
	if _, ok := members(t, h.subs, "nord")[h.bot.UserKey(302)]; ok {
		t.Fatal("a user who blocked the bot stayed in the audience index")
	}
	// ForgetChat (the broadcast engine's report of a blocked chat) too.
	if err := h.bot.ForgetChat(ctx, 300); err != nil {
		t.Fatal(err)
	}
	if got := members(t, h.subs, ""); len(got) != 2 { // 301 and the coordinator
		t.Fatalf("after ForgetChat: %+v", got)
	}
}

// TestAudienceWrittenWhenDue: the entry is written when the language,
// role or district change, on /start and once a day to renew it, decided
// from the session alone; a turn that changes none of them leaves it as
// it is (seen here by removing it behind the bot's back).
func TestAudienceWrittenWhenDue(t *testing.T) {
	h := newFullHarness(t, testNow)
	ctx := context.Background()
	key := h.bot.UserKey(730)
	u := h.user(730, "uk")
	entry := func() (bot.AudienceMember, bool) {
		t.Helper()
		m, ok := members(t, h.subs, "")[key]
		return m, ok
	}
	u.say("/start")
	if m, ok := entry(); !ok || m.Lang != "uk" || !m.Expires.Equal(testNow.Add(bot.DefaultSessionTTL)) {
		t.Fatalf("after /start: %+v (present %v)", m, ok)
	}
	if s := u.mustSession(); !s.Audience.Equal(testNow) {
		t.Fatalf("session's audience stamp %v, want %v", s.Audience, testNow)
	}

	// Questions an hour later: nothing the entry has changed.
	h.clock.set(testNow.Add(time.Hour))
	if err := h.subs.Leave(ctx, key); err != nil {
		t.Fatal(err)
	}
	u.say("Ausländerbehörde")
	u.say("Deutschkurs")
	if m, ok := entry(); ok {
		t.Fatalf("a question rewrote the entry: %+v", m)
	}

	// A new language is written at once.
	u.press("l:fa")
	if m, ok := entry(); !ok || m.Lang != "fa" || !m.Expires.Equal(testNow.Add(time.Hour+bot.DefaultSessionTTL)) {
		t.Fatalf("after choosing Farsi: %+v (present %v)", m, ok)
	}
	// So is a role and district.
	h.clock.set(testNow.Add(2 * time.Hour))
	u.say("/start " + h.bot.VolunteerInvite("nord"))
	if m, ok := members(t, h.subs, "nord")[key]; !ok || m.Role != bot.RoleVolunteer {
		t.Fatalf("after the invitation: %+v (present %v)", m, ok)
	}

	// Unchanged for a day: the next turn renews it.
	h.clock.set(testNow.Add(2*time.Hour + 23*time.Hour))
	if err := h.subs.Leave(ctx, key); err != nil {
		t.Fatal(err)
	}
	u.say("Ausländerbehörde")
	if _, ok := entry(); ok {
		t.Fatal("rewritten before the day was over")
	}
	later := testNow.Add(2*time.Hour + 24*time.Hour)
	h.clock.set(later)
	u.say("Ausländerbehörde")
	if m, ok := members(t, h.subs, "nord")[key]; !ok || !m.Expires.Equal(later.Add(bot.DefaultSessionTTL)) {
		t.Fatalf("after a day: %+v (present %v), want expiry %v", m, ok, later.Add(bot.DefaultSessionTTL))
	}

	// Removed when they blocked the bot (e.g. by a reminder that could not
	// be delivered), /start brings it back at once.
	if err := h.subs.Leave(ctx, key); err != nil {
		t.Fatal(err)
	}
	u.say("/start")
	if _, ok := entry(); !ok {
		t.Fatal("/start did not restore the entry")
	}
}
