package knowledge

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// German public holidays (gesetzliche Feiertage) per state, as they apply
// from 1995 (when Buß- und Bettag ceased to be a holiday outside Saxony).
//
// Holidays that apply only in some municipalities of a state are left
// out, because a city in that state may or may not have them: Mariä
// Himmelfahrt in Bavaria's mainly Catholic municipalities, Fronleichnam in
// parts of Saxony and Thuringia, the Augsburger Friedensfest. Sunday
// holidays (Ostersonntag, Pfingstsonntag) are listed where the state's
// law names them (Brandenburg, Hesse).

// stateNames maps the state codes used in city.state to their names.
var stateNames = map[string]string{
	"BW": "Baden-Württemberg",
	"BY": "Bayern",
	"BE": "Berlin",
	"BB": "Brandenburg",
	"HB": "Bremen",
	"HH": "Hamburg",
	"HE": "Hessen",
	"MV": "Mecklenburg-Vorpommern",
	"NI": "Niedersachsen",
	"NW": "Nordrhein-Westfalen",
	"RP": "Rheinland-Pfalz",
	"SL": "Saarland",
	"SN": "Sachsen",
	"ST": "Sachsen-Anhalt",
	"SH": "Schleswig-Holstein",
	"TH": "Thüringen",
}

// States returns the 16 German state codes, sorted.
func States() []string {
	out := make([]string, 0, len(stateNames))
	for c := range stateNames {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ValidState reports whether code is one of the 16 German state codes
// (upper case, as in "NW").
func ValidState(code string) bool {
	_, ok := stateNames[code]
	return ok
}

// holidayRule is one holiday: on a fixed date, at an offset from Easter
// Sunday, or computed; in all states or in some; in a range of years.
type holidayRule struct {
	name     string
	month    time.Month // fixed date, if non-zero
	day      int
	easter   int                               // offset in days from Easter Sunday, if month and date are zero
	date     func(year int) (time.Month, int)  // computed date, if non-nil
	states   string                            // space-separated codes; "" = all states
	from, to int                               // first and last year it applies; 0 = unbounded
	when     func(state string, year int) bool // extra condition, if non-nil
}

func easterRule(name string, offset int, states string) holidayRule {
	return holidayRule{name: name, easter: offset, states: states}
}

var holidayRules = []holidayRule{
	{name: "Neujahr", month: time.January, day: 1},
	{name: "Heilige Drei Könige", month: time.January, day: 6, states: "BW BY ST"},
	{name: "Internationaler Frauentag", month: time.March, day: 8, states: "BE MV",
		when: func(state string, year int) bool {
			return state == "BE" && year >= 2019 || state == "MV" && year >= 2023
		}},
	easterRule("Karfreitag", -2, ""),
	easterRule("Ostersonntag", 0, "BB HE"),
	easterRule("Ostermontag", 1, ""),
	{name: "Tag der Arbeit", month: time.May, day: 1},
	{name: "Tag der Befreiung", month: time.May, day: 8, states: "BE",
		when: func(_ string, year int) bool { return year == 2020 || year == 2025 }},
	easterRule("Christi Himmelfahrt", 39, ""),
	easterRule("Pfingstsonntag", 49, "BB HE"),
	easterRule("Pfingstmontag", 50, ""),
	easterRule("Fronleichnam", 60, "BW BY HE NW RP SL"),
	{name: "Mariä Himmelfahrt", month: time.August, day: 15, states: "SL"},
	{name: "Weltkindertag", month: time.September, day: 20, states: "TH", from: 2019},
	{name: "Tag der Deutschen Einheit", month: time.October, day: 3},
	{name: "Reformationstag", month: time.October, day: 31,
		when: func(state string, year int) bool {
			switch state {
			case "BB", "MV", "SN", "ST", "TH":
				return true
			case "HB", "HH", "NI", "SH":
				return year >= 2017 // a holiday there since 2018
			}
			return year == 2017 // 500th anniversary: a holiday everywhere
		}},
	{name: "Allerheiligen", month: time.November, day: 1, states: "BW BY NW RP SL"},
	{name: "Buß- und Bettag", states: "SN", date: repentanceDay},
	{name: "1. Weihnachtstag", month: time.December, day: 25},
	{name: "2. Weihnachtstag", month: time.December, day: 26},
}

// repentanceDay is Buß- und Bettag: the Wednesday before 23 November.
func repentanceDay(year int) (time.Month, int) {
	d := time.Date(year, time.November, 22, 0, 0, 0, 0, time.UTC)
	back := (int(d.Weekday()) - int(time.Wednesday) + 7) % 7
	return time.November, 22 - back
}

// Easter returns the date of Easter Sunday in the Gregorian calendar
// (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
func Easter(year int) (time.Month, int) {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Month(month), day
}

// Holiday returns the German name of the public holiday on date's
// calendar day (in date's own location) in state, e.g. "Pfingstmontag".
// If two holidays fall on one day their names are joined with " / ".
// ok is false on ordinary days and for unknown state codes.
//
// A state's holidays of a year are computed once and kept (opening
// hours ask for every day of two weeks on every answer); Holiday is safe
// for concurrent use.
func Holiday(state string, date time.Time) (name string, ok bool) {
	if !ValidState(state) {
		return "", false
	}
	y, m, d := date.Date()
	if y < cacheFirstYear || y > cacheLastYear {
		return holidayOn(state, y, m, d)
	}
	name, ok = holidaysOf(state, y)[holidayDay(m, d)]
	return name, ok
}

// The years whose holidays are kept once computed: at most 16 states ×
// 301 small maps. Dates outside (only ever typed in by mistake) are
// computed each time.
const cacheFirstYear, cacheLastYear = 1900, 2200

type holidayYearKey struct {
	state string
	year  int
}

// holidayYears holds a map[int]string (holidayDay -> name) per
// holidayYearKey. The maps are never changed once stored.
var holidayYears sync.Map

func holidayDay(m time.Month, d int) int { return int(m)*32 + d }

// holidaysOf returns state's holidays in year by holidayDay.
func holidaysOf(state string, year int) map[int]string {
	k := holidayYearKey{state, year}
	if v, ok := holidayYears.Load(k); ok {
		return v.(map[int]string)
	}
	days := map[int]string{}
	for i := range holidayRules {
		m, d, ok := holidayRules[i].on(state, year)
		if !ok {
			continue
		}
		if prev, ok := days[holidayDay(m, d)]; ok {
			days[holidayDay(m, d)] = prev + " / " + holidayRules[i].name
		} else {
			days[holidayDay(m, d)] = holidayRules[i].name
		}
	}
	v, _ := holidayYears.LoadOrStore(k, days)
	return v.(map[int]string)
}

// holidayOn computes the holiday of one day without the cache.
func holidayOn(state string, y int, m time.Month, d int) (string, bool) {
	var names []string
	for i := range holidayRules {
		if rm, rd, ok := holidayRules[i].on(state, y); ok && rm == m && rd == d {
			names = append(names, holidayRules[i].name)
		}
	}
	if len(names) == 0 {
		return "", false
	}
	return strings.Join(names, " / "), true
}

// on returns the date of r in year in state; ok is false if r does not
// apply there and then.
func (r *holidayRule) on(state string, y int) (time.Month, int, bool) {
	if r.states != "" && !strings.Contains(" "+r.states+" ", " "+state+" ") {
		return 0, 0, false
	}
	if r.from != 0 && y < r.from || r.to != 0 && y > r.to {
		return 0, 0, false
	}
	if r.when != nil && !r.when(state, y) {
		return 0, 0, false
	}
	switch {
	case r.date != nil:
		m, d := r.date(y)
		return m, d, true
	case r.month != 0:
		return r.month, r.day, true
	}
	em, ed := Easter(y)
	t := time.Date(y, em, ed+r.easter, 0, 0, 0, 0, time.UTC)
	return t.Month(), t.Day(), true
}
