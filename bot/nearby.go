package bot

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/lotse-bot/lotse/knowledge"
)

// This file is "nearby": sharing a location (or /near) lists the nearest
// cafés, offices and counselling services with the walking distance and
// whether they are open; a button sends the place as a venue. The point
// itself is never stored.

const (
	// nearbyCount is how many places are listed.
	nearbyCount = 6
	// nearbyMaxKm leaves out places too far to walk to; beyond it the
	// listing says nothing is near rather than listing the whole city.
	nearbyMaxKm = 15.0
	// detour turns the straight-line distance into a walking distance:
	// streets are rarely straight (a common rule of thumb is 1.2-1.4).
	detour = 1.3
	// walkKmh is an unhurried walking speed, with children or a pram.
	walkKmh = 5.0
)

// nearbyKinds are the kinds of entry listed as places to go.
var nearbyKinds = []knowledge.Kind{knowledge.KindCafe, knowledge.KindOffice, knowledge.KindCounselling}

type nearPlace struct {
	e  *knowledge.Entry
	km float64 // walking distance
}

// nearby answers a shared location: the district it lies in (if obvious)
// and the nearest places.
func (t *turn) nearby(lat, lon float64) {
	t.outcome = "nearby"
	if math.IsNaN(lat) || math.IsNaN(lon) || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		t.nearPrompt()
		return
	}
	var places []nearPlace
	for _, k := range nearbyKinds {
		for _, e := range t.kb.OfKind(k) {
			if e.Geo == nil {
				continue
			}
			if km := distanceKm(lat, lon, e.Geo.Lat, e.Geo.Lon) * detour; km <= nearbyMaxKm {
				places = append(places, nearPlace{e: e, km: km})
			}
		}
	}
	sort.SliceStable(places, func(i, j int) bool {
		if places[i].km != places[j].km {
			return places[i].km < places[j].km
		}
		return places[i].e.ID < places[j].e.ID
	})
	parts := []string{t.T("LocationThanks", nil)}
	if d := t.nearestDistrict(lat, lon); d != nil {
		parts = append(parts, t.T("LocationDistrict", map[string]any{"District": t.title(d)}))
	}
	if len(places) == 0 {
		t.outcome = "nearby_none"
		parts = append(parts, t.T("NearbyNone", nil))
		t.text(strings.Join(parts, "\n\n"), t.navButtons())
		return
	}
	places = places[:min(len(places), nearbyCount)]
	lines := []string{t.T("NearbyHeader", nil)}
	var rows [][]Button
	for i, p := range places {
		lines = append(lines, strconv.Itoa(i+1)+". "+t.title(p.e)+"\n   "+t.T("NearbyWalk", map[string]any{
			"Distance": formatKm(p.km, t.lang), "Minutes": walkMinutes(p.km),
		})+t.openLine(p.e))
		if b, ok := button(strconv.Itoa(i+1)+". "+t.title(p.e), cbMap+p.e.ID); ok {
			rows = append(rows, []Button{b})
		}
	}
	parts = append(parts, strings.Join(lines, "\n"), t.T("NearbyHint", nil))
	rows = append(rows, []Button{t.topicsButton()})
	t.text(clip(strings.Join(parts, "\n\n"), maxCardText), rows)
}

// openLine is ", open now" or ", opens <when>" for a place with hours.
func (t *turn) openLine(e *knowledge.Entry) string {
	st := t.kb.Status(e, t.now)
	switch {
	case !st.Known:
		return ""
	case st.Open && !st.Until.IsZero():
		return "\n   " + t.T("CardOpenUntil", map[string]any{"Time": t.clock(st.Until)})
	case st.Open:
		return "\n   " + t.T("CardOpenNow", nil)
	case !st.Next.IsZero():
		return "\n   " + t.T("CardClosedNext", map[string]any{"Next": t.when(st.Next)})
	}
	return "\n   " + t.T("CardClosed", nil)
}

// nearPrompt explains how to share a location.
func (t *turn) nearPrompt() {
	t.outcome = "near_prompt"
	t.text(t.T("NearPrompt", nil), t.navButtons())
}

// walkMinutes is the walking time in whole minutes, at least 1.
func walkMinutes(km float64) int {
	return max(1, int(math.Round(km/walkKmh*60)))
}

// formatKm writes a distance as metres below 1 km, else kilometres with
// one decimal and the language's decimal separator.
func formatKm(km float64, lang string) string {
	if km < 1 {
		return strconv.Itoa(max(1, int(math.Round(km*10)))*100) + " m"
	}
	s := strconv.FormatFloat(math.Round(km*10)/10, 'f', 1, 64)
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " km"
}
