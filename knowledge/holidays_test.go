package knowledge_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

func TestEaster(t *testing.T) {
	tests := []struct {
		year  int
		month time.Month
		day   int
	}{
		{1818, time.March, 22}, // earliest possible
		{1943, time.April, 25}, // latest possible
		{2000, time.April, 23},
		{2019, time.April, 21},
		{2024, time.March, 31},
		{2025, time.April, 20},
		{2026, time.April, 5},
		{2027, time.March, 28},
		{2028, time.April, 16},
		{2038, time.April, 25},
	}
	for _, tt := range tests {
		if m, d := knowledge.Easter(tt.year); m != tt.month || d != tt.day {
			t.Errorf("Easter(%d) = %s %d, want %s %d", tt.year, m, d, tt.month, tt.day)
		}
	}
}

// holidaysOf lists every holiday of a year in a state as "MM-DD name".
func holidaysOf(state string, year int) []string {
	var out []string
	for d := time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
		if name, ok := knowledge.Holiday(state, d); ok {
			out = append(out, d.Format("01-02")+" "+name)
		}
	}
	return out
}

func TestHolidaysNW(t *testing.T) {
	want := map[int][]string{
		2026: {
			"01-01 Neujahr", "04-03 Karfreitag", "04-06 Ostermontag", "05-01 Tag der Arbeit",
			"05-14 Christi Himmelfahrt", "05-25 Pfingstmontag", "06-04 Fronleichnam",
			"10-03 Tag der Deutschen Einheit", "11-01 Allerheiligen",
			"12-25 1. Weihnachtstag", "12-26 2. Weihnachtstag",
		},
		2027: {
			"01-01 Neujahr", "03-26 Karfreitag", "03-29 Ostermontag", "05-01 Tag der Arbeit",
			"05-06 Christi Himmelfahrt", "05-17 Pfingstmontag", "05-27 Fronleichnam",
			"10-03 Tag der Deutschen Einheit", "11-01 Allerheiligen",
			"12-25 1. Weihnachtstag", "12-26 2. Weihnachtstag",
		},
	}
	for year, w := range want {
		if got := holidaysOf("NW", year); !reflect.DeepEqual(got, w) {
			t.Errorf("NW %d:\n got %q\nwant %q", year, got, w)
		}
	}
}

func TestHolidayCountsPerState(t *testing.T) {
	// Holidays in 2026 per state (state-wide ones; Sunday holidays
	// included where the state's law names them).
	want := map[string]int{
		"BW": 12, "BY": 12, "BE": 10, "BB": 12, "HB": 10, "HH": 10, "HE": 12, "MV": 11,
		"NI": 10, "NW": 11, "RP": 11, "SL": 12, "SN": 11, "ST": 11, "SH": 10, "TH": 11,
	}
	if len(knowledge.States()) != 16 {
		t.Fatalf("States() = %v", knowledge.States())
	}
	for _, s := range knowledge.States() {
		if got := len(holidaysOf(s, 2026)); got != want[s] {
			t.Errorf("%s 2026: %d holidays %q, want %d", s, got, holidaysOf(s, 2026), want[s])
		}
	}
}

func TestHoliday(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 10, 0, 0, 0, time.UTC) }
	tests := []struct {
		state string
		date  time.Time
		want  string // "" = no holiday
	}{
		{"BY", d(2026, 1, 6), "Heilige Drei Könige"},
		{"NW", d(2026, 1, 6), ""},
		{"ST", d(2026, 1, 6), "Heilige Drei Könige"},
		{"BE", d(2026, 3, 8), "Internationaler Frauentag"},
		{"BE", d(2018, 3, 8), ""},
		{"MV", d(2022, 3, 8), ""},
		{"MV", d(2023, 3, 8), "Internationaler Frauentag"},
		{"BB", d(2026, 4, 5), "Ostersonntag"},
		{"NW", d(2026, 4, 5), ""},
		{"BE", d(2025, 5, 8), "Tag der Befreiung"},
		{"BE", d(2026, 5, 8), ""},
		{"SL", d(2026, 8, 15), "Mariä Himmelfahrt"},
		{"BY", d(2026, 8, 15), ""}, // only in some municipalities
		{"TH", d(2026, 9, 20), "Weltkindertag"},
		{"TH", d(2018, 9, 20), ""},
		{"SN", d(2026, 10, 31), "Reformationstag"},
		{"NI", d(2017, 10, 31), "Reformationstag"},
		{"NI", d(2018, 10, 31), "Reformationstag"},
		{"NW", d(2017, 10, 31), "Reformationstag"}, // 500th anniversary
		{"NW", d(2018, 10, 31), ""},
		{"SN", d(2026, 11, 18), "Buß- und Bettag"},
		{"SN", d(2027, 11, 17), "Buß- und Bettag"},
		{"SN", d(2028, 11, 22), "Buß- und Bettag"},
		{"BY", d(2026, 11, 18), ""},
		{"NW", d(2008, 5, 1), "Tag der Arbeit / Christi Himmelfahrt"},
		{"NW", d(2026, 12, 24), ""},
		{"XX", d(2026, 12, 25), ""},
		{"nw", d(2026, 12, 25), ""},
		// The calendar day is the one in the date's own location.
		{"NW", time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC).In(time.FixedZone("CET", 3600)), "1. Weihnachtstag"},
		{"NW", time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC), ""},
	}
	for _, tt := range tests {
		got, ok := knowledge.Holiday(tt.state, tt.date)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Holiday(%s, %s) = %q, %v; want %q", tt.state, tt.date.Format("2006-01-02 15:04 MST"), got, ok, tt.want)
		}
	}
}

func TestValidState(t *testing.T) {
	for _, s := range []string{"NW", "BY", "BE", "TH"} {
		if !knowledge.ValidState(s) {
			t.Errorf("ValidState(%q) = false", s)
		}
	}
	for _, s := range []string{"", "nw", "DE", "NRW"} {
		if knowledge.ValidState(s) {
			t.Errorf("ValidState(%q) = true", s)
		}
	}
}
