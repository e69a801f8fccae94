package knowledge

// Internal tests: the index's building blocks (edit distance, deletion
// table, stemmer) and search behaviour on a small hand-made base, so that
// each property is tested independently of the sample content.

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func mustTestKB(t testing.TB) *KB {
	t.Helper()
	en := func(de, en string) Text { return Text{"de": de, "en": en} }
	entries := []*Entry{
		{ID: "auslaenderbehoerde", Kind: KindOffice, NameDE: "Ausländerbehörde",
			Title:    Text{"ar": "دائرة الأجانب", "fa": "اداره اتباع خارجی", "ru": "Ведомство по делам иностранцев", "tr": "Yabancılar Dairesi"},
			Summary:  en("Aufenthaltstitel verlängern.", "Extend your residence permit."),
			Keywords: map[string][]string{"uk": {"посвідка на проживання"}}},
		{ID: "jobcenter", Kind: KindOffice, NameDE: "Jobcenter Lotsenstadt",
			Summary: en("Bürgergeld beantragen.", "Apply for citizen's income.")},
		{ID: "integrationskurs", Kind: KindCourse, NameDE: "Integrationskurs",
			Summary: en("Deutsch lernen im Integrationskurs.", "Learn German.")},
		{ID: "deutschkurs-eltern", Kind: KindCourse, NameDE: "Deutschkurs für Eltern",
			Summary: en("Sprachkurs mit Kinderbetreuung.", "Language course with childcare."),
			Details: Text{"fa": "کلاس\u200cهای زبان برای والدین"}},
		{ID: "cafe", Kind: KindCafe, NameDE: "Café Grenzenlos",
			Summary:  en("Treffpunkt für alle.", "Meeting place for everyone."),
			Keywords: map[string][]string{"ru": {"встреча"}}},
		{ID: "schuldnerberatung", Kind: KindCounselling, NameDE: "Schuldnerberatung",
			Summary: en("Hilfe bei Schulden.", "Help with debts."),
			Details: Text{"de": "Wir helfen auch bei Mahnungen vom Inkasso."}},
	}
	concepts := []Concept{
		{ID: "language_course", Terms: map[string][]string{
			"de": {"Sprachkurs", "Deutschkurs"},
			"en": {"language course"},
			"uk": {"мовні курси", "курси німецької"},
			"ar": {"دورة لغة"},
		}},
		{ID: "debt", Terms: map[string][]string{
			"de": {"Schulden"}, "ar": {"ديون"}, "tr": {"borç"}, "ru": {"долги"},
		}},
	}
	return build(City{Name: "Test"}, time.UTC, entries, nil, concepts)
}

func top(kb *KB, q string) (string, float64) {
	res := kb.Search(q, "en", 3)
	if len(res) == 0 {
		return "", 0
	}
	return res[0].Entry.ID, res[0].Confidence
}

func TestSearchFinds(t *testing.T) {
	kb := mustTestKB(t)
	tests := []struct {
		name, q, want string
	}{
		{"exact", "Ausländerbehörde", "auslaenderbehoerde"},
		{"transcribed umlauts", "Auslaenderbehoerde", "auslaenderbehoerde"},
		{"missing umlauts", "Auslanderbehorde", "auslaenderbehoerde"},
		{"typo", "Auslenderbehörde", "auslaenderbehoerde"},
		{"transposition", "Jobcnetre", "jobcenter"},
		{"missing letter", "jobcentr", "jobcenter"},
		{"two typos in a long word", "integrazionskur", "integrationskurs"},
		{"split compound", "Job Center", "jobcenter"},
		{"question words", "wo ist bitte das Jobcenter???", "jobcenter"},
		{"emoji", "🙂 jobcenter 🙏", "jobcenter"},
		{"prefix", "Ausländer", "auslaenderbehoerde"},
		{"inflection", "Integrationskurse", "integrationskurs"},
		{"arabic hamza and yeh variants", "دايره الاجانب", "auslaenderbehoerde"},
		{"arabic harakat", "دَائِرَة الأَجَانِب", "auslaenderbehoerde"},
		{"arabic kaf and yeh in persian", "اداره اتباع خارجي", "auslaenderbehoerde"},
		{"turkish dotless i", "yabancilar dairesi", "auslaenderbehoerde"},
		{"turkish capitals", "YABANCILAR DAİRESİ", "auslaenderbehoerde"},
		{"russian inflection", "ведомство иностранцев", "auslaenderbehoerde"},
		{"cyrillic yo", "встрёча", "cafe"},
		{"glossary german to ukrainian", "курси німецької", "deutschkurs-eltern"},
		{"glossary phrase in english", "language course", "deutschkurs-eltern"},
		{"glossary to arabic", "عندي ديون", "schuldnerberatung"},
		{"glossary to turkish", "borç", "schuldnerberatung"},
		{"persian zwnj", "کلاس‌های زبان", "deutschkurs-eltern"},
		{"persian without zwnj", "کلاسهای زبان", "deutschkurs-eltern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, conf := top(kb, tt.q); got != tt.want {
				t.Errorf("Search(%q) top = %q (%.2f), want %q", tt.q, got, conf, tt.want)
			}
		})
	}
}

func TestSearchConfidence(t *testing.T) {
	kb := mustTestKB(t)
	confident := []string{"Ausländerbehörde", "Jobcenter", "Schuldnerberatung", "where is the Jobcenter", "دائرة الأجانب"}
	for _, q := range confident {
		if id, c := top(kb, q); c < ConfidentAt {
			t.Errorf("Search(%q) = %q with confidence %.2f, want >= %.2f", q, id, c, ConfidentAt)
		}
	}
	unsure := []string{"asdfgh", "pizza delivery", "what is the weather", "🙂🙂", "Wetter morgen in Paris"}
	for _, q := range unsure {
		if id, c := top(kb, q); c >= ConfidentAt {
			t.Errorf("Search(%q) = %q with confidence %.2f, want < %.2f", q, id, c, ConfidentAt)
		}
	}
	// A typo costs confidence, and an exact match is ranked above it.
	_, exact := top(kb, "Jobcenter")
	_, typo := top(kb, "Jobcentr")
	if !(typo < exact) {
		t.Errorf("confidence with typo %.2f, exact %.2f: typo must cost", typo, exact)
	}
	for _, r := range kb.Search("Jobcenter Bürgergeld Schulden", "de", 10) {
		if r.Confidence < 0 || r.Confidence > 1 {
			t.Errorf("%s: confidence %v outside [0,1]", r.Entry.ID, r.Confidence)
		}
	}
}

func TestSearchEdgeCases(t *testing.T) {
	kb := mustTestKB(t)
	long := strings.Repeat("Ausländerbehörde Jobcenter ", 400) // ~10 KB
	for _, q := range []string{"", "   ", "🙂🙂🙂", "?!.", "\xff\xfe", long, strings.Repeat("ä", 5000)} {
		res := kb.Search(q, "de", 5)
		if len(res) > 5 {
			t.Errorf("Search(%.20q) returned %d > limit results", q, len(res))
		}
	}
	if res := kb.Search("Jobcenter", "de", 0); res != nil {
		t.Errorf("limit 0: got %d results, want none", len(res))
	}
	if res := kb.Search("", "de", 5); res != nil {
		t.Errorf("empty query: got %d results, want none", len(res))
	}
	empty := build(City{}, time.UTC, nil, nil, nil)
	if res := empty.Search("Jobcenter", "de", 5); res != nil {
		t.Errorf("empty base: got %d results", len(res))
	}
	units, _ := kb.index.queryUnits(long)
	if len(units) > maxQueryTokens {
		t.Errorf("long query: %d units, want at most %d", len(units), maxQueryTokens)
	}
}

func TestSearchOrderAndLimit(t *testing.T) {
	kb := mustTestKB(t)
	res := kb.Search("Deutsch", "de", 2)
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2", len(res))
	}
	for i := 1; i < len(res); i++ {
		if res[i].Score > res[i-1].Score {
			t.Errorf("results out of order: %v before %v", res[i-1].Score, res[i].Score)
		}
	}
}

func TestSearchConcurrent(t *testing.T) {
	kb := mustTestKB(t)
	queries := []string{"Ausländerbehörde", "jobcentr", "курси німецької", "عندي ديون", "Integrationskurse"}
	want := make([]string, len(queries))
	for i, q := range queries {
		want[i], _ = top(kb, q)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 100; n++ {
				for i, q := range queries {
					if got, _ := top(kb, q); got != want[i] {
						t.Errorf("concurrent Search(%q) = %q, want %q", q, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestOSA(t *testing.T) {
	tests := []struct {
		a, b string
		max  int
		want int
	}{
		{"jobcenter", "jobcenter", 2, 0},
		{"jobcenter", "jobcentre", 2, 1},
		{"jobcenter", "jobcentr", 2, 1},
		{"integrationskurs", "integrazionskurs", 2, 1},
		{"ca", "abc", 3, 3}, // OSA, not full Damerau: 3
		{"kurs", "kasse", 1, 2},
		{"abcdef", "ghijkl", 2, 3},
		{"курс", "курсы", 1, 1},
	}
	for _, tt := range tests {
		if got := osa([]rune(tt.a), []rune(tt.b), tt.max); got != tt.want {
			t.Errorf("osa(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.max, got, tt.want)
		}
	}
}

func TestStem(t *testing.T) {
	tests := map[string]string{
		"الدوره": "دور", "دوره": "دور", "دورات": "دور", "للاجانب": "اجانب",
		"کلاسها": "کلاس", "کلاسهای": "کلاس", "kurse": "kurse", "ال": "ال", "اب": "اب",
	}
	for in, want := range tests {
		if got := stem(in); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFuzzyUsesIndex checks that the deletion table finds every term
// within the edit budget, by comparing with a full scan. SymSpell is exact
// for words that fit in its prefix; longer ones are checked by
// TestSearchFinds.
func TestFuzzyUsesIndex(t *testing.T) {
	kb := mustTestKB(t)
	ix := kb.index
	for _, q := range []string{"kurss", "deutsh", "schuldn", "jobcntr", "hlfe", "ltrnen", "eltren", "деньги"} {
		u := unit{key: q, runes: []rune(q)}
		got := map[int32]bool{}
		for _, c := range ix.fuzzy(u, nil, false) {
			if len(ix.runes[c.term]) <= symPrefix {
				got[c.term] = true
			}
		}
		b := budget(len(u.runes))
		scanned := 0
		for _, id := range ix.sorted {
			r := ix.runes[id]
			if len(r) > symPrefix || len(r) < 3 {
				continue
			}
			if d := osa(u.runes, r, b); d <= b {
				scanned++
				if !got[id] {
					t.Errorf("fuzzy(%q) missed %q at distance %d", q, ix.terms[id], d)
				}
			}
		}
		if scanned < len(got) {
			t.Errorf("fuzzy(%q) found %d terms, a scan only %d", q, len(got), scanned)
		}
	}
}
