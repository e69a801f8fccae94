package knowledge

import (
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/i18n"
)

// This file finds the district a user means: from a postcode, a street
// or a district name as people type them (any case, umlauts written as
// ä, ae or a, abbreviations, typos), or from a shared location.

// DistrictMatch is one district a text may refer to.
type DistrictMatch struct {
	District   *Entry
	Confidence float64 // 0 < c <= 1; see ResolveDistrict
	Via        string  // what matched: "postcode", "street", "name" or "keyword"
}

// Confidence levels of district matches. An exact postcode, street or
// name is certain; each typo costs a tenth; a curator's keyword
// (a landmark, "Rathaus") is slightly less certain than a name; a text
// that matches two districts equally well is ambiguous.
const (
	confExact     = 1.0
	confPerEdit   = 0.1
	keywordWeight = 0.95
	confAmbiguous = 0.5
	// A second district matching at least this well makes the answer
	// ambiguous.
	confRival = 0.8
)

// Limits that keep resolution cheap on long or hostile input: a district
// answer is a few words, so only the start of a text is considered.
const (
	maxResolveBytes  = 1024
	maxResolveTokens = 64
	maxNgram         = 3  // words joined to match "Bahnhof Straße", "city centre"
	maxKeyRunes      = 48 // longer keys and candidates are not compared
)

// ResolveDistrict returns the district text most likely refers to and
// how sure that is, or nil and 0 if text names no district. Text may be
// a postcode ("47101"), a street with or without house number, typos
// and abbreviations ("Bahnhofstr. 5" = "Bahnhofstraße"), a district name
// in any spelling ("hafenfiertel", "Südviertel", "suedviertel") or a
// sentence containing one of these.
//
// Confidence is 1 for an exact postcode, street or name, 0.9 or 0.8 for
// one or two typos, and 0.5 if another district matches nearly as well.
// Callers should take a match of 0.9 or more and ask the user to confirm
// anything less (DistrictCandidates lists the choices).
func (kb *KB) ResolveDistrict(text string) (d *Entry, confidence float64) {
	ms := kb.DistrictCandidates(text)
	if len(ms) == 0 {
		return nil, 0
	}
	best := ms[0]
	if len(ms) > 1 && ms[1].Confidence >= confRival {
		return best.District, min(best.Confidence, confAmbiguous)
	}
	return best.District, best.Confidence
}

// DistrictCandidates returns every district text may refer to, most
// likely first (ties in file order), each with its best match. Empty if
// none matches.
func (kb *KB) DistrictCandidates(text string) []DistrictMatch {
	if kb.places == nil {
		return nil
	}
	return kb.places.resolve(text)
}

// NearestDistrict returns the district whose centre (geo:) is nearest to
// the WGS84 point and the distance in kilometres; nil and 0 if no district
// has a centre or the point is not a coordinate. The caller decides how
// far is too far to name it (a user outside the city is in no district).
func (kb *KB) NearestDistrict(lat, lon float64) (*Entry, float64) {
	if !validCoord(lat, lon) || kb.places == nil {
		return nil, 0
	}
	var best *Entry
	bestKm := math.Inf(1)
	for _, d := range kb.places.districts {
		if d.Geo == nil {
			continue
		}
		if km := distanceKm(lat, lon, d.Geo.Lat, d.Geo.Lon); km < bestKm {
			best, bestKm = d, km
		}
	}
	if best == nil {
		return nil, 0
	}
	return best, bestKm
}

func validCoord(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// distanceKm is the great-circle distance (haversine, mean Earth radius).
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthKm = 6371.0088
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// placeKey is one way of naming a district, in matching form.
type placeKey struct {
	key      string // folded words joined without spaces
	runes    []rune
	district int // index into placeIndex.districts
	via      string
	weight   float64
	limit    int // edits tolerated
}

// placeIndex holds the district keys; built once per KB, read-only.
type placeIndex struct {
	districts []*Entry
	postcodes map[string][]int // postcode -> district indexes
	keys      []placeKey
	exact     map[string][]int // key -> indexes into keys
}

func newPlaceIndex(entries []*Entry) *placeIndex {
	p := &placeIndex{postcodes: map[string][]int{}, exact: map[string][]int{}}
	for _, e := range entries {
		if e.Kind == KindDistrict {
			p.districts = append(p.districts, e)
		}
	}
	for i, d := range p.districts {
		for _, pc := range d.Postcodes {
			p.postcodes[pc] = appendOnce(p.postcodes[pc], i)
		}
		p.add(i, d.ID, "name", 1)
		p.add(i, d.NameDE, "name", 1)
		for _, t := range d.Title {
			p.add(i, t, "name", 1)
		}
		for _, ws := range d.Keywords {
			for _, w := range ws {
				p.add(i, w, "keyword", keywordWeight)
			}
		}
		for _, s := range d.Streets {
			p.add(i, s, "street", 1)
		}
	}
	return p
}

func appendOnce(s []int, i int) []int {
	for _, x := range s {
		if x == i {
			return s
		}
	}
	return append(s, i)
}

func (p *placeIndex) add(district int, s, via string, weight float64) {
	key := placeForm(placeWords(i18n.Tokens(s)))
	n := utf8.RuneCountInString(key)
	if n == 0 || n > maxKeyRunes {
		return
	}
	for _, k := range p.exact[key] {
		if pk := p.keys[k]; pk.district == district && pk.weight >= weight {
			return // already there, at least as strong
		}
	}
	p.exact[key] = append(p.exact[key], len(p.keys))
	p.keys = append(p.keys, placeKey{key: key, runes: []rune(key), district: district, via: via, weight: weight, limit: editLimit(key)})
}

// streetSuffixes are the endings of German street names. A typo in the
// ending ("strase") is tolerated on top of the typos the stem allows, so
// that short names ("Kaistraße") still forgive one slip.
var streetSuffixes = []string{"strasse", "weg", "platz", "allee", "ring", "gasse", "damm", "ufer"}

// editLimit is how many edits a key tolerates: none for short words
// ("ost", "nord"), where a single edit makes another word, one for
// medium and two for long ones.
func editLimit(key string) int {
	stem, extra := key, 0
	for _, suf := range streetSuffixes {
		if strings.HasSuffix(key, suf) && len(key) > len(suf) {
			stem, extra = strings.TrimSuffix(key, suf), 1
			break
		}
	}
	n := utf8.RuneCountInString(stem)
	switch {
	case n <= 4:
		return extra
	case n <= 8:
		return 1 + extra
	}
	return 2
}

// placeWords drops tokens containing digits (house numbers, postcodes) and
// expands the usual abbreviations of street names.
func placeWords(toks []string) []string {
	out := toks[:0:0]
	for _, t := range toks {
		if strings.ContainsAny(t, "0123456789") {
			continue
		}
		switch {
		case t == "str":
			t = "strasse"
		case t == "pl":
			t = "platz"
		case strings.HasSuffix(t, "str") && len(t) > 3:
			t += "asse"
		}
		out = append(out, t)
	}
	return out
}

// placeForm joins words without spaces, so that "Bahnhof-Straße",
// "Bahnhof Straße" and "Bahnhofstraße" are one key.
func placeForm(ws []string) string { return strings.Join(ws, "") }

func (p *placeIndex) resolve(text string) []DistrictMatch {
	if len(text) > maxResolveBytes {
		cut := maxResolveBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	toks := i18n.Tokens(text)
	if len(toks) > maxResolveTokens {
		toks = toks[:maxResolveTokens]
	}
	best := make([]DistrictMatch, len(p.districts))
	consider := func(i int, conf float64, via string) {
		if conf > best[i].Confidence {
			best[i] = DistrictMatch{District: p.districts[i], Confidence: conf, Via: via}
		}
	}
	for _, t := range toks {
		if isPostcode(t) {
			for _, i := range p.postcodes[t] {
				consider(i, confExact, "postcode")
			}
		}
	}
	ws := placeWords(toks)
	var osa osaBuf
	for i := range ws {
		for n := 1; n <= maxNgram && i+n <= len(ws); n++ {
			cand := placeForm(ws[i : i+n])
			if utf8.RuneCountInString(cand) > maxKeyRunes {
				break
			}
			if ks, ok := p.exact[cand]; ok {
				for _, k := range ks {
					pk := p.keys[k]
					consider(pk.district, pk.weight*confExact, pk.via)
				}
				continue
			}
			cr := []rune(cand)
			for _, pk := range p.keys {
				if pk.limit == 0 || absDiff(len(pk.runes), len(cr)) > pk.limit {
					continue
				}
				if d := osa.distance(cr, pk.runes, pk.limit); d <= pk.limit {
					consider(pk.district, pk.weight*(confExact-confPerEdit*float64(d)), pk.via)
				}
			}
		}
	}
	var out []DistrictMatch
	for _, m := range best {
		if m.District != nil {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Confidence > out[j].Confidence })
	return out
}

func absDiff(a, b int) int {
	if a < b {
		return b - a
	}
	return a - b
}

// osaBuf computes bounded optimal string alignment distances (the
// measure editDistance uses: insertions, deletions, substitutions, swaps
// of neighbours) reusing its rows, so that comparing a text's words with
// every district key does not allocate per comparison.
type osaBuf struct{ prev2, prev, cur []int }

// distance returns the distance of a and b, or limit+1 as soon as it is
// certain to exceed limit.
func (o *osaBuf) distance(a, b []rune, limit int) int {
	n := len(b) + 1
	if cap(o.cur) < n {
		o.prev2, o.prev, o.cur = make([]int, n), make([]int, n), make([]int, n)
	}
	prev2, prev, cur := o.prev2[:n], o.prev[:n], o.cur[:n]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j < n; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			rowMin = min(rowMin, d)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[n-1]
}
