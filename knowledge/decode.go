package knowledge

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"
)

// This file turns the YAML node trees into domain values, reporting
// every problem with the line of the node it concerns. It walks nodes by
// hand rather than decoding into structs so that it can report all
// problems at once (not only the first), name unknown fields, and keep a
// line for everything.

// fdec decodes the nodes of one file.
type fdec struct {
	l    *loader
	file string
}

func (d *fdec) errf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.l.add(d.file, line, fmt.Sprintf(format, args...))
}

func (d *fdec) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line} }

// pairs calls f for each key/value of mapping n, reporting a non-mapping,
// non-text keys and keys given twice.
func (d *fdec) pairs(n *yaml.Node, what string, f func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: expected a mapping (key: value), found %s", what, nodeKind(n))
		return false
	}
	// Most mappings have a few keys, where looking back for a repeated
	// key is cheaper than building a map for every mapping.
	var seen map[string]int
	var few [smallMapping]struct {
		key  string
		line int
	}
	nfew := 0
	if len(n.Content) > 2*smallMapping {
		seen = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			d.errf(k, "%s: keys must be plain words, found %s", what, nodeKind(k))
			continue
		}
		first, dup := 0, false
		if seen != nil {
			first, dup = seen[k.Value]
		} else {
			for _, f := range few[:nfew] {
				if f.key == k.Value {
					first, dup = f.line, true
					break
				}
			}
		}
		if dup {
			d.errf(k, "%s: %q given twice (first on line %d)", what, k.Value, first)
			continue
		}
		if seen != nil {
			seen[k.Value] = k.Line
		} else {
			few[nfew].key, few[nfew].line = k.Value, k.Line
			nfew++
		}
		f(k.Value, k, v)
	}
	return true
}

// smallMapping is the number of keys up to which pairs looks for
// repeated keys without a map.
const smallMapping = 24

// fields returns the values of mapping n by key, reporting keys not in
// allowed (with a suggestion for likely typos).
func (d *fdec) fields(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, bool) {
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	ok := d.matchFields(n, what, allowed, func(i int, v *yaml.Node) { m[allowed[i]] = v })
	return m, ok
}

// fieldSet holds the values of the allowed keys of one mapping; unlike
// the map fields returns it needs no allocation, which counts when
// decoding tens of thousands of entries.
type fieldSet struct {
	allowed []string
	vals    [maxFields]*yaml.Node
	n       int // keys present
}

// maxFields is the most keys a fieldSet can hold (entries have 22).
const maxFields = 24

// get returns the value of key, or nil if the mapping does not have it.
func (f *fieldSet) get(key string) *yaml.Node {
	for i, a := range f.allowed {
		if a == key {
			return f.vals[i]
		}
	}
	return nil
}

// fieldsOf is fields for decoding hot paths: the same checks and
// problems, the values in a fieldSet.
func (d *fdec) fieldsOf(n *yaml.Node, what string, allowed ...string) (fieldSet, bool) {
	if len(allowed) > maxFields {
		panic("knowledge: fieldsOf with more than maxFields keys")
	}
	f := fieldSet{allowed: allowed}
	ok := d.matchFields(n, what, allowed, func(i int, v *yaml.Node) {
		f.vals[i] = v
		f.n++
	})
	return f, ok
}

// matchFields calls set with the index in allowed of each key of
// mapping n and its value, reporting keys not in allowed (with a
// suggestion for likely typos).
func (d *fdec) matchFields(n *yaml.Node, what string, allowed []string, set func(i int, v *yaml.Node)) bool {
	return d.pairs(n, what, func(key string, k, v *yaml.Node) {
		for i, a := range allowed {
			if a == key {
				set(i, v)
				return
			}
		}
		msg := fmt.Sprintf("unknown field %q in %s", key, what)
		if s := suggest(key, allowed); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += " (allowed: " + strings.Join(allowed, ", ") + ")"
		}
		d.errf(k, "%s", msg)
	})
}

// require reports each of keys missing from m, at the mapping's line.
func (d *fdec) require(n *yaml.Node, m map[string]*yaml.Node, what string, keys ...string) {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			d.errf(n, "%s: missing %s", what, k)
		}
	}
}

// need is require for a fieldSet.
func (d *fdec) need(n *yaml.Node, f *fieldSet, what string, keys ...string) {
	for _, k := range keys {
		if f.get(k) == nil {
			d.errf(n, "%s: missing %s", what, k)
		}
	}
}

// fieldsAll is fieldsOf for a mapping that must have every one of its
// keys: it also reports each one missing.
func (d *fdec) fieldsAll(n *yaml.Node, what string, keys ...string) (fieldSet, bool) {
	f, ok := d.fieldsOf(n, what, keys...)
	if ok {
		d.need(n, &f, what, keys...)
	}
	return f, ok
}

// checkedWord decodes the single-line text at key, if f has it, and
// reports what check (which returns "" for a good value) finds wrong
// with it. The text is returned even then, so that later checks can
// name it; "" if the key is missing or holds no text.
func (d *fdec) checkedWord(f *fieldSet, key, what string, check func(string) string) string {
	v := f.get(key)
	if v == nil {
		return ""
	}
	s, ok := d.word(v, what)
	if !ok {
		return ""
	}
	if msg := check(s); msg != "" {
		d.errf(v, "%s: %s", what, msg)
	}
	return s
}

// str decodes text: any scalar except null, trimmed, not blank. Numbers
// keep their spelling (a postcode 04109 stays "04109").
func (d *fdec) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errf(n, "%s: expected text, found %s", what, nodeKind(n))
		return "", false
	}
	if n.Tag == "!!null" {
		d.errf(n, "%s: no value; write one or leave the field out", what)
		return "", false
	}
	s := strings.TrimSpace(n.Value)
	if s == "" {
		d.errf(n, "%s: empty; write a value or leave the field out", what)
		return "", false
	}
	return s, true
}

// word decodes single-line text.
func (d *fdec) word(n *yaml.Node, what string) (string, bool) {
	s, ok := d.str(n, what)
	if ok && strings.ContainsAny(s, "\r\n") {
		d.errf(n, "%s: must be on one line", what)
		return "", false
	}
	return s, ok
}

func (d *fdec) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" && n.Style == 0 {
		// The plain spellings, without yaml.v3's reflection.
		switch n.Value {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		d.errf(n, "%s: expected true or false, found %s", what, nodeKind(n))
		return false, false
	}
	return b, true
}

func (d *fdec) integer(n *yaml.Node, what string) (int, bool) {
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		d.errf(n, "%s: expected a whole number, found %s", what, nodeKind(n))
		return 0, false
	}
	return i, true
}

func (d *fdec) number(n *yaml.Node, what string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!float" && n.Style == 0 && isDecimal(n.Value) {
		// Coordinates: yaml.v3 reads these with strconv.ParseFloat too,
		// after a detour through reflection and a regular expression.
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f, true
		}
	}
	var f float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") || n.Decode(&f) != nil {
		d.errf(n, "%s: expected a number, found %s", what, nodeKind(n))
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.errf(n, "%s: expected a finite number, found %s", what, n.Value)
		return 0, false
	}
	return f, true
}

// seq calls f for each item of sequence n.
func (d *fdec) seq(n *yaml.Node, what string, f func(item *yaml.Node)) bool {
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s: expected a list, found %s", what, nodeKind(n))
		return false
	}
	for _, c := range n.Content {
		f(c)
	}
	return true
}

// words decodes a list of single-line texts, reporting repeats.
func (d *fdec) words(n *yaml.Node, what string) []string {
	var out []string
	var seen map[string]bool // for long lists; short ones are searched
	if len(n.Content) > smallMapping {
		seen = map[string]bool{}
	}
	d.seq(n, what, func(c *yaml.Node) {
		s, ok := d.word(c, what)
		if !ok {
			return
		}
		if seen != nil && seen[s] || seen == nil && contains(out, s) {
			d.errf(c, "%s: %q listed twice", what, s)
			return
		}
		if seen != nil {
			seen[s] = true
		}
		out = append(out, s)
	})
	return out
}

// text decodes a map from language code to text.
func (d *fdec) text(n *yaml.Node, what string) Text {
	t := Text{}
	d.pairs(n, what, func(lang string, k, v *yaml.Node) {
		if msg := checkLang(lang); msg != "" {
			d.errf(k, "%s: %s", what, msg)
			return
		}
		if v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || strings.TrimSpace(v.Value) == "") {
			d.errf(v, "%s.%s: empty text; leave the language out instead", what, lang)
			return
		}
		if s, ok := d.str(v, what+"."+lang); ok {
			t[lang] = s
		}
	})
	return t
}

// terms decodes a map from language code to a list of words (keywords,
// glossary terms).
func (d *fdec) terms(n *yaml.Node, what string) map[string][]string {
	out := map[string][]string{}
	d.pairs(n, what, func(lang string, k, v *yaml.Node) {
		if msg := checkLang(lang); msg != "" {
			d.errf(k, "%s: %s", what, msg)
			return
		}
		ws := d.words(v, what+"."+lang)
		if len(ws) > 0 {
			out[lang] = ws
		}
	})
	return out
}

func (d *fdec) date(n *yaml.Node, what string) (time.Time, bool) {
	s, ok := d.word(n, what)
	if !ok {
		return time.Time{}, false
	}
	t, ok := quickDate(s, d.l.loc)
	if !ok || len(s) != 10 {
		var err error
		if t, err = time.ParseInLocation("2006-01-02", s, d.l.loc); err != nil {
			d.errf(n, "%s: %q is not a date; write it as 2026-10-15", what, truncate(s, 40))
			return time.Time{}, false
		}
	}
	return t, true
}

// quickDate reads "2006-01-02" and "2006-01-02 15:04" (or with T), the
// forms dates are written in, the way time.ParseInLocation does; it
// returns false for anything else, which is then left to
// time.ParseInLocation (whose failed attempts allocate an error each).
func quickDate(s string, loc *time.Location) (time.Time, bool) {
	if len(s) != 10 && len(s) != 16 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(s string) int {
		v := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			v = v*10 + int(s[i]-'0')
		}
		return v
	}
	y, m, dd := num(s[:4]), num(s[5:7]), num(s[8:10])
	if y < 0 || m < 1 || m > 12 || dd < 1 || dd > time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	hh, mm := 0, 0
	if len(s) == 16 {
		if s[10] != ' ' && s[10] != 'T' || s[13] != ':' {
			return time.Time{}, false
		}
		hh, mm = num(s[11:13]), num(s[14:16])
		if hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return time.Time{}, false
		}
	}
	return time.Date(y, time.Month(m), dd, hh, mm, 0, 0, loc), true
}

func (d *fdec) dateTime(n *yaml.Node, what string) (time.Time, bool) {
	s, ok := d.word(n, what)
	if !ok {
		return time.Time{}, false
	}
	if t, ok := quickDate(s, d.l.loc); ok && len(s) == 16 {
		return t, true
	}
	for _, layout := range [...]string{"2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, d.l.loc); err == nil {
			return t, true
		}
	}
	d.errf(n, "%s: %q is not a date and time; write it as \"2026-12-03 18:00\"", what, truncate(s, 40))
	return time.Time{}, false
}

// clock decodes a local time of day "HH:MM" into minutes after midnight.
// "24:00" is allowed only as an end.
func (d *fdec) clock(n *yaml.Node, what string, end bool) (int, bool) {
	s, ok := d.word(n, what)
	if !ok {
		return 0, false
	}
	m, ok := parseClock(s, end)
	if !ok {
		d.errf(n, "%s: %q is not a time; write it as 08:30 (00:00 to 23:59, or 24:00 as an end)", what, truncate(s, 40))
	}
	return m, ok
}

func parseClock(s string, end bool) (int, bool) {
	h, mm, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(mm) != 2 {
		return 0, false
	}
	hi, err1 := strconv.Atoi(h)
	mi, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h[0] == '+' || h[0] == '-' || mm[0] == '+' || mm[0] == '-' || mi > 59 {
		return 0, false
	}
	if hi == 24 && mi == 0 && end {
		return 24 * 60, true
	}
	if hi > 23 {
		return 0, false
	}
	return hi*60 + mi, true
}

var dayNames = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

func (d *fdec) days(n *yaml.Node, what string) []time.Weekday {
	var out []time.Weekday
	var seen [7]bool
	d.seq(n, what, func(c *yaml.Node) {
		s, ok := d.word(c, what)
		if !ok {
			return
		}
		wd, ok := dayNames[s]
		if !ok {
			d.errf(c, "%s: %q is not a day; use mon tue wed thu fri sat sun", what, truncate(s, 20))
			return
		}
		if seen[wd] {
			d.errf(c, "%s: %s listed twice", what, s)
			return
		}
		seen[wd] = true
		out = append(out, wd)
	})
	if len(out) == 0 && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errf(n, "%s: no days given", what)
	}
	return out
}

// slot decodes {days, from, to}.
func (d *fdec) slot(n *yaml.Node, what string) (Slot, bool) {
	m, ok := d.fieldsAll(n, what, "days", "from", "to")
	if !ok {
		return Slot{}, false
	}
	var s Slot
	good := m.n == 3
	if v := m.get("days"); v != nil {
		s.Days = d.days(v, what+".days")
		good = good && len(s.Days) > 0
	}
	var okF, okT bool
	if v := m.get("from"); v != nil {
		s.From, okF = d.clock(v, what+".from", false)
	}
	if v := m.get("to"); v != nil {
		s.To, okT = d.clock(v, what+".to", true)
	}
	if okF && okT && s.From >= s.To {
		d.errf(n, "%s: from %s is not before to %s (for hours past midnight, end at 24:00 and continue the next day at 00:00)", what, fmtClock(s.From), fmtClock(s.To))
		good = false
	}
	return s, good && okF && okT
}

// slots decodes a list of slots, leaving out the bad ones.
func (d *fdec) slots(n *yaml.Node, what string) []Slot {
	var out []Slot
	d.seq(n, what, func(c *yaml.Node) {
		if s, ok := d.slot(c, what); ok {
			out = append(out, s)
		}
	})
	return out
}

func fmtClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// decodeAll decodes the parsed files: the city first (its time zone is
// needed for every date), then each file's topics, glossary and entries
// (files in parallel, merged in file order), then the checks that need
// the whole base.
func (l *loader) decodeAll(docs []fileDoc) {
	type part struct {
		d        *fdec
		key, val *yaml.Node
	}
	var cities, routings []part
	perFile := make([][]part, len(docs))
	for i, doc := range docs {
		d := &fdec{l: l, file: doc.name}
		d.pairs(doc.root, "file", func(key string, k, v *yaml.Node) {
			p := part{d, k, v}
			switch key {
			case "city":
				cities = append(cities, p)
			case "routing":
				routings = append(routings, p)
			case "topics", "glossary", "entries":
				perFile[i] = append(perFile[i], p)
			default:
				msg := fmt.Sprintf("unknown top-level key %q (allowed: city, topics, glossary, entries, routing)", key)
				if s := suggest(key, []string{"city", "topics", "glossary", "entries", "routing"}); s != "" {
					msg = fmt.Sprintf("unknown top-level key %q (did you mean %q?)", key, s)
				}
				d.errf(k, "%s", msg)
			}
		})
	}

	l.loc = defaultLocation()
	switch {
	case len(cities) > 0:
		first := cities[0]
		for _, c := range cities[1:] {
			c.d.errf(c.key, "city defined again (first in %s:%d); keep exactly one", first.d.file, first.key.Line)
		}
		first.d.city(first.val)
	case len(docs) > 0:
		l.add("", 0, "no city: exactly one file needs a top-level city: section")
	}

	subs := make([]*loader, len(docs))
	parallel(len(docs), func(i int) {
		sub := &loader{loc: l.loc}
		subs[i] = sub
		d := &fdec{l: sub, file: docs[i].name}
		defer func() {
			// Decoding checks every node it touches; this is a last line
			// of defence so that one bad file cannot crash a live reload.
			if r := recover(); r != nil {
				sub.add(d.file, 0, "internal error while checking this file")
			}
		}()
		for _, p := range perFile[i] {
			switch p.key.Value {
			case "topics":
				d.seq(p.val, "topics", d.topic)
			case "glossary":
				d.seq(p.val, "glossary", d.concept)
			case "entries":
				d.seq(p.val, "entries", func(n *yaml.Node) {
					if e := d.entry(n); e != nil {
						sub.entries = append(sub.entries, e)
					}
				})
			}
		}
	})
	for _, sub := range subs {
		l.problems = append(l.problems, sub.problems...)
		l.topics = append(l.topics, sub.topics...)
		l.concepts = append(l.concepts, sub.concepts...)
		l.entries = append(l.entries, sub.entries...)
		l.refs = append(l.refs, sub.refs...)
	}
	l.crossCheck()
	if len(routings) > 0 {
		first := routings[0]
		for _, r := range routings[1:] {
			r.d.errf(r.key, "routing defined again (first in %s:%d); keep exactly one", first.d.file, first.key.Line)
		}
		l.routingSection(first.d, first.val)
	}
}

// parallel calls f(0) ... f(n-1) on up to GOMAXPROCS goroutines and
// waits for all of them.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

func defaultLocation() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		// Unreachable: time/tzdata is linked in.
		panic("knowledge: no time zone data for Europe/Berlin: " + err.Error())
	}
	return loc
}

func (d *fdec) city(n *yaml.Node) {
	l := d.l
	m, ok := d.fieldsOf(n, "city", "name", "state", "timezone", "sample", "stale_after_days")
	if !ok {
		return
	}
	d.need(n, &m, "city", "name", "state")
	c := City{Timezone: "Europe/Berlin", StaleAfterDays: 365}
	if v := m.get("name"); v != nil {
		c.Name, _ = d.word(v, "city.name")
	}
	if v := m.get("state"); v != nil {
		if s, ok := d.word(v, "city.state"); ok {
			if !ValidState(s) {
				d.errf(v, "city.state: %q is not a German state code; use one of %s", truncate(s, 10), strings.Join(States(), " "))
			} else {
				c.State = s
			}
		}
	}
	if v := m.get("timezone"); v != nil {
		if s, ok := d.word(v, "city.timezone"); ok {
			loc, err := time.LoadLocation(s)
			if err != nil || s == "Local" {
				d.errf(v, "city.timezone: %q is not a known time zone (e.g. Europe/Berlin)", truncate(s, 40))
			} else {
				c.Timezone = s
				l.loc = loc
			}
		}
	}
	if v := m.get("sample"); v != nil {
		c.Sample, _ = d.boolean(v, "city.sample")
	}
	if v := m.get("stale_after_days"); v != nil {
		if days, ok := d.integer(v, "city.stale_after_days"); ok {
			if days < 1 || days > 3650 {
				d.errf(v, "city.stale_after_days: %d is out of range (1 to 3650)", days)
			} else {
				c.StaleAfterDays = days
			}
		}
	}
	l.city = c
	p := d.pos(n)
	l.cityPos = &p
}

func (d *fdec) topic(n *yaml.Node) {
	m, ok := d.fieldsAll(n, "topic", "id", "name")
	if !ok {
		return
	}
	t := Topic{Pos: d.pos(n)}
	t.ID = d.checkedWord(&m, "id", "topic.id", checkTermID)
	if v := m.get("name"); v != nil {
		t.Name = d.text(v, "topic.name")
		if v.Kind == yaml.MappingNode && t.Name["de"] == "" {
			d.errf(v, "topic.name: missing de")
		}
	}
	if t.ID != "" {
		d.l.topics = append(d.l.topics, t)
	}
}

func (d *fdec) concept(n *yaml.Node) {
	m, ok := d.fieldsAll(n, "glossary concept", "id", "terms")
	if !ok {
		return
	}
	c := Concept{Pos: d.pos(n)}
	c.ID = d.checkedWord(&m, "id", "glossary.id", checkTermID)
	if v := m.get("terms"); v != nil {
		c.Terms = d.terms(v, "terms")
		if v.Kind == yaml.MappingNode && len(c.Terms) == 0 {
			d.errf(v, "terms: no terms given")
		}
	}
	if c.ID != "" {
		d.l.concepts = append(d.l.concepts, c)
	}
}

var entryFields = []string{
	"id", "kind", "name_de", "title", "summary", "details", "address", "geo", "hours",
	"contact", "languages", "district", "topics", "keywords", "concepts", "last_checked",
	"owner", "role", "contact_person", "postcodes", "streets", "event",
}

// Roles lists the roles a person entry may have.
var Roles = []string{"quartiermanager", "coordinator", "case_manager", "housing", "school", "volunteer_coordinator"}

func (d *fdec) entry(n *yaml.Node) *Entry {
	m, ok := d.fieldsOf(n, "entry", entryFields...)
	if !ok {
		return nil
	}
	e := &Entry{Pos: d.pos(n)}
	d.need(n, &m, "entry", "id", "kind", "name_de", "summary", "last_checked", "owner")
	e.ID = d.checkedWord(&m, "id", "id", checkEntryID)
	if v := m.get("kind"); v != nil {
		if s, ok := d.word(v, "kind"); ok {
			e.Kind = Kind(s)
			if !validKind(e.Kind) {
				d.errf(v, "kind: %q is not a kind; use one of %s", truncate(s, 20), kindList())
			}
		}
	}
	if v := m.get("name_de"); v != nil {
		e.NameDE, _ = d.word(v, "name_de")
	}
	if v := m.get("title"); v != nil {
		e.Title = d.text(v, "title")
		for lang, s := range e.Title {
			if strings.ContainsAny(s, "\r\n") {
				d.errf(v, "title.%s: must be on one line", lang)
			}
		}
	}
	if v := m.get("summary"); v != nil {
		e.Summary = d.text(v, "summary")
		if v.Kind == yaml.MappingNode {
			for _, lang := range [...]string{"de", "en"} {
				if _, ok := e.Summary[lang]; !ok && !hasKey(v, lang) {
					d.errf(v, "summary: missing %s (German and English are required)", lang)
				}
			}
		}
	}
	if v := m.get("details"); v != nil {
		e.Details = d.text(v, "details")
	}
	if v := m.get("address"); v != nil {
		e.Address = d.address(v)
	}
	if v := m.get("geo"); v != nil {
		e.Geo = d.geo(v, "geo")
	}
	if v := m.get("hours"); v != nil {
		e.Hours = d.hours(v)
	}
	if v := m.get("contact"); v != nil {
		e.Contact = d.contact(v)
	}
	if v := m.get("languages"); v != nil {
		e.Languages = d.words(v, "languages")
		d.checkLangList(v, e.Languages, "languages")
	}
	if v := m.get("district"); v != nil {
		if s, ok := d.word(v, "district"); ok {
			e.District = s
			d.l.refs = append(d.l.refs, ref{pos: d.pos(v), field: "district", id: s, from: e.ID})
		}
	}
	if v := m.get("topics"); v != nil {
		e.Topics = d.words(v, "topics")
		d.addRefs(v, "topics", e.ID)
	}
	if v := m.get("keywords"); v != nil {
		e.Keywords = d.terms(v, "keywords")
	}
	if v := m.get("concepts"); v != nil {
		e.Concepts = d.words(v, "concepts")
		d.addRefs(v, "concepts", e.ID)
	}
	if v := m.get("last_checked"); v != nil {
		e.LastChecked, _ = d.date(v, "last_checked")
	}
	if v := m.get("owner"); v != nil {
		e.Owner, _ = d.word(v, "owner")
	}
	if v := m.get("role"); v != nil {
		if s, ok := d.word(v, "role"); ok {
			e.Role = s
			if !contains(Roles, s) {
				d.errf(v, "role: %q is not a role; use one of %s", truncate(s, 30), strings.Join(Roles, ", "))
			}
			if e.Kind != "" && e.Kind != KindPerson {
				d.errf(v, "role: only person entries have a role")
			}
		}
	}
	if v := m.get("contact_person"); v != nil {
		e.ContactPerson, _ = d.word(v, "contact_person")
	}
	if v := m.get("postcodes"); v != nil {
		e.Postcodes = d.words(v, "postcodes")
		for i, p := range e.Postcodes {
			if !isPostcode(p) {
				d.errf(v.Content[min(i, len(v.Content)-1)], "postcodes: %q is not a five-digit postcode", truncate(p, 10))
			}
		}
		if e.Kind != "" && e.Kind != KindDistrict {
			d.errf(v, "postcodes: only district entries have postcodes")
		}
	}
	if v := m.get("streets"); v != nil {
		e.Streets = d.words(v, "streets")
		if e.Kind != "" && e.Kind != KindDistrict {
			d.errf(v, "streets: only district entries have streets")
		}
	}
	if v := m.get("event"); v != nil {
		if e.Kind != "" && e.Kind != KindEvent {
			d.errf(v, "event: only entries of kind event have event dates")
		}
		e.Event = d.event(v, e.ID)
	} else if e.Kind == KindEvent {
		d.errf(n, "event %q has no event: section with dates", e.ID)
	}
	return e
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (d *fdec) addRefs(n *yaml.Node, field, from string) {
	if n.Kind != yaml.SequenceNode {
		return
	}
	for _, c := range n.Content {
		if c.Kind == yaml.ScalarNode && strings.TrimSpace(c.Value) != "" {
			d.l.refs = append(d.l.refs, ref{pos: d.pos(c), field: field, id: strings.TrimSpace(c.Value), from: from})
		}
	}
}

func (d *fdec) checkLangList(n *yaml.Node, langs []string, what string) {
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			continue
		}
		s := strings.TrimSpace(c.Value)
		if s == "" || !contains(langs, s) {
			continue
		}
		if msg := checkLang(s); msg != "" {
			d.errf(c, "%s: %s", what, msg)
		}
	}
}

func (d *fdec) address(n *yaml.Node) Address {
	var a Address
	m, ok := d.fieldsOf(n, "address", "street", "postcode", "city")
	if !ok {
		return a
	}
	if v := m.get("street"); v != nil {
		a.Street, _ = d.word(v, "address.street")
	}
	if v := m.get("postcode"); v != nil {
		if s, ok := d.word(v, "address.postcode"); ok {
			a.Postcode = s
			if !isPostcode(s) {
				d.errf(v, "address.postcode: %q is not a five-digit postcode (quote it: \"04109\")", truncate(s, 10))
			}
		}
	}
	if v := m.get("city"); v != nil {
		a.City, _ = d.word(v, "address.city")
	}
	return a
}

func (d *fdec) geo(n *yaml.Node, what string) *Point {
	m, ok := d.fieldsAll(n, what, "lat", "lon")
	if !ok {
		return nil
	}
	var p Point
	var okLat, okLon bool
	if v := m.get("lat"); v != nil {
		if p.Lat, okLat = d.number(v, what+".lat"); okLat && (p.Lat < -90 || p.Lat > 90) {
			d.errf(v, "%s.lat: %v is not a latitude (-90 to 90)", what, p.Lat)
			okLat = false
		}
	}
	if v := m.get("lon"); v != nil {
		if p.Lon, okLon = d.number(v, what+".lon"); okLon && (p.Lon < -180 || p.Lon > 180) {
			d.errf(v, "%s.lon: %v is not a longitude (-180 to 180)", what, p.Lon)
			okLon = false
		}
	}
	if !okLat || !okLon {
		return nil
	}
	return &p
}

func (d *fdec) contact(n *yaml.Node) Contact {
	var c Contact
	m, ok := d.fieldsOf(n, "contact", "phone", "email", "website")
	if !ok {
		return c
	}
	c.Phone = d.checkedWord(&m, "phone", "contact.phone", checkPhone)
	c.Email = d.checkedWord(&m, "email", "contact.email", checkEmail)
	c.Website = d.checkedWord(&m, "website", "contact.website", checkURL)
	return c
}

func (d *fdec) hours(n *yaml.Node) *Hours {
	m, ok := d.fieldsOf(n, "hours", "weekly", "appointment_only", "closed_on_holidays", "exceptions", "note")
	if !ok {
		return nil
	}
	h := &Hours{ClosedOnHolidays: true}
	if v := m.get("weekly"); v != nil {
		h.Weekly = d.slots(v, "hours.weekly")
	}
	if v := m.get("appointment_only"); v != nil {
		h.AppointmentOnly, _ = d.boolean(v, "hours.appointment_only")
	}
	if v := m.get("closed_on_holidays"); v != nil {
		if b, ok := d.boolean(v, "hours.closed_on_holidays"); ok {
			h.ClosedOnHolidays = b
		}
	}
	if v := m.get("exceptions"); v != nil {
		seen := map[time.Time]int{}
		d.seq(v, "hours.exceptions", func(c *yaml.Node) {
			x, ok := d.exception(c)
			if !ok {
				return
			}
			if first, dup := seen[x.Date]; dup {
				d.errf(c, "hours.exceptions: %s given twice (first on line %d)", x.Date.Format("2006-01-02"), first)
				return
			}
			seen[x.Date] = c.Line
			h.Exceptions = append(h.Exceptions, x)
		})
		sort.Slice(h.Exceptions, func(i, j int) bool { return h.Exceptions[i].Date.Before(h.Exceptions[j].Date) })
	}
	if v := m.get("note"); v != nil {
		h.Note = d.text(v, "hours.note")
	}
	return h
}

func (d *fdec) exception(n *yaml.Node) (Exception, bool) {
	const what = "hours.exceptions"
	var x Exception
	m, ok := d.fieldsOf(n, what, "date", "closed", "from", "to", "note")
	if !ok {
		return x, false
	}
	d.need(n, &m, what, "date")
	good := true
	if v := m.get("date"); v != nil {
		var ok bool
		x.Date, ok = d.date(v, what+".date")
		good = good && ok
	} else {
		good = false
	}
	if v := m.get("closed"); v != nil {
		var ok bool
		x.Closed, ok = d.boolean(v, what+".closed")
		good = good && ok
	}
	hasFrom := m.get("from") != nil
	hasTo := m.get("to") != nil
	switch {
	case x.Closed && (hasFrom || hasTo):
		d.errf(n, "%s: closed: true together with from/to; give one or the other", what)
		good = false
	case !x.Closed && !(hasFrom && hasTo):
		d.errf(n, "%s: give closed: true, or both from and to", what)
		good = false
	case !x.Closed:
		var okF, okT bool
		x.From, okF = d.clock(m.get("from"), what+".from", false)
		x.To, okT = d.clock(m.get("to"), what+".to", true)
		if okF && okT && x.From >= x.To {
			d.errf(n, "%s: from %s is not before to %s", what, fmtClock(x.From), fmtClock(x.To))
			good = false
		}
		good = good && okF && okT
	}
	if v := m.get("note"); v != nil {
		x.Note = d.text(v, what+".note")
	}
	return x, good
}

// Audiences lists the valid event audiences.
var Audiences = []Audience{AudienceRefugees, AudienceVolunteers, AudienceEverybody}

func (d *fdec) event(n *yaml.Node, id string) *Event {
	m, ok := d.fieldsOf(n, "event", "audience", "registration", "venue", "dates", "weekly", "from", "until", "cancelled", "changed")
	if !ok {
		return nil
	}
	ev := &Event{}
	if v := m.get("audience"); v != nil {
		for i, s := range d.words(v, "event.audience") {
			a := Audience(s)
			ok := false
			for _, x := range Audiences {
				ok = ok || x == a
			}
			if !ok {
				d.errf(v.Content[min(i, len(v.Content)-1)], "event.audience: %q is not an audience; use refugees, volunteers or everybody", truncate(s, 20))
				continue
			}
			ev.Audience = append(ev.Audience, a)
		}
	}
	ev.Registration = d.checkedWord(&m, "registration", "event.registration", checkURL)
	if v := m.get("venue"); v != nil {
		if s, ok := d.word(v, "event.venue"); ok {
			ev.Venue = s
			d.l.refs = append(d.l.refs, ref{pos: d.pos(v), field: "venue", id: s, from: id})
		}
	}
	if v := m.get("dates"); v != nil {
		d.seq(v, "event.dates", func(c *yaml.Node) {
			mm, ok := d.fieldsOf(c, "event.dates", "start", "end", "note")
			if !ok {
				return
			}
			d.need(c, &mm, "event.dates", "start", "end")
			var o Occurrence
			if o.Start, o.End, o.Note, ok = d.span(c, &mm, "event.dates"); ok {
				ev.Dates = append(ev.Dates, o)
			}
		})
		sort.SliceStable(ev.Dates, func(i, j int) bool { return ev.Dates[i].Start.Before(ev.Dates[j].Start) })
	}
	if v := m.get("weekly"); v != nil {
		ev.Weekly = d.slots(v, "event.weekly")
	}
	if v := m.get("from"); v != nil {
		ev.From, _ = d.date(v, "event.from")
	}
	if v := m.get("until"); v != nil {
		ev.Until, _ = d.date(v, "event.until")
	}
	if !ev.From.IsZero() && !ev.Until.IsZero() && ev.Until.Before(ev.From) {
		d.errf(m.get("until"), "event.until: %s is before from %s", ev.Until.Format("2006-01-02"), ev.From.Format("2006-01-02"))
	}
	hasWeekly := m.get("weekly") != nil
	if !hasWeekly {
		for _, k := range [...]string{"from", "until", "cancelled", "changed"} {
			if v := m.get(k); v != nil {
				d.errf(v, "event.%s: only applies to a weekly recurrence, and this event has no weekly:", k)
			}
		}
	}
	nonEmpty := func(k string) bool {
		v := m.get(k)
		return v != nil && (v.Kind != yaml.SequenceNode || len(v.Content) > 0)
	}
	if !nonEmpty("dates") && !nonEmpty("weekly") {
		d.errf(n, "event: no dates; give dates: (one-off) or weekly: (recurring)")
	}

	cancelled := map[time.Time]int{}
	if v := m.get("cancelled"); v != nil && hasWeekly {
		d.seq(v, "event.cancelled", func(c *yaml.Node) {
			t, ok := d.date(c, "event.cancelled")
			if !ok {
				return
			}
			if first, dup := cancelled[t]; dup {
				d.errf(c, "event.cancelled: %s listed twice (first on line %d)", t.Format("2006-01-02"), first)
				return
			}
			cancelled[t] = c.Line
			if msg := ev.notRecurrenceDate(t); msg != "" {
				d.errf(c, "event.cancelled: %s", msg)
			}
			ev.Cancelled = append(ev.Cancelled, t)
		})
		sort.Slice(ev.Cancelled, func(i, j int) bool { return ev.Cancelled[i].Before(ev.Cancelled[j]) })
	}
	if v := m.get("changed"); v != nil && hasWeekly {
		changed := map[time.Time]int{}
		d.seq(v, "event.changed", func(c *yaml.Node) {
			mm, ok := d.fieldsOf(c, "event.changed", "date", "start", "end", "note")
			if !ok {
				return
			}
			d.need(c, &mm, "event.changed", "date", "start", "end")
			var ch Change
			var okD, okSpan bool
			if x := mm.get("date"); x != nil {
				ch.Date, okD = d.date(x, "event.changed.date")
			}
			if ch.Start, ch.End, ch.Note, okSpan = d.span(c, &mm, "event.changed"); !okD || !okSpan {
				return
			}
			if first, dup := changed[ch.Date]; dup {
				d.errf(c, "event.changed: %s given twice (first on line %d)", ch.Date.Format("2006-01-02"), first)
				return
			}
			changed[ch.Date] = c.Line
			if line, dup := cancelled[ch.Date]; dup {
				d.errf(c, "event.changed: %s is also cancelled (line %d); keep one", ch.Date.Format("2006-01-02"), line)
				return
			}
			if msg := ev.notRecurrenceDate(ch.Date); msg != "" {
				d.errf(mm.get("date"), "event.changed: %s", msg)
			}
			ev.Changed = append(ev.Changed, ch)
		})
		sort.Slice(ev.Changed, func(i, j int) bool { return ev.Changed[i].Date.Before(ev.Changed[j].Date) })
	}
	return ev
}

// span decodes the start, end and note of a date or change of an event
// (c, with its fields in mm), reporting a start not before its end; ok
// is whether start and end are both good.
func (d *fdec) span(c *yaml.Node, mm *fieldSet, what string) (start, end time.Time, note Text, ok bool) {
	var okS, okE bool
	if x := mm.get("start"); x != nil {
		start, okS = d.dateTime(x, what+".start")
	}
	if x := mm.get("end"); x != nil {
		end, okE = d.dateTime(x, what+".end")
	}
	if x := mm.get("note"); x != nil {
		note = d.text(x, what+".note")
	}
	if okS && okE && !start.Before(end) {
		d.errf(c, "%s: start is not before end", what)
		return start, end, note, false
	}
	return start, end, note, okS && okE
}

// notRecurrenceDate explains why date is not a date of the event's
// weekly recurrence, or returns "" if it is.
func (ev *Event) notRecurrenceDate(date time.Time) string {
	ds := date.Format("2006-01-02")
	if !ev.From.IsZero() && date.Before(ev.From) {
		return fmt.Sprintf("%s is before the recurrence starts (%s)", ds, ev.From.Format("2006-01-02"))
	}
	if !ev.Until.IsZero() && date.After(ev.Until) {
		return fmt.Sprintf("%s is after the recurrence ends (%s)", ds, ev.Until.Format("2006-01-02"))
	}
	for _, s := range ev.Weekly {
		for _, wd := range s.Days {
			if wd == date.Weekday() {
				return ""
			}
		}
	}
	return fmt.Sprintf("%s is a %s, and the event does not take place on %ss", ds, date.Weekday(), date.Weekday())
}

func validKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
