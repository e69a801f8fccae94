package i18n

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns the search key of s: a lower-case string of words separated
// by single spaces, in which the differences people do not mean are gone.
//
//   - compatibility forms are unified (NFKD: full-width letters, ligatures,
//     Arabic presentation forms, superscripts);
//   - case is folded (ß → ss, final sigma → sigma, Turkish İ and ı → i);
//   - combining marks are removed: accents and umlauts (é → e, ä → a),
//     Arabic harakat and hamza carriers (أ إ آ → ا, ؤ → و, ئ → ی),
//     Cyrillic breve and diaeresis (й → и, ё → е, ї → і);
//   - Arabic and Persian letter variants are unified (ي ى → ی, ك → ک,
//     ة → ه), Arabic-Indic and Persian digits become ASCII digits and the
//     tatweel is dropped;
//   - the zero-width non-joiner is dropped, so the Persian "می‌خواهم" and
//     "میخواهم" give the same key (the search also joins adjacent words,
//     which covers "می خواهم");
//   - an apostrophe after a Cyrillic letter is dropped (Ukrainian "сім'я"
//     = "сімя"); any other apostrophe separates words (French "l'office",
//     Turkish "Jobcenter'a");
//   - everything that is neither letter nor digit (punctuation, symbols,
//     emoji, spaces) separates words.
//
// The result is only a key for comparison: it merges letters that are
// different in their languages (й/и) and must never be shown to a user.
// Fold is idempotent (Fold(Fold(s)) == Fold(s)) and safe for concurrent use.
func Fold(s string) string {
	if isASCII(s) {
		return foldASCII(s)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	s = norm.NFKD.String(s)

	var b strings.Builder
	b.Grow(len(s))
	sep := false     // a separator is owed before the next letter
	prevCyr := false // the last emitted rune was Cyrillic
	needNFC := false // an emitted rune may compose with its neighbour
	emit := func(r rune) {
		if sep && b.Len() > 0 {
			b.WriteByte(' ')
		}
		sep = false
		b.WriteRune(r)
		if r >= 0x900 {
			needNFC = true
		}
		prevCyr = r >= 0x400 && r <= 0x52f
	}
	for _, r := range s {
		switch c := classify(r); c {
		case drop:
		case separator:
			sep = true
		case apostrophe:
			if !prevCyr || sep {
				sep = true
			}
		default:
			r = unicode.ToLower(r)
			m, ok := letterMap[r]
			if !ok {
				emit(r)
				continue
			}
			for _, mr := range m {
				emit(mr)
			}
		}
	}
	out := b.String()
	if needNFC {
		out = norm.NFC.String(out)
	}
	return out
}

// Tokens folds s and splits it into words. In words written in ASCII
// letters it also drops an "e" after "a", "o" or "u", so that the German
// transcriptions of umlauts fold like the umlauts themselves:
// "Auslaenderbehoerde" and "Ausländerbehörde" both give "auslanderbehorde".
// The same rule applied to index and query merges only a few unrelated
// words ("Feuer" and "feur"), which costs far less than missing the most
// common way people without a German keyboard type.
func Tokens(s string) []string {
	f := Fold(s)
	if f == "" {
		return nil
	}
	toks := strings.Split(f, " ")
	for i, t := range toks {
		toks[i] = dropUmlautE(t)
	}
	return toks
}

// dropUmlautE removes every "e" that follows "a", "o" or "u" in an ASCII
// word. The result never contains such a pair, so the rule is idempotent.
func dropUmlautE(t string) string {
	if !isASCII(t) || (!strings.Contains(t, "ae") && !strings.Contains(t, "oe") && !strings.Contains(t, "ue")) {
		return t
	}
	b := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == 'e' && len(b) > 0 {
			switch b[len(b)-1] {
			case 'a', 'o', 'u':
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

type runeClass uint8

const (
	letter runeClass = iota
	drop
	separator
	apostrophe
)

// classify says what Fold does with a rune of NFKD-decomposed text.
func classify(r rune) runeClass {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', 'A' <= r && r <= 'Z':
			return letter
		case r == '\'' || r == '`':
			return apostrophe
		}
		return separator
	}
	switch r {
	case '\u2019', '\u2018', '\u02bc', '\u02b9', '\u2032':
		return apostrophe
	case '\u0640': // Arabic tatweel: stretches a word, no letter
		return drop
	case '\u200b': // zero-width space separates words
		return separator
	}
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return drop
	case unicode.IsLetter(r), unicode.IsDigit(r), unicode.Is(unicode.Mc, r):
		return letter
	}
	return separator
}

// letterMap unifies lower-case letters that NFKD leaves distinct but
// people use interchangeably.
var letterMap = map[rune][]rune{
	'ß': []rune("ss"),
	'ς': {'σ'},
	'ı': {'i'},
	'æ': []rune("ae"),
	'œ': []rune("oe"),
	'ø': {'o'},
	'ł': {'l'},
	'đ': {'d'}, 'ð': {'d'},
	'þ': []rune("th"),
	'ħ': {'h'},
	// Arabic and Persian: one form per letter.
	'\u064a': {'ی'}, // Arabic yeh
	'\u0649': {'ی'}, // alef maksura
	'\u06cd': {'ی'}, // yeh with tail (Pashto)
	'\u06d0': {'ی'}, // yeh (Pashto, Uzbek)
	'\u0643': {'ک'}, // Arabic kaf -> keheh
	'\u0629': {'ه'}, // teh marbuta
	'\u06d5': {'ه'}, // ae (heh with hamza decomposes to it)
	'\u06c1': {'ه'}, // heh goal
	'\u0671': {'ا'}, // alef wasla
	'\u0672': {'ا'}, // alef with wavy hamza above
	'\u0673': {'ا'}, // alef with wavy hamza below
	'\u0660': {'0'}, '\u0661': {'1'}, '\u0662': {'2'}, '\u0663': {'3'}, '\u0664': {'4'},
	'\u0665': {'5'}, '\u0666': {'6'}, '\u0667': {'7'}, '\u0668': {'8'}, '\u0669': {'9'},
	'\u06f0': {'0'}, '\u06f1': {'1'}, '\u06f2': {'2'}, '\u06f3': {'3'}, '\u06f4': {'4'},
	'\u06f5': {'5'}, '\u06f6': {'6'}, '\u06f7': {'7'}, '\u06f8': {'8'}, '\u06f9': {'9'},
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldASCII is Fold for ASCII text, without the Unicode machinery.
func foldASCII(s string) string {
	// Most queries are already folded or need only lower-casing: avoid
	// building a new string when nothing changes.
	clean := len(s) > 0 && s[0] != ' ' && s[len(s)-1] != ' '
	for i := 0; clean && i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == ' ' && s[i-1] != ' ':
		default:
			clean = false
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	sep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		default:
			sep = true
			continue
		}
		if sep && len(b) > 0 {
			b = append(b, ' ')
		}
		sep = false
		b = append(b, c)
	}
	return string(b)
}
