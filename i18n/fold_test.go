package i18n_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/i18n"
)

func TestFold(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii clean", "jobcenter nord", "jobcenter nord"},
		{"ascii case and punctuation", "  Wo ist das JOBCENTER?!  ", "wo ist das jobcenter"},
		{"umlauts", "Ausländerbehörde Übergang", "auslanderbehorde ubergang"},
		{"sharp s", "Straße STRASSE", "strasse strasse"},
		{"capital sharp s", "GROẞ", "gross"},
		{"french accents", "Café Crème, où est-ce ?", "cafe creme ou est ce"},
		{"full width", "Ｆｕｌｌ－ｗｉｄｔｈ", "full width"},
		{"ligature", "ﬁnden", "finden"},
		{"turkish dotted capital I", "İSTANBUL", "istanbul"},
		{"turkish dotless i", "kayıt ışık", "kayit isik"},
		{"turkish letters", "Çağrı Şöför", "cagri sofor"},
		{"greek final sigma", "ΟΔΟΣ οδος", "οδοσ οδοσ"},
		{"cyrillic yo", "Ёлка ёлка", "елка елка"},
		{"cyrillic short i", "Короткий", "короткии"},
		{"ukrainian yi", "Їжак", "іжак"},
		{"ukrainian apostrophe ascii", "сім'я", "сімя"},
		{"ukrainian apostrophe typographic", "сім’я", "сімя"},
		{"ukrainian modifier apostrophe", "сімʼя", "сімя"},
		{"french elision", "l'office d’intégration", "l office d integration"},
		{"turkish suffix apostrophe", "Jobcenter'a", "jobcenter a"},
		{"arabic yeh and alef maksura", "علي على", "علی علی"},
		{"arabic kaf", "كتاب", "کتاب"},
		{"hamza on alef", "أين إلى آخر", "این الی اخر"},
		{"teh marbuta", "مدرسة", "مدرسه"},
		{"waw and yeh hamza", "مؤسسة رئيس", "موسسه رییس"},
		{"harakat", "كِتَابٌ الْعَرَبِيَّة", "کتاب العربیه"},
		{"tatweel", "كـــتاب", "کتاب"},
		{"persian zwnj", "می\u200cخواهم", "میخواهم"},
		{"persian no zwnj", "میخواهم", "میخواهم"},
		{"arabic presentation form", "\ufefb", "لا"},
		{"arabic-indic digits", "٤٧١٠١", "47101"},
		{"persian digits", "۴۷۱۰۱", "47101"},
		{"emoji only", "🙂🙂", ""},
		{"emoji between words", "Hilfe🙂bitte", "hilfe bitte"},
		{"zero width space", "a\u200bb", "a b"},
		{"soft hyphen joins", "Bera\u00adtung", "beratung"},
		{"bidi marks", "\u200fجوب\u200e", "جوب"},
		{"invalid utf8", "ab\xffcd", "ab cd"},
		{"hangul survives", "한국어", "한국어"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := i18n.Fold(tt.in); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"🙂 ?", nil},
		{"Auslaenderbehoerde", []string{"auslanderbehorde"}},
		{"Ausländerbehörde", []string{"auslanderbehorde"}},
		{"Fluechtlingsberatung Buero", []string{"fluchtlingsberatung" /* */, "buro"}},
		{"Wo ist das Büro?", []string{"wo", "ist", "das", "buro"}},
		{"caritas-migrationsberatung", []string{"caritas", "migrationsberatung"}},
		{"دورة اللغة", []string{"دوره", "اللغه"}},
		{"где курсы?", []string{"где", "курсы"}},
	}
	for _, tt := range tests {
		if got := i18n.Tokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFoldEquivalences checks the spellings the search relies on being equal.
func TestFoldEquivalences(t *testing.T) {
	groups := [][]string{
		{"Ausländerbehörde", "Auslaenderbehoerde", "AUSLÄNDERBEHÖRDE", "auslanderbehorde"},
		{"می‌خواهم", "میخواهم"},
		{"كتاب", "کتاب", "كِتَاب"},
		{"ёлка", "елка", "ЁЛКА"},
		{"İzmir", "izmir", "IZMIR"},
		{"Straße", "strasse", "STRASSE"},
	}
	for _, g := range groups {
		want := strings.Join(i18n.Tokens(g[0]), " ")
		for _, s := range g[1:] {
			if got := strings.Join(i18n.Tokens(s), " "); got != want {
				t.Errorf("Tokens(%q) = %q, want %q like %q", s, got, want, g[0])
			}
		}
	}
}

func TestFoldConcurrent(t *testing.T) {
	in := []string{"Ausländerbehörde", "كِتَابٌ", "Ёлка", "İSTANBUL", "می‌خواهم", "한국어"}
	want := make([]string, len(in))
	for i, s := range in {
		want[i] = i18n.Fold(s)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				for i, s := range in {
					if got := i18n.Fold(s); got != want[i] {
						t.Errorf("concurrent Fold(%q) = %q, want %q", s, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

var fuzzSeeds = []string{
	"", "Ausländerbehörde", "STRASSE Straße", "كِتَابٌ الْعَرَبِيَّة", "می‌خواهم", "Ёлка",
	"İSTANBUL ı", "🙂🙂", "ＦＵＬＬ", "ﬁ", "\ufefb", "сім'я", "l'office", "한국어", "ǅ",
	"\u0301a", "a\u0308\u0301", "ᾈ", "ŉ", "ΐ", "\xff\xfe", "क्षि", "ﷺ", "ⅫⅫ", "½",
}

func checkFold(t *testing.T, s string) {
	t.Helper()
	f := i18n.Fold(s)
	if !utf8.ValidString(f) {
		t.Fatalf("Fold(%q) = %q: invalid UTF-8", s, f)
	}
	if ff := i18n.Fold(f); ff != f {
		t.Fatalf("Fold not idempotent: Fold(%q) = %q, Fold of that = %q", s, f, ff)
	}
	if strings.HasPrefix(f, " ") || strings.HasSuffix(f, " ") || strings.Contains(f, "  ") {
		t.Fatalf("Fold(%q) = %q: stray separators", s, f)
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(checkFold)
}

func FuzzTokens(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := i18n.Tokens(s)
		for _, tok := range toks {
			if tok == "" || !utf8.ValidString(tok) || strings.Contains(tok, " ") {
				t.Fatalf("Tokens(%q) has bad token %q", s, tok)
			}
		}
		again := i18n.Tokens(strings.Join(toks, " "))
		if !slices.Equal(again, toks) {
			t.Fatalf("Tokens not stable: %q -> %q -> %q", s, toks, again)
		}
	})
}

func BenchmarkFold(b *testing.B) {
	cases := map[string]string{
		"ascii":    "Wo ist das Jobcenter in Nord?",
		"german":   "Wo finde ich die Ausländerbehörde für meinen Aufenthaltstitel?",
		"arabic":   "أين أجد مكتب الأجانب لتجديد الإقامة؟",
		"persian":  "کجا می‌توانم کلاس زبان آلمانی پیدا کنم؟",
		"russian":  "Где находится ведомство по делам иностранцев?",
		"cyrillic": "Де знайти курси німецької мови для дорослих?",
	}
	for name, s := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				i18n.Tokens(s)
			}
		})
	}
}
