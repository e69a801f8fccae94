package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
)

// NewMonitorFunc builds a fresh, empty monitor store whose clock is now.
type NewMonitorFunc func(t *testing.T, now func() time.Time) monitor.Store

// RunMonitor runs the conformance suite for monitor.Store. Each subtest
// gets a fresh store and clock; Advancer and Dumper are used as in Run
// and RunTickets. Stores may estimate active users (HyperLogLog); the
// suite accepts 2 % error there and demands exact counts elsewhere.
func RunMonitor(t *testing.T, newStore NewMonitorFunc) {
	runSuite(t, func(t *testing.T, clk *clock) *menv {
		return &menv{newStoreEnv(t, clk, newStore)}
	}, []suiteTest[*menv]{
		{"Questions", testMonQuestions},
		{"Tickets", testMonTickets},
		{"RemindersBroadcast", testMonRemindersBroadcast},
		{"ZeroWritesNothing", testMonZero},
		{"Invalid", testMonInvalid},
		{"Range", testMonRange},
		{"Active", testMonActive},
		{"Unanswered", testMonUnanswered},
		{"UnansweredCap", testMonUnansweredCap},
		{"Expiry", testMonExpiry},
		{"PastRetentionDropped", testMonPastRetention},
		{"Concurrent", testMonConcurrent},
		{"NoUserReference", testMonNoUserReference},
	})
}

type menv struct{ storeEnv[monitor.Store] }

func (e *menv) day(n int) time.Time { return Epoch.AddDate(0, 0, n) }

func (e *menv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *menv) mustFigures(from, to time.Time) monitor.Figures {
	e.t.Helper()
	f, err := e.s.Figures(e.ctx, from, to)
	if err != nil {
		e.t.Fatalf("Figures(%s, %s): %v", monitor.DayKey(from), monitor.DayKey(to), err)
	}
	return f
}

// dayOf returns the figures of date, or fails.
func (e *menv) dayOf(f monitor.Figures, date time.Time) monitor.Day {
	e.t.Helper()
	for _, d := range f.Days {
		if monitor.DayKey(d.Date) == monitor.DayKey(date) {
			return d
		}
	}
	e.t.Fatalf("no figures for %s in %v", monitor.DayKey(date), f.Days)
	return monitor.Day{}
}

func testMonQuestions(t *testing.T, e *menv) {
	qs := []monitor.Q{
		{Topic: "housing", District: "nord", Lang: "ar", Answered: true},
		{Topic: "housing", District: "nord", Lang: "ar", Answered: true},
		{Topic: "housing", District: "nord", Lang: "ar", Answered: false},
		{Topic: "", District: "", Lang: "uk", Answered: false},
		{Topic: "work", District: "sued", Lang: "fa", Answered: true},
	}
	for _, q := range qs {
		q.Day = e.day(0).Add(3 * time.Hour)
		e.must(e.s.Question(e.ctx, q))
	}
	e.must(e.s.Question(e.ctx, monitor.Q{Topic: "work", Lang: "de", Answered: true, Day: e.day(1)}))
	e.must(e.s.Question(e.ctx, monitor.Q{Topic: "work", Lang: "de", Answered: true, Day: e.day(3)}))

	f := e.mustFigures(e.day(0), e.day(1))
	if len(f.Days) != 2 {
		t.Fatalf("got %d days, want 2 (day 3 is outside the range): %+v", len(f.Days), f.Days)
	}
	want := map[monitor.QKey]int64{
		{Topic: "housing", District: "nord", Lang: "ar", Answered: true}:  2,
		{Topic: "housing", District: "nord", Lang: "ar", Answered: false}: 1,
		{Lang: "uk"}: 1,
		{Topic: "work", District: "sued", Lang: "fa", Answered: true}: 1,
	}
	d0 := f.Days[0]
	if !reflect.DeepEqual(d0.Questions, want) {
		t.Errorf("day 0 questions = %v, want %v", d0.Questions, want)
	}
	if !d0.Date.Equal(monitor.Midnight(e.day(0))) {
		t.Errorf("day 0 date = %v, want midnight of %v", d0.Date, e.day(0))
	}
	if got := f.Days[1].Questions; !reflect.DeepEqual(got, map[monitor.QKey]int64{{Topic: "work", Lang: "de", Answered: true}: 1}) {
		t.Errorf("day 1 questions = %v", got)
	}
	// Date of Day is taken in Day's location: 23:30 UTC on day 1 is day 2
	// in Berlin, and Figures asked in Berlin finds it there.
	berlin, err := time.LoadLocation("Europe/Berlin")
	e.must(err)
	e.must(e.s.Question(e.ctx, monitor.Q{Topic: "health", Lang: "ru", Day: e.day(1).Add(23*time.Hour + 30*time.Minute).In(berlin)}))
	fb := e.mustFigures(e.day(2).In(berlin), e.day(2).In(berlin))
	if len(fb.Days) != 1 || fb.Days[0].Questions[monitor.QKey{Topic: "health", Lang: "ru"}] != 1 {
		t.Errorf("question at 00:30 Berlin time not counted on that date: %+v", fb.Days)
	}
}

func testMonTickets(t *testing.T, e *menv) {
	evs := []monitor.TicketEvent{
		{Kind: monitor.TicketOpened, District: "nord", Topic: "housing"},
		{Kind: monitor.TicketOpened, District: "nord", Topic: "housing"},
		{Kind: monitor.TicketClaimed, District: "nord", Topic: "housing"},
		{Kind: monitor.TicketAnswered, District: "nord", Topic: "housing", Wait: 90 * time.Minute},
		{Kind: monitor.TicketAnswered, District: "nord", Topic: "housing", Wait: 100 * time.Minute},
		{Kind: monitor.TicketEscalated, District: "", Topic: "work"},
		{Kind: monitor.TicketClosed, District: "nord", Topic: "housing", Outcome: "solved", Wait: 50 * 24 * time.Hour},
		{Kind: monitor.TicketClosed, District: "sued", Topic: "housing", Wait: 0},
	}
	for _, ev := range evs {
		ev.Day = e.day(0)
		e.must(e.s.Ticket(e.ctx, ev))
	}
	d := e.dayOf(e.mustFigures(e.day(0), e.day(0)), e.day(0))
	want := map[monitor.TKey]int64{
		{Kind: "opened", District: "nord", Topic: "housing"}:                    2,
		{Kind: "claimed", District: "nord", Topic: "housing"}:                   1,
		{Kind: "answered", District: "nord", Topic: "housing"}:                  2,
		{Kind: "escalated", Topic: "work"}:                                      1,
		{Kind: "closed", District: "nord", Topic: "housing", Outcome: "solved"}: 1,
		{Kind: "closed", District: "sued", Topic: "housing"}:                    1,
	}
	if !reflect.DeepEqual(d.Tickets, want) {
		t.Errorf("tickets = %v, want %v", d.Tickets, want)
	}
	var fa monitor.Histogram
	fa[monitor.Bucket(90*time.Minute)] = 2
	if !reflect.DeepEqual(d.FirstAnswer, map[string]monitor.Histogram{"nord": fa}) {
		t.Errorf("first answer histograms = %v", d.FirstAnswer)
	}
	var cn, cs monitor.Histogram
	cn[monitor.NumBuckets-1] = 1
	cs[0] = 1
	if !reflect.DeepEqual(d.Close, map[string]monitor.Histogram{"nord": cn, "sued": cs}) {
		t.Errorf("close histograms = %v", d.Close)
	}
}

func testMonRemindersBroadcast(t *testing.T, e *menv) {
	e.must(e.s.Reminder(e.ctx, 7, e.day(0)))
	e.must(e.s.Reminder(e.ctx, 3, e.day(0)))
	e.must(e.s.Broadcast(e.ctx, 100, 4, 1, e.day(0)))
	e.must(e.s.Broadcast(e.ctx, 20, 0, 0, e.day(0)))
	d := e.dayOf(e.mustFigures(e.day(0), e.day(0)), e.day(0))
	if d.Reminders != 10 || d.Delivered != 120 || d.Blocked != 4 || d.Failed != 1 {
		t.Errorf("got reminders %d, broadcast %d/%d/%d; want 10, 120/4/1", d.Reminders, d.Delivered, d.Blocked, d.Failed)
	}
}

func testMonZero(t *testing.T, e *menv) {
	e.must(e.s.Reminder(e.ctx, 0, e.day(0)))
	e.must(e.s.Broadcast(e.ctx, 0, 0, 0, e.day(0)))
	e.must(e.s.Unanswered(e.ctx, " \x00\t ", "de", e.day(0)))
	if f := e.mustFigures(e.day(0), e.day(0)); len(f.Days) != 0 || len(f.Weeks) != 0 || len(f.Months) != 0 {
		t.Errorf("zero counts created figures: %+v", f)
	}
	if qs, err := e.s.UnansweredTexts(e.ctx, e.day(0), e.day(0)); err != nil || len(qs) != 0 {
		t.Errorf("blank question kept: %v, %v", qs, err)
	}
}

func testMonInvalid(t *testing.T, e *menv) {
	at := e.day(0)
	cases := []struct {
		name string
		err  error
	}{
		{"topic with separator", e.s.Question(e.ctx, monitor.Q{Topic: "a|b", Day: at})},
		{"district with space", e.s.Question(e.ctx, monitor.Q{District: "Max Mustermann", Day: at})},
		{"long lang", e.s.Question(e.ctx, monitor.Q{Lang: strings.Repeat("x", 65), Day: at})},
		{"unknown ticket kind", e.s.Ticket(e.ctx, monitor.TicketEvent{Kind: "reopened", Day: at})},
		{"negative wait", e.s.Ticket(e.ctx, monitor.TicketEvent{Kind: monitor.TicketClosed, Wait: -time.Second, Day: at})},
		{"outcome on open", e.s.Ticket(e.ctx, monitor.TicketEvent{Kind: monitor.TicketOpened, Outcome: "x", Day: at})},
		{"outcome free text", e.s.Ticket(e.ctx, monitor.TicketEvent{Kind: monitor.TicketClosed, Outcome: "Frau K. geholfen", Day: at})},
		{"negative reminders", e.s.Reminder(e.ctx, -1, at)},
		{"negative broadcast", e.s.Broadcast(e.ctx, 1, -1, 0, at)},
		{"empty user", e.s.Active(e.ctx, "", at)},
		{"bad lang of unanswered", e.s.Unanswered(e.ctx, "Wo ist das Amt?", "d e", at)},
	}
	for _, c := range cases {
		if !errors.Is(c.err, monitor.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", c.name, c.err)
		}
	}
	if f := e.mustFigures(at, at); len(f.Days) != 0 || len(f.Weeks) != 0 {
		t.Errorf("invalid input was counted: %+v", f)
	}
	if qs, _ := e.s.UnansweredTexts(e.ctx, at, at); len(qs) != 0 {
		t.Errorf("invalid input was kept: %v", qs)
	}
}

func testMonRange(t *testing.T, e *menv) {
	if _, err := e.s.Figures(e.ctx, e.day(1), e.day(0)); !errors.Is(err, monitor.ErrInvalid) {
		t.Errorf("reversed range: err = %v, want ErrInvalid", err)
	}
	if _, err := e.s.Figures(e.ctx, e.day(0), e.day(monitor.MaxDays)); !errors.Is(err, monitor.ErrInvalid) {
		t.Errorf("range of %d days: err = %v, want ErrInvalid", monitor.MaxDays+1, err)
	}
	if _, err := e.s.Figures(e.ctx, e.day(0), e.day(monitor.MaxDays-1)); err != nil {
		t.Errorf("range of %d days: %v", monitor.MaxDays, err)
	}
	if _, err := e.s.UnansweredTexts(e.ctx, e.day(1), e.day(0)); !errors.Is(err, monitor.ErrInvalid) {
		t.Errorf("reversed range of unanswered: err = %v, want ErrInvalid", err)
	}
}

// near reports whether got is within 2 % (at least 1) of want: Redis'
// HyperLogLog has a standard error of 0.81 %.
func near(got, want int64) bool {
	tol := max(want/50, 1)
	return got >= want-tol && got <= want+tol
}

func testMonActive(t *testing.T, e *menv) {
	// Epoch is Friday 2030-03-01 (ISO week 9). 120 users in week 9, the
	// first 40 again and 30 new ones in week 10 (still March).
	for i := range 120 {
		e.must(e.s.Active(e.ctx, fmt.Sprintf("u%04d", i), e.day(0)))
		e.must(e.s.Active(e.ctx, fmt.Sprintf("u%04d", i), e.day(1))) // same week again
	}
	for i := range 70 {
		e.must(e.s.Active(e.ctx, fmt.Sprintf("u%04d", 80+i), e.day(3)))
	}
	f := e.mustFigures(e.day(0), e.day(3))
	if len(f.Weeks) != 2 || f.Weeks[0].Period != "2030-W09" || f.Weeks[1].Period != "2030-W10" {
		t.Fatalf("weeks = %+v, want 2030-W09 and 2030-W10", f.Weeks)
	}
	if !near(f.Weeks[0].Users, 120) || !near(f.Weeks[1].Users, 70) {
		t.Errorf("weekly users = %d, %d; want about 120, 70", f.Weeks[0].Users, f.Weeks[1].Users)
	}
	if len(f.Months) != 1 || f.Months[0].Period != "2030-03" || !near(f.Months[0].Users, 150) {
		t.Errorf("months = %+v, want 2030-03 with about 150", f.Months)
	}
	// A range inside week 10 still reports the whole week and month.
	f = e.mustFigures(e.day(4), e.day(4))
	if len(f.Weeks) != 1 || f.Weeks[0].Period != "2030-W10" || len(f.Months) != 1 {
		t.Errorf("figures of one day in week 10: %+v", f)
	}
}

func testMonUnanswered(t *testing.T, e *menv) {
	long := strings.Repeat("Wohnberechtigungsschein ", 20)
	e.must(e.s.Unanswered(e.ctx, "Wo bekomme ich einen Wohnberechtigungsschein?", "de", e.day(0)))
	e.must(e.s.Unanswered(e.ctx, "Ruf mich an: 0176 1234 5678, mail ich@example.org", "de", e.day(0)))
	e.must(e.s.Unanswered(e.ctx, long, "", e.day(0)))
	e.must(e.s.Unanswered(e.ctx, "Де отримати житло?", "uk", e.day(1)))
	got, err := e.s.UnansweredTexts(e.ctx, e.day(0), e.day(1))
	e.must(err)
	want := []monitor.Unanswered{
		{Text: "Wo bekomme ich einen Wohnberechtigungsschein?", Lang: "de", Date: e.day(0)},
		{Text: "Ruf mich an: [Nummer], mail [E-Mail]", Lang: "de", Date: e.day(0)},
		{Text: monitor.CleanText(long), Date: e.day(0)},
		{Text: "Де отримати житло?", Lang: "uk", Date: e.day(1)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d questions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Text != want[i].Text || got[i].Lang != want[i].Lang || !got[i].Date.Equal(monitor.Midnight(want[i].Date)) {
			t.Errorf("question %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len([]rune(got[2].Text)); n > monitor.MaxUnansweredText {
		t.Errorf("kept %d runes, want at most %d", n, monitor.MaxUnansweredText)
	}
}

func testMonUnansweredCap(t *testing.T, e *menv) {
	for i := range monitor.MaxUnansweredPerDay + 5 {
		e.must(e.s.Unanswered(e.ctx, fmt.Sprintf("Frage %d", i), "de", e.day(0)))
	}
	got, err := e.s.UnansweredTexts(e.ctx, e.day(0), e.day(0))
	e.must(err)
	if len(got) != monitor.MaxUnansweredPerDay {
		t.Fatalf("kept %d questions, want the cap %d", len(got), monitor.MaxUnansweredPerDay)
	}
	if got[0].Text != "Frage 0" || got[len(got)-1].Text != fmt.Sprintf("Frage %d", monitor.MaxUnansweredPerDay-1) {
		t.Errorf("kept %q..%q, want the day's first questions", got[0].Text, got[len(got)-1].Text)
	}
}

func testMonExpiry(t *testing.T, e *menv) {
	e.must(e.s.Question(e.ctx, monitor.Q{Topic: "housing", Lang: "ar", Day: e.day(0)}))
	e.must(e.s.Active(e.ctx, "u1", e.day(0)))
	e.must(e.s.Unanswered(e.ctx, "Wo ist das Amt?", "de", e.day(0)))
	// Retention counts from the start of the day, which began before
	// Epoch.
	age := Epoch.Sub(monitor.Midnight(Epoch))
	e.advance(monitor.UnansweredRetention - age - time.Hour)
	if qs, _ := e.s.UnansweredTexts(e.ctx, e.day(0), e.day(0)); len(qs) != 1 {
		t.Fatalf("question gone before %v: %v", monitor.UnansweredRetention, qs)
	}
	e.advance(2 * time.Hour)
	if qs, _ := e.s.UnansweredTexts(e.ctx, e.day(0), e.day(0)); len(qs) != 0 {
		t.Errorf("question kept beyond %v: %v", monitor.UnansweredRetention, qs)
	}
	if f := e.mustFigures(e.day(0), e.day(0)); len(f.Days) != 1 || len(f.Weeks) != 1 {
		t.Errorf("aggregates gone after 90 days: %+v", f)
	}
	e.advance(monitor.ActiveRetention - monitor.UnansweredRetention)
	if f := e.mustFigures(e.day(0), e.day(0)); len(f.Weeks) != 0 || len(f.Months) != 0 || len(f.Days) != 1 {
		t.Errorf("after %v: want counters but no active users: %+v", monitor.ActiveRetention, f)
	}
	e.advance(monitor.AggregateRetention - monitor.ActiveRetention)
	if f := e.mustFigures(e.day(0), e.day(0)); len(f.Days) != 0 {
		t.Errorf("counters kept beyond %v: %+v", monitor.AggregateRetention, f)
	}
}

func testMonPastRetention(t *testing.T, e *menv) {
	old := Epoch.Add(-monitor.UnansweredRetention - 24*time.Hour)
	e.must(e.s.Unanswered(e.ctx, "alte Frage", "de", old))
	if qs, _ := e.s.UnansweredTexts(e.ctx, old, old); len(qs) != 0 {
		t.Errorf("question of a day past retention kept: %v", qs)
	}
	ancient := Epoch.Add(-monitor.AggregateRetention - 24*time.Hour)
	e.must(e.s.Question(e.ctx, monitor.Q{Topic: "work", Day: ancient}))
	if f := e.mustFigures(ancient, ancient); len(f.Days) != 0 {
		t.Errorf("counter of a day past retention kept: %+v", f)
	}
}

func testMonConcurrent(t *testing.T, e *menv) {
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := e.s.Question(e.ctx, monitor.Q{Topic: "housing", Lang: "ar", Day: e.day(0)}); err != nil {
					errs <- err
					return
				}
				if err := e.s.Ticket(e.ctx, monitor.TicketEvent{Kind: monitor.TicketAnswered, Wait: time.Duration(w*each+i) * time.Minute, Day: e.day(0)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d := e.dayOf(e.mustFigures(e.day(0), e.day(0)), e.day(0))
	if n := d.Questions[monitor.QKey{Topic: "housing", Lang: "ar"}]; n != workers*each {
		t.Errorf("questions = %d, want %d (lost updates)", n, workers*each)
	}
	if n := d.FirstAnswer[""].Total(); n != workers*each {
		t.Errorf("histogram total = %d, want %d", n, workers*each)
	}
}

// testMonNoUserReference records with recognisable user keys and checks,
// if the store can dump everything it holds, that none appears.
func testMonNoUserReference(t *testing.T, e *menv) {
	users := []string{"5f3a9c1e7d2b4a60", "userkey-0badc0ffee", "a1b2c3d4e5f60718"}
	for _, u := range users {
		e.must(e.s.Active(e.ctx, u, e.day(0)))
	}
	e.must(e.s.Question(e.ctx, monitor.Q{Topic: "housing", District: "nord", Lang: "ar", Day: e.day(0)}))
	e.must(e.s.Unanswered(e.ctx, "Wie beantrage ich Wohngeld?", "de", e.day(0)))
	if f := e.mustFigures(e.day(0), e.day(0)); len(f.Weeks) != 1 || !near(f.Weeks[0].Users, 3) {
		t.Fatalf("active users not counted: %+v", f.Weeks)
	}
	d, ok := e.s.(Dumper)
	if !ok {
		return
	}
	dump, err := d.Dump(e.ctx)
	e.must(err)
	if !strings.Contains(dump, "Wohngeld") {
		t.Fatalf("dump lacks the recorded question; is it complete?\n%s", dump)
	}
	for _, u := range users {
		for _, s := range []string{u, u[:8], strings.ToUpper(u)} {
			if strings.Contains(dump, s) {
				t.Errorf("store holds user reference %q:\n%s", s, dump)
			}
		}
	}
}
