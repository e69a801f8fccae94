package knowledge_test

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/knowledge"
)

func TestResolveDistrict(t *testing.T) {
	kb := mustSample(t)
	tests := []struct {
		text     string
		district string  // "" = none
		conf     float64 // wanted confidence
	}{
		// Postcodes, alone or in an address.
		{"47101", "nord", 1},
		{"47100 Lotsenstadt", "mitte", 1},
		{"D-47105", "hafen", 1},
		{"Meine PLZ ist 47106.", "feldmark", 1},
		{"٤٧١٠٢", "sued", 1}, // Arabic-Indic digits
		// Streets: abbreviations, house numbers, typos, case, umlauts.
		{"Bahnhofstraße 5", "mitte", 1},
		{"Bahnhofstr. 5", "mitte", 1},
		{"bahnhofstr", "mitte", 1},
		{"Bahnhof Str. 12a", "mitte", 1},
		{"Bahnhof-Straße", "mitte", 1},
		{"BAHNHOFSTRASSE 1", "mitte", 1},
		{"Bahnhofstrase 3", "mitte", 0.9},
		{"Banhofstrasse", "mitte", 0.9},
		{"Kaistr 15", "hafen", 1},
		{"kaistrase 15", "hafen", 0.9},
		{"Am Mühlenbach 2", "feldmark", 1},
		{"am muehlenbach", "feldmark", 1},
		{"Lerchenweg 4, 47101 Lotsenstadt", "nord", 1},
		{"Bergmannstrasse", "ost", 1},
		// District names in any spelling, in sentences, in other languages.
		{"hafenfiertel", "hafen", 0.9},
		{"Südviertel", "sued", 1},
		{"suedviertel", "sued", 1},
		{"SÜDVIERTEL", "sued", 1},
		{"sudviertel", "sued", 1},
		{"Süd Viertel", "sued", 1},
		{"Nordstat", "nord", 0.9},
		{"oststadt", "ost", 1},
		{"Ich wohne im Hafenviertel.", "hafen", 1},
		{"Westend", "west", 1},
		{"feldmark", "feldmark", 1},
		{"Центр міста", "mitte", 1},
		{"وسط المدينة", "mitte", 1},
		{"city centre", "mitte", 1},
		{"Harbour quarter", "hafen", 1},
		{"nord", "nord", 1},
		// Curators' keywords (landmarks) are slightly less certain.
		{"beim Rathaus", "mitte", 0.95},
		{"Lindenpark", "sued", 0.95},
		// Two districts: ambiguous.
		{"Nordstadt 47102", "nord", 0.5},
		// Garbage and other places.
		{"", "", 0},
		{"   ", "", 0},
		{"hello", "", 0},
		{"Ich brauche eine Wohnung", "", 0},
		{"47199", "", 0},
		{"10115 Berlin", "", 0},
		{"12345", "", 0},
		{"Post", "", 0},
		{"Nordpol", "", 0},
		{"Straße", "", 0},
		{"asdfghjkl", "", 0},
		{"😀😀😀", "", 0},
		{"\u202e\u200b", "", 0},
	}
	for _, tt := range tests {
		d, conf := kb.ResolveDistrict(tt.text)
		if id(d) != tt.district || math.Abs(conf-tt.conf) > 1e-9 {
			t.Errorf("ResolveDistrict(%q) = %s %.2f, want %s %.2f", tt.text, id(d), conf, tt.district, tt.conf)
		}
	}
}

// TestResolveDistrictEveryKey resolves every postcode, street and name
// written in the sample to its own district with certainty.
func TestResolveDistrictEveryKey(t *testing.T) {
	kb := mustSample(t)
	n := 0
	for _, d := range kb.OfKind(knowledge.KindDistrict) {
		keys := append([]string{d.ID, d.NameDE, strings.ToUpper(d.NameDE), strings.ToLower(d.NameDE)}, d.Postcodes...)
		for _, s := range d.Streets {
			keys = append(keys, s, s+" 12", strings.Replace(s, "straße", "str.", 1))
		}
		for _, title := range d.Title {
			keys = append(keys, title)
		}
		for _, k := range keys {
			n++
			got, conf := kb.ResolveDistrict(k)
			if got != d || conf != 1 {
				t.Errorf("ResolveDistrict(%q) = %s %.2f, want %s 1", k, id(got), conf, d.ID)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d keys checked; does the sample have streets?", n)
	}
}

func TestDistrictCandidates(t *testing.T) {
	kb := mustSample(t)
	ms := kb.DistrictCandidates("Nordstadt 47102")
	if len(ms) != 2 {
		t.Fatalf("candidates = %+v, want nord and sued", ms)
	}
	got := map[string]string{ms[0].District.ID: ms[0].Via, ms[1].District.ID: ms[1].Via}
	if got["nord"] != "name" || got["sued"] != "postcode" || ms[0].District.ID != "nord" {
		t.Errorf("candidates = %v (first %s), want nord by name first (file order), sued by postcode", got, ms[0].District.ID)
	}
	if ms := kb.DistrictCandidates("Kaistraße"); len(ms) != 1 || ms[0].Via != "street" {
		t.Errorf("Kaistraße: %+v", ms)
	}
	if ms := kb.DistrictCandidates("nothing here"); len(ms) != 0 {
		t.Errorf("nothing here: %+v", ms)
	}
}

func TestResolveDistrictLongInput(t *testing.T) {
	kb := mustSample(t)
	long := strings.Repeat("Wohnung ", 5000) + "Hafenviertel"
	if d, _ := kb.ResolveDistrict(long); d != nil {
		t.Errorf("a district named only after the first kilobyte was found: %s", d.ID)
	}
	if d, _ := kb.ResolveDistrict("Hafenviertel " + strings.Repeat("x", 1<<20)); id(d) != "hafen" {
		t.Errorf("district at the start of a long text: %s", id(d))
	}
}

func TestNearestDistrict(t *testing.T) {
	kb := mustSample(t)
	for _, d := range kb.OfKind(knowledge.KindDistrict) {
		got, km := kb.NearestDistrict(d.Geo.Lat, d.Geo.Lon)
		if got != d || km > 1e-9 {
			t.Errorf("at the centre of %s: %s %.3f km", d.ID, id(got), km)
		}
	}
	// Bürgerhaus Nord is 0.07 km from the Nordstadt's centre.
	if d, km := kb.NearestDistrict(51.5926, 6.7468); id(d) != "nord" || km < 0.05 || km > 0.1 {
		t.Errorf("Bürgerhaus Nord: %s %.3f km", id(d), km)
	}
	// Berlin is some 480 km away: the nearest district, far off.
	if d, km := kb.NearestDistrict(52.52, 13.405); d == nil || km < 400 || km > 600 {
		t.Errorf("Berlin: %s %.0f km", id(d), km)
	}
	for _, p := range [][2]float64{{math.NaN(), 6.7}, {51.5, math.Inf(1)}, {91, 0}, {0, 181}} {
		if d, km := kb.NearestDistrict(p[0], p[1]); d != nil || km != 0 {
			t.Errorf("NearestDistrict(%v) = %s %v, want nil", p, id(d), km)
		}
	}
	noGeo := mustKB(t, "NW", "Europe/Berlin", `
  - {id: a, kind: district, name_de: A, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
`)
	if d, _ := noGeo.NearestDistrict(51.5, 6.7); d != nil {
		t.Errorf("no district has a centre, got %s", d.ID)
	}
}

// FuzzResolveDistrict: any text resolves without panicking, with a
// confidence in [0, 1] that is 0 exactly when no district is returned,
// consistently with DistrictCandidates, and the same on a second call.
func FuzzResolveDistrict(f *testing.F) {
	for _, s := range []string{
		"47101", "Bahnhofstr. 5", "hafenfiertel", "Südviertel", "suedviertel", "Nordstadt 47102",
		"Центр міста", "وسط المدينة", "", "\xff\xfe", "str str str", "Am Mühlenbach 2, 47106",
		"😀", "\u202eNord\u200b", strings.Repeat("a", 2000),
	} {
		f.Add(s)
	}
	kb := mustSample(f)
	f.Fuzz(func(t *testing.T, text string) {
		d, conf := kb.ResolveDistrict(text)
		if conf < 0 || conf > 1 || math.IsNaN(conf) {
			t.Fatalf("confidence %v out of range", conf)
		}
		if (d == nil) != (conf == 0) {
			t.Fatalf("district %v with confidence %v", d, conf)
		}
		if d != nil && d.Kind != knowledge.KindDistrict {
			t.Fatalf("resolved to a %s entry", d.Kind)
		}
		ms := kb.DistrictCandidates(text)
		if (len(ms) == 0) != (d == nil) || len(ms) > 0 && ms[0].District != d {
			t.Fatalf("ResolveDistrict %v disagrees with DistrictCandidates %+v", d, ms)
		}
		for i, m := range ms {
			if m.Confidence <= 0 || m.Confidence > 1 || i > 0 && m.Confidence > ms[i-1].Confidence {
				t.Fatalf("candidates out of order or range: %+v", ms)
			}
		}
		if d2, conf2 := kb.ResolveDistrict(text); d2 != d || conf2 != conf {
			t.Fatalf("second call gave %v %v, first %v %v", d2, conf2, d, conf)
		}
		if utf8.ValidString(text) && d != nil && conf == 1 {
			// A certain match must survive upper-casing German text.
			if isLatin(text) {
				if d3, _ := kb.ResolveDistrict(strings.ToUpper(text)); d3 != d {
					t.Fatalf("upper-cased %q resolves to %v, not %s", text, d3, d.ID)
				}
			}
		}
	})
}

// isLatin reports whether s holds only ASCII and German letters, whose
// upper-case forms fold back to the same key.
func isLatin(s string) bool {
	for _, r := range s {
		if r >= 0x80 && !strings.ContainsRune("äöüÄÖÜß", r) {
			return false
		}
	}
	return true
}

func BenchmarkResolveDistrict(b *testing.B) {
	kb := mustSample(b)
	texts := []string{"47101", "Bahnhofstr. 5", "hafenfiertel", "Ich wohne in der Nähe vom Rathaus, in der Marktstrase 8", strings.Repeat("Wohnung ", 200)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		kb.ResolveDistrict(texts[i%len(texts)])
	}
}
