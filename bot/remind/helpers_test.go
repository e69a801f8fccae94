package remind_test

import (
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/knowledge"
)

func TestMain(m *testing.M) { bottest.Main(m) }

// testCity has two districts, two topics and events chosen around the end
// of daylight saving time on Sunday 25 October 2026 (03:00 CEST becomes
// 02:00 CET) and its start on Sunday 28 March 2027.
const testCity = `
city:
  name: Teststadt
  state: NW
  timezone: Europe/Berlin
topics:
  - id: social
    name: {de: Soziales, en: Social life}
  - id: language
    name: {de: Sprache, en: Language}
`

const testEntries = `
entries:
  - id: nord
    kind: district
    name_de: Nordstadt
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
  - id: sued
    kind: district
    name_de: Südviertel
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
  - id: cafe-nord
    kind: event
    name_de: Café International Nord
    title: {de: Café International Nord, en: International café North, uk: Міжнародне кафе Північ}
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    district: nord
    topics: [social]
    event:
      audience: [refugees]
      weekly:
        - {days: [mon, wed, fri], from: "15:00", to: "17:00"}
      from: 2026-01-01
      until: 2027-12-31
      cancelled: [2026-10-28]
      changed:
        - {date: 2026-10-30, start: "2026-10-30 18:00", end: "2026-10-30 20:00", note: {de: Später, en: Later today, uk: Пізніше}}
  - id: kurs-sued
    kind: event
    name_de: Sprachtreff Süd
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    district: sued
    topics: [language]
    event:
      audience: [everybody]
      weekly:
        - {days: [sun, tue], from: "10:00", to: "11:30"}
  - id: runder-tisch
    kind: event
    name_de: Runder Tisch Ehrenamt
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    district: sued
    topics: [social]
    event:
      audience: [volunteers]
      dates:
        - {start: "2026-10-25 02:30", end: "2026-10-25 04:00"}
        - {start: "2027-03-28 18:00", end: "2027-03-28 20:00"}
  - id: fest
    kind: event
    name_de: Willkommensfest
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
    topics: [social, language]
    event:
      dates:
        - {start: "2026-10-24 14:00", end: "2026-10-24 22:00"}
        - {start: "2026-10-25 12:00", end: "2026-10-25 16:00"}
  - id: amt
    kind: office
    name_de: Bürgerbüro
    summary: {de: a, en: b}
    last_checked: 2026-01-01
    owner: Amt
`

// mustKB loads the test city with entries.
func mustKB(t testing.TB, entries string) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Load(fstest.MapFS{
		"city.yaml":    {Data: []byte(testCity)},
		"entries.yaml": {Data: []byte(entries)},
	})
	if err != nil {
		t.Fatalf("loading test knowledge base: %v", err)
	}
	return kb
}

// berlin returns a wall-clock time in the test city.
func berlin(t testing.TB, kb *knowledge.KB, y int, m time.Month, d, h, min int) time.Time {
	t.Helper()
	return time.Date(y, m, d, h, min, 0, 0, kb.Location())
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
