package remind_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/remind"
	"github.com/lotse-bot/lotse/knowledge"
)

// items formats a listing as "id@local start[ cancelled][ changed]".
func items(list []remind.Item) string {
	var s []string
	for _, it := range list {
		x := it.Entry.ID + "@" + it.Occurrence.Start.Format("Mon 02.01. 15:04 MST")
		if it.Occurrence.Cancelled {
			x += " cancelled"
		}
		if it.Occurrence.Changed {
			x += " changed"
		}
		s = append(s, x)
	}
	return strings.Join(s, ", ")
}

func TestWhatsOn(t *testing.T) {
	kb := mustKB(t, testEntries)
	at := func(m time.Month, d, h, min int) time.Time { return berlin(t, kb, 2026, m, d, h, min) }
	tests := []struct {
		name     string
		now      time.Time
		days     int
		district string
		audience knowledge.Audience
		want     string
	}{
		{
			// The week of the end of daylight saving: 15:00 stays 15:00;
			// 02:30 on the night of the change exists twice, and the
			// knowledge loader takes the second (CET).
			name: "DST end week, everything", now: at(10, 23, 9, 0), days: 7,
			want: "cafe-nord@Fri 23.10. 15:00 CEST, fest@Sat 24.10. 14:00 CEST, " +
				"runder-tisch@Sun 25.10. 02:30 CET, kurs-sued@Sun 25.10. 10:00 CET, fest@Sun 25.10. 12:00 CET, " +
				"cafe-nord@Mon 26.10. 15:00 CET, kurs-sued@Tue 27.10. 10:00 CET, cafe-nord@Wed 28.10. 15:00 CET cancelled",
		},
		{
			name: "refugees in Nord see Nord and city-wide, not volunteers' events", now: at(10, 23, 16, 0), days: 3,
			district: "nord", audience: knowledge.AudienceRefugees,
			want: "cafe-nord@Fri 23.10. 15:00 CEST, fest@Sat 24.10. 14:00 CEST, fest@Sun 25.10. 12:00 CET",
		},
		{
			name: "volunteers in Süd", now: at(10, 24, 0, 0), days: 2, district: "sued", audience: knowledge.AudienceVolunteers,
			want: "fest@Sat 24.10. 14:00 CEST, runder-tisch@Sun 25.10. 02:30 CET, kurs-sued@Sun 25.10. 10:00 CET, fest@Sun 25.10. 12:00 CET",
		},
		{
			name: "everybody-only reader", now: at(10, 24, 0, 0), days: 2, audience: knowledge.AudienceEverybody,
			want: "fest@Sat 24.10. 14:00 CEST, kurs-sued@Sun 25.10. 10:00 CET, fest@Sun 25.10. 12:00 CET",
		},
		{
			name: "moved date shown at its new time", now: at(10, 30, 8, 0), days: 1, district: "nord",
			want: "cafe-nord@Fri 30.10. 18:00 CET changed",
		},
		{
			name: "in progress shown, ended never", now: at(10, 24, 21, 59), days: 1,
			want: "fest@Sat 24.10. 14:00 CEST",
		},
		{name: "ended just now", now: at(10, 24, 22, 0), days: 1, want: ""},
		{
			name: "days 0 means a week", now: at(10, 30, 19, 0), days: 0, district: "sued", audience: knowledge.AudienceRefugees,
			want: "kurs-sued@Sun 01.11. 10:00 CET, kurs-sued@Tue 03.11. 10:00 CET",
		},
		{
			// Daylight saving starts on 28 March 2027: 02:00 does not exist.
			name: "DST start week", now: berlin(t, kb, 2027, 3, 27, 12, 0), days: 2, district: "sued",
			want: "kurs-sued@Sun 28.03. 10:00 CEST, runder-tisch@Sun 28.03. 18:00 CEST",
		},
		{name: "unknown district lists city-wide only", now: at(10, 24, 0, 0), days: 1, district: "west", want: "fest@Sat 24.10. 14:00 CEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := remind.WhatsOn(kb, tt.now, tt.days, tt.district, tt.audience)
			if s := items(got); s != tt.want {
				t.Errorf("WhatsOn =\n  %s\nwant\n  %s", s, tt.want)
			}
			for _, it := range got {
				if !it.Occurrence.End.After(tt.now) {
					t.Errorf("past occurrence listed: %s", items([]remind.Item{it}))
				}
			}
		})
	}
}

func TestWhatsOnBounds(t *testing.T) {
	kb := mustKB(t, testEntries)
	now := berlin(t, kb, 2026, 11, 2, 0, 0)
	year := remind.WhatsOn(kb, now, 1000, "nord", "")
	last := year[len(year)-1].Occurrence.Start
	if limit := berlin(t, kb, 2027, 1, 3, 0, 0); !last.Before(limit) {
		t.Errorf("1000 days listed up to %v; want at most 62 days (before %v)", last, limit)
	}
}
