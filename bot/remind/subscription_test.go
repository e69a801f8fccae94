package remind_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/knowledge"
)

func TestNewSubscriptions(t *testing.T) {
	kb := mustKB(t, testEntries)
	now := berlin(t, kb, 2026, 10, 22, 12, 0)
	u := userKey(1)
	tests := []struct {
		name    string
		make    func() (remind.Subscription, error)
		err     error
		expires time.Time
	}{
		{"one-off event: 30 days after its last date", func() (remind.Subscription, error) {
			return remind.NewEventSubscription(kb, u, 1, "de", "fest", now)
		}, nil, berlin(t, kb, 2026, 10, 25, 16, 0).Add(remind.EventGrace)},
		{"open-ended weekly event: its last date within 180 days", func() (remind.Subscription, error) {
			return remind.NewEventSubscription(kb, u, 1, "de", "kurs-sued", now)
		}, nil, berlin(t, kb, 2027, 4, 20, 11, 30).Add(remind.EventGrace)}, // Tuesday 10:00-11:30
		{"event over", func() (remind.Subscription, error) {
			return remind.NewEventSubscription(kb, u, 1, "de", "fest", berlin(t, kb, 2026, 10, 25, 16, 0))
		}, remind.ErrNoUpcoming, time.Time{}},
		{"not an event", func() (remind.Subscription, error) { return remind.NewEventSubscription(kb, u, 1, "de", "amt", now) }, bot.ErrNotFound, time.Time{}},
		{"unknown event", func() (remind.Subscription, error) { return remind.NewEventSubscription(kb, u, 1, "de", "nope", now) }, bot.ErrNotFound, time.Time{}},
		{"district", func() (remind.Subscription, error) {
			return remind.NewDistrictSubscription(kb, u, 1, "de", "nord", "language", now)
		}, nil, now.Add(remind.DistrictTTL)},
		{"not a district", func() (remind.Subscription, error) {
			return remind.NewDistrictSubscription(kb, u, 1, "de", "fest", "", now)
		}, bot.ErrNotFound, time.Time{}},
		{"unknown topic", func() (remind.Subscription, error) {
			return remind.NewDistrictSubscription(kb, u, 1, "de", "nord", "nope", now)
		}, bot.ErrNotFound, time.Time{}},
		{"no chat", func() (remind.Subscription, error) {
			return remind.NewDistrictSubscription(kb, u, 0, "de", "nord", "", now)
		}, bot.ErrInvalid, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.make()
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && !s.Expires.Equal(tt.expires) {
				t.Errorf("expires %v, want %v", s.Expires, tt.expires)
			}
		})
	}
}

func TestTargetMatches(t *testing.T) {
	kb := mustKB(t, testEntries)
	tests := []struct {
		target remind.Target
		event  string
		want   bool
	}{
		{remind.EventTarget("fest"), "fest", true},
		{remind.EventTarget("fest"), "cafe-nord", false},
		{remind.DistrictTarget("nord", ""), "cafe-nord", true},
		{remind.DistrictTarget("nord", ""), "fest", true}, // city-wide
		{remind.DistrictTarget("nord", ""), "kurs-sued", false},
		{remind.DistrictTarget("sued", "language"), "kurs-sued", true},
		{remind.DistrictTarget("sued", "language"), "runder-tisch", false}, // topic social
		{remind.DistrictTarget("sued", "language"), "fest", true},
		{remind.DistrictTarget("nord", ""), "amt", false}, // not an event
	}
	for _, tt := range tests {
		e, _ := kb.Entry(tt.event)
		if got := tt.target.Matches(e); got != tt.want {
			t.Errorf("%s matches %s = %v, want %v", tt.target, tt.event, got, tt.want)
		}
	}
}

// TestRenew: activity extends expiries (never shortens them) and removes
// subscriptions to events that are over.
func TestRenew(t *testing.T) {
	kb := mustKB(t, testEntries)
	clk := &fakeClock{now: berlin(t, kb, 2026, 10, 22, 12, 0)}
	r := memstore.NewReminders(clk.Now)
	sb := subscriber{t, r}
	u := userKey(1)
	fest := sb.add(remind.NewEventSubscription(kb, u, 1, "de", "fest", clk.Now()))
	district := sb.add(remind.NewDistrictSubscription(kb, u, 1, "de", "nord", "", clk.Now()))
	clk.Add(10 * 24 * time.Hour) // fest is over
	if err := remind.Renew(context.Background(), r, kb, u, clk.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := r.SubscriptionsOf(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != district.ID || !got[0].Expires.Equal(clk.Now().Add(remind.DistrictTTL)) {
		t.Fatalf("after Renew: %+v; want only the district subscription, renewed (fest %s removed)", got, fest.ID)
	}
}

// TestKeepAudienceRenews: the bot keeps a user's audience entry when they
// are active, and that renews their subscriptions, so a followed
// district lives DistrictTTL after the last activity, not after it was
// made. Without Seen (not a turn of the user's) nothing is renewed.
func TestKeepAudienceRenews(t *testing.T) {
	kb := mustKB(t, testEntries)
	clk := &fakeClock{now: berlin(t, kb, 2026, 10, 22, 12, 0)}
	r := memstore.NewReminders(clk.Now)
	sb := subscriber{t, r}
	u := userKey(1)
	made := clk.Now()
	district := sb.add(remind.NewDistrictSubscription(kb, u, 1, "de", "nord", "", made))
	port := remind.BotReminders{Subs: r, KB: func() *knowledge.KB { return kb }}
	clk.Add(100 * 24 * time.Hour)
	expiry := func() time.Time {
		t.Helper()
		got, err := r.SubscriptionsOf(context.Background(), u)
		if err != nil || len(got) != 1 || got[0].ID != district.ID {
			t.Fatalf("subscriptions: %+v, %v", got, err)
		}
		return got[0].Expires
	}
	m := bot.AudienceMember{User: u, ChatID: 1, Lang: "de", Expires: clk.Now().Add(30 * 24 * time.Hour)}
	if err := port.KeepAudience(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := expiry(); !got.Equal(made.Add(remind.DistrictTTL)) {
		t.Fatalf("renewed without a turn: expires %v, want %v", got, made.Add(remind.DistrictTTL))
	}
	m.Seen = clk.Now()
	if err := port.KeepAudience(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := expiry(); !got.Equal(clk.Now().Add(remind.DistrictTTL)) {
		t.Fatalf("after an active turn: expires %v, want %v", got, clk.Now().Add(remind.DistrictTTL))
	}
}
