package knowledge_test

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// validBase returns the valid test knowledge base as a MapFS, so that a
// test can add or replace one file.
func validBase(t testing.TB) fstest.MapFS {
	t.Helper()
	dir := filepath.Join("testdata", "load", "valid")
	m := fstest.MapFS{}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[de.Name()] = &fstest.MapFile{Data: data}
	}
	return m
}

func withFiles(base fstest.MapFS, files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func mustLoad(t testing.TB, fsys fs.FS) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Load(fsys)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return kb
}

// mustFail loads fsys and returns the LoadError it must produce.
func mustFail(t testing.TB, fsys fs.FS) *knowledge.LoadError {
	t.Helper()
	kb, err := knowledge.Load(fsys)
	if err == nil {
		t.Fatalf("Load succeeded, want problems")
	}
	if kb != nil {
		t.Errorf("Load returned a KB together with an error")
	}
	var le *knowledge.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error is %T (%v), want *LoadError", err, err)
	}
	if len(le.Problems) == 0 {
		t.Fatalf("LoadError without problems")
	}
	return le
}

func mustEntry(t testing.TB, kb *knowledge.KB, id string) *knowledge.Entry {
	t.Helper()
	e, ok := kb.Entry(id)
	if !ok {
		t.Fatalf("no entry %q", id)
	}
	return e
}

func TestLoadValid(t *testing.T) {
	kb := mustLoad(t, validBase(t))
	if kb.Len() != 3 || len(kb.Topics()) != 2 || len(kb.Concepts()) != 1 {
		t.Fatalf("loaded %d entries, %d topics, %d concepts; want 3, 2, 1", kb.Len(), len(kb.Topics()), len(kb.Concepts()))
	}
	if got := kb.Location().String(); got != "Europe/Berlin" {
		t.Errorf("Location = %s", got)
	}
	if kb.City.Name != "Teststadt" || kb.City.State != "NW" || kb.City.StaleAfterDays != 365 {
		t.Errorf("City = %+v", kb.City)
	}
	e := mustEntry(t, kb, "buergeramt")
	if e.Pos != (knowledge.Pos{File: "entries.yaml", Line: 11}) {
		t.Errorf("Pos = %+v, want entries.yaml:11", e.Pos)
	}
	if e.Kind != knowledge.KindOffice || e.NameDE != "Bürgeramt Mitte" || e.Summary["ar"] == "" || e.Title["en"] != "Citizens' office" {
		t.Errorf("entry decoded wrongly: %+v", e)
	}
	if e.Address.Postcode != "47100" || e.Geo == nil || e.Geo.Lat != 51.57 || e.Contact.Email != "buergeramt@example.org" {
		t.Errorf("address/geo/contact decoded wrongly: %+v %+v %+v", e.Address, e.Geo, e.Contact)
	}
	h := e.Hours
	if h == nil || len(h.Weekly) != 2 || h.Weekly[1].From != 14*60 || h.Weekly[1].To != 17*60+30 || !h.ClosedOnHolidays || len(h.Exceptions) != 1 || !h.Exceptions[0].Closed {
		t.Errorf("hours decoded wrongly: %+v", h)
	}
	if want := time.Date(2025, 6, 1, 0, 0, 0, 0, kb.Location()); !e.LastChecked.Equal(want) {
		t.Errorf("LastChecked = %v, want %v", e.LastChecked, want)
	}
	ev := mustEntry(t, kb, "sprachcafe-nord").Event
	if ev == nil || ev.Venue != "buergeramt" || len(ev.Cancelled) != 1 || len(ev.Changed) != 1 || ev.Changed[0].Note["en"] != "Moved." {
		t.Errorf("event decoded wrongly: %+v", ev)
	}
}

func TestLoadBOMAndCRLF(t *testing.T) {
	base := validBase(t)
	for name, f := range base {
		data := bytes.ReplaceAll(f.Data, []byte("\n"), []byte("\r\n"))
		base[name] = &fstest.MapFile{Data: append([]byte("\xEF\xBB\xBF"), data...)}
	}
	kb := mustLoad(t, base)
	if got := mustEntry(t, kb, "buergeramt").Pos.Line; got != 11 {
		t.Errorf("line with BOM and CRLF = %d, want 11", got)
	}
	if got := mustEntry(t, kb, "nord").Summary["de"]; got != "Der Norden der Stadt." {
		t.Errorf("summary = %q", got)
	}
}

func TestLoadIgnoresOtherFiles(t *testing.T) {
	fsys := withFiles(validBase(t), map[string]string{
		"README.md":         "not: [yaml",
		".hidden.yaml":      "not: [yaml",
		"sub/entries.yaml":  "not: [yaml",
		"more.YML":          "entries: []\n",
		"notes.yaml.backup": "garbage",
	})
	mustLoad(t, fsys)
}

// entryHead is a valid entry; cases append fields from line 8 on.
const entryHead = `entries:
  - id: x
    kind: office
    name_de: X
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
`

type want struct {
	file string
	line int
	msg  string // substring of the problem's message
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		base  bool // add the valid base
		want  []want
	}{
		{"unknown field", map[string]string{"x.yaml": entryHead + "    adress: {street: Weg 1}\n"}, true,
			[]want{{"x.yaml", 8, `unknown field "adress" in entry (did you mean "address"?)`}}},
		{"unknown nested field", map[string]string{"x.yaml": entryHead + "    contact: {phone: \"+49 1\", fax: \"123\"}\n"}, true,
			[]want{{"x.yaml", 8, `unknown field "fax" in contact`}}},
		{"unknown top-level key", map[string]string{"x.yaml": "entires: []\n"}, true,
			[]want{{"x.yaml", 1, `unknown top-level key "entires" (did you mean "entries"?)`}}},
		{"wrong type list", map[string]string{"x.yaml": entryHead + "    languages: de\n"}, true,
			[]want{{"x.yaml", 8, "languages: expected a list"}}},
		{"wrong type text", map[string]string{"x.yaml": strings.Replace(entryHead, "owner: Amt", "owner: [a]", 1)}, true,
			[]want{{"x.yaml", 7, "owner: expected text, found a list"}}},
		{"wrong type mapping", map[string]string{"x.yaml": strings.Replace(entryHead, "summary: {de: a, en: b}", "summary: hello", 1)}, true,
			[]want{{"x.yaml", 5, "summary: expected a mapping"}}},
		{"wrong type number", map[string]string{"x.yaml": entryHead + "    geo: {lat: north, lon: 6.7}\n"}, true,
			[]want{{"x.yaml", 8, "geo.lat: expected a number"}}},
		{"wrong type bool", map[string]string{"x.yaml": entryHead + "    hours:\n      appointment_only: yes\n      weekly: []\n"}, true,
			[]want{{"x.yaml", 9, "hours.appointment_only: expected true or false"}}},
		{"time 25:00", map[string]string{"x.yaml": entryHead + "    hours:\n      weekly:\n        - {days: [mon], from: \"25:00\", to: \"26:00\"}\n"}, true,
			[]want{{"x.yaml", 10, `hours.weekly.from: "25:00" is not a time`}, {"x.yaml", 10, `hours.weekly.to: "26:00" is not a time`}}},
		{"from not before to", map[string]string{"x.yaml": entryHead + "    hours:\n      weekly:\n        - {days: [mon], from: \"12:00\", to: \"08:00\"}\n"}, true,
			[]want{{"x.yaml", 10, "from 12:00 is not before to 08:00"}}},
		{"bad day", map[string]string{"x.yaml": entryHead + "    hours:\n      weekly:\n        - {days: [monday], from: \"08:00\", to: \"12:00\"}\n"}, true,
			[]want{{"x.yaml", 10, `"monday" is not a day`}}},
		{"24:00 as from", map[string]string{"x.yaml": entryHead + "    hours:\n      weekly:\n        - {days: [mon], from: \"24:00\", to: \"24:00\"}\n"}, true,
			[]want{{"x.yaml", 10, `hours.weekly.from: "24:00" is not a time`}}},
		{"bad date", map[string]string{"x.yaml": strings.Replace(entryHead, "2026-01-01", "2026-13-01", 1)}, true,
			[]want{{"x.yaml", 6, `last_checked: "2026-13-01" is not a date`}}},
		{"exception closed and hours", map[string]string{"x.yaml": entryHead + "    hours:\n      exceptions:\n        - {date: 2026-12-24, closed: true, from: \"08:00\", to: \"10:00\"}\n"}, true,
			[]want{{"x.yaml", 10, "closed: true together with from/to"}}},
		{"exception twice", map[string]string{"x.yaml": entryHead + "    hours:\n      exceptions:\n        - {date: 2026-12-24, closed: true}\n        - {date: 2026-12-24, closed: true}\n"}, true,
			[]want{{"x.yaml", 11, "2026-12-24 given twice (first on line 10)"}}},
		{"missing name_de", map[string]string{"x.yaml": strings.Replace(entryHead, "    name_de: X\n", "", 1)}, true,
			[]want{{"x.yaml", 2, "entry: missing name_de"}}},
		{"missing several", map[string]string{"x.yaml": "entries:\n  - id: x\n    kind: office\n"}, true,
			[]want{{"x.yaml", 2, "missing name_de"}, {"x.yaml", 2, "missing summary"}, {"x.yaml", 2, "missing last_checked"}, {"x.yaml", 2, "missing owner"}}},
		{"missing summary en", map[string]string{"x.yaml": strings.Replace(entryHead, "{de: a, en: b}", "{de: a, ar: c}", 1)}, true,
			[]want{{"x.yaml", 5, "summary: missing en"}}},
		{"missing summary de", map[string]string{"x.yaml": strings.Replace(entryHead, "{de: a, en: b}", "{en: b}", 1)}, true,
			[]want{{"x.yaml", 5, "summary: missing de"}}},
		{"empty translation", map[string]string{"x.yaml": strings.Replace(entryHead, "{de: a, en: b}", "{de: a, en: b, ar: \"  \"}", 1)}, true,
			[]want{{"x.yaml", 5, "summary.ar: empty text; leave the language out instead"}}},
		{"null translation", map[string]string{"x.yaml": entryHead + "    title:\n      en:\n"}, true,
			[]want{{"x.yaml", 9, "title.en: empty text"}}},
		{"empty required en", map[string]string{"x.yaml": strings.Replace(entryHead, "{de: a, en: b}", "{de: a, en: \"\"}", 1)}, true,
			[]want{{"x.yaml", 5, "summary.en: empty text"}}},
		{"dangling district", map[string]string{"x.yaml": entryHead + "    district: nrod\n"}, true,
			[]want{{"x.yaml", 8, `district: no district with id "nrod" (did you mean "nord"?)`}}},
		{"district is not a district", map[string]string{"x.yaml": entryHead + "    district: buergeramt\n"}, true,
			[]want{{"x.yaml", 8, `"buergeramt" is a office entry, not a district`}}},
		{"dangling topic", map[string]string{"x.yaml": entryHead + "    topics: [housing, hausing]\n"}, true,
			[]want{{"x.yaml", 8, `topics: no topic with id "hausing" (did you mean "housing"?)`}}},
		{"dangling concept", map[string]string{"x.yaml": entryHead + "    concepts: [language-course]\n"}, true,
			[]want{{"x.yaml", 8, `no glossary concept with id "language-course" (did you mean "language_course"?)`}}},
		{"dangling venue", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) + "    event:\n      venue: rathaus\n      dates:\n        - {start: \"2026-12-03 18:00\", end: \"2026-12-03 20:00\"}\n"}, true,
			[]want{{"x.yaml", 9, `event.venue: no entry with id "rathaus"`}}},
		{"duplicate id", map[string]string{"x.yaml": strings.Replace(entryHead, "id: x", "id: buergeramt", 1)}, true,
			[]want{{"x.yaml", 2, `duplicate id "buergeramt" (also used in entries.yaml:11)`}}},
		{"duplicate topic", map[string]string{"x.yaml": "topics:\n  - id: housing\n    name: {de: Wohnen}\n"}, true,
			[]want{{"x.yaml", 2, `duplicate topic id "housing" (also used in topics.yaml:2)`}}},
		{"invalid id", map[string]string{"x.yaml": strings.Replace(entryHead, "id: x", "id: Bürger_Amt", 1)}, true,
			[]want{{"x.yaml", 2, "may contain only lower-case letters"}}},
		{"id too long", map[string]string{"x.yaml": strings.Replace(entryHead, "id: x", "id: "+strings.Repeat("a", 41), 1)}, true,
			[]want{{"x.yaml", 2, "longer than 40 characters"}}},
		{"latitude", map[string]string{"x.yaml": entryHead + "    geo: {lat: 91, lon: 6.7}\n"}, true,
			[]want{{"x.yaml", 8, "geo.lat: 91 is not a latitude"}}},
		{"longitude", map[string]string{"x.yaml": entryHead + "    geo: {lat: 51, lon: -180.5}\n"}, true,
			[]want{{"x.yaml", 8, "geo.lon: -180.5 is not a longitude"}}},
		{"NaN", map[string]string{"x.yaml": entryHead + "    geo: {lat: .nan, lon: .inf}\n"}, true,
			[]want{{"x.yaml", 8, "geo.lat: expected a finite number"}, {"x.yaml", 8, "geo.lon: expected a finite number"}}},
		{"geo missing lon", map[string]string{"x.yaml": entryHead + "    geo: {lat: 51}\n"}, true,
			[]want{{"x.yaml", 8, "geo: missing lon"}}},
		{"bad email", map[string]string{"x.yaml": entryHead + "    contact: {email: \"Amt <amt@example.org>\"}\n"}, true,
			[]want{{"x.yaml", 8, "is not an email address"}}},
		{"bad url", map[string]string{"x.yaml": entryHead + "    contact: {website: \"javascript:alert(1)\"}\n"}, true,
			[]want{{"x.yaml", 8, "must start with https://"}}},
		{"url without host", map[string]string{"x.yaml": entryHead + "    contact: {website: \"https://\"}\n"}, true,
			[]want{{"x.yaml", 8, "has no host name"}}},
		{"bad phone", map[string]string{"x.yaml": entryHead + "    contact: {phone: call us}\n"}, true,
			[]want{{"x.yaml", 8, "is not a phone number"}}},
		{"unknown language", map[string]string{"x.yaml": strings.Replace(entryHead, "{de: a, en: b}", "{de: a, en: b, xx: c}", 1)}, true,
			[]want{{"x.yaml", 5, `"xx" is not an ISO 639 language code`}}},
		{"three-letter language", map[string]string{"x.yaml": strings.Replace(entryHead, "{de: a, en: b}", "{de: a, en: b, deu: c}", 1)}, true,
			[]want{{"x.yaml", 5, `language code "deu": write "de" instead`}}},
		{"upper-case language", map[string]string{"x.yaml": entryHead + "    languages: [de, EN]\n"}, true,
			[]want{{"x.yaml", 8, `language code "EN" must be lower-case`}}},
		{"kurdish is fine, private use is not", map[string]string{"x.yaml": entryHead + "    languages: [kmr, ckb, qaa]\n"}, true,
			[]want{{"x.yaml", 8, `"qaa" is a private-use code`}}},
		{"duplicate city", map[string]string{"x.yaml": "city:\n  name: Zweitstadt\n  state: BY\n"}, true,
			[]want{{"x.yaml", 1, "city defined again (first in city.yaml:2)"}}},
		{"missing city", map[string]string{"x.yaml": entryHead}, false,
			[]want{{"", 0, "no city"}}},
		{"unknown state", map[string]string{"city.yaml": "city:\n  name: A\n  state: XY\n"}, false,
			[]want{{"city.yaml", 3, `city.state: "XY" is not a German state code`}}},
		{"bad timezone", map[string]string{"city.yaml": "city:\n  name: A\n  state: NW\n  timezone: Europe/Bärlin\n"}, false,
			[]want{{"city.yaml", 4, `city.timezone: "Europe/Bärlin" is not a known time zone`}}},
		{"Local timezone", map[string]string{"city.yaml": "city:\n  name: A\n  state: NW\n  timezone: Local\n"}, false,
			[]want{{"city.yaml", 4, `city.timezone: "Local" is not a known time zone`}}},
		{"city missing state", map[string]string{"city.yaml": "city:\n  name: A\n"}, false,
			[]want{{"city.yaml", 2, "city: missing state"}}},
		{"bad kind", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: shop", 1)}, true,
			[]want{{"x.yaml", 3, `kind: "shop" is not a kind`}}},
		{"role on office", map[string]string{"x.yaml": entryHead + "    role: quartiermanager\n"}, true,
			[]want{{"x.yaml", 8, "only person entries have a role"}}},
		{"bad role", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: person", 1) + "    role: boss\n"}, true,
			[]want{{"x.yaml", 8, `role: "boss" is not a role`}}},
		{"bad postcode", map[string]string{"x.yaml": entryHead + "    address: {postcode: \"471\"}\n"}, true,
			[]want{{"x.yaml", 8, `address.postcode: "471" is not a five-digit postcode`}}},
		{"event without dates", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) + "    event:\n      audience: [everybody]\n"}, true,
			[]want{{"x.yaml", 9, "event: no dates"}}},
		{"event without event section", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1)}, true,
			[]want{{"x.yaml", 2, `event "x" has no event: section`}}},
		{"event section on office", map[string]string{"x.yaml": entryHead + "    event:\n      dates:\n        - {start: \"2026-12-03 18:00\", end: \"2026-12-03 20:00\"}\n"}, true,
			[]want{{"x.yaml", 9, "only entries of kind event have event dates"}}},
		{"event end before start", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) + "    event:\n      dates:\n        - {start: \"2026-12-03 18:00\", end: \"2026-12-03 17:00\"}\n"}, true,
			[]want{{"x.yaml", 10, "start is not before end"}}},
		{"event bad datetime", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) + "    event:\n      dates:\n        - {start: \"3.12.2026 18 Uhr\", end: \"2026-12-03 17:00\"}\n"}, true,
			[]want{{"x.yaml", 10, `"3.12.2026 18 Uhr" is not a date and time`}}},
		{"bad audience", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) + "    event:\n      audience: [kids]\n      dates:\n        - {start: \"2026-12-03 18:00\", end: \"2026-12-03 20:00\"}\n"}, true,
			[]want{{"x.yaml", 9, `"kids" is not an audience`}}},
		{"cancelled not a recurrence date", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) +
			"    event:\n      weekly:\n        - {days: [tue], from: \"15:00\", to: \"17:00\"}\n      from: 2026-01-01\n      until: 2026-12-31\n      cancelled: [2026-12-30, 2027-01-05, 2025-12-30]\n"}, true,
			[]want{{"x.yaml", 13, "2026-12-30 is a Wednesday, and the event does not take place on Wednesdays"},
				{"x.yaml", 13, "2027-01-05 is after the recurrence ends (2026-12-31)"},
				{"x.yaml", 13, "2025-12-30 is before the recurrence starts (2026-01-01)"}}},
		{"changed not a recurrence date", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) +
			"    event:\n      weekly:\n        - {days: [tue], from: \"15:00\", to: \"17:00\"}\n      changed:\n        - {date: 2026-12-23, start: \"2026-12-24 15:00\", end: \"2026-12-24 17:00\"}\n"}, true,
			[]want{{"x.yaml", 12, "2026-12-23 is a Wednesday"}}},
		{"changed and cancelled", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) +
			"    event:\n      weekly:\n        - {days: [tue], from: \"15:00\", to: \"17:00\"}\n      cancelled: [2026-12-22]\n      changed:\n        - {date: 2026-12-22, start: \"2026-12-23 15:00\", end: \"2026-12-23 17:00\"}\n"}, true,
			[]want{{"x.yaml", 13, "2026-12-22 is also cancelled (line 11)"}}},
		{"cancelled without weekly", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) +
			"    event:\n      dates:\n        - {start: \"2026-12-03 18:00\", end: \"2026-12-03 20:00\"}\n      cancelled: [2026-12-03]\n"}, true,
			[]want{{"x.yaml", 11, "event.cancelled: only applies to a weekly recurrence"}}},
		{"until before from", map[string]string{"x.yaml": strings.Replace(entryHead, "kind: office", "kind: event", 1) +
			"    event:\n      weekly:\n        - {days: [tue], from: \"15:00\", to: \"17:00\"}\n      from: 2026-05-01\n      until: 2026-04-01\n"}, true,
			[]want{{"x.yaml", 12, "event.until: 2026-04-01 is before from 2026-05-01"}}},
		{"duplicate key", map[string]string{"x.yaml": entryHead + "    owner: Anderes Amt\n"}, true,
			[]want{{"x.yaml", 8, `entry: "owner" given twice (first on line 7)`}}},
		{"null value", map[string]string{"x.yaml": entryHead + "    district:\n"}, true,
			[]want{{"x.yaml", 8, "district: no value"}}},
		{"multi-line name", map[string]string{"x.yaml": strings.Replace(entryHead, "name_de: X", "name_de: |\n      X\n      Y", 1)}, true,
			[]want{{"x.yaml", 4, "name_de: must be on one line"}}},
		{"topic without German name", map[string]string{"x.yaml": "topics:\n  - id: work\n    name: {en: Work}\n"}, true,
			[]want{{"x.yaml", 3, "topic.name: missing de"}}},
		{"glossary without terms", map[string]string{"x.yaml": "glossary:\n  - id: work\n    terms: {}\n"}, true,
			[]want{{"x.yaml", 3, "terms: no terms given"}}},
		{"top level not a mapping", map[string]string{"x.yaml": "- a\n- b\n"}, true,
			[]want{{"x.yaml", 1, "expected a mapping with keys city, topics, glossary, entries"}}},
		{"entries not a list", map[string]string{"x.yaml": "entries: {id: x}\n"}, true,
			[]want{{"x.yaml", 1, "entries: expected a list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			if tt.base {
				fsys = validBase(t)
			}
			le := mustFail(t, withFiles(fsys, tt.files))
			assertProblems(t, le, tt.want)
		})
	}
}

// assertProblems checks that le holds exactly the wanted problems.
func assertProblems(t *testing.T, le *knowledge.LoadError, wants []want) {
	t.Helper()
	used := make([]bool, len(le.Problems))
	for _, w := range wants {
		found := false
		for i, p := range le.Problems {
			if !used[i] && p.File == w.file && p.Line == w.line && strings.Contains(p.Msg, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s:%d: %s", w.file, w.line, w.msg)
		}
	}
	for i, p := range le.Problems {
		if !used[i] {
			t.Errorf("unexpected problem %s", p)
		}
	}
}

func TestLoadBadInput(t *testing.T) {
	big := strings.Repeat("x", knowledge.MaxTextSize+1)
	nested := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		nested += string(i) + ": &" + string(i) + " [" + strings.Repeat("*"+string(i-1)+", ", 8) + "*" + string(i-1) + "]\n"
	}
	tests := []struct {
		name string
		data []byte
		want []want
	}{
		{"malformed YAML", []byte("entries:\n  - id: x\n    name_de: [unclosed\n"),
			[]want{{"x.yaml", 2, "YAML syntax: did not find expected ',' or ']'"}}},
		{"tab indentation", []byte("entries:\n\t- id: x\n"),
			[]want{{"x.yaml", 2, "YAML syntax"}}},
		{"invalid UTF-8", []byte("entries:\n  - id: x\n    name_de: Stra\xdfe\n"),
			[]want{{"x.yaml", 3, "invalid UTF-8"}}},
		{"UTF-16", []byte("\xFF\xFEe\x00n\x00"),
			[]want{{"x.yaml", 1, "file is UTF-16"}}},
		{"empty file", nil,
			[]want{{"x.yaml", 0, "file is empty"}}},
		{"only comments", []byte("# nothing yet\n"),
			[]want{{"x.yaml", 0, "no content"}}},
		{"too long text", []byte(entryHead + "    details: {de: " + big + "}\n"),
			[]want{{"x.yaml", 8, "value is too long"}}},
		{"too large file", bytes.Repeat([]byte("# padding\n"), knowledge.MaxFileSize/10+1),
			[]want{{"x.yaml", 0, "file is too large"}}},
		{"alias", []byte("entries:\n  - &e\n    id: x\n  - *e\n"),
			[]want{{"x.yaml", 4, "YAML aliases (*e) are not supported"}}},
		{"alias bomb", []byte(nested),
			nil}, // many alias problems, checked below
		{"custom tag", []byte(entryHead + "    owner: !!binary aGVsbG8=\n"),
			[]want{{"x.yaml", 8, "YAML tag !!binary is not supported"}}},
		{"two documents", []byte(entryHead + "---\nentries: []\n"),
			[]want{{"x.yaml", 8, "more than one YAML document"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le := mustFail(t, withFiles(validBase(t), map[string]string{"x.yaml": string(tt.data)}))
			if tt.want == nil {
				for _, p := range le.Problems {
					if p.File != "x.yaml" || !strings.Contains(p.Msg, "alias") && !strings.Contains(p.Msg, "more than") {
						t.Errorf("unexpected problem %s", p)
					}
				}
				return
			}
			assertProblems(t, le, tt.want)
		})
	}
}

func TestLoadLeadingDocumentMarker(t *testing.T) {
	mustLoad(t, withFiles(validBase(t), map[string]string{"x.yaml": "# comment\n---\n" + entryHead + "...\n"}))
}

func TestLoadNoFiles(t *testing.T) {
	le := mustFail(t, fstest.MapFS{"README.md": {Data: []byte("hi")}})
	if len(le.Problems) != 1 || !strings.Contains(le.Problems[0].Msg, "no .yaml or .yml files") {
		t.Errorf("problems = %v", le.Problems)
	}
}

func TestLoadDir(t *testing.T) {
	kb, err := knowledge.LoadDir(filepath.Join("testdata", "load", "valid"))
	if err != nil {
		t.Fatal(err)
	}
	if kb.Len() != 3 {
		t.Errorf("Len = %d", kb.Len())
	}
	_, err = knowledge.LoadDir(filepath.Join("testdata", "load", "missing"))
	var le *knowledge.LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "cannot open knowledge base directory") {
		t.Errorf("LoadDir(missing) = %v", err)
	}
}

// TestLoadBrokenGolden loads a base with many problems and compares the
// full report with testdata/load/broken.golden: every problem, in order,
// with file and line. Run with -update to rewrite it after a deliberate
// change.
func TestLoadBrokenGolden(t *testing.T) {
	_, err := knowledge.LoadDir(filepath.Join("testdata", "load", "broken"))
	if err == nil {
		t.Fatal("broken base loaded")
	}
	var buf bytes.Buffer
	if werr := knowledge.WriteProblems(&buf, err); werr != nil {
		t.Fatal(werr)
	}
	golden := filepath.Join("testdata", "load", "broken.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("problems differ from %s (run with -update after checking):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestLoadErrorFormat(t *testing.T) {
	le := &knowledge.LoadError{Problems: []knowledge.Problem{
		{File: "a.yaml", Line: 3, Msg: "x"},
		{File: "b.yaml", Msg: "y"},
		{Msg: "z"},
	}}
	if got, want := le.Error(), "a.yaml:3: x\nb.yaml: y\nz"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	le = mustFail(t, withFiles(validBase(t), map[string]string{
		"b.yaml": entryHead + "    district: nix\n",
		"a.yaml": "entires: []\n",
	}))
	if got := le.Error(); !strings.HasPrefix(got, "a.yaml:1: ") || !strings.Contains(got, "\nb.yaml:8: ") {
		t.Errorf("problems not sorted by file and line:\n%s", got)
	}
}

func TestLiveReloadKeepsOldOnError(t *testing.T) {
	good := mustLoad(t, validBase(t))
	live := knowledge.NewLive(good)
	err := live.Reload(func() (*knowledge.KB, error) {
		return knowledge.Load(withFiles(validBase(t), map[string]string{"x.yaml": "entries: [\n"}))
	})
	var le *knowledge.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Reload error = %v, want *LoadError", err)
	}
	if live.Current() != good {
		t.Fatal("a broken reload replaced the live knowledge base")
	}
	err = live.Reload(func() (*knowledge.KB, error) {
		return knowledge.Load(withFiles(validBase(t), map[string]string{"x.yaml": entryHead}))
	})
	if err != nil {
		t.Fatal(err)
	}
	if live.Current() == good || live.Current().Len() != 4 {
		t.Fatal("a good reload did not replace the live knowledge base")
	}
}

// TestSample checks that the embedded sample of Lotsenstadt loads
// without a single problem.
func TestSample(t *testing.T) {
	kb, err := knowledge.Sample()
	if err != nil {
		var buf bytes.Buffer
		knowledge.WriteProblems(&buf, err)
		t.Fatalf("sample does not load:\n%s", buf.String())
	}
	if !kb.City.Sample || kb.City.Name != "Lotsenstadt" {
		t.Errorf("City = %+v", kb.City)
	}
	for _, k := range []knowledge.Kind{knowledge.KindDistrict, knowledge.KindPerson, knowledge.KindOffice} {
		if len(kb.OfKind(k)) == 0 {
			t.Errorf("sample has no %s entries", k)
		}
	}
}
