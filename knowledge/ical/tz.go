package ical

import (
	"errors"
	"fmt"
	"time"
)

// ErrTimeZone is returned when the city's time zone cannot be described
// with the EU summer-time rule this package writes into VTIMEZONE.
var ErrTimeZone = errors.New("ical: time zone does not follow the EU summer-time rule")

// The years checked against the EU rule, relative to now: the calendar
// holds events from the recent past into the next decade.
const (
	tzCheckBefore = 2
	tzCheckAfter  = 20
)

// lastSunday returns the date of the last Sunday of month m in year y, at
// hour h UTC.
func lastSunday(y int, m time.Month, h int) time.Time {
	t := time.Date(y, m+1, 0, h, 0, 0, 0, time.UTC) // last day of m
	return t.AddDate(0, 0, -int(t.Weekday()))
}

// writeTimeZone writes a VTIMEZONE for loc. Since 1996 the EU changes the
// clocks at 01:00 UTC on the last Sunday of March and of October; the
// component states exactly that rule with two yearly RRULEs, and
// writeTimeZone first checks that loc really follows it (or has no
// daylight saving at all) in the years around now, so that a calendar
// never claims other local times than Go computes.
func writeTimeZone(w *writer, loc *time.Location, now time.Time) error {
	y := now.Year()
	stdName, std := time.Date(y, time.January, 15, 12, 0, 0, 0, loc).Zone()
	dstName, dst := time.Date(y, time.July, 15, 12, 0, 0, 0, loc).Zone()
	for yy := y - tzCheckBefore; yy <= y+tzCheckAfter; yy++ {
		if !followsRule(loc, yy, std, dst) {
			return fmt.Errorf("%w: %s in %d", ErrTimeZone, loc, yy)
		}
	}
	w.line("BEGIN", "VTIMEZONE")
	w.line("TZID", loc.String())
	if std == dst {
		w.line("BEGIN", "STANDARD")
		w.line("DTSTART", "19700101T000000")
		w.line("TZOFFSETFROM", offset(std))
		w.line("TZOFFSETTO", offset(std))
		w.line("TZNAME", text(stdName))
		w.line("END", "STANDARD")
		w.line("END", "VTIMEZONE")
		return nil
	}
	// DTSTART of each observance is the local time just before the
	// change, in the offset then in force (RFC 5545 3.6.5).
	w.line("BEGIN", "DAYLIGHT")
	w.line("DTSTART", lastSunday(1970, time.March, 1).Add(time.Duration(std)*time.Second).Format(localFormat))
	w.line("RRULE", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU")
	w.line("TZOFFSETFROM", offset(std))
	w.line("TZOFFSETTO", offset(dst))
	w.line("TZNAME", text(dstName))
	w.line("END", "DAYLIGHT")
	w.line("BEGIN", "STANDARD")
	w.line("DTSTART", lastSunday(1970, time.October, 1).Add(time.Duration(dst)*time.Second).Format(localFormat))
	w.line("RRULE", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")
	w.line("TZOFFSETFROM", offset(dst))
	w.line("TZOFFSETTO", offset(std))
	w.line("TZNAME", text(stdName))
	w.line("END", "STANDARD")
	w.line("END", "VTIMEZONE")
	return nil
}

// followsRule reports whether loc uses offset std in winter and dst in
// summer of year y, changing at 01:00 UTC on the last Sundays of March
// and October (or never, if std == dst).
func followsRule(loc *time.Location, y int, std, dst int) bool {
	at := func(t time.Time) int { _, off := t.In(loc).Zone(); return off }
	if std == dst {
		for m := time.January; m <= time.December; m++ {
			if at(time.Date(y, m, 15, 12, 0, 0, 0, time.UTC)) != std {
				return false
			}
		}
		return true
	}
	spring, autumn := lastSunday(y, time.March, 1), lastSunday(y, time.October, 1)
	return at(time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)) == std &&
		at(spring.Add(-time.Second)) == std && at(spring) == dst &&
		at(autumn.Add(-time.Second)) == dst && at(autumn) == std &&
		at(time.Date(y, time.December, 31, 23, 0, 0, 0, time.UTC)) == std
}

// offset formats a UTC offset in seconds as RFC 5545 UTC-OFFSET.
func offset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	s := fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
