package monitor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// DefaultThreshold is the smallest count a report shows; smaller counts
// (except zero) are hidden so that no person can be singled out.
const DefaultThreshold = 5

// Area is a field of action of the municipal monitoring report ("auf
// Basis einheitlicher Indikatoren") and the knowledge base topics it
// covers.
type Area struct {
	ID, Name string
	// Short is the name in chart legends.
	Short  string
	Topics []string
}

// Areas map the knowledge base's topics onto the monitoring report's
// fields of action. Residence status sits with safety and order because
// the immigration office is part of the Ordnungsverwaltung; family and
// children with language and education because its questions are about
// day care and school places; health with the social structures.
var Areas = []Area{
	{ID: "wohnen", Name: "Wohnen", Short: "Wohnen", Topics: []string{"housing"}},
	{ID: "bildung", Name: "Sprache und Bildung", Short: "Sprache/Bildung", Topics: []string{"language", "family"}},
	{ID: "ordnung", Name: "Sicherheit und Ordnung", Short: "Sicherheit/Ordnung", Topics: []string{"safety", "residence"}},
	{ID: "arbeit", Name: "Arbeitsmarkt", Short: "Arbeitsmarkt", Topics: []string{"work"}},
	{ID: "soziales", Name: "Soziale und kulturelle Strukturen", Short: "Soziales/Kultur", Topics: []string{"social", "health"}},
}

// OtherArea collects questions without a topic or with a topic no Area
// lists.
var OtherArea = Area{ID: "sonstige", Name: "Ohne Zuordnung", Short: "Ohne Zuordnung"}

// AreaOf returns the id of the area of topic.
func AreaOf(topic string) string {
	for _, a := range Areas {
		for _, t := range a.Topics {
			if t == topic {
				return a.ID
			}
		}
	}
	return OtherArea.ID
}

// noDistrict stands for "district unknown" in the grid, where "" means
// "all districts".
const noDistrict = "none"

// Cell is one figure of a report. Hidden figures must never be shown as
// N: a small one as "<threshold", a Secondary one (hidden only so that a
// small one cannot be computed from totals, so N >= threshold) as
// "verdeckt"; charts leave both out.
type Cell struct {
	N                 int64
	Hidden, Secondary bool
}

// Item is a labelled figure.
type Item struct {
	// Key is the machine name (district id, area id, language code, ...).
	Key string
	// Label is the German name shown to people.
	Label string
	Cell
}

// Step is one step of the time series (a day, ISO week or month).
type Step struct {
	Label string
	Start time.Time
	// ByArea has one cell per Areas entry, then OtherArea.
	ByArea []Cell
}

// TicketLine is one ticket step (opened, claimed, ...) with its breakdown.
type TicketLine struct {
	Kind, Label string
	Total       Cell
	// ByDistrict is empty in a district's report.
	ByDistrict []Item
}

// Wait summarises a wait histogram. Median and P90 are upper bucket
// bounds ("at most"); a zero bound means "longer than the last bucket".
// Hidden is true if fewer waits than the threshold were counted.
type Wait struct {
	Hidden      bool
	Median, P90 time.Duration
}

// Report is what a coordinator sees for one period and district. Build
// makes it; WriteText, WriteCSV and WritePNG render it.
type Report struct {
	Period Period
	// District is the district id, "" for the whole city; DistrictName its
	// German name.
	District, DistrictName string
	Threshold              int64
	// Questions is the number of questions; Unanswered those the
	// knowledge base could not answer.
	Questions, Unanswered Cell
	// ByArea lists every area (Areas, then OtherArea); ByLanguage and
	// ByDistrict the languages and districts with questions.
	ByArea, ByLanguage, ByDistrict []Item
	// Series is the time series of questions by area; its step is a day
	// for periods up to 14 days, an ISO week up to 26 weeks, else a month.
	Series []Step
	// Tickets has one line per TicketKinds entry; Outcomes the outcome
	// categories of closed tickets.
	Tickets  []TicketLine
	Outcomes []Item
	// FirstAnswer and Close summarise the waits for a first answer and
	// for closing.
	FirstAnswer, Close Wait
	// CityWide is true for a report on the whole city: only it carries
	// the figures that have no district (active users, reminders,
	// broadcasts).
	CityWide bool
	// ActiveWeeks and ActiveMonths are the distinct active users per ISO
	// week and month overlapping the period.
	ActiveWeeks, ActiveMonths []Item
	// Reminders is the number of event reminders sent.
	Reminders Cell
	// Broadcast is the reach of broadcasts: delivered, blocked, failed.
	Broadcast []Item
}

// Build computes the report of period for district ("" for the whole
// city) from f, hiding counts below threshold (DefaultThreshold if
// threshold < 1) by the rules in protect.go. kb supplies district names
// and may be nil. Days of f outside period are ignored.
//
// Every measure is built as one table over the districts and its other
// dimensions with all margins, and suppressed as a whole; the district
// and city-wide reports are cut from the same tables, so subtracting
// one's totals from the other's reveals no hidden cell. Ticket steps are
// separate measures (one ticket is opened, then closed), so no total of
// all steps is published.
func Build(f Figures, kb *knowledge.KB, period Period, district string, threshold int) Report {
	if threshold < 1 {
		threshold = DefaultThreshold
	}
	thr := int64(threshold)
	r := Report{Period: period, District: district, Threshold: thr, CityWide: district == ""}
	r.DistrictName = districtName(kb, district)

	days := daysOf(f, period)
	steps := timeSteps(period)
	stepOf := func(d time.Time) string {
		for i := len(steps) - 1; i >= 0; i-- {
			if !d.Before(steps[i].Start) {
				return steps[i].Label
			}
		}
		return steps[0].Label
	}

	// Collect the dimension values seen, districts first.
	districts := map[string]bool{}
	langs := map[string]bool{}
	outcomes := map[string]bool{}
	for _, d := range days {
		for k := range d.Questions {
			districts[orNone(k.District)] = true
			langs[orUnknown(k.Lang)] = true
		}
		for k := range d.Tickets {
			districts[orNone(k.District)] = true
			if k.Outcome != "" {
				outcomes[k.Outcome] = true
			}
		}
	}
	dAxis := axis{"d", sortedDistricts(kb, districts)}
	areaIDs := make([]string, 0, len(Areas)+1)
	for _, a := range Areas {
		areaIDs = append(areaIDs, a.ID)
	}
	areaIDs = append(areaIDs, OtherArea.ID)
	aAxis := axis{"a", areaIDs}
	stepLabels := make([]string, len(steps))
	for i, s := range steps {
		stepLabels[i] = s.Label
	}
	tAxis := axis{"t", stepLabels}
	lAxis := axis{"l", sortedKeys(langs)}
	ansAxis := axis{"x", []string{"ja", "nein"}}
	oAxis := axis{"o", sortedKeys(outcomes)}

	// Records per cube.
	var qArea, qLang, qAns []record
	tArea := map[string][]record{}
	var tOut []record
	for _, d := range days {
		step := stepOf(d.Date)
		for k, n := range d.Questions {
			dist := orNone(k.District)
			qArea = append(qArea, record{[]string{step, dist, AreaOf(k.Topic)}, n})
			qLang = append(qLang, record{[]string{dist, orUnknown(k.Lang)}, n})
			ans := "nein"
			if k.Answered {
				ans = "ja"
			}
			qAns = append(qAns, record{[]string{dist, ans}, n})
		}
		for k, n := range d.Tickets {
			dist := orNone(k.District)
			tArea[k.Kind] = append(tArea[k.Kind], record{[]string{dist, AreaOf(k.Topic)}, n})
			if k.Kind == TicketClosed && k.Outcome != "" {
				tOut = append(tOut, record{[]string{dist, k.Outcome}, n})
			}
		}
	}
	g := newGrid()
	g.addCube("q", []axis{tAxis, dAxis, aAxis}, qArea)
	g.addCube("q", []axis{dAxis, lAxis}, qLang)
	g.addCube("q", []axis{dAxis, ansAxis}, qAns)
	for _, kind := range TicketKinds {
		g.addCube("t."+kind, []axis{dAxis, aAxis}, tArea[kind])
	}
	// Closed tickets without an outcome count in the margin only: the
	// outcome line then is "closed = sum of outcomes + unrecorded", so
	// it gets a part of its own.
	oAxisAll := oAxis
	oAxisAll.values = append(append([]string(nil), oAxis.values...), "-")
	g.addCube("t."+TicketClosed, []axis{dAxis, oAxisAll}, withUnrecorded(tOut, tArea[TicketClosed]))
	var city []record
	if r.CityWide {
		var del, blk, fail, rem int64
		for _, d := range days {
			del, blk, fail, rem = del+d.Delivered, blk+d.Blocked, fail+d.Failed, rem+d.Reminders
		}
		city = []record{{[]string{"delivered"}, del}, {[]string{"blocked"}, blk}, {[]string{"failed"}, fail}}
		g.addCube("b", []axis{{"r", []string{"delivered", "blocked", "failed"}}}, city)
		g.cell("rem", rem)
		for _, a := range f.Weeks {
			if containsPeriod(period, a.Period) {
				g.cell("au|w="+a.Period, a.Users)
			}
		}
		for _, a := range f.Months {
			if containsPeriod(period, a.Period) {
				g.cell("au|m="+a.Period, a.Users)
			}
		}
	}
	g.protect(thr)

	// Cut the report out of the grid.
	dsel := orNone(district)
	if r.CityWide {
		dsel = ""
	}
	r.Questions = g.get(cellKey("q", "d", dsel))
	r.Unanswered = g.get(cellKey("q", "d", dsel, "x", "nein"))
	for _, a := range append(append([]Area(nil), Areas...), OtherArea) {
		r.ByArea = append(r.ByArea, Item{Key: a.ID, Label: a.Name, Cell: g.get(cellKey("q", "d", dsel, "a", a.ID))})
	}
	for _, l := range lAxis.values {
		if c := g.get(cellKey("q", "d", dsel, "l", l)); c.N > 0 {
			r.ByLanguage = append(r.ByLanguage, Item{Key: l, Label: languageName(l), Cell: c})
		}
	}
	if r.CityWide {
		for _, d := range dAxis.values {
			if c := g.get(cellKey("q", "d", d)); c.N > 0 {
				r.ByDistrict = append(r.ByDistrict, Item{Key: d, Label: districtName(kb, d), Cell: c})
			}
		}
	}
	for _, s := range steps {
		b := Step{Label: s.Label, Start: s.Start}
		for _, a := range aAxis.values {
			b.ByArea = append(b.ByArea, g.get(cellKey("q", "t", s.Label, "d", dsel, "a", a)))
		}
		r.Series = append(r.Series, b)
	}
	for _, kind := range TicketKinds {
		m := "t." + kind
		tl := TicketLine{Kind: kind, Label: ticketLabels[kind], Total: g.get(cellKey(m, "d", dsel))}
		if r.CityWide {
			for _, d := range dAxis.values {
				tl.ByDistrict = append(tl.ByDistrict, Item{Key: d, Label: districtName(kb, d), Cell: g.get(cellKey(m, "d", d))})
			}
		}
		r.Tickets = append(r.Tickets, tl)
	}
	for _, o := range oAxisAll.values {
		if c := g.get(cellKey("t."+TicketClosed, "d", dsel, "o", o)); c.N > 0 {
			label := o
			if o == "-" {
				label = "ohne Angabe"
			}
			r.Outcomes = append(r.Outcomes, Item{Key: o, Label: label, Cell: c})
		}
	}
	r.FirstAnswer = waitOf(days, district, r.CityWide, thr, func(d Day) map[string]Histogram { return d.FirstAnswer })
	r.Close = waitOf(days, district, r.CityWide, thr, func(d Day) map[string]Histogram { return d.Close })
	if r.CityWide {
		for _, a := range f.Weeks {
			if containsPeriod(period, a.Period) {
				r.ActiveWeeks = append(r.ActiveWeeks, Item{Key: a.Period, Label: weekLabel(a.Period), Cell: g.get("au|w=" + a.Period)})
			}
		}
		for _, a := range f.Months {
			if containsPeriod(period, a.Period) {
				r.ActiveMonths = append(r.ActiveMonths, Item{Key: a.Period, Label: monthLabel(a.Period), Cell: g.get("au|m=" + a.Period)})
			}
		}
		r.Reminders = g.get("rem")
		for _, rec := range city {
			r.Broadcast = append(r.Broadcast, Item{Key: rec.coord[0], Label: broadcastLabels[rec.coord[0]], Cell: g.get(cellKey("b", "r", rec.coord[0]))})
		}
	}
	return r
}

// withUnrecorded adds, per district, the closed tickets without an
// outcome as outcome "-", so the outcome line adds up to all closed.
func withUnrecorded(outs, closed []record) []record {
	withOutcome := map[string]int64{}
	for _, o := range outs {
		withOutcome[o.coord[0]] += o.n
	}
	all := map[string]int64{}
	for _, c := range closed {
		all[c.coord[0]] += c.n
	}
	res := append([]record(nil), outs...)
	for _, d := range sortedKeys(boolKeys(all)) {
		if n := all[d] - withOutcome[d]; n > 0 {
			res = append(res, record{[]string{d, "-"}, n})
		}
	}
	return res
}

func boolKeys(m map[string]int64) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// waitOf summarises the wait histograms of district (all districts for
// a city-wide report).
func waitOf(days []Day, district string, all bool, thr int64, pick func(Day) map[string]Histogram) Wait {
	var h Histogram
	for _, d := range days {
		for dist, hd := range pick(d) {
			if all || dist == district {
				for i := range h {
					h[i] += hd[i]
				}
			}
		}
	}
	if h.Total() < thr {
		return Wait{Hidden: true}
	}
	med, _ := h.Quantile(0.5)
	p90, _ := h.Quantile(0.9)
	return Wait{Median: med, P90: p90}
}

var broadcastLabels = map[string]string{"delivered": "zugestellt", "blocked": "blockiert", "failed": "fehlgeschlagen"}

var ticketLabels = map[string]string{
	TicketOpened:    "eröffnet",
	TicketClaimed:   "übernommen",
	TicketAnswered:  "beantwortet",
	TicketEscalated: "eskaliert",
	TicketClosed:    "abgeschlossen",
}

// timeSteps divides period into days (up to 14 days), ISO weeks (up to
// 26 weeks) or months. Daily steps over a month would be mostly small
// counts, and hiding them would hide the month's totals too.
func timeSteps(p Period) []Step {
	var out []Step
	n := p.Days()
	for d := p.From; !d.After(p.To) && len(out) <= MaxPeriodDays; d = d.AddDate(0, 0, 1) {
		var label string
		switch {
		case n <= 14:
			label = d.Format("02.01.")
		case n <= 26*7:
			_, w := d.ISOWeek()
			label = fmt.Sprintf("KW %02d", w)
		default:
			label = d.Format("01/2006")
		}
		if len(out) == 0 || out[len(out)-1].Label != label {
			out = append(out, Step{Label: label, Start: d})
		}
	}
	return out
}

// daysOf returns the days of f within p.
func daysOf(f Figures, p Period) []Day {
	var out []Day
	lo, hi := DayKey(p.From), DayKey(p.To)
	for _, d := range f.Days {
		if k := DayKey(d.Date.In(p.From.Location())); k >= lo && k <= hi {
			out = append(out, d)
		}
	}
	return out
}

// containsPeriod reports whether the week or month key overlaps p.
func containsPeriod(p Period, key string) bool {
	weeks, months := PeriodsIn([]time.Time{p.From, p.To})
	if strings.Contains(key, "-W") {
		return key >= weeks[0] && key <= weeks[len(weeks)-1]
	}
	return key >= months[0] && key <= months[len(months)-1]
}

func orNone(d string) string {
	if d == "" {
		return noDistrict
	}
	return d
}

func orUnknown(l string) string {
	if l == "" {
		return "und"
	}
	return l
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortedDistricts lists the districts of the knowledge base in file order
// (so reports always show every district, even without figures), then
// any other seen in the figures, then "none".
func sortedDistricts(kb *knowledge.KB, seen map[string]bool) []string {
	var out []string
	known := map[string]bool{}
	if kb != nil {
		for _, e := range kb.OfKind(knowledge.KindDistrict) {
			out = append(out, e.ID)
			known[e.ID] = true
		}
	}
	for _, d := range sortedKeys(seen) {
		if !known[d] && d != noDistrict {
			out = append(out, d)
		}
	}
	return append(out, noDistrict)
}

// districtName returns the German name of a district id.
func districtName(kb *knowledge.KB, id string) string {
	switch id {
	case "":
		return "ganze Stadt"
	case noDistrict:
		return "Stadtteil unbekannt"
	}
	if kb != nil {
		if e, ok := kb.Entry(id); ok && e.Kind == knowledge.KindDistrict {
			return e.NameDE
		}
	}
	return id
}

// FindDistrict returns the id of the district s names: its id or its
// German name, in any case. ok is false if kb has no such district.
func FindDistrict(kb *knowledge.KB, s string) (id string, ok bool) {
	s = strings.TrimSpace(s)
	if kb == nil || s == "" {
		return "", false
	}
	for _, e := range kb.OfKind(knowledge.KindDistrict) {
		if strings.EqualFold(e.ID, s) || strings.EqualFold(e.NameDE, s) {
			return e.ID, true
		}
	}
	return "", false
}

var languageNames = map[string]string{
	"de": "Deutsch", "en": "Englisch", "ar": "Arabisch", "fa": "Persisch (Farsi/Dari)",
	"uk": "Ukrainisch", "ru": "Russisch", "tr": "Türkisch", "fr": "Französisch",
	"und": "unbekannt",
}

func languageName(code string) string {
	if n, ok := languageNames[code]; ok {
		return n
	}
	return code
}

func weekLabel(key string) string {
	y, w, _ := strings.Cut(key, "-W")
	return "KW " + w + "/" + y
}

func monthLabel(key string) string {
	t, err := time.Parse("2006-01", key)
	if err != nil {
		return key
	}
	return germanMonths[t.Month()-1] + " " + t.Format("2006")
}

var germanMonths = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
