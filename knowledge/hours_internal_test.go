package knowledge

import (
	"testing"
	"time"
)

// statusReference is Status as first written: every span of the 17 days
// built and joined, then searched. Status stops as soon as the answer is
// known; both must agree everywhere.
func statusReference(kb *KB, e *Entry, now time.Time) OpenStatus {
	if e == nil || e.Hours == nil {
		return OpenStatus{}
	}
	h := e.Hours
	st := OpenStatus{Known: true, AppointmentOnly: h.AppointmentOnly}
	now = now.In(kb.loc)
	y, m, d := now.Date()
	var spans []interval
	for i := -1; i <= 15; i++ {
		for _, iv := range kb.dayIntervals(nil, h, y, m, d+i) {
			if n := len(spans); n > 0 && !iv.start.After(spans[n-1].end) {
				if iv.end.After(spans[n-1].end) {
					spans[n-1].end = iv.end
				}
				continue
			}
			spans = append(spans, iv)
		}
	}
	limit := now.Add(statusHorizon)
	for _, iv := range spans {
		if !now.Before(iv.start) && now.Before(iv.end) {
			st.Open, st.Until = true, iv.end
			return st
		}
		if iv.start.After(now) {
			if !iv.start.After(limit) {
				st.Next = iv.start
			}
			break
		}
	}
	if name, ok := kb.closedForHoliday(h, y, m, d); ok {
		st.Holiday = name
	}
	return st
}

// TestStatusAgreesWithReference: every entry of the sample city and some
// made-up hours (slots joined across midnight, overlapping slots, an
// exception, opening rarely), every 17 minutes over Easter (holidays) and
// the October change of daylight saving time.
func TestStatusAgreesWithReference(t *testing.T) {
	kb, err := Sample()
	if err != nil {
		t.Fatal(err)
	}
	everyDay := []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	loc := kb.loc
	made := []*Hours{
		{Weekly: []Slot{{Days: everyDay, From: 22 * 60, To: 24 * 60}, {Days: everyDay, From: 0, To: 2 * 60}}, ClosedOnHolidays: true},
		{Weekly: []Slot{{Days: []time.Weekday{time.Monday}, From: 9 * 60, To: 12 * 60}, {Days: []time.Weekday{time.Monday}, From: 11 * 60, To: 14 * 60}}},
		{Weekly: []Slot{{Days: []time.Weekday{time.Saturday}, From: 0, To: 24 * 60}, {Days: []time.Weekday{time.Sunday}, From: 0, To: 24 * 60}}, ClosedOnHolidays: true,
			Exceptions: []Exception{{Date: time.Date(2026, 4, 4, 0, 0, 0, 0, loc), From: 10 * 60, To: 11 * 60}}},
		{Weekly: []Slot{{Days: []time.Weekday{time.Wednesday}, From: 23*60 + 30, To: 24 * 60}}, ClosedOnHolidays: true},
		{}, // never open
	}
	entries := []*Entry{}
	for _, e := range kb.Entries() {
		if e.Hours != nil {
			entries = append(entries, e)
		}
	}
	if len(entries) < 10 {
		t.Fatalf("only %d sample entries have opening hours", len(entries))
	}
	for _, h := range made {
		entries = append(entries, &Entry{ID: "made", Hours: h})
	}
	checked := 0
	for _, from := range []time.Time{time.Date(2026, 3, 28, 0, 0, 0, 0, loc), time.Date(2026, 10, 20, 0, 0, 0, 0, loc)} {
		for now := from; now.Before(from.AddDate(0, 0, 14)); now = now.Add(17 * time.Minute) {
			for _, e := range entries {
				got, want := kb.Status(e, now), statusReference(kb, e, now)
				if got != want {
					t.Fatalf("%s at %s: Status = %+v, reference %+v", e.ID, now.Format(time.RFC3339), got, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d statuses agree", checked)
}
