package knowledge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

const eventEntries = `
  - id: treff
    kind: event
    name_de: Treff
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    event:
      dates:
        - {start: "2026-12-03 18:00", end: "2026-12-03 20:30"}
      weekly:
        - {days: [tue], from: "15:00", to: "17:30"}
      from: 2026-01-01
      until: 2027-06-30
      cancelled: [2026-12-29]
      changed:
        - {date: 2026-12-22, start: "2026-12-23 15:00", end: "2026-12-23 17:30", note: {de: Verlegt, en: Moved}}
  - id: endless
    kind: event
    name_de: Endlos
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    event:
      weekly:
        - {days: [mon, thu], from: "10:00", to: "11:00"}
        - {days: [thu], from: "18:00", to: "19:00"}
  - id: once
    kind: event
    name_de: Einmal
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    event:
      dates:
        - {start: "2026-12-03 18:00", end: "2026-12-03 20:30"}
        - {start: "2029-05-03 18:00", end: "2029-05-03 20:30"}
  - id: office
    kind: office
    name_de: Amt
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
`

// occ formats an occurrence for comparison: local start-end and flags.
func occ(o knowledge.Occurrence) string {
	s := o.Start.Format("2006-01-02 15:04 MST") + "-" + o.End.Format("15:04")
	if o.Cancelled {
		s += " cancelled"
	}
	if o.Changed {
		s += " changed"
	}
	return s
}

func occs(os []knowledge.Occurrence) string {
	var ss []string
	for _, o := range os {
		ss = append(ss, occ(o))
	}
	return strings.Join(ss, ", ")
}

func TestOccurrences(t *testing.T) {
	kb := mustKB(t, "NW", "Europe/Berlin", eventEntries)
	loc := kb.Location()
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	tests := []struct {
		name     string
		id       string
		from, to time.Time
		want     string
	}{
		{"december", "treff", at(2026, 12, 1, 0, 0), at(2027, 1, 1, 0, 0),
			"2026-12-01 15:00 CET-17:30, 2026-12-03 18:00 CET-20:30, 2026-12-08 15:00 CET-17:30, 2026-12-15 15:00 CET-17:30, " +
				"2026-12-23 15:00 CET-17:30 changed, 2026-12-29 15:00 CET-17:30 cancelled"},
		{"in progress at from", "treff", at(2026, 12, 1, 16, 0), at(2026, 12, 2, 0, 0), "2026-12-01 15:00 CET-17:30"},
		{"ended at from", "treff", at(2026, 12, 1, 17, 30), at(2026, 12, 2, 0, 0), ""},
		{"to is exclusive", "treff", at(2026, 11, 30, 0, 0), at(2026, 12, 1, 15, 0), ""},
		{"moved into the range", "treff", at(2026, 12, 23, 0, 0), at(2026, 12, 24, 0, 0), "2026-12-23 15:00 CET-17:30 changed"},
		{"moved out of the range", "treff", at(2026, 12, 22, 0, 0), at(2026, 12, 23, 0, 0), ""},
		{"until bounds", "treff", at(2027, 6, 20, 0, 0), at(2027, 7, 20, 0, 0), "2027-06-22 15:00 CEST-17:30, 2027-06-29 15:00 CEST-17:30"},
		{"from bounds", "treff", at(2025, 12, 20, 0, 0), at(2026, 1, 10, 0, 0), "2026-01-06 15:00 CET-17:30"},
		// Daylight saving ends on 25 October 2026: 15:00 stays 15:00.
		{"across DST end", "treff", at(2026, 10, 19, 0, 0), at(2026, 11, 1, 0, 0), "2026-10-20 15:00 CEST-17:30, 2026-10-27 15:00 CET-17:30"},
		{"across DST start", "endless", at(2026, 3, 26, 0, 0), at(2026, 3, 31, 0, 0),
			"2026-03-26 10:00 CET-11:00, 2026-03-26 18:00 CET-19:00, 2026-03-30 10:00 CEST-11:00"},
		{"one-off only", "once", at(2026, 1, 1, 0, 0), at(2030, 1, 1, 0, 0), "2026-12-03 18:00 CET-20:30, 2029-05-03 18:00 CEST-20:30"},
		{"empty range", "treff", at(2026, 12, 1, 0, 0), at(2026, 12, 1, 0, 0), ""},
		{"not an event", "office", at(2026, 12, 1, 0, 0), at(2027, 1, 1, 0, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kb.Occurrences(mustEntry(t, kb, tt.id), tt.from, tt.to)
			if s := occs(got); s != tt.want {
				t.Errorf("Occurrences(%s, %s) =\n  %s\nwant\n  %s", tt.from, tt.to, s, tt.want)
			}
			for _, o := range got {
				if o.Start.Location() != loc {
					t.Errorf("occurrence not in the city's time zone: %v", o.Start)
				}
			}
		})
	}
	moved := kb.Occurrences(mustEntry(t, kb, "treff"), at(2026, 12, 23, 0, 0), at(2026, 12, 24, 0, 0))
	if len(moved) != 1 || moved[0].Note["en"] != "Moved" {
		t.Errorf("changed occurrence lost its note: %+v", moved)
	}
}

func TestOccurrencesUnboundedRangeIsBounded(t *testing.T) {
	kb := mustKB(t, "NW", "Europe/Berlin", eventEntries)
	got := kb.Occurrences(mustEntry(t, kb, "endless"), time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	// Three occurrences a week, for about ten years at most.
	if len(got) == 0 || len(got) > 3*53*10+3 {
		t.Errorf("got %d occurrences", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Start.Before(got[i-1].Start) {
			t.Fatalf("not sorted at %d: %v after %v", i, got[i].Start, got[i-1].Start)
		}
	}
}

func TestNextOccurrence(t *testing.T) {
	kb := mustKB(t, "NW", "Europe/Berlin", eventEntries)
	loc := kb.Location()
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	tests := []struct {
		name string
		id   string
		now  time.Time
		want string // "" = none
	}{
		{"next tuesday", "treff", at(2026, 11, 25, 12, 0), "2026-12-01 15:00 CET-17:30"},
		{"in progress", "treff", at(2026, 12, 1, 16, 0), "2026-12-01 15:00 CET-17:30"},
		{"one-off date", "treff", at(2026, 12, 2, 12, 0), "2026-12-03 18:00 CET-20:30"},
		{"moved", "treff", at(2026, 12, 16, 12, 0), "2026-12-23 15:00 CET-17:30 changed"},
		{"skips cancelled", "treff", at(2026, 12, 24, 12, 0), "2027-01-05 15:00 CET-17:30"},
		{"recurrence over", "treff", at(2027, 6, 29, 18, 0), ""},
		{"before the start", "treff", at(2025, 6, 1, 12, 0), "2026-01-06 15:00 CET-17:30"},
		{"far one-off", "once", at(2026, 12, 4, 0, 0), "2029-05-03 18:00 CEST-20:30"},
		{"all past", "once", at(2029, 5, 4, 0, 0), ""},
		{"endless", "endless", at(2031, 1, 1, 12, 0), "2031-01-02 10:00 CET-11:00"},
		{"not an event", "office", at(2026, 12, 1, 0, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := kb.NextOccurrence(mustEntry(t, kb, tt.id), tt.now)
			got := ""
			if ok {
				got = occ(o)
			}
			if got != tt.want {
				t.Errorf("NextOccurrence(%s) = %q, want %q", tt.now, got, tt.want)
			}
		})
	}
}

func ExampleKB_NextOccurrence() {
	kb, err := knowledge.Load(withFiles(nil, map[string]string{
		"city.yaml": "city: {name: Teststadt, state: NW}\n",
		"events.yaml": `entries:
  - id: sprachcafe
    kind: event
    name_de: Sprachcafé
    summary: {de: Deutsch üben., en: Practise German.}
    last_checked: 2026-11-01
    owner: Quartiermanagement
    event:
      weekly: [{days: [tue], from: "15:00", to: "17:30"}]
      cancelled: [2026-12-29]
`,
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := kb.Entry("sprachcafe")
	now := time.Date(2026, 12, 24, 12, 0, 0, 0, kb.Location())
	if o, ok := kb.NextOccurrence(e, now); ok {
		fmt.Println(o.Start.Format("Mon 2006-01-02 15:04"))
	}
	// Output: Tue 2027-01-05 15:00
}
