package knowledge

import (
	"sort"
	"time"
)

// This file computes response times: "usually within 2 working days",
// counted in the city's working hours, skipping weekends and the state's
// public holidays.

// DefaultWorkingHours are used when a knowledge base has no routing:
// section: Monday to Friday, 08:00 to 16:00.
var DefaultWorkingHours = []Slot{{
	Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	From: 8 * 60, To: 16 * 60,
}}

// maxWorkingDays bounds the days AddWorkingTime counts, and with it the
// work it does; ten years of working days is beyond any promise.
const maxWorkingDays = 2600

// WorkingHours returns the weekly hours in which staff work on requests:
// the routing's working_hours, or DefaultWorkingHours. The slice must not
// be modified.
func (kb *KB) WorkingHours() []Slot {
	if kb.routing != nil && len(kb.routing.hours) > 0 {
		return kb.routing.hours
	}
	return DefaultWorkingHours
}

// ResponseDue is when a request received at received should have an
// answer: AddWorkingTime(received, ResponseWorkingDays()).
func (kb *KB) ResponseDue(received time.Time) time.Time {
	return kb.AddWorkingTime(received, kb.ResponseWorkingDays())
}

// AddWorkingTime returns the moment days working days after start, in
// the city's time zone. Working days are the days with working hours
// (WorkingHours) that are not public holidays of the city's state.
//
// A start outside working hours (at night, at the weekend, on a holiday)
// counts from the beginning of the next working hours. The result is the
// point on the days-th following working day at which as much working
// time has passed as had passed on the start day: a request on Monday at
// 10:00 with hours from 08:00 is due on Wednesday at 10:00 for two days,
// and one on Friday at 17:00 on Wednesday at 08:00. If that day's hours
// are shorter, the result is the end of its working hours. Times are wall
// clock times, so a change to or from daylight saving time in between
// does not shift them. Negative days count as 0.
func (kb *KB) AddWorkingTime(start time.Time, days int) time.Time {
	days = min(max(days, 0), maxWorkingDays)
	hours := kb.WorkingHours()
	t := start.In(kb.loc)
	y, m, d := t.Date()
	// Enough days to cover the weekly gaps and every holiday on the way.
	limit := 8*days + 400

	// Find the working day and position of start, or of the next
	// working hours after it.
	elapsed := time.Duration(-1)
	off := 0
	for ; off <= limit; off++ {
		ivs := kb.workIntervals(hours, y, m, d+off)
		if len(ivs) == 0 {
			continue
		}
		if off > 0 {
			elapsed = 0
			break
		}
		wall := wallClock(t)
		var before time.Duration
		for _, iv := range ivs {
			if wall < iv.to {
				elapsed = before + max(wall-iv.from, 0)
				break
			}
			before += iv.to - iv.from
		}
		if elapsed >= 0 {
			break
		}
	}
	if elapsed < 0 {
		return time.Time{} // unreachable: working hours are never empty
	}
	for counted := 0; counted < days && off <= limit; {
		off++
		if len(kb.workIntervals(hours, y, m, d+off)) > 0 {
			counted++
		}
	}
	ivs := kb.workIntervals(hours, y, m, d+off)
	if len(ivs) == 0 {
		return time.Time{} // unreachable for the same reason
	}
	date := time.Date(y, m, d+off, 0, 0, 0, 0, kb.loc)
	dy, dm, dd := date.Date()
	at := func(wall time.Duration) time.Time {
		return time.Date(dy, dm, dd, 0, 0, 0, int(wall), kb.loc)
	}
	for _, iv := range ivs {
		n := iv.to - iv.from
		if elapsed <= n {
			return at(iv.from + elapsed)
		}
		elapsed -= n
	}
	return at(ivs[len(ivs)-1].to)
}

// IsWorkingTime reports whether t falls within working hours on a
// working day.
func (kb *KB) IsWorkingTime(t time.Time) bool {
	t = t.In(kb.loc)
	y, m, d := t.Date()
	wall := wallClock(t)
	for _, iv := range kb.workIntervals(kb.WorkingHours(), y, m, d) {
		if wall >= iv.from && wall < iv.to {
			return true
		}
	}
	return false
}

// wallSpan is a span of wall clock time within one day.
type wallSpan struct{ from, to time.Duration }

func wallClock(t time.Time) time.Duration {
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
}

// workIntervals returns the merged working hours of a calendar day (y, m,
// d are normalised, so d may be out of range); none on public holidays.
func (kb *KB) workIntervals(hours []Slot, y int, m time.Month, d int) []wallSpan {
	date := time.Date(y, m, d, 0, 0, 0, 0, kb.loc)
	if _, hol := Holiday(kb.City.State, date); hol {
		return nil
	}
	var out []wallSpan
	for _, s := range hours {
		if hasDay(s.Days, date.Weekday()) {
			out = append(out, wallSpan{time.Duration(s.From) * time.Minute, time.Duration(s.To) * time.Minute})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from < out[j].from })
	merged := out[:0]
	for _, iv := range out {
		if n := len(merged); n > 0 && iv.from <= merged[n-1].to {
			merged[n-1].to = max(merged[n-1].to, iv.to)
			continue
		}
		merged = append(merged, iv)
	}
	return merged
}
