// Package monitor turns what happens in Lotse into anonymous figures for
// the municipal monitoring report (Berichtswesen) and keeps the questions
// the knowledge base could not answer, so curators can close the gaps.
//
// # Anonymous by construction
//
// Indicators are counted as things happen (a Recorder call per question,
// ticket step, reminder or broadcast); they are never derived later from
// stored personal data, so /forget, retention and redaction never change
// them and they never need personal data to exist. A counter is keyed only
// by fixed, short identifiers (topic id, district id, language code, ticket
// step, outcome category, day): Validate rejects anything else, so free
// text such as a name can never become part of an aggregate.
//
// Active users are counted per ISO week and per month without storing who
// was active: Redis keeps a HyperLogLog of the pseudonymous user key (itself
// a keyed hash of the Telegram id), which holds only register values, never
// the keys. Testing whether a given user was counted would need that user's
// key, and so the bot's secret; the sketches expire after ActiveRetention.
//
// Unanswered questions keep their text only: no user key, no chat, no time
// of day. Texts are truncated to MaxUnansweredText, long digit runs (phone
// and file numbers) and e-mail addresses are masked, at most
// MaxUnansweredPerDay are kept per day, and each expires
// UnansweredRetention after its day.
//
// Reports (Build) suppress small counts so no person can be singled out;
// see Build for the rule and why totals and differences stay safe.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalid: an event breaks a documented limit (unknown ticket step,
// a dimension that is not a short identifier, a negative count). It is a
// bug in the caller, never worth retrying.
var ErrInvalid = errors.New("invalid monitoring input")

// Retention of the figures. Every key a store writes expires.
const (
	// AggregateRetention is how long daily counters live after their day:
	// three years, so a report can compare the same period over the
	// funding cycle of an integration concept. They hold no user reference.
	AggregateRetention = 3 * 365 * 24 * time.Hour
	// ActiveRetention is how long the active-user sketches of a week or
	// month live after the period began: a year-over-year monthly
	// comparison still works; longer series are kept in exported CSVs.
	ActiveRetention = 400 * 24 * time.Hour
	// UnansweredRetention is how long an unanswered question's text is
	// kept after its day.
	UnansweredRetention = 90 * 24 * time.Hour
)

// Limits of unanswered questions.
const (
	// MaxUnansweredText is the most runes of a question kept.
	MaxUnansweredText = 200
	// MaxUnansweredPerDay is the most questions kept per day; later ones
	// are counted (Q.Answered == false) but their text is dropped, so a
	// flood cannot grow the store.
	MaxUnansweredPerDay = 500
	// maxDim bounds a dimension value (topic, district, language, ...).
	maxDim = 64
)

// Ticket steps counted by TicketEvent.Kind.
const (
	TicketOpened    = "opened"
	TicketClaimed   = "claimed"
	TicketAnswered  = "answered"
	TicketEscalated = "escalated"
	TicketClosed    = "closed"
)

// TicketKinds lists the ticket steps in the order reports show them.
var TicketKinds = []string{TicketOpened, TicketClaimed, TicketAnswered, TicketEscalated, TicketClosed}

// Q is one question a user asked.
type Q struct {
	// Topic is the field of action (topic id) of the best answer, "" if
	// none could be determined.
	Topic string
	// District is the user's district id where known, else "".
	District string
	// Lang is the language the question was asked in (base code).
	Lang string
	// Answered is false if the knowledge base had no answer.
	Answered bool
	// Day is when it was asked; its date in Day's location is counted,
	// so callers pass times in the city's time zone.
	Day time.Time
}

// TicketEvent is one step of a ticket.
type TicketEvent struct {
	// Kind is one of TicketKinds.
	Kind string
	// District and Topic are the ticket's district and topic ids.
	District, Topic string
	// Outcome is the outcome category of a closed ticket, "" otherwise.
	Outcome string
	// Wait is, for TicketAnswered, the time from opening to the first
	// answer (callers record only the first answer); for TicketClosed,
	// the time from opening to closing. Zero for other kinds.
	Wait time.Duration
	// Day is when it happened (see Q.Day).
	Day time.Time
}

// Recorder counts indicator events. Implementations are safe for
// concurrent use and write nothing that does not expire. Recording is
// best effort for the bot: a failure must not fail the user's request,
// so callers log it (without content) and carry on.
type Recorder interface {
	// Question counts one question. Returns ErrInvalid if a dimension is
	// not a short identifier.
	Question(ctx context.Context, q Q) error
	// Ticket counts one ticket step and, for answered and closed, its wait
	// in a histogram bucket. Returns ErrInvalid for an unknown Kind, a
	// negative Wait or an invalid dimension.
	Ticket(ctx context.Context, ev TicketEvent) error
	// Active notes that user (a pseudonymous key) was active at at, for
	// the weekly and monthly active-user counts. The key itself is not
	// stored. Returns ErrInvalid for an empty user.
	Active(ctx context.Context, user string, at time.Time) error
	// Reminder counts n event reminders sent. Returns ErrInvalid if n < 0.
	Reminder(ctx context.Context, n int, at time.Time) error
	// Broadcast counts a broadcast's reach. Returns ErrInvalid for
	// negative counts.
	Broadcast(ctx context.Context, delivered, blocked, failed int, at time.Time) error
	// Unanswered keeps the text of a question the knowledge base could
	// not answer (see CleanText), without any user reference. Texts
	// beyond MaxUnansweredPerDay on one day, and texts whose day is older
	// than UnansweredRetention, are dropped silently. Returns ErrInvalid
	// for an invalid lang.
	Unanswered(ctx context.Context, text, lang string, at time.Time) error
}

// Reader reads the figures back.
type Reader interface {
	// Figures returns the counters of the days from's date to to's date
	// (inclusive, dates taken in from's location) and the active users
	// of every ISO week and month overlapping them. Returns ErrInvalid if
	// to is before from or the range is longer than MaxDays.
	Figures(ctx context.Context, from, to time.Time) (Figures, error)
	// UnansweredTexts returns the unanswered questions kept for the days
	// from..to (as Figures), oldest day first, in recording order within
	// a day. Only coordinators and curators may see them.
	UnansweredTexts(ctx context.Context, from, to time.Time) ([]Unanswered, error)
}

// Store records and reads figures.
type Store interface {
	Recorder
	Reader
}

// MaxDays is the longest range Figures reads (a leap year).
const MaxDays = 366

// Figures are the counters of a range of days.
type Figures struct {
	// Days holds the days that have any counter, in date order.
	Days []Day
	// Weeks and Months are the active-user counts of the ISO weeks
	// ("2026-W47") and months ("2026-11") overlapping the range, in
	// order; periods without activity are left out. Counts from Redis are
	// HyperLogLog estimates (standard error 0.81 %).
	Weeks, Months []Active
}

// Day holds one day's counters. Zero counts are left out of the maps.
type Day struct {
	// Date is midnight of the day in the location Figures was asked for.
	Date      time.Time
	Questions map[QKey]int64
	Tickets   map[TKey]int64
	// FirstAnswer and Close are the histograms of ticket waits by district
	// ("" for none); see Buckets.
	FirstAnswer map[string]Histogram
	Close       map[string]Histogram
	Reminders   int64
	// Broadcast reach.
	Delivered, Blocked, Failed int64
}

// QKey is the dimensions of a question count.
type QKey struct {
	Topic, District, Lang string
	Answered              bool
}

// TKey is the dimensions of a ticket count. Outcome is set for closed
// tickets only.
type TKey struct {
	Kind, District, Topic, Outcome string
}

// Active is the number of distinct active users of a period.
type Active struct {
	Period string
	Users  int64
}

// Unanswered is a kept unanswered question.
type Unanswered struct {
	Text string
	Lang string
	// Date is midnight of the day it was asked.
	Date time.Time
}

// Buckets are the upper bounds of the wait histogram; the last bucket
// (index len(Buckets)) holds everything longer. They are fixed, so days
// add up and median and 90th percentile can be read without storing
// individual tickets.
var Buckets = [...]time.Duration{
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
	8 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 5 * 24 * time.Hour,
	7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour,
}

// NumBuckets is the number of histogram buckets.
const NumBuckets = len(Buckets) + 1

// Histogram counts waits per bucket.
type Histogram [NumBuckets]int64

// Bucket returns the histogram bucket of a wait.
func Bucket(d time.Duration) int {
	for i, b := range Buckets {
		if d <= b {
			return i
		}
	}
	return len(Buckets)
}

// Total is the number of waits counted.
func (h Histogram) Total() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q <= 1) and false if the histogram is empty or the quantile falls
// into the open last bucket. Reports say "höchstens <bound>", which is
// true of the exact value.
func (h Histogram) Quantile(q float64) (time.Duration, bool) {
	n := h.Total()
	if n == 0 || q <= 0 || q > 1 {
		return 0, false
	}
	// rank is the 1-based position of the quantile (nearest rank).
	rank := int64(q*float64(n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h {
		seen += c
		if seen >= rank {
			if i == len(Buckets) {
				return 0, false
			}
			return Buckets[i], true
		}
	}
	return 0, false
}

// DayKey returns the date of t as YYYY-MM-DD in t's location: the key of
// the day's counters.
func DayKey(t time.Time) string { return t.Format(time.DateOnly) }

// WeekKey returns the ISO week of t ("2026-W47") in t's location.
func WeekKey(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// MonthKey returns the month of t ("2026-11") in t's location.
func MonthKey(t time.Time) string { return t.Format("2006-01") }

// Midnight returns the start of t's day in t's location.
func Midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// DaysIn returns the midnights of every day from from's date to to's date
// in from's location. Returns ErrInvalid if to is before from or the range
// is longer than MaxDays.
func DaysIn(from, to time.Time) ([]time.Time, error) {
	loc := from.Location()
	first, last := Midnight(from), Midnight(to.In(loc))
	if last.Before(first) {
		return nil, fmt.Errorf("range %s..%s is reversed: %w", DayKey(first), DayKey(last), ErrInvalid)
	}
	var days []time.Time
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if len(days) == MaxDays {
			return nil, fmt.Errorf("range %s..%s is longer than %d days: %w", DayKey(first), DayKey(last), MaxDays, ErrInvalid)
		}
		days = append(days, d)
	}
	return days, nil
}

// PeriodsIn returns the ISO weeks and months overlapping days, in order.
func PeriodsIn(days []time.Time) (weeks, months []string) {
	for _, d := range days {
		if w := WeekKey(d); len(weeks) == 0 || weeks[len(weeks)-1] != w {
			weeks = append(weeks, w)
		}
		if m := MonthKey(d); len(months) == 0 || months[len(months)-1] != m {
			months = append(months, m)
		}
	}
	return weeks, months
}

// ValidDim reports whether s may be a dimension of a counter: empty, or at
// most 64 of a-z A-Z 0-9 _ - . — ids from the knowledge base and language
// codes, never free text, and never the separator stores use.
func ValidDim(s string) bool {
	if len(s) > maxDim {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Validate checks a question's dimensions.
func (q Q) Validate() error {
	for _, d := range [...]string{q.Topic, q.District, q.Lang} {
		if !ValidDim(d) {
			return fmt.Errorf("question dimension is not a short id: %w", ErrInvalid)
		}
	}
	return nil
}

// Validate checks a ticket event.
func (ev TicketEvent) Validate() error {
	known := false
	for _, k := range TicketKinds {
		known = known || k == ev.Kind
	}
	switch {
	case !known:
		return fmt.Errorf("ticket event kind %q: %w", ev.Kind, ErrInvalid)
	case ev.Wait < 0:
		return fmt.Errorf("ticket event %s: negative wait: %w", ev.Kind, ErrInvalid)
	case ev.Outcome != "" && ev.Kind != TicketClosed:
		return fmt.Errorf("ticket event %s: outcome only for closed: %w", ev.Kind, ErrInvalid)
	}
	for _, d := range [...]string{ev.District, ev.Topic, ev.Outcome} {
		if !ValidDim(d) {
			return fmt.Errorf("ticket event %s: dimension is not a short id: %w", ev.Kind, ErrInvalid)
		}
	}
	return nil
}

// ValidCounts checks that counts are not negative.
func ValidCounts(ns ...int) error {
	for _, n := range ns {
		if n < 0 {
			return fmt.Errorf("negative count: %w", ErrInvalid)
		}
	}
	return nil
}

// CleanText prepares an unanswered question for keeping: invalid UTF-8
// and control characters become spaces, runs of white space collapse,
// e-mail addresses and runs of six or more digits (phone, file and
// account numbers; postcodes have five and stay) are masked, and the
// result is cut to MaxUnansweredText runes.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, " ")
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r < 0x20 || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029' || (r >= 0x80 && r < 0xa0) || r == '\t'
	})
	if len(fields) > 4*MaxUnansweredText { // bounds the work on hostile input
		fields = fields[:4*MaxUnansweredText]
	}
	for i, f := range fields {
		if strings.Contains(f, "@") {
			fields[i] = "[E-Mail]"
		}
	}
	s = maskDigits(strings.Join(fields, " "))
	if utf8.RuneCountInString(s) > MaxUnansweredText {
		r := []rune(s)[:MaxUnansweredText-1]
		s = strings.TrimRight(string(r), " ") + "…"
	}
	return s
}

// maskDigits replaces runs of at least six digits, which may be broken up
// by spaces, '-', '/', '.' or '+', with "[Nummer]".
func maskDigits(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !isDigit(rs[i]) && rs[i] != '+' {
			b.WriteRune(rs[i])
			i++
			continue
		}
		// Extend over digits and separators; remember the last digit.
		j, digits, lastDigit := i, 0, -1
		for j < len(rs) && (isDigit(rs[j]) || strings.ContainsRune(" -/.+()", rs[j])) {
			if isDigit(rs[j]) {
				digits++
				lastDigit = j
			}
			j++
		}
		switch {
		case digits >= 6:
			b.WriteString("[Nummer]")
			i = lastDigit + 1
		case lastDigit >= 0:
			// No shorter stretch of this run can hold six digits.
			b.WriteString(string(rs[i : lastDigit+1]))
			i = lastDigit + 1
		default:
			b.WriteRune(rs[i])
			i++
		}
	}
	return b.String()
}

func isDigit(r rune) bool {
	return '0' <= r && r <= '9' || '٠' <= r && r <= '٩' || '۰' <= r && r <= '۹'
}
