package monitor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrPeriod: a report period cannot be used. The message says why in
// words a coordinator understands.
var ErrPeriod = errors.New("invalid report period")

// MaxPeriodDays is the longest report period.
const MaxPeriodDays = 366

// Period is the range of days a report covers, From and To inclusive,
// both at midnight in the city's time zone.
type Period struct {
	From, To time.Time
	// Spec is the period as written ("2026-11", "2026-W47",
	// "2026-11-01..2026-11-30", "last-30-days").
	Spec string
}

// Days is the number of days of p.
func (p Period) Days() int { return int(dayNumber(p.To)-dayNumber(p.From)) + 1 }

// dayNumber counts days since 1970-01-01 for t's date, so that day
// differences ignore daylight saving time.
func dayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// String returns p's canonical form: "2026-11-01..2026-11-30".
func (p Period) String() string { return DayKey(p.From) + ".." + DayKey(p.To) }

// ParsePeriod parses a report period relative to now (whose location is
// the city's time zone):
//
//	2026-11                  a month
//	2026-W47                 an ISO week
//	2026-11-01..2026-11-30   a range of days, both inclusive
//	2026-11-21               one day
//	last-30-days             the 30 days up to and including today (1 to 366)
//
// A period that has begun but not ended ends today. Errors wrap ErrPeriod
// for reversed ranges, ranges longer than a year (366 days), periods that
// begin after today, impossible dates and unknown forms.
func ParsePeriod(spec string, now time.Time) (Period, error) {
	loc := now.Location()
	today := Midnight(now)
	s := strings.TrimSpace(spec)
	if len(s) > 64 {
		return Period{}, fmt.Errorf("period is too long to be one: %w", ErrPeriod)
	}
	var from, to time.Time
	switch {
	case s == "":
		return Period{}, fmt.Errorf("no period given (e.g. 2026-11, 2026-W47, 2026-11-01..2026-11-30, last-30-days): %w", ErrPeriod)
	case strings.HasPrefix(s, "last-") && strings.HasSuffix(s, "-days"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, "last-"), "-days"))
		if err != nil || n < 1 || n > MaxPeriodDays {
			return Period{}, fmt.Errorf("%q: the number of days must be 1 to %d: %w", s, MaxPeriodDays, ErrPeriod)
		}
		from, to = today.AddDate(0, 0, 1-n), today
	case strings.Contains(s, ".."):
		a, b, _ := strings.Cut(s, "..")
		var err error
		if from, err = parseDay(a, loc); err != nil {
			return Period{}, err
		}
		if to, err = parseDay(b, loc); err != nil {
			return Period{}, err
		}
		if to.Before(from) {
			return Period{}, fmt.Errorf("%q: the end is before the start: %w", s, ErrPeriod)
		}
	case strings.Contains(s, "-W"):
		ys, ws, _ := strings.Cut(s, "-W")
		y, err1 := strconv.Atoi(ys)
		w, err2 := strconv.Atoi(ws)
		if err1 != nil || err2 != nil || len(ys) != 4 || len(ws) != 2 || y < 2000 || w < 1 || w > 53 {
			return Period{}, fmt.Errorf("%q: a week is written YYYY-Www, e.g. 2026-W47: %w", s, ErrPeriod)
		}
		// ISO week 1 contains 4 January; its Monday starts the year.
		jan4 := time.Date(y, time.January, 4, 0, 0, 0, 0, loc)
		monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
		from = monday.AddDate(0, 0, 7*(w-1))
		if gy, gw := from.ISOWeek(); gy != y || gw != w {
			return Period{}, fmt.Errorf("%q: %d has no week %d: %w", s, y, w, ErrPeriod)
		}
		to = from.AddDate(0, 0, 6)
	case len(s) == 7 && s[4] == '-':
		t, err := time.ParseInLocation("2006-01", s, loc)
		if err != nil || t.Year() < 2000 {
			return Period{}, fmt.Errorf("%q: a month is written YYYY-MM, e.g. 2026-11: %w", s, ErrPeriod)
		}
		from, to = t, t.AddDate(0, 1, -1)
	default:
		d, err := parseDay(s, loc)
		if err != nil {
			return Period{}, fmt.Errorf("%q: unknown period; use e.g. 2026-11, 2026-W47, 2026-11-01..2026-11-30 or last-30-days: %w", s, ErrPeriod)
		}
		from, to = d, d
	}
	if from.After(today) {
		return Period{}, fmt.Errorf("%q begins after today (%s): there are no figures yet: %w", s, DayKey(today), ErrPeriod)
	}
	if to.After(today) {
		to = today
	}
	if dayNumber(to)-dayNumber(from)+1 > MaxPeriodDays {
		return Period{}, fmt.Errorf("%q is longer than %d days; ask for one year at most: %w", s, MaxPeriodDays, ErrPeriod)
	}
	return Period{From: from, To: to, Spec: s}, nil
}

// parseDay parses YYYY-MM-DD in loc; years before 2000 are refused, as
// Lotse has no figures from then and typos like 0026 are likelier.
func parseDay(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), loc)
	if err != nil || t.Year() < 2000 {
		return time.Time{}, fmt.Errorf("%q is not a date YYYY-MM-DD: %w", s, ErrPeriod)
	}
	return t, nil
}
