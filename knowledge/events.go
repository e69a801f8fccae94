package knowledge

import (
	"sort"
	"time"
)

// maxRecurrenceDays bounds how many days of a weekly recurrence one call
// expands (about ten years), so that an unbounded recurrence asked about
// an unbounded range cannot run away.
const maxRecurrenceDays = 3660

// nextHorizon is how far NextOccurrence looks for a weekly recurrence.
const nextHorizon = 2 * 366 * 24 * time.Hour

// Occurrences returns the occurrences of event e that overlap [from, to)
// (an occurrence in progress at from is included), sorted by start: its
// one-off dates and its weekly recurrence between the event's from and
// until dates. Cancelled dates of the recurrence are included with
// Cancelled set, so that they can be shown as cancelled; changed dates
// appear at their new time with Changed set. Times are in kb.Location();
// a weekly "15:00" is 15:00 on the wall clock on every date, across
// daylight saving changes. A weekly recurrence is expanded for at most
// about ten years from the later of from and the recurrence's start.
// It returns nil if e is not an event.
func (kb *KB) Occurrences(e *Entry, from, to time.Time) []Occurrence {
	if e == nil || e.Event == nil || !from.Before(to) {
		return nil
	}
	ev := e.Event
	loc := kb.loc
	overlaps := func(s, t time.Time) bool { return t.After(from) && s.Before(to) }
	var out []Occurrence
	for _, o := range ev.Dates {
		if overlaps(o.Start, o.End) {
			o.Start, o.End = o.Start.In(loc), o.End.In(loc)
			out = append(out, o)
		}
	}
	for _, c := range ev.Changed {
		if overlaps(c.Start, c.End) {
			out = append(out, Occurrence{Start: c.Start.In(loc), End: c.End.In(loc), Changed: true, Note: c.Note})
		}
	}
	if len(ev.Weekly) > 0 {
		out = kb.appendWeekly(out, ev, from, to)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].End.Before(out[j].End)
	})
	return out
}

// dateKey identifies a calendar day independent of location.
type dateKey struct {
	y int
	m time.Month
	d int
}

func keyOf(t time.Time) dateKey {
	y, m, d := t.Date()
	return dateKey{y, m, d}
}

func (kb *KB) appendWeekly(out []Occurrence, ev *Event, from, to time.Time) []Occurrence {
	loc := kb.loc
	first := from.In(loc)
	first = time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)
	if !ev.From.IsZero() && first.Before(ev.From) {
		first = ev.From.In(loc)
	}
	last := to.In(loc)
	if !ev.Until.IsZero() && ev.Until.In(loc).Before(last) {
		last = ev.Until.In(loc)
	}
	lastKey := keyOf(last)
	skip := make(map[dateKey]bool, len(ev.Changed))
	for _, c := range ev.Changed {
		skip[keyOf(c.Date.In(loc))] = true
	}
	cancelled := make(map[dateKey]bool, len(ev.Cancelled))
	for _, c := range ev.Cancelled {
		cancelled[keyOf(c.In(loc))] = true
	}
	y, m, d := first.Date()
	for i := 0; i < maxRecurrenceDays; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, loc)
		k := keyOf(day)
		if k.y > lastKey.y || k.y == lastKey.y && (k.m > lastKey.m || k.m == lastKey.m && k.d > lastKey.d) {
			break
		}
		if skip[k] {
			continue
		}
		wd := day.Weekday()
		for _, s := range ev.Weekly {
			if !hasDay(s.Days, wd) {
				continue
			}
			start := time.Date(k.y, k.m, k.d, s.From/60, s.From%60, 0, 0, loc)
			end := time.Date(k.y, k.m, k.d, s.To/60, s.To%60, 0, 0, loc)
			if end.After(from) && start.Before(to) {
				out = append(out, Occurrence{Start: start, End: end, Cancelled: cancelled[k]})
			}
		}
	}
	return out
}

// NextOccurrence returns the next occurrence of e that is not cancelled
// and has not ended at now (it may be in progress). ok is false if there
// is none: the event is over, or its recurrence has no date in the next
// two years.
func (kb *KB) NextOccurrence(e *Entry, now time.Time) (Occurrence, bool) {
	if e == nil || e.Event == nil {
		return Occurrence{}, false
	}
	ev := e.Event
	// Most weekly events recur within days; look a short way first.
	horizons := []time.Time{now.Add(36 * 24 * time.Hour), now.Add(nextHorizon)}
	latest := now
	for _, o := range ev.Dates {
		if o.End.After(latest) {
			latest = o.End
		}
	}
	for _, c := range ev.Changed {
		if c.End.After(latest) {
			latest = c.End
		}
	}
	if latest.After(horizons[1]) {
		horizons = append(horizons, latest.Add(time.Minute))
	}
	for _, h := range horizons {
		for _, o := range kb.Occurrences(e, now, h) {
			if !o.Cancelled {
				return o, true
			}
		}
	}
	return Occurrence{}, false
}
