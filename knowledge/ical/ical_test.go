package ical_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/ical"
)

func mustSample(t testing.TB) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatalf("load sample: %v", err)
	}
	return kb
}

func mustEntry(t testing.TB, kb *knowledge.KB, id string) *knowledge.Entry {
	t.Helper()
	e, ok := kb.Entry(id)
	if !ok {
		t.Fatalf("no entry %q", id)
	}
	return e
}

func mustParse(t testing.TB, b []byte) *goical.Calendar {
	t.Helper()
	cal, err := goical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot parse the output: %v\n%s", err, b)
	}
	return cal
}

func mustEvent(t testing.TB, kb *knowledge.KB, e *knowledge.Entry, lang string, now time.Time) []byte {
	t.Helper()
	b, err := ical.Event(kb, e, lang, now)
	if err != nil {
		t.Fatalf("Event(%s): %v", e.ID, err)
	}
	return b
}

func mustFeed(t testing.TB, kb *knowledge.KB, f ical.Filter, lang string, now time.Time) []byte {
	t.Helper()
	b, err := ical.Feed(kb, f, lang, now)
	if err != nil {
		t.Fatalf("Feed(%+v): %v", f, err)
	}
	return b
}

// mustLoad loads a knowledge base from YAML files given as name, text
// pairs.
func mustLoad(t testing.TB, files ...string) *knowledge.KB {
	t.Helper()
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(files); i += 2 {
		fsys[files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	kb, err := knowledge.Load(fsys)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return kb
}

// span is one occurrence as wall-clock times with their UTC offsets, so
// that a comparison catches both a wrong local time and a wrong instant.
func span(start, end time.Time, loc *time.Location) string {
	const f = "Mon 2006-01-02 15:04 -0700"
	return start.In(loc).Format(f) + " – " + end.In(loc).Format(f)
}

// expand returns the occurrences of every VEVENT in cal overlapping
// [from, to), keyed by the entry id in front of the UID's first dot, the
// way a calendar client sees them: each RRULE expanded by rrule-go (via
// go-ical) minus its EXDATEs, instances replaced by the VEVENTs with
// their UID and RECURRENCE-ID, one-off VEVENTs as they are; cancelled
// VEVENTs are left out.
func expand(t *testing.T, cal *goical.Calendar, from, to time.Time, loc *time.Location) map[string][]string {
	t.Helper()
	type inst struct{ start, end time.Time }
	type key struct {
		uid string
		at  int64
	}
	overrides := map[key]inst{}
	used := map[key]bool{}
	var masters []goical.Event
	var singles []goical.Event
	for _, ev := range cal.Events() {
		switch {
		case ev.Props.Get(goical.PropRecurrenceID) != nil:
			rid, err := ev.Props.DateTime(goical.PropRecurrenceID, loc)
			if err != nil {
				t.Fatalf("RECURRENCE-ID: %v", err)
			}
			s, e := mustTimes(t, ev, loc)
			uid := mustText(t, ev.Component, goical.PropUID)
			overrides[key{uid, rid.Unix()}] = inst{s, e}
		case ev.Props.Get(goical.PropRecurrenceRule) != nil:
			masters = append(masters, ev)
		default:
			singles = append(singles, ev)
		}
	}
	out := map[string][]string{}
	add := func(uid string, s, e time.Time) {
		if e.After(from) && s.Before(to) {
			id, _, _ := strings.Cut(uid, ".")
			out[id] = append(out[id], span(s, e, loc))
		}
	}
	for _, ev := range masters {
		uid := mustText(t, ev.Component, goical.PropUID)
		s, e := mustTimes(t, ev, loc)
		set, err := ev.RecurrenceSet(loc)
		if err != nil {
			t.Fatalf("%s: recurrence: %v", uid, err)
		}
		// Expand well beyond the window: a changed instance may move
		// into or out of it.
		for _, at := range set.Between(from.AddDate(-1, 0, 0), to.AddDate(1, 0, 0), true) {
			k := key{uid, at.Unix()}
			if o, ok := overrides[k]; ok {
				used[k] = true
				add(uid, o.start, o.end)
				continue
			}
			add(uid, at, at.Add(e.Sub(s)))
		}
	}
	for k := range overrides {
		if !used[k] {
			t.Errorf("RECURRENCE-ID %s of %s matches no instance of its RRULE", time.Unix(k.at, 0).In(loc), k.uid)
		}
	}
	for _, ev := range singles {
		if st, _ := ev.Status(); st == goical.EventCancelled {
			continue
		}
		s, e := mustTimes(t, ev, loc)
		add(mustText(t, ev.Component, goical.PropUID), s, e)
	}
	for id := range out {
		slices.Sort(out[id])
	}
	return out
}

func mustTimes(t *testing.T, ev goical.Event, loc *time.Location) (time.Time, time.Time) {
	t.Helper()
	s, err := ev.DateTimeStart(loc)
	if err != nil {
		t.Fatalf("DTSTART: %v", err)
	}
	e, err := ev.DateTimeEnd(loc)
	if err != nil {
		t.Fatalf("DTEND: %v", err)
	}
	if ev.Props.Get(goical.PropDateTimeStart).Params.Get(goical.PropTimezoneID) != loc.String() {
		t.Errorf("DTSTART %s has no TZID=%s", ev.Props.Get(goical.PropDateTimeStart).Value, loc)
	}
	return s, e
}

func mustText(t *testing.T, c *goical.Component, name string) string {
	t.Helper()
	s, err := c.Props.Text(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// want returns knowledge's own occurrences of e in [from, to) that take
// place, formatted like expand's.
func want(kb *knowledge.KB, e *knowledge.Entry, from, to time.Time) []string {
	var out []string
	for _, o := range kb.Occurrences(e, from, to) {
		if !o.Cancelled {
			out = append(out, span(o.Start, o.End, kb.Location()))
		}
	}
	slices.Sort(out)
	return out
}

// berlin parses a local time in Europe/Berlin.
func berlin(t testing.TB, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// nows are the moments the occurrence tests look a year ahead from: each
// year crosses both daylight saving changes, and together they cover the
// recurrences' starts, cancelled and changed dates and ends.
var nows = []string{"2026-01-02 08:00", "2026-03-01 12:00", "2026-10-20 10:00", "2027-06-01 09:00"}

// compare checks that the calendar b holds exactly knowledge's
// occurrences of the given entries over the year after now.
func compare(t *testing.T, kb *knowledge.KB, b []byte, entries []*knowledge.Entry, now time.Time) {
	t.Helper()
	to := now.AddDate(1, 0, 0)
	got := expand(t, mustParse(t, b), now, to, kb.Location())
	for _, e := range entries {
		w := want(kb, e, now, to)
		if !slices.Equal(got[e.ID], w) {
			t.Errorf("%s from %s:\n got %d occurrences %s\nwant %d occurrences %s",
				e.ID, now.Format(time.DateOnly), len(got[e.ID]), strings.Join(got[e.ID], "\n     "),
				len(w), strings.Join(w, "\n     "))
		}
		delete(got, e.ID)
	}
	for id := range got {
		t.Errorf("calendar holds occurrences of %s, which it should not", id)
	}
}

func TestEventOccurrencesMatchKnowledge(t *testing.T) {
	kb := mustSample(t)
	events := kb.OfKind(knowledge.KindEvent)
	if len(events) < 5 {
		t.Fatalf("sample has only %d events", len(events))
	}
	total := 0
	for _, s := range nows {
		now := berlin(t, s)
		for _, e := range events {
			t.Run(s+"/"+e.ID, func(t *testing.T) {
				compare(t, kb, mustEvent(t, kb, e, "en", now), []*knowledge.Entry{e}, now)
				total += len(want(kb, e, now, now.AddDate(1, 0, 0)))
			})
		}
	}
	if total < 100 {
		t.Errorf("only %d occurrences compared; the sample's dates moved out of the test's years", total)
	}
}

// rich is a knowledge base with the recurrences the sample lacks: two
// times of day with a shared weekday, a change on that weekday, a slot
// until midnight, no from date, an end after the spring DST change, two
// one-off dates on one day.
const richCity = `
city: {name: Prüfstadt an der Ruhr, state: NW, timezone: %s}
`

const richEntries = `
entries:
  - id: nord
    kind: district
    name_de: Stadtteil Nord
    summary: {de: Der Norden., en: The north.}
    last_checked: 2026-09-01
    owner: Test
  - id: sued
    kind: district
    name_de: Stadtteil Süd
    summary: {de: Der Süden., en: The south.}
    last_checked: 2026-09-01
    owner: Test
  - id: treff-nord
    kind: event
    name_de: Treff Nord
    summary: {de: "Treff; mit Komma, Backslash \\ und Zeilen.", en: "Meet-up; with comma, backslash \\ and lines."}
    district: nord
    address: {street: Hauptstraße 1, postcode: "47101", city: Prüfstadt}
    geo: {lat: 51.5, lon: 6.75}
    event:
      audience: [refugees]
      weekly:
        - {days: [mon, wed], from: "10:00", to: "12:00"}
        - {days: [wed], from: "18:00", to: "24:00"}
        - {days: [fri], from: "10:00", to: "12:00"}
      until: 2027-04-14
      cancelled: [2026-11-04, 2026-12-25]
      changed:
        - {date: 2026-11-11, start: "2026-11-12 09:00", end: "2026-11-12 11:00", note: {de: Verlegt., en: Moved.}}
        - {date: 2026-12-07, start: "2026-12-07 14:00", end: "2026-12-07 16:00"}
    last_checked: 2026-09-01
    owner: Test
  - id: tag-sued
    kind: event
    name_de: Tag Süd
    title: {en: South day}
    summary: {de: Zwei Termine an einem Tag., en: Two sessions on one day.}
    district: sued
    event:
      audience: [volunteers]
      registration: https://example.org/tag-sued?x=1&y=2
      venue: nord
      dates:
        - {start: "2027-03-28 09:00", end: "2027-03-28 12:00"}
        - {start: "2027-03-28 14:00", end: "2027-03-28 17:00"}
    last_checked: 2026-09-01
    owner: Test
  - id: samstag-offen
    kind: event
    name_de: Offener Samstag
    summary: {de: Ohne Anfang und Ende., en: Without start or end.}
    district: nord
    event:
      weekly:
        - {days: [sat], from: "10:00", to: "12:00"}
    last_checked: 2026-08-20
    owner: Test
  - id: stadtfest
    kind: event
    name_de: Stadtfest
    summary: {de: Für alle., en: For everybody.}
    event:
      audience: [everybody]
      dates:
        - {start: "2026-10-25 01:30", end: "2026-10-25 04:30"}
    last_checked: 2026-09-01
    owner: Test
`

func mustRich(t testing.TB, zone string) *knowledge.KB {
	t.Helper()
	return mustLoad(t, "city.yaml", fmt.Sprintf(richCity, zone), "entries.yaml", richEntries)
}

func TestRichOccurrencesMatchKnowledge(t *testing.T) {
	for _, zone := range []string{"Europe/Berlin", "Europe/London", "Asia/Tokyo"} {
		kb := mustRich(t, zone)
		for _, s := range []string{"2026-09-01 00:00", "2026-11-10 12:00", "2027-03-01 00:00"} {
			now := berlin(t, s)
			for _, e := range kb.OfKind(knowledge.KindEvent) {
				t.Run(zone+"/"+s+"/"+e.ID, func(t *testing.T) {
					compare(t, kb, mustEvent(t, kb, e, "de", now), []*knowledge.Entry{e}, now)
				})
			}
		}
	}
}

func TestRecurrenceStructure(t *testing.T) {
	kb := mustRich(t, "Europe/Berlin")
	now := berlin(t, "2026-09-01 00:00")
	cal := mustParse(t, mustEvent(t, kb, mustEntry(t, kb, "treff-nord"), "de", now))
	type row struct{ uid, rrule, rid, start string }
	var got []row
	exdates := map[string][]string{}
	for _, ev := range cal.Events() {
		r := row{uid: mustText(t, ev.Component, goical.PropUID), start: ev.Props.Get(goical.PropDateTimeStart).Value}
		if p := ev.Props.Get(goical.PropRecurrenceRule); p != nil {
			r.rrule = p.Value
		}
		if p := ev.Props.Get(goical.PropRecurrenceID); p != nil {
			r.rid = p.Value
		}
		for _, x := range ev.Props.Values(goical.PropExceptionDates) {
			exdates[r.uid] = append(exdates[r.uid], x.Value)
		}
		got = append(got, r)
	}
	const d = "@pruefstadt-an-der-ruhr.lotse.invalid"
	wantRows := []row{
		// Mondays, Wednesdays and Fridays at 10:00 share one RRULE; the
		// recurrence has no from date, so it starts on the day the entry
		// was last checked (a Tuesday); UNTIL is the last start in UTC.
		{"treff-nord.w1" + d, "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20270414T080000Z", "", "20260902T100000"},
		{"treff-nord.w2" + d, "FREQ=WEEKLY;BYDAY=WE;UNTIL=20270414T160000Z", "", "20260902T180000"},
		{"treff-nord.w1" + d, "", "20261111T100000", "20261112T090000"},
		{"treff-nord.w1" + d, "", "20261207T100000", "20261207T140000"},
	}
	if !slices.Equal(got, wantRows) {
		t.Errorf("VEVENTs:\n got %v\nwant %v", got, wantRows)
	}
	wantEx := map[string][]string{
		// 2026-11-04 (Wednesday) is cancelled in both series; 2026-11-11
		// moved, and the evening series drops its instance; 2026-12-25
		// (a Friday) only in the morning series.
		"treff-nord.w1" + d: {"20261104T100000", "20261225T100000"},
		"treff-nord.w2" + d: {"20261104T180000", "20261111T180000"},
	}
	for uid, w := range wantEx {
		if !slices.Equal(exdates[uid], w) {
			t.Errorf("EXDATEs of %s = %v, want %v", uid, exdates[uid], w)
		}
	}
}

func TestFeed(t *testing.T) {
	kb := mustRich(t, "Europe/Berlin")
	now := berlin(t, "2026-09-01 00:00")
	tests := []struct {
		filter ical.Filter
		ids    []string
	}{
		// An event without an audience is for everybody.
		{ical.Filter{District: "nord"}, []string{"treff-nord", "samstag-offen", "stadtfest"}},
		{ical.Filter{District: "sued"}, []string{"tag-sued", "stadtfest"}},
		{ical.Filter{}, []string{"treff-nord", "tag-sued", "samstag-offen", "stadtfest"}},
		{ical.Filter{District: "nord", Audience: knowledge.AudienceRefugees}, []string{"treff-nord", "samstag-offen", "stadtfest"}},
		{ical.Filter{District: "nord", Audience: knowledge.AudienceVolunteers}, []string{"samstag-offen", "stadtfest"}},
		{ical.Filter{Audience: knowledge.AudienceVolunteers}, []string{"tag-sued", "samstag-offen", "stadtfest"}},
		{ical.Filter{Audience: knowledge.AudienceEverybody}, []string{"samstag-offen", "stadtfest"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%s", tt.filter.District, tt.filter.Audience), func(t *testing.T) {
			b := mustFeed(t, kb, tt.filter, "en", now)
			var entries []*knowledge.Entry
			for _, id := range tt.ids {
				entries = append(entries, mustEntry(t, kb, id))
			}
			compare(t, kb, b, entries, now)
			cal := mustParse(t, b)
			if cal.Props.Get(goical.PropMethod) != nil {
				t.Error("a subscribed feed has METHOD")
			}
			name := mustText(t, cal.Component, "X-WR-CALNAME")
			if !strings.HasPrefix(name, "Lotse Prüfstadt an der Ruhr") {
				t.Errorf("X-WR-CALNAME = %q", name)
			}
			if tt.filter.District == "nord" && !strings.Contains(name, "Stadtteil Nord") {
				t.Errorf("X-WR-CALNAME = %q, want the district's name", name)
			}
		})
	}
}

func TestSampleFeeds(t *testing.T) {
	kb := mustSample(t)
	now := berlin(t, "2026-10-20 10:00")
	districts := kb.OfKind(knowledge.KindDistrict)
	if len(districts) == 0 {
		t.Fatal("sample has no districts")
	}
	for _, d := range districts {
		t.Run(d.ID, func(t *testing.T) {
			var entries []*knowledge.Entry
			for _, e := range kb.OfKind(knowledge.KindEvent) {
				if e.District == "" || e.District == d.ID {
					entries = append(entries, e)
				}
			}
			b := mustFeed(t, kb, ical.Filter{District: d.ID}, "uk", now)
			compare(t, kb, b, entries, now)
			// Every VEVENT has its own UID, except the moved instances,
			// which share their series' UID by design.
			seen := map[string]bool{}
			for _, ev := range mustParse(t, b).Events() {
				if ev.Props.Get(goical.PropRecurrenceID) != nil {
					continue
				}
				uid := mustText(t, ev.Component, goical.PropUID)
				if seen[uid] {
					t.Errorf("UID %s used twice", uid)
				}
				seen[uid] = true
			}
		})
	}
}

func TestCalendarProperties(t *testing.T) {
	kb := mustSample(t)
	now := time.Date(2026, 10, 20, 8, 30, 0, 0, time.UTC)
	for _, id := range []string{"integrationskonferenz-mitte", "cafe-grenzenlos-nord-treff"} {
		b := mustEvent(t, kb, mustEntry(t, kb, id), "en", now)
		if bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
			t.Errorf("%s: line ending other than CRLF", id)
		}
		for _, l := range strings.Split(string(b), "\r\n") {
			if len(l) > 75 {
				t.Errorf("%s: %d octets in %q", id, len(l), l)
			}
		}
		cal := mustParse(t, b)
		for prop, want := range map[string]string{
			goical.PropVersion:       "2.0",
			goical.PropProductID:     ical.ProdID,
			goical.PropCalendarScale: "GREGORIAN",
			goical.PropMethod:        "PUBLISH",
		} {
			if p := cal.Props.Get(prop); p == nil || p.Value != want {
				t.Errorf("%s: %s = %v, want %q", id, prop, p, want)
			}
		}
		for _, ev := range cal.Events() {
			if p := ev.Props.Get(goical.PropDateTimeStamp); p == nil || p.Value != "20261020T083000Z" {
				t.Errorf("%s: DTSTAMP = %v, want now in UTC", id, p)
			}
		}
	}
}

func TestEventTexts(t *testing.T) {
	kb := mustRich(t, "Europe/Berlin")
	now := berlin(t, "2026-09-01 00:00")
	tests := []struct {
		id, lang                         string
		summary, location, geo, url      string
		descContains, descLacks, firstID string
	}{
		{
			id: "tag-sued", lang: "en",
			summary:      "South day (Tag Süd)",
			location:     "Stadtteil Nord", // the venue's German name; it has no address
			url:          "https://example.org/tag-sued?x=1&y=2",
			descContains: "Two sessions on one day.\n\nRegistration: https://example.org/tag-sued?x=1&y=2",
			firstID:      "tag-sued.d20270328@pruefstadt-an-der-ruhr.lotse.invalid",
		},
		{
			id: "tag-sued", lang: "de",
			summary:      "Tag Süd",
			location:     "Stadtteil Nord",
			url:          "https://example.org/tag-sued?x=1&y=2",
			descContains: "Anmeldung: https://example.org/tag-sued",
			firstID:      "tag-sued.d20270328@pruefstadt-an-der-ruhr.lotse.invalid",
		},
		{
			// No title in Arabic: the German name alone.
			id: "treff-nord", lang: "de",
			summary:      "Treff Nord",
			location:     "Hauptstraße 1, 47101 Prüfstadt",
			geo:          "51.5;6.75",
			descContains: "Treff; mit Komma, Backslash \\ und Zeilen.",
			descLacks:    "Anmeldung",
			firstID:      "treff-nord.w1@pruefstadt-an-der-ruhr.lotse.invalid",
		},
		{
			id: "treff-nord", lang: "ar",
			summary:      "Treff Nord",
			location:     "Hauptstraße 1, 47101 Prüfstadt",
			geo:          "51.5;6.75",
			descContains: "with comma, backslash \\ and lines.", // knowledge falls back to English for non-German readers
			descLacks:    "Registration",
			firstID:      "treff-nord.w1@pruefstadt-an-der-ruhr.lotse.invalid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.lang, func(t *testing.T) {
			evs := mustParse(t, mustEvent(t, kb, mustEntry(t, kb, tt.id), tt.lang, now)).Events()
			if len(evs) == 0 {
				t.Fatal("no VEVENT")
			}
			ev := evs[0]
			if got := mustText(t, ev.Component, goical.PropUID); got != tt.firstID {
				t.Errorf("UID = %q, want %q", got, tt.firstID)
			}
			if got := mustText(t, ev.Component, goical.PropSummary); got != tt.summary {
				t.Errorf("SUMMARY = %q, want %q", got, tt.summary)
			}
			if got := mustText(t, ev.Component, goical.PropLocation); got != tt.location {
				t.Errorf("LOCATION = %q, want %q", got, tt.location)
			}
			desc := mustText(t, ev.Component, goical.PropDescription)
			if !strings.Contains(desc, tt.descContains) || tt.descLacks != "" && strings.Contains(desc, tt.descLacks) {
				t.Errorf("DESCRIPTION = %q, want it to contain %q and not %q", desc, tt.descContains, tt.descLacks)
			}
			var geo, url string
			if p := ev.Props.Get(goical.PropGeo); p != nil {
				geo = p.Value
			}
			if p := ev.Props.Get(goical.PropURL); p != nil {
				url = p.Value
			}
			if geo != tt.geo || url != tt.url {
				t.Errorf("GEO, URL = %q, %q; want %q, %q", geo, url, tt.geo, tt.url)
			}
		})
	}
	// The second date on the same day gets its own, equally stable UID,
	// and the note of a changed date leads its description.
	evs := mustParse(t, mustEvent(t, kb, mustEntry(t, kb, "tag-sued"), "de", now)).Events()
	if len(evs) != 2 || mustText(t, evs[1].Component, goical.PropUID) != "tag-sued.d20270328-2@pruefstadt-an-der-ruhr.lotse.invalid" {
		t.Errorf("second date on one day: %d events", len(evs))
	}
	for _, ev := range mustParse(t, mustEvent(t, kb, mustEntry(t, kb, "treff-nord"), "en", now)).Events() {
		if p := ev.Props.Get(goical.PropRecurrenceID); p != nil && p.Value == "20261111T100000" {
			if d := mustText(t, ev.Component, goical.PropDescription); !strings.HasPrefix(d, "Moved.\n\n") {
				t.Errorf("moved date's DESCRIPTION = %q, want the note first", d)
			}
		}
	}
}

// TestCancelledDate checks an entry built in code with a cancelled
// one-off date (the YAML format has none yet): it stays in the file,
// marked cancelled, so that calendars that imported it show it as such.
func TestCancelledDate(t *testing.T) {
	kb := mustSample(t)
	now := berlin(t, "2026-10-20 10:00")
	e := &knowledge.Entry{
		ID: "abgesagt", Kind: knowledge.KindEvent, NameDE: "Abgesagt",
		Summary: knowledge.Text{"de": "Fällt aus.", "en": "Cancelled."},
		Event: &knowledge.Event{Dates: []knowledge.Occurrence{
			{Start: berlin(t, "2026-11-02 10:00"), End: berlin(t, "2026-11-02 11:00"), Cancelled: true},
			{Start: berlin(t, "2026-11-09 10:00"), End: berlin(t, "2026-11-09 11:00")},
		}},
	}
	b := mustEvent(t, kb, e, "de", now)
	compare(t, kb, b, []*knowledge.Entry{e}, now)
	var status []string
	for _, ev := range mustParse(t, b).Events() {
		st, err := ev.Status()
		if err != nil {
			t.Fatal(err)
		}
		status = append(status, string(st))
	}
	if !slices.Equal(status, []string{"CANCELLED", ""}) {
		t.Errorf("STATUS = %q, want the first date cancelled", status)
	}
}

// TestStableAcrossTime checks that only DTSTAMP depends on the clock, so
// that a re-import or a refreshed feed updates the same events.
func TestStableAcrossTime(t *testing.T) {
	kb := mustSample(t)
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.Split(string(b), "\r\n") {
			if !strings.HasPrefix(l, "DTSTAMP:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\r\n")
	}
	a, b := berlin(t, "2026-10-20 10:00"), berlin(t, "2027-02-03 17:45")
	for _, e := range kb.OfKind(knowledge.KindEvent) {
		if strip(mustEvent(t, kb, e, "fa", a)) != strip(mustEvent(t, kb, e, "fa", b)) {
			t.Errorf("%s: output depends on the clock beyond DTSTAMP", e.ID)
		}
	}
}

func TestTimeZoneMatchesGo(t *testing.T) {
	for _, zone := range []string{"Europe/Berlin", "Europe/London", "Europe/Helsinki", "Asia/Tokyo"} {
		t.Run(zone, func(t *testing.T) {
			kb := mustRich(t, zone)
			loc := kb.Location()
			cal := mustParse(t, mustFeed(t, kb, ical.Filter{}, "de", berlin(t, "2026-10-20 10:00")))
			var tz *goical.Component
			for _, c := range cal.Children {
				if c.Name == goical.CompTimezone {
					tz = c
				}
			}
			if tz == nil || mustText(t, tz, goical.PropTimezoneID) != zone {
				t.Fatalf("no VTIMEZONE %s", zone)
			}
			// The onsets of the VTIMEZONE's observances from 2025 to 2040,
			// as instants, with the offset each puts in force.
			type onset struct {
				at  time.Time
				off int
			}
			var onsets []onset
			for _, o := range tz.Children {
				from := mustOffset(t, o, goical.PropTimezoneOffsetFrom)
				to := mustOffset(t, o, goical.PropTimezoneOffsetTo)
				// DTSTART is local time in the offset before the onset.
				local, err := o.Props.DateTime(goical.PropDateTimeStart, time.UTC)
				if err != nil {
					t.Fatal(err)
				}
				locals := []time.Time{local}
				if o.Props.Get(goical.PropRecurrenceRule) != nil {
					set, err := o.RecurrenceSet(time.UTC)
					if err != nil {
						t.Fatal(err)
					}
					locals = set.Between(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2041, 1, 1, 0, 0, 0, 0, time.UTC), true)
				}
				for _, l := range locals {
					onsets = append(onsets, onset{l.Add(-time.Duration(from) * time.Second), to})
				}
			}
			slices.SortFunc(onsets, func(a, b onset) int { return a.at.Compare(b.at) })
			offsetAt := func(at time.Time) int {
				off := 0
				for _, o := range onsets {
					if o.at.After(at) {
						break
					}
					off = o.off
				}
				return off
			}
			for at := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC); at.Year() < 2040; at = at.Add(time.Hour) {
				_, want := at.In(loc).Zone()
				if got := offsetAt(at); got != want {
					t.Fatalf("at %s: VTIMEZONE says %+d s, Go %+d s", at, got, want)
				}
				// Check the hours around the changes and a sample of the
				// rest, to keep the test quick.
				if m := at.Month(); m != time.March && m != time.October {
					at = at.Add(23 * time.Hour)
				}
			}
		})
	}
}

func mustOffset(t *testing.T, c *goical.Component, prop string) int {
	t.Helper()
	p := c.Props.Get(prop)
	if p == nil {
		t.Fatalf("no %s", prop)
	}
	tm, err := time.Parse("-0700", p.Value)
	if err != nil {
		t.Fatalf("%s %q: %v", prop, p.Value, err)
	}
	_, off := tm.Zone()
	return off
}

func TestErrors(t *testing.T) {
	kb := mustSample(t)
	now := berlin(t, "2026-10-20 10:00")
	if _, err := ical.Event(kb, mustEntry(t, kb, "nord"), "de", now); !errors.Is(err, ical.ErrNotEvent) {
		t.Errorf("Event(district) error = %v, want ErrNotEvent", err)
	}
	if _, err := ical.Event(kb, nil, "de", now); !errors.Is(err, ical.ErrNotEvent) {
		t.Errorf("Event(nil) error = %v, want ErrNotEvent", err)
	}
	for _, d := range []string{"atlantis", "runder-tisch-nord", "qm-nord"} {
		if _, err := ical.Feed(kb, ical.Filter{District: d}, "de", now); !errors.Is(err, ical.ErrUnknownDistrict) {
			t.Errorf("Feed(%s) error = %v, want ErrUnknownDistrict", d, err)
		}
	}
	if _, err := ical.Feed(kb, ical.Filter{District: "nord", Audience: "tourists"}, "de", now); !errors.Is(err, ical.ErrBadAudience) {
		t.Errorf("Feed(audience tourists) error = %v, want ErrBadAudience", err)
	}
	// North America changes its clocks on other Sundays: writing the EU
	// rule would put events an hour off for weeks.
	us := mustRich(t, "America/New_York")
	if _, err := ical.Event(us, mustEntry(t, us, "treff-nord"), "de", now); !errors.Is(err, ical.ErrTimeZone) {
		t.Errorf("Event in America/New_York error = %v, want ErrTimeZone", err)
	}
	if _, err := ical.Feed(us, ical.Filter{}, "de", now); !errors.Is(err, ical.ErrTimeZone) {
		t.Errorf("Feed in America/New_York error = %v, want ErrTimeZone", err)
	}
}

func BenchmarkFeed(b *testing.B) {
	kb := mustSample(b)
	now := berlin(b, "2026-10-20 10:00")
	for b.Loop() {
		if _, err := ical.Feed(kb, ical.Filter{District: "nord"}, "ar", now); err != nil {
			b.Fatal(err)
		}
	}
}
