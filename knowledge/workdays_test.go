package knowledge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

func TestAddWorkingTime(t *testing.T) {
	kb := mustSample(t) // NW, Monday to Friday 08:00-16:00
	loc := kb.Location()
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	tests := []struct {
		name  string
		start time.Time
		days  int
		want  time.Time
	}{
		{"within hours", at(2026, 11, 16, 10, 0), 2, at(2026, 11, 18, 10, 0)},
		{"friday to tuesday", at(2026, 11, 20, 15, 59), 2, at(2026, 11, 24, 15, 59)},
		{"one day over the weekend", at(2026, 11, 20, 9, 30), 1, at(2026, 11, 23, 9, 30)},
		{"saturday counts from monday 08:00", at(2026, 11, 14, 11, 0), 2, at(2026, 11, 18, 8, 0)},
		{"sunday night", at(2026, 11, 15, 23, 59), 1, at(2026, 11, 17, 8, 0)},
		{"before hours", at(2026, 11, 17, 6, 0), 1, at(2026, 11, 18, 8, 0)},
		{"at closing time", at(2026, 11, 17, 16, 0), 1, at(2026, 11, 19, 8, 0)},
		{"at opening time", at(2026, 11, 17, 8, 0), 1, at(2026, 11, 18, 8, 0)},
		{"zero days within hours", at(2026, 11, 17, 12, 34), 0, at(2026, 11, 17, 12, 34)},
		{"zero days at night", at(2026, 11, 17, 22, 0), 0, at(2026, 11, 18, 8, 0)},
		{"negative days", at(2026, 11, 17, 12, 0), -3, at(2026, 11, 17, 12, 0)},
		// Christmas 2026: 24 Dec (Thursday) is a working day in NW; 25 Dec
		// (Friday) and 26 Dec (Saturday) are holidays.
		{"christmas eve", at(2026, 12, 24, 10, 0), 2, at(2026, 12, 29, 10, 0)},
		{"christmas eve after hours", at(2026, 12, 24, 18, 0), 1, at(2026, 12, 29, 8, 0)},
		{"christmas day", at(2026, 12, 25, 10, 0), 1, at(2026, 12, 29, 8, 0)},
		// New Year 2027: 1 Jan is a Friday.
		{"over new year", at(2026, 12, 30, 15, 0), 2, at(2027, 1, 4, 15, 0)},
		{"new year's eve after hours", at(2026, 12, 31, 17, 0), 2, at(2027, 1, 6, 8, 0)},
		{"new year's day", at(2027, 1, 1, 12, 0), 1, at(2027, 1, 5, 8, 0)},
		// Epiphany (6 Jan) is no holiday in NW.
		{"epiphany in NW", at(2027, 1, 5, 10, 0), 1, at(2027, 1, 6, 10, 0)},
		// Easter 2027: Good Friday 26 March, Easter Monday 29 March; daylight
		// saving time begins on Easter Sunday, 28 March, at 02:00.
		{"over easter and DST", at(2027, 3, 25, 10, 0), 2, at(2027, 3, 31, 10, 0)},
		{"maundy thursday evening", at(2027, 3, 25, 19, 0), 1, at(2027, 3, 31, 8, 0)},
		{"good friday", at(2027, 3, 26, 9, 0), 0, at(2027, 3, 30, 8, 0)},
		// Corpus Christi (Thursday 27 May 2027) is a holiday in NW.
		{"corpus christi", at(2027, 5, 26, 10, 0), 1, at(2027, 5, 28, 10, 0)},
		// Daylight saving time ends on 25 October 2026.
		{"over the end of DST", at(2026, 10, 23, 10, 0), 2, at(2026, 10, 27, 10, 0)},
		// 1 November 2026 (All Saints') is a Sunday anyway.
		{"all saints on a sunday", at(2026, 10, 30, 14, 0), 1, at(2026, 11, 2, 14, 0)},
		{"seconds kept", time.Date(2026, 11, 17, 9, 15, 42, 500, loc), 1, time.Date(2026, 11, 18, 9, 15, 42, 500, loc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kb.AddWorkingTime(tt.start, tt.days)
			if !got.Equal(tt.want) || got.Location() != loc {
				t.Errorf("AddWorkingTime(%s, %d) = %s, want %s", tt.start.Format(time.RFC3339), tt.days, got.Format(time.RFC3339), tt.want.Format(time.RFC3339))
			}
		})
	}
}

// TestAddWorkingTimeOtherZone: a start given in UTC is read in the
// city's zone, and the result is in the city's zone.
func TestAddWorkingTimeOtherZone(t *testing.T) {
	kb := mustSample(t)
	start := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC) // 10:00 in Berlin
	got := kb.AddWorkingTime(start, 2)
	if want := time.Date(2026, 12, 29, 10, 0, 0, 0, kb.Location()); !got.Equal(want) || got.Location() != kb.Location() {
		t.Errorf("got %s, want %s", got, want)
	}
	// 23:30 UTC on Friday is 00:30 on Saturday in Berlin (winter time).
	if got, want := kb.AddWorkingTime(time.Date(2026, 11, 20, 23, 30, 0, 0, time.UTC), 0), time.Date(2026, 11, 23, 8, 0, 0, 0, kb.Location()); !got.Equal(want) {
		t.Errorf("Friday 23:30 UTC: got %s, want %s", got, want)
	}
}

// TestAddWorkingTimeStateAndHours: Epiphany is a holiday in Bavaria, and
// split working hours with a short Friday are counted as written.
func TestAddWorkingTimeStateAndHours(t *testing.T) {
	base := routingBase(t, withLine(t, routingYAML, 4,
		`    - {days: [mon, tue, wed, thu], from: "08:00", to: "12:00"}
    - {days: [mon, tue, wed, thu], from: "13:00", to: "16:00"}
    - {days: [fri], from: "08:00", to: "12:00"}`))
	base["city.yaml"].Data = []byte(strings.Replace(string(base["city.yaml"].Data), "state: NW", "state: BY", 1))
	kb := mustLoad(t, base)
	loc := kb.Location()
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2027, m, d, h, min, 0, 0, loc) }
	tests := []struct {
		name  string
		start time.Time
		days  int
		want  time.Time
	}{
		{"epiphany in BY", at(1, 5, 10, 0), 1, at(1, 7, 10, 0)},
		{"lunch break counts from 13:00", at(1, 7, 12, 30), 1, at(1, 8, 12, 0)},  // 4h worked by 13:00; Friday has 4h
		{"afternoon onto a short friday", at(1, 7, 15, 0), 1, at(1, 8, 12, 0)},   // 6h into Thursday; Friday ends at 12:00
		{"friday morning onto monday", at(1, 8, 11, 0), 1, at(1, 11, 11, 0)},     // 3h into Friday
		{"monday afternoon", at(1, 11, 14, 30), 2, at(1, 13, 14, 30)},            // 5.5h
		{"end of the morning", at(1, 11, 12, 0), 1, at(1, 12, 12, 0)},            // exactly 4h: end of the morning slot
		{"friday afternoon is after hours", at(1, 8, 13, 0), 1, at(1, 12, 8, 0)}, // next hours Monday 08:00, +1
	}
	for _, tt := range tests {
		if got := kb.AddWorkingTime(tt.start, tt.days); !got.Equal(tt.want) {
			t.Errorf("%s: AddWorkingTime(%s, %d) = %s, want %s", tt.name, tt.start.Format("Mon 2006-01-02 15:04"), tt.days, got.Format("Mon 2006-01-02 15:04"), tt.want.Format("Mon 2006-01-02 15:04"))
		}
	}
	if got := kb.ResponseDue(at(1, 5, 10, 0)); !got.Equal(at(1, 8, 10, 0)) {
		t.Errorf("ResponseDue (2 working days) = %s", got)
	}
	if !kb.IsWorkingTime(at(1, 5, 10, 0)) || kb.IsWorkingTime(at(1, 6, 10, 0)) || kb.IsWorkingTime(at(1, 5, 12, 30)) || kb.IsWorkingTime(at(1, 8, 13, 0)) {
		t.Errorf("IsWorkingTime wrong around Epiphany, lunch or Friday afternoon")
	}
}

// TestAddWorkingTimeDefaults: without routing the default hours apply.
func TestAddWorkingTimeDefaults(t *testing.T) {
	kb := mustLoad(t, validBase(t))
	if got := kb.WorkingHours(); len(got) != 1 || got[0].From != 8*60 || got[0].To != 16*60 || len(got[0].Days) != 5 {
		t.Errorf("WorkingHours = %+v, want Monday to Friday 08:00-16:00", got)
	}
	start := time.Date(2026, 11, 14, 11, 0, 0, 0, kb.Location())
	if got, want := kb.AddWorkingTime(start, 2), time.Date(2026, 11, 18, 8, 0, 0, 0, kb.Location()); !got.Equal(want) {
		t.Errorf("got %s, want %s", got, want)
	}
	// A very large count is bounded and still lands on a working day.
	far := kb.AddWorkingTime(start, 1<<40)
	if far.IsZero() || !kb.IsWorkingTime(far) {
		t.Errorf("AddWorkingTime with a huge count = %s", far)
	}
}

// TestAddWorkingTimeAlwaysWorkingTime: from any start over two years, in
// 37-minute steps, the due time is within working hours and after start.
func TestAddWorkingTimeAlwaysWorkingTime(t *testing.T) {
	kb := mustSample(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, kb.Location())
	end := start.AddDate(2, 0, 0)
	n := 0
	for s := start; s.Before(end); s = s.Add(37 * time.Minute) {
		n++
		got := kb.AddWorkingTime(s, 2)
		if !got.After(s) {
			t.Fatalf("AddWorkingTime(%s, 2) = %s, not after start", s, got)
		}
		// Due times fall within hours or exactly at their end.
		if !kb.IsWorkingTime(got) && !kb.IsWorkingTime(got.Add(-time.Nanosecond)) {
			t.Fatalf("AddWorkingTime(%s, 2) = %s, outside working hours", s, got)
		}
		if h := got.Sub(s); h > 8*24*time.Hour {
			t.Fatalf("AddWorkingTime(%s, 2) = %s, %v later", s, got, h)
		}
	}
	if n < 20000 {
		t.Fatalf("only %d starts", n)
	}
}

// Used by the routing tests' fixture: keep the sample's hours honest.
func TestSampleWorkingHours(t *testing.T) {
	kb := mustSample(t)
	if kb.ResponseWorkingDays() != 2 {
		t.Errorf("sample promises %d working days, want 2", kb.ResponseWorkingDays())
	}
	var got []knowledge.Slot = kb.WorkingHours()
	if len(got) != 1 || got[0].From != 8*60 || got[0].To != 16*60 {
		t.Errorf("sample working hours = %+v", got)
	}
}

func BenchmarkAddWorkingTime(b *testing.B) {
	kb := mustSample(b)
	start := time.Date(2026, 12, 24, 18, 0, 0, 0, kb.Location())
	b.ReportAllocs()
	for b.Loop() {
		kb.AddWorkingTime(start, 2)
	}
}
