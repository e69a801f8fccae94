package remind_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/knowledge"
)

// newEvents are added by a knowledge-base reload: a weekly event in Nord
// of topic social with one cancelled date, and one of another topic.
const newEvents = `
  - id: nachbarschaft-nord
    kind: event
    name_de: Nachbarschaftstreff Nord
    title: {de: Nachbarschaftstreff Nord, uk: Сусідська зустріч Північ}
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    district: nord
    topics: [social]
    event:
      weekly:
        - {days: [thu], from: "18:00", to: "19:30"}
      from: 2026-10-01
      cancelled: [2026-11-05]
  - id: sprache-nord
    kind: event
    name_de: Sprachcafé Nord
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    district: nord
    topics: [language]
    event:
      weekly:
        - {days: [thu], from: "10:00", to: "11:00"}
`

// TestDistrictSubscriptionAcrossReload: a subscription to a district's
// topic gets the 24-hour and 1-hour reminders of every matching date —
// weekly events included, cancelled dates skipped, an event that only
// appeared with a reload too — exactly once although two replicas plan
// and dispatch, in the subscriber's language; events of other topics or
// districts give none.
func TestDistrictSubscriptionAcrossReload(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			kb0 := mustKB(t, testEntries)
			kb1 := mustKB(t, testEntries+newEvents)
			live := knowledge.NewLive(kb0)
			t0 := berlin(t, kb0, 2026, 10, 26, 8, 0) // Monday, after the change to CET
			reloadAt := berlin(t, kb0, 2026, 10, 27, 12, 0)
			end := berlin(t, kb0, 2026, 11, 9, 8, 0)
			clk := &fakeClock{now: t0}
			subs, q, keysHaveTTL := b.new(t, clk.Now)
			u := userKey(1)
			s := subscriber{t, subs}.add(remind.NewDistrictSubscription(kb0, u, 4711, "uk", "nord", "social", t0))
			rec := newRecorder(clk)
			var scheds []*remind.Scheduler
			for range 2 {
				scheds = append(scheds, mustScheduler(t, remind.Config{Subs: subs, Queue: q, KB: live.Current, Deliver: rec, Now: clk.Now}))
			}
			simulate(t, clk, reloadAt, 10*time.Minute, scheds...)
			if err := live.Reload(func() (*knowledge.KB, error) { return kb1, nil }); err != nil {
				t.Fatal(err)
			}
			keysHaveTTL(t)
			simulate(t, clk, end, 10*time.Minute, scheds...)

			want := map[string]bool{}
			for _, e := range kb1.OfKind(knowledge.KindEvent) {
				if !s.Target.Matches(e) {
					continue
				}
				for _, o := range kb1.Occurrences(e, t0, end.Add(48*time.Hour)) {
					for _, off := range remind.DefaultOffsets {
						due := o.Start.Add(-off)
						if !o.Cancelled && due.After(t0) && !due.After(end) {
							want[remind.JobID(u, e.ID, o.Start, off)] = true
						}
					}
				}
			}
			newDates := 0
			for id := range want {
				if id[:len("nachbarschaft-nord")] == "nachbarschaft-nord" {
					newDates++
				}
			}
			if newDates != 2*1 { // Thu 29 Oct only: 5 Nov is cancelled, 12 Nov beyond end
				t.Fatalf("test set-up: %d reminders of the new event expected, want 2", newDates)
			}
			got := map[string]bool{}
			for _, d := range rec.got {
				if d.chat != 4711 || d.lang != "uk" {
					t.Errorf("reminder to chat %d in %q", d.chat, d.lang)
				}
				got[d.jobID] = true
			}
			for id, n := range rec.byID {
				if n != 1 {
					t.Errorf("reminder %s delivered %d times", id, n)
				}
			}
			for id := range want {
				if !got[id] {
					t.Errorf("reminder %s missing", id)
				}
			}
			for id := range got {
				if !want[id] {
					t.Errorf("unexpected reminder %s", id)
				}
			}
			if t.Failed() {
				t.Logf("delivered:\n%s", rec.summary(kb1.Location()))
			}
		})
	}
}

// TestTenThousandSubscriptionsRefused: one user trying 10,000
// subscriptions gets MaxPerUser; every further one is refused with
// ErrTooMany (which the bot turns into a message) and not stored.
func TestTenThousandSubscriptionsRefused(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
			subs, _, _ := b.new(t, func() time.Time { return now })
			ctx := context.Background()
			u := userKey(7)
			ok, refused := 0, 0
			for i := range 10000 {
				tg := remind.DistrictTarget(fmt.Sprintf("d-%05d", i), "")
				s := remind.Subscription{ID: remind.SubscriptionID(u, tg), User: u, ChatID: 7, Lang: "de", Target: tg, Created: now, Expires: now.Add(remind.DistrictTTL)}
				switch err := subs.Subscribe(ctx, s); {
				case err == nil:
					ok++
				case errors.Is(err, remind.ErrTooMany):
					refused++
				default:
					t.Fatalf("subscription %d: %v", i, err)
				}
			}
			if ok != remind.MaxPerUser || refused != 10000-remind.MaxPerUser {
				t.Fatalf("accepted %d, refused %d", ok, refused)
			}
			got, err := subs.SubscriptionsOf(ctx, u)
			if err != nil || len(got) != remind.MaxPerUser {
				t.Fatalf("stored %d subscriptions, %v", len(got), err)
			}
			page, _, err := subs.SubscribersOf(ctx, remind.DistrictTarget("d-09999", ""), "", 10)
			if err != nil || len(page) != 0 {
				t.Fatalf("a refused subscription is listed: %v, %v", page, err)
			}
		})
	}
}
