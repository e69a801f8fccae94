package monitor_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
)

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParsePeriod(t *testing.T) {
	loc := berlin(t)
	now := time.Date(2026, 11, 21, 14, 0, 0, 0, loc)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	tests := []struct {
		spec     string
		from, to time.Time
	}{
		{"2026-10", day(2026, 10, 1), day(2026, 10, 31)},
		{"2026-11", day(2026, 11, 1), day(2026, 11, 21)}, // running month ends today
		{"2024-02", day(2024, 2, 1), day(2024, 2, 29)},
		{"2026-W47", day(2026, 11, 16), day(2026, 11, 21)},
		{"2026-W01", day(2025, 12, 29), day(2026, 1, 4)},
		{"2020-W53", day(2020, 12, 28), day(2021, 1, 3)},
		{"2026-11-01..2026-11-30", day(2026, 11, 1), day(2026, 11, 21)},
		{" 2026-01-01..2026-01-01 ", day(2026, 1, 1), day(2026, 1, 1)},
		{"2025-11-22..2026-11-21", day(2025, 11, 22), day(2026, 11, 21)}, // 365 days
		{"2026-11-21", day(2026, 11, 21), day(2026, 11, 21)},
		{"last-30-days", day(2026, 10, 23), day(2026, 11, 21)},
		{"last-1-days", day(2026, 11, 21), day(2026, 11, 21)},
		{"last-366-days", day(2025, 11, 21), day(2026, 11, 21)},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			p, err := monitor.ParsePeriod(tc.spec, now)
			if err != nil {
				t.Fatal(err)
			}
			if !p.From.Equal(tc.from) || !p.To.Equal(tc.to) {
				t.Errorf("got %s, want %s..%s", p, monitor.DayKey(tc.from), monitor.DayKey(tc.to))
			}
			if p.From.Location() != loc {
				t.Errorf("location %v, want the city's", p.From.Location())
			}
		})
	}
}

func TestParsePeriodErrors(t *testing.T) {
	now := time.Date(2026, 11, 21, 14, 0, 0, 0, berlin(t))
	tests := []struct{ spec, says string }{
		{"", "no period"},
		{"2026-11-30..2026-11-01", "before the start"},
		{"2024-01-01..2026-01-01", "longer than 366 days"},
		{"2025-11-20..2026-11-21", "longer than 366 days"},
		{"last-367-days", "1 to 366"},
		{"last-0-days", "1 to 366"},
		{"last-x-days", "1 to 366"},
		{"2026-12", "after today"},
		{"2026-W48", "after today"},
		{"2027-01-01..2027-01-31", "after today"},
		{"2026-11-22", "after today"},
		{"2026-13", "YYYY-MM"},
		{"1999-01", "YYYY-MM"},
		{"2021-W53", "no week 53"},
		{"2026-W54", "YYYY-Www"},
		{"2026-W7", "YYYY-Www"},
		{"2026-02-30", "unknown period"},
		{"november", "unknown period"},
		{"2026-11-01..", "not a date"},
		{strings.Repeat("2026", 20), "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := monitor.ParsePeriod(tc.spec, now)
			if !errors.Is(err, monitor.ErrPeriod) {
				t.Fatalf("err = %v, want ErrPeriod", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// FuzzParsePeriod: any input yields an error or a period of 1 to 366
// whole days, not after today, whose canonical form parses to itself.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-11", "2026-W47", "2026-11-01..2026-11-30", "last-30-days", "2026-11-21", "2020-W53", "..", "-W", "last--days", "2026-02-29"} {
		f.Add(s)
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 14, 0, 0, 0, loc)
	today := time.Date(2026, 11, 21, 0, 0, 0, 0, loc)
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := monitor.ParsePeriod(spec, now)
		if err != nil {
			if !errors.Is(err, monitor.ErrPeriod) {
				t.Fatalf("error %v does not wrap ErrPeriod", err)
			}
			return
		}
		if n := p.Days(); n < 1 || n > monitor.MaxPeriodDays {
			t.Fatalf("%q: %d days", spec, n)
		}
		if p.To.After(today) || p.From.After(p.To) {
			t.Fatalf("%q: %s not within ..today", spec, p)
		}
		if !p.From.Equal(monitor.Midnight(p.From)) || !p.To.Equal(monitor.Midnight(p.To)) {
			t.Fatalf("%q: %s not at midnight", spec, p)
		}
		q, err := monitor.ParsePeriod(p.String(), now)
		if err != nil || !q.From.Equal(p.From) || !q.To.Equal(p.To) {
			t.Fatalf("%q: canonical %s parses to %s, %v", spec, p, q, err)
		}
	})
}
