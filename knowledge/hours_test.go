package knowledge_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// mustKB loads a knowledge base of a city in state and timezone with the
// given entries YAML (the part below "entries:").
func mustKB(t testing.TB, state, timezone, entries string) *knowledge.KB {
	t.Helper()
	return mustLoad(t, fstest.MapFS{
		"city.yaml":    {Data: []byte("city:\n  name: Teststadt\n  state: " + state + "\n  timezone: " + timezone + "\n")},
		"entries.yaml": {Data: []byte("entries:\n" + entries)},
	})
}

const hoursEntries = `
  - id: amt
    kind: office
    name_de: Amt
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    hours:
      weekly:
        - {days: [mon, tue, thu], from: "08:00", to: "12:00"}
        - {days: [thu], from: "14:00", to: "17:30"}
        - {days: [fri], from: "08:00", to: "12:00"}
        - {days: [fri], from: "12:00", to: "15:00"}
      exceptions:
        - {date: 2026-12-24, closed: true}
        - {date: 2026-12-31, from: "08:00", to: "11:00"}
        - {date: 2026-05-25, from: "10:00", to: "12:00"}
  - id: cafe
    kind: cafe
    name_de: Café
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    hours:
      appointment_only: true
      closed_on_holidays: false
      weekly:
        - {days: [sat], from: "18:00", to: "24:00"}
        - {days: [sun], from: "00:00", to: "02:00"}
        - {days: [sun], from: "08:00", to: "12:00"}
        - {days: [fri], from: "08:00", to: "12:00"}
  - id: rare
    kind: counselling
    name_de: Selten
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    hours:
      exceptions:
        - {date: 2027-03-01, from: "10:00", to: "11:00"}
  - id: nohours
    kind: office
    name_de: Ohne Zeiten
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
`

func TestStatus(t *testing.T) {
	kb := mustKB(t, "NW", "Europe/Berlin", hoursEntries)
	berlin := kb.Location()
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, berlin) }
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	var zero time.Time
	tests := []struct {
		name    string
		id      string
		now     time.Time
		open    bool
		until   time.Time
		next    time.Time
		holiday string
	}{
		{"monday morning", "amt", at(2026, 11, 23, 10, 0), true, at(2026, 11, 23, 12, 0), zero, ""},
		{"opening minute", "amt", at(2026, 11, 23, 8, 0), true, at(2026, 11, 23, 12, 0), zero, ""},
		{"closing minute", "amt", at(2026, 11, 23, 12, 0), false, zero, at(2026, 11, 24, 8, 0), ""},
		{"before opening", "amt", at(2026, 11, 23, 7, 59), false, zero, at(2026, 11, 23, 8, 0), ""},
		{"thursday lunch", "amt", at(2026, 11, 26, 13, 0), false, zero, at(2026, 11, 26, 14, 0), ""},
		{"thursday afternoon", "amt", at(2026, 11, 26, 17, 29), true, at(2026, 11, 26, 17, 30), zero, ""},
		{"adjacent slots merge", "amt", at(2026, 11, 27, 9, 0), true, at(2026, 11, 27, 15, 0), zero, ""},
		{"weekend", "amt", at(2026, 11, 28, 10, 0), false, zero, at(2026, 11, 30, 8, 0), ""},
		{"input in UTC", "amt", utc(2026, 11, 23, 9, 30), true, at(2026, 11, 23, 12, 0), zero, ""},
		{"exception closed", "amt", at(2026, 12, 24, 9, 0), false, zero, at(2026, 12, 28, 8, 0), ""},
		{"christmas holiday", "amt", at(2026, 12, 25, 9, 0), false, zero, at(2026, 12, 28, 8, 0), "1. Weihnachtstag"},
		{"exception hours", "amt", at(2026, 12, 31, 10, 0), true, at(2026, 12, 31, 11, 0), zero, ""},
		{"exception hours over", "amt", at(2026, 12, 31, 11, 0), false, zero, at(2027, 1, 4, 8, 0), ""},
		{"new year holiday", "amt", at(2027, 1, 1, 9, 0), false, zero, at(2027, 1, 4, 8, 0), "Neujahr"},
		{"exception beats holiday", "amt", at(2026, 5, 25, 11, 0), true, at(2026, 5, 25, 12, 0), zero, ""},
		{"corpus christi", "amt", at(2026, 6, 4, 15, 0), false, zero, at(2026, 6, 5, 8, 0), "Fronleichnam"},
		{"holiday on a closed weekday", "amt", at(2026, 10, 3, 10, 0), false, zero, at(2026, 10, 5, 8, 0), ""},
		{"open on holidays", "cafe", at(2026, 12, 25, 9, 0), true, at(2026, 12, 25, 12, 0), zero, ""},
		{"past midnight", "cafe", at(2026, 11, 28, 23, 0), true, at(2026, 11, 29, 2, 0), zero, ""},
		{"after midnight", "cafe", at(2026, 11, 29, 1, 0), true, at(2026, 11, 29, 2, 0), zero, ""},
		{"nothing within 14 days", "rare", at(2026, 11, 23, 10, 0), false, zero, zero, ""},
		{"within 14 days", "rare", at(2027, 2, 20, 10, 0), false, zero, at(2027, 3, 1, 10, 0), ""},
		// Daylight saving begins on Sunday 29 March 2026 at 02:00 CET.
		{"spring: next across the change", "cafe", at(2026, 3, 28, 17, 0), false, zero, utc(2026, 3, 28, 17, 0), ""},
		// 02:00 does not exist that night; the slot ends when the clock jumps.
		{"spring: night slot", "cafe", at(2026, 3, 29, 1, 30), true, utc(2026, 3, 29, 1, 0), zero, ""},
		{"spring: morning after", "cafe", at(2026, 3, 29, 3, 0), false, zero, utc(2026, 3, 29, 6, 0), ""},
		{"spring: open", "cafe", utc(2026, 3, 29, 8, 0), true, utc(2026, 3, 29, 10, 0), zero, ""},
		// Daylight saving ends on Sunday 25 October 2026 at 03:00 CEST;
		// 00:00 to 02:00 that night lasts three hours.
		{"autumn: night slot", "cafe", at(2026, 10, 25, 0, 30), true, utc(2026, 10, 25, 1, 0), zero, ""},
		{"autumn: next", "cafe", utc(2026, 10, 25, 1, 0), false, zero, utc(2026, 10, 25, 7, 0), ""},
		{"autumn: open", "cafe", utc(2026, 10, 25, 10, 59), true, utc(2026, 10, 25, 11, 0), zero, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := kb.Status(mustEntry(t, kb, tt.id), tt.now)
			if !st.Known {
				t.Fatal("Known = false")
			}
			if st.Open != tt.open || !st.Until.Equal(tt.until) || !st.Next.Equal(tt.next) || st.Holiday != tt.holiday {
				t.Errorf("Status(%s) = open %v until %v next %v holiday %q; want open %v until %v next %v holiday %q",
					tt.now, st.Open, st.Until, st.Next, st.Holiday, tt.open, tt.until, tt.next, tt.holiday)
			}
			if !st.Until.IsZero() && st.Until.Location() != berlin || !st.Next.IsZero() && st.Next.Location() != berlin {
				t.Errorf("times not in the city's time zone: %v %v", st.Until.Location(), st.Next.Location())
			}
		})
	}
}

func TestStatusFlags(t *testing.T) {
	kb := mustKB(t, "NW", "Europe/Berlin", hoursEntries)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, kb.Location())
	if st := kb.Status(mustEntry(t, kb, "nohours"), now); st != (knowledge.OpenStatus{}) {
		t.Errorf("entry without hours: %+v, want zero status", st)
	}
	if st := kb.Status(mustEntry(t, kb, "cafe"), now); !st.AppointmentOnly {
		t.Error("AppointmentOnly not reported")
	}
	if st := kb.Status(mustEntry(t, kb, "amt"), now); st.AppointmentOnly {
		t.Error("AppointmentOnly reported for an office without it")
	}
	if st := kb.Status(nil, now); st.Known {
		t.Error("nil entry reported as known")
	}
}

// TestStatusOtherZoneAndState checks that times are the city's local
// times and holidays the city's state's.
func TestStatusOtherZoneAndState(t *testing.T) {
	kb := mustKB(t, "BY", "America/New_York", hoursEntries)
	ny := kb.Location()
	st := kb.Status(mustEntry(t, kb, "amt"), time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)) // 09:00 in New York
	if !st.Open || !st.Until.Equal(time.Date(2026, 11, 23, 12, 0, 0, 0, ny)) {
		t.Errorf("Monday 09:00 New York: %+v", st)
	}
	kbNW := mustKB(t, "NW", "Europe/Berlin", hoursEntries)
	kbBY := mustKB(t, "BY", "Europe/Berlin", hoursEntries)
	// Heilige Drei Könige, a holiday in Bavaria only, is a Thursday in 2028.
	thu := time.Date(2028, 1, 6, 9, 0, 0, 0, kbNW.Location())
	if st := kbNW.Status(mustEntry(t, kbNW, "amt"), thu); !st.Open {
		t.Errorf("NW on 2028-01-06: %+v, want open", st)
	}
	if st := kbBY.Status(mustEntry(t, kbBY, "amt"), thu); st.Open || st.Holiday != "Heilige Drei Könige" {
		t.Errorf("BY on 2028-01-06: %+v, want closed for Heilige Drei Könige", st)
	}
}
