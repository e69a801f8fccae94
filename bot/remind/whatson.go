package remind

import (
	"sort"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// DefaultDays is the span of "what's on" when none is asked for.
const DefaultDays = 7

// maxDays bounds the span of "what's on"; longer lists are not read.
const maxDays = 62

// Item is one date in a "what's on" listing.
type Item struct {
	Entry      *knowledge.Entry
	Occurrence knowledge.Occurrence // Cancelled and Changed say how to show it
}

// WhatsOn lists the dates of events from now to the end of the days-th
// calendar day in the city's time zone (today counts as the first;
// days <= 0 means DefaultDays, more than 62 is cut to 62). Dates that have
// ended are never listed; one in progress is. Cancelled and moved dates are
// listed with their flags so they can be shown as such.
//
// district "" lists every district; otherwise the district's events and
// the city-wide ones. audience selects what a reader sees: refugees see
// events for refugees and for everybody, volunteers those for volunteers
// and for everybody, AudienceEverybody only those for everybody, and ""
// (coordinators, staff) all. An event without an audience is for
// everybody. Items are sorted by start, then end, then German name.
func WhatsOn(kb *knowledge.KB, now time.Time, days int, district string, audience knowledge.Audience) []Item {
	if days <= 0 {
		days = DefaultDays
	}
	days = min(days, maxDays)
	loc := kb.Location()
	today := now.In(loc)
	end := time.Date(today.Year(), today.Month(), today.Day()+days, 0, 0, 0, 0, loc)
	var out []Item
	for _, e := range kb.OfKind(knowledge.KindEvent) {
		if district != "" && e.District != "" && e.District != district {
			continue
		}
		if !forAudience(e.Event, audience) {
			continue
		}
		for _, o := range kb.Occurrences(e, now, end) {
			if o.End.After(now) {
				out = append(out, Item{Entry: e, Occurrence: o})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Occurrence, out[j].Occurrence
		switch {
		case !a.Start.Equal(b.Start):
			return a.Start.Before(b.Start)
		case !a.End.Equal(b.End):
			return a.End.Before(b.End)
		}
		return out[i].Entry.NameDE < out[j].Entry.NameDE
	})
	return out
}

// forAudience reports whether a reader of audience a sees ev.
func forAudience(ev *knowledge.Event, a knowledge.Audience) bool {
	if ev == nil {
		return false
	}
	if a == "" || len(ev.Audience) == 0 {
		return true
	}
	for _, x := range ev.Audience {
		if x == knowledge.AudienceEverybody || x == a {
			return true
		}
	}
	return false
}
