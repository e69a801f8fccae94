package knowledge

import "time"

// OpenStatus says whether an entry is open at a moment, in the city's
// time zone.
type OpenStatus struct {
	Known           bool      // false if the entry has no structured opening hours
	Open            bool      // open at the moment asked about
	Until           time.Time // if Open: when it closes
	Next            time.Time // if closed: the next opening; zero if none within 14 days
	AppointmentOnly bool      // only with an appointment, even when "open"
	Holiday         string    // German name of today's public holiday, if closed for it
}

// statusHorizon is how far ahead Status looks for the next opening.
const statusHorizon = 14 * 24 * time.Hour

// interval is a span of opening time [start, end).
type interval struct{ start, end time.Time }

// Status reports whether e is open at now. Opening hours are local times
// in kb.Location(): a slot "08:00-12:00" is 08:00 to 12:00 on the wall
// clock on every day, including the days daylight saving time begins and
// ends. A date's exception replaces the weekly hours; on the state's
// public holidays the entry is closed unless its hours say
// closed_on_holidays: false or an exception gives hours for that date.
func (kb *KB) Status(e *Entry, now time.Time) OpenStatus {
	if e == nil || e.Hours == nil {
		return OpenStatus{}
	}
	h := e.Hours
	st := OpenStatus{Known: true, AppointmentOnly: h.AppointmentOnly}
	now = now.In(kb.loc)
	y, m, d := now.Date()

	// Opening spans are the days' intervals with touching ones joined,
	// from yesterday (so that a slot ending at 24:00 joins one starting
	// at 00:00 today) to 15 days ahead. The first span that ends after
	// now decides: open if it has begun, else the next opening. Days are
	// looked at only until that span is complete, usually today and
	// tomorrow.
	limit := now.Add(statusHorizon)
	var cur interval
	have := false
	decide := func(sp interval) bool {
		if !sp.end.After(now) {
			return false
		}
		if !now.Before(sp.start) {
			st.Open, st.Until = true, sp.end
		} else if !sp.start.After(limit) {
			st.Next = sp.start
		}
		return true
	}
	var buf [4]interval
	decided := false
days:
	for i := -1; i <= 15; i++ {
		for _, iv := range kb.dayIntervals(buf[:0], h, y, m, d+i) {
			switch {
			case have && !iv.start.After(cur.end):
				if iv.end.After(cur.end) {
					cur.end = iv.end
				}
				continue
			case have && decide(cur):
				decided = true
				break days
			}
			cur, have = iv, true
		}
	}
	if !decided && have {
		decide(cur)
	}
	if st.Open {
		return st
	}
	if name, ok := kb.closedForHoliday(h, y, m, d); ok {
		st.Holiday = name
	}
	return st
}

// dayIntervals appends the opening intervals of one calendar day (y, m,
// d are normalised, so d may be out of range), sorted by start, to out.
func (kb *KB) dayIntervals(out []interval, h *Hours, y int, m time.Month, d int) []interval {
	date := time.Date(y, m, d, 0, 0, 0, 0, kb.loc)
	y, m, d = date.Date()
	at := func(min int) time.Time { return time.Date(y, m, d, min/60, min%60, 0, 0, kb.loc) }
	if x, ok := exceptionOn(h, y, m, d); ok {
		if x.Closed {
			return out
		}
		return append(out, interval{at(x.From), at(x.To)})
	}
	if h.ClosedOnHolidays {
		if _, hol := Holiday(kb.City.State, date); hol {
			return out
		}
	}
	first := len(out)
	for _, s := range h.Weekly {
		if hasDay(s.Days, date.Weekday()) {
			out = append(out, interval{at(s.From), at(s.To)})
		}
	}
	// Slots are few; insertion sort keeps this allocation-free.
	for i := first + 1; i < len(out); i++ {
		for j := i; j > first && out[j].start.Before(out[j-1].start); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// closedForHoliday returns the holiday's name if the entry would be open
// on this weekday but is closed for the holiday.
func (kb *KB) closedForHoliday(h *Hours, y int, m time.Month, d int) (string, bool) {
	if !h.ClosedOnHolidays {
		return "", false
	}
	if _, ok := exceptionOn(h, y, m, d); ok {
		return "", false
	}
	date := time.Date(y, m, d, 0, 0, 0, 0, kb.loc)
	name, ok := Holiday(kb.City.State, date)
	if !ok {
		return "", false
	}
	for _, s := range h.Weekly {
		if hasDay(s.Days, date.Weekday()) {
			return name, true
		}
	}
	return "", false
}

func exceptionOn(h *Hours, y int, m time.Month, d int) (Exception, bool) {
	for _, x := range h.Exceptions {
		xy, xm, xd := x.Date.Date()
		if xy == y && xm == m && xd == d {
			return x, true
		}
	}
	return Exception{}, false
}

func hasDay(days []time.Weekday, wd time.Weekday) bool {
	for _, d := range days {
		if d == wd {
			return true
		}
	}
	return false
}
