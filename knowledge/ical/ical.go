// Package ical writes the knowledge base's events as iCalendar (RFC 5545)
// data: a file for one event, to be sent as a document, and a
// subscribable feed of a district's events, served over HTTP by Handler.
//
// Times are written as local times with TZID set to the city's time zone
// and a matching VTIMEZONE, so that a weekly "15:00" stays 15:00 on the
// wall clock across daylight saving changes. A weekly recurrence becomes
// one RRULE per distinct time of day (several BYDAY where the times are
// equal), cancelled dates become EXDATEs and changed dates separate
// VEVENTs with RECURRENCE-ID. UIDs are derived from the entry id and the
// slot or date, so that importing a file again or refreshing a feed
// updates events instead of duplicating them.
//
// Nothing here is personal: the output depends only on the curated
// knowledge base, the language and the current time (DTSTAMP).
package ical

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// Errors returned by Event and Feed.
var (
	ErrNotEvent        = errors.New("ical: entry is not an event")
	ErrUnknownDistrict = errors.New("ical: unknown district")
	ErrBadAudience     = errors.New("ical: unknown audience")
)

// ProdID identifies Lotse as the producer of the calendars (PRODID).
const ProdID = "-//lotse-bot//Lotse//EN"

// uidDomain ends every UID; the ".invalid" top-level domain (RFC 2606)
// can never belong to anybody else, and the city's name before it keeps
// the UIDs of two cities' knowledge bases apart.
const uidDomain = "lotse.invalid"

// Date-time layouts of RFC 5545 3.3.5: local (with TZID) and UTC.
const (
	localFormat = "20060102T150405"
	utcFormat   = "20060102T150405Z"
	dayFormat   = "20060102"
)

// Filter selects the events of a feed.
type Filter struct {
	// District is the id of a district entry. The feed holds the
	// district's own events and the city-wide ones (entries without a
	// district), which are open to the district's people too. "" selects
	// the events of every district.
	District string
	// Audience, if set, keeps only the events for that audience and the
	// events for everybody (an event without an audience is for
	// everybody). AudienceEverybody keeps only the events for everybody.
	Audience knowledge.Audience
}

// Event returns an iCalendar file (METHOD:PUBLISH) with every date of
// the event entry e: its one-off dates and its weekly recurrence, texts
// in lang (where missing, in the fallback knowledge.Text.In picks). now
// sets DTSTAMP.
// Returns ErrNotEvent if e is not an event, or an error wrapping
// ErrTimeZone if the city's time zone cannot be written.
func Event(kb *knowledge.KB, e *knowledge.Entry, lang string, now time.Time) ([]byte, error) {
	if e == nil || e.Event == nil {
		return nil, ErrNotEvent
	}
	w := &writer{}
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", ProdID)
	w.line("CALSCALE", "GREGORIAN")
	w.line("METHOD", "PUBLISH")
	if err := writeTimeZone(w, kb.Location(), now); err != nil {
		return nil, err
	}
	newCal(kb, lang, now).event(w, e)
	w.line("END", "VCALENDAR")
	return w.bytes(), nil
}

// Feed returns an iCalendar feed with every event filter selects, in file
// order, for a calendar subscription. now sets DTSTAMP. Returns
// ErrUnknownDistrict if filter.District is not a district, ErrBadAudience
// if filter.Audience is not an audience, or an error wrapping
// ErrTimeZone if the city's time zone cannot be written.
func Feed(kb *knowledge.KB, filter Filter, lang string, now time.Time) ([]byte, error) {
	var district *knowledge.Entry
	if filter.District != "" {
		d, ok := kb.Entry(filter.District)
		if !ok || d.Kind != knowledge.KindDistrict {
			return nil, fmt.Errorf("%w: %q", ErrUnknownDistrict, filter.District)
		}
		district = d
	}
	if filter.Audience != "" && !slices.Contains(knowledge.Audiences, filter.Audience) {
		return nil, fmt.Errorf("%w: %q", ErrBadAudience, filter.Audience)
	}
	c := newCal(kb, lang, now)
	w := &writer{}
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", ProdID)
	w.line("CALSCALE", "GREGORIAN")
	name := "Lotse " + kb.City.Name
	if district != nil {
		name += " – " + c.name(district)
	}
	w.line("X-WR-CALNAME", text(name))
	w.line("NAME", text(name)) // RFC 7986
	w.line("X-WR-TIMEZONE", kb.Location().String())
	// Ask subscribing clients to look for changes a few times a day
	// (RFC 7986 and the older Microsoft property).
	w.line("REFRESH-INTERVAL;VALUE=DURATION", "PT6H")
	w.line("X-PUBLISHED-TTL", "PT6H")
	if err := writeTimeZone(w, kb.Location(), now); err != nil {
		return nil, err
	}
	for _, e := range kb.OfKind(knowledge.KindEvent) {
		if e.Event != nil && filter.matches(e) {
			c.event(w, e)
		}
	}
	w.line("END", "VCALENDAR")
	return w.bytes(), nil
}

func (f Filter) matches(e *knowledge.Entry) bool {
	if f.District != "" && e.District != "" && e.District != f.District {
		return false
	}
	if f.Audience == "" || len(e.Event.Audience) == 0 {
		return true
	}
	for _, a := range e.Event.Audience {
		if a == f.Audience || a == knowledge.AudienceEverybody {
			return true
		}
	}
	return false
}

// cal holds what every VEVENT of one calendar shares.
type cal struct {
	kb     *knowledge.KB
	loc    *time.Location
	lang   string
	stamp  string // DTSTAMP value
	domain string // right-hand side of UIDs
	tzid   string // ";TZID=..." parameter for local times
}

func newCal(kb *knowledge.KB, lang string, now time.Time) *cal {
	if lang == "" {
		lang = "de"
	}
	domain := uidDomain
	if s := slug(kb.City.Name); s != "" {
		domain = s + "." + uidDomain
	}
	return &cal{
		kb:     kb,
		loc:    kb.Location(),
		lang:   lang,
		stamp:  now.UTC().Format(utcFormat),
		domain: domain,
		tzid:   ";TZID=" + kb.Location().String(),
	}
}

// slug reduces a city name to lower-case ASCII letters, digits and
// hyphens for use in a domain name.
func slug(s string) string {
	r := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "ae", "Ö", "oe", "Ü", "ue")
	s = strings.ToLower(r.Replace(s))
	var b strings.Builder
	dash := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(c)
		default:
			dash = true
		}
	}
	return b.String()
}

// name is an entry's name in the calendar's language with its official
// German name, which people need to find the place or match letters.
func (c *cal) name(e *knowledge.Entry) string {
	t, l := e.Title.In(c.lang)
	if l != c.lang || c.lang == "de" || t == "" || t == e.NameDE {
		return e.NameDE
	}
	return t + " (" + e.NameDE + ")"
}

// registrationLabel introduces the registration link in DESCRIPTION, in
// the languages Lotse ships; others get the English word.
var registrationLabel = map[string]string{
	"de": "Anmeldung",
	"en": "Registration",
	"ar": "التسجيل",
	"fa": "ثبت‌نام",
	"uk": "Реєстрація",
	"ru": "Регистрация",
	"tr": "Kayıt",
	"fr": "Inscription",
}

// details are the properties every VEVENT of one entry shares.
type details struct {
	summary, description, location, geo, url string
}

func (c *cal) details(e *knowledge.Entry) details {
	var d details
	d.summary = text(c.name(e))
	var desc []string
	if s, _ := e.Summary.In(c.lang); s != "" {
		desc = append(desc, s)
	}
	link := webURL(e.Event.Registration)
	if link != "" {
		label, ok := registrationLabel[c.lang]
		if !ok {
			label = registrationLabel["en"]
		}
		desc = append(desc, label+": "+link)
	} else {
		link = webURL(e.Contact.Website)
	}
	d.description = strings.Join(desc, "\n\n")
	d.url = link

	place := e
	if v, ok := c.kb.Entry(e.Event.Venue); ok && e.Event.Venue != "" {
		place = v
	}
	var loc []string
	if place != e {
		loc = append(loc, place.NameDE)
	}
	if a := place.Address; a.Street != "" || a.City != "" {
		if a.Street != "" {
			loc = append(loc, a.Street)
		}
		if pc := strings.TrimSpace(a.Postcode + " " + a.City); pc != "" {
			loc = append(loc, pc)
		}
	}
	d.location = text(strings.Join(loc, ", "))
	if g := place.Geo; g != nil {
		d.geo = strconv.FormatFloat(g.Lat, 'f', -1, 64) + ";" + strconv.FormatFloat(g.Lon, 'f', -1, 64)
	}
	return d
}

// webURL returns s if it is an absolute http(s) URL that is safe to write
// as a URI value, and "" otherwise.
func webURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '"' {
			return ""
		}
	}
	return s
}

// vevent writes one VEVENT. start and end are written in the city's
// time zone; extra writes the properties that make this VEVENT special
// (RRULE, EXDATE, RECURRENCE-ID, STATUS).
func (c *cal) vevent(w *writer, d details, uid string, start, end time.Time, note knowledge.Text, extra func()) {
	w.line("BEGIN", "VEVENT")
	w.line("UID", uid)
	w.line("DTSTAMP", c.stamp)
	w.line("DTSTART"+c.tzid, start.In(c.loc).Format(localFormat))
	w.line("DTEND"+c.tzid, end.In(c.loc).Format(localFormat))
	if extra != nil {
		extra()
	}
	w.line("SUMMARY", d.summary)
	desc := d.description
	if n, _ := note.In(c.lang); n != "" {
		desc = strings.TrimSuffix(n+"\n\n"+desc, "\n\n")
	}
	if desc != "" {
		w.line("DESCRIPTION", text(desc))
	}
	if d.location != "" {
		w.line("LOCATION", d.location)
	}
	if d.geo != "" {
		w.line("GEO", d.geo)
	}
	if d.url != "" {
		w.line("URL", d.url)
	}
	w.line("END", "VEVENT")
}

// series is one weekly RRULE: the slots of an event with equal times.
type series struct {
	days     []time.Weekday // Monday first
	from, to int            // minutes after midnight
	first    time.Time      // date of the first instance (midnight local)
	uid      string
}

// byday names the weekdays for RRULE BYDAY, indexed by time.Weekday.
var byday = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// at returns the local time min minutes after midnight on day's date.
func (c *cal) at(day time.Time, min int) time.Time {
	y, m, d := day.In(c.loc).Date()
	return time.Date(y, m, d, min/60, min%60, 0, 0, c.loc)
}

// day returns midnight local of t's date in the city's time zone.
func (c *cal) day(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc)
}

// event writes every VEVENT of entry e.
func (c *cal) event(w *writer, e *knowledge.Entry) {
	ev := e.Event
	d := c.details(e)

	// One-off dates: one VEVENT each, identified by their day, so that a
	// date re-timed on the same day updates the calendar entry.
	perDay := map[string]int{}
	for _, o := range ev.Dates {
		key := o.Start.In(c.loc).Format(dayFormat)
		perDay[key]++
		uid := e.ID + ".d" + key
		if n := perDay[key]; n > 1 {
			uid += "-" + strconv.Itoa(n)
		}
		var extra func()
		if o.Cancelled {
			extra = func() { w.line("STATUS", "CANCELLED") }
		}
		c.vevent(w, d, uid+"@"+c.domain, o.Start, o.End, o.Note, extra)
	}
	if len(ev.Weekly) == 0 {
		// Cancelled and changed dates belong to a recurrence; without
		// one the loader reports them, and there is nothing to write.
		return
	}

	all := c.series(e)
	owner := func(date time.Time) []*series {
		var out []*series
		for _, s := range all {
			if c.occursOn(s, ev, date) {
				out = append(out, s)
			}
		}
		return out
	}
	exdates := make([][]time.Time, len(all))
	index := func(s *series) int { return slices.Index(all, s) }
	for _, date := range ev.Cancelled {
		for _, s := range owner(date) {
			exdates[index(s)] = append(exdates[index(s)], c.at(date, s.from))
		}
	}
	// A changed date moves the whole day's meeting: the first series
	// that meets that day carries the moved instance (RECURRENCE-ID),
	// any other series meeting the same day drops its instance, as
	// knowledge.Occurrences does.
	type override struct {
		s *series
		c knowledge.Change
	}
	var overrides []override
	var loose []knowledge.Change
	for _, ch := range ev.Changed {
		owners := owner(ch.Date)
		if len(owners) == 0 {
			loose = append(loose, ch)
			continue
		}
		overrides = append(overrides, override{owners[0], ch})
		for _, s := range owners[1:] {
			exdates[index(s)] = append(exdates[index(s)], c.at(ch.Date, s.from))
		}
	}

	for i, s := range all {
		start, end := c.at(s.first, s.from), c.at(s.first, s.to)
		c.vevent(w, d, s.uid, start, end, nil, func() {
			days := make([]string, len(s.days))
			for j, wd := range s.days {
				days[j] = byday[wd]
			}
			rule := "FREQ=WEEKLY;BYDAY=" + strings.Join(days, ",")
			if !ev.Until.IsZero() {
				// UNTIL must be in UTC when DTSTART has a TZID (RFC 5545
				// 3.3.10); the last instance's start keeps it inclusive.
				rule += ";UNTIL=" + c.at(ev.Until, s.from).UTC().Format(utcFormat)
			}
			w.line("RRULE", rule)
			slices.SortFunc(exdates[i], func(a, b time.Time) int { return a.Compare(b) })
			for _, x := range exdates[i] {
				w.line("EXDATE"+c.tzid, x.Format(localFormat))
			}
		})
	}
	for _, o := range overrides {
		rid := c.at(o.c.Date, o.s.from).Format(localFormat)
		c.vevent(w, d, o.s.uid, o.c.Start, o.c.End, o.c.Note, func() {
			w.line("RECURRENCE-ID"+c.tzid, rid)
		})
	}
	for _, ch := range loose {
		uid := e.ID + ".c" + ch.Date.In(c.loc).Format(dayFormat) + "@" + c.domain
		c.vevent(w, d, uid, ch.Start, ch.End, ch.Note, nil)
	}
}

// series groups the weekly slots of e by their times and finds each
// group's first date. Groups without any date in the recurrence's bounds
// are left out.
func (c *cal) series(e *knowledge.Entry) []*series {
	ev := e.Event
	var out []*series
	for _, sl := range ev.Weekly {
		i := slices.IndexFunc(out, func(s *series) bool { return s.from == sl.From && s.to == sl.To })
		if i < 0 {
			out = append(out, &series{from: sl.From, to: sl.To})
			i = len(out) - 1
		}
		for _, wd := range sl.Days {
			if !slices.Contains(out[i].days, wd) {
				out[i].days = append(out[i].days, wd)
			}
		}
	}
	start := c.recurrenceStart(e)
	var kept []*series
	for _, s := range out {
		slices.SortFunc(s.days, func(a, b time.Weekday) int { return (int(a)+6)%7 - (int(b)+6)%7 })
		for i := 0; i < 7; i++ {
			day := start.AddDate(0, 0, i)
			if slices.Contains(s.days, day.Weekday()) {
				s.first = day
				break
			}
		}
		if s.first.IsZero() || !ev.Until.IsZero() && c.day(ev.Until).Before(s.first) {
			continue
		}
		s.uid = e.ID + ".w" + strconv.Itoa(len(kept)+1) + "@" + c.domain
		kept = append(kept, s)
	}
	return kept
}

// recurrenceStart is the date the weekly recurrence of e starts: its
// from date, or, for a recurrence without one, the date its entry was
// last checked, a fixed date that the curators vouch for (a date
// derived from the clock would change the feed every day).
func (c *cal) recurrenceStart(e *knowledge.Entry) time.Time {
	switch {
	case !e.Event.From.IsZero():
		return c.day(e.Event.From)
	case !e.LastChecked.IsZero():
		return c.day(e.LastChecked)
	}
	return c.day(time.Date(2000, time.January, 3, 12, 0, 0, 0, c.loc))
}

// occursOn reports whether series s has an instance on date.
func (c *cal) occursOn(s *series, ev *knowledge.Event, date time.Time) bool {
	day := c.day(date)
	if !slices.Contains(s.days, day.Weekday()) || day.Before(s.first) {
		return false
	}
	return ev.Until.IsZero() || !c.day(ev.Until).Before(day)
}
