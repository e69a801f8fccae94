package bot_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot"
)

func TestRefInText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"📨 Neue Anfrage K-7F3Q", "K-7F3Q"},
		{"↪️ Weitergegeben an Anna Beispiel: K-7F3QZZ", "K-7F3QZZ"},
		{"K-7F3Q", "K-7F3Q"},
		{"K-7F3Q: Formular", "K-7F3Q"},
		{"\u200fالإجابة على طلبك K-7F3Q:", "K-7F3Q"},
		{"(K-7F3Q)", "K-7F3Q"},
		{"K-7F3 K-ABCD", "K-ABCD"},   // too short first
		{"Neue Anfrage\nK-7F3Q", ""}, // first line only
		{"XK-7F3Q", ""},              // inside a word
		{"K-7F3Qa", ""},              // inside a word
		{"K-7F3Q9ABCD", ""},          // too long
		{"K-k7f3q K-7f3q", ""},       // Lotse prints upper case
		{"K-K7F3", ""},               // never a first digit
		{"K-7F3O", ""},               // O is no digit
		{"K—7F3Q", ""},               // not Lotse's dash
		{"", ""},
		{"K-", ""},
		{strings.Repeat("x", 2000) + " K-7F3Q", ""}, // past the scanned part
	} {
		got, ok := bot.RefInText(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("RefInText(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

// FuzzRefInText: never panics; whatever it finds is a canonical
// reference (ParseRef keeps it as it is) on the text's first line, and
// a reference written on its own is always found.
func FuzzRefInText(f *testing.F) {
	for _, s := range []string{"📨 Neue Anfrage K-7F3Q", "K-7F3Q: x", "K-K-7F3Q", "\xffK-7F3Q\xff", "K-7F3QK-7F3Q", "aK-ABCD K-ABCD", "K-\u0301ABCD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, ok := bot.RefInText(s)
		line, _, _ := strings.Cut(s, "\n")
		if !ok {
			if ref != "" {
				t.Fatalf("RefInText(%q) = %q, false", s, ref)
			}
		} else {
			if c, pok := bot.ParseRef(ref); !pok || c != ref {
				t.Fatalf("RefInText(%q) = %q, not canonical (%q, %v)", s, ref, c, pok)
			}
			if !strings.Contains(line, ref) {
				t.Fatalf("RefInText(%q) = %q, not on the first line", s, ref)
			}
		}
		fresh := bot.NewRef(bot.RefDigits)
		if got, ok := bot.RefInText("# " + fresh + " " + s); !ok || got != fresh {
			t.Fatalf("RefInText of %q before %q = %q, %v", fresh, s, got, ok)
		}
		if utf8.ValidString(s) && !strings.Contains(s, "\n") && len(s) < 900 {
			if got, ok := bot.RefInText(s + " " + fresh); !ok || (got != fresh && !strings.Contains(s, got)) {
				t.Fatalf("RefInText(%q + %q) = %q, %v", s, fresh, got, ok)
			}
		}
	})
}
