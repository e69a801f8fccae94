package i18n

import (
	"bytes"
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
	return string(appendFold(make([]byte, 0, len(s)), s))
}

// appendFold appends Fold(s) to dst.
func appendFold(dst []byte, s string) []byte {
	// Fast path: every rune below U+0700 (Latin, Greek, Cyrillic, Arabic
	// script) decomposes on its own into one base letter plus marks, so a
	// table stands in for NFKD, which would cost more than the rest.
	f := folder{b: dst, start: len(dst)}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				f.add(rune(c))
				continue
			}
			if f.sep && len(f.b) > f.start {
				f.b = append(f.b, ' ')
			}
			f.sep, f.prevCyr = false, false
			f.b = append(f.b, c)
			continue
		}
		var r rune
		if c >= 0xc2 && c <= 0xdf && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			// Two bytes, U+0080 to U+07FF: Latin, Greek, Cyrillic, Arabic.
			r = rune(c&0x1f)<<6 | rune(s[i+1]&0x3f)
			i += 2
		} else {
			var n int
			r, n = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				// Invalid UTF-8 separates words, like any symbol.
				return appendFold(dst, strings.ToValidUTF8(s, " "))
			}
			i += n
		}
		if r < rune(len(foldTable)) {
			t := foldTable[r]
			switch t.class {
			case letter:
				f.emit(t.r1)
				if t.r2 != 0 {
					f.emit(t.r2)
				}
				continue
			case drop:
				continue
			case separator:
				f.sep = true
				continue
			case apostrophe:
				f.add(t.base)
				continue
			}
			// The decomposition is more than a letter and marks.
		} else if passThrough(r) {
			f.add(r)
			continue
		}
		return append(dst, foldNFKD(s)...)
	}
	return f.b
}

// foldNFKD is Fold for text with runes the fast path does not cover.
func foldNFKD(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	s = norm.NFKD.String(s)
	f := folder{b: make([]byte, 0, len(s))}
	for _, r := range s {
		f.add(r)
	}
	out := string(f.b)
	if f.needNFC {
		out = norm.NFC.String(out)
	}
	return out
}

// folder accumulates the folded form of NFKD-decomposed runes.
type folder struct {
	b       []byte
	start   int  // where the folded text begins in b
	sep     bool // a separator is owed before the next letter
	prevCyr bool // the last emitted rune was Cyrillic
	needNFC bool // an emitted rune may compose with its neighbour
}

func (f *folder) add(r rune) {
	switch classify(r) {
	case drop:
	case separator:
		f.sep = true
	case apostrophe:
		if !f.prevCyr || f.sep {
			f.sep = true
		}
	default:
		m1, m2 := mapLetter(lower(r))
		f.emit(m1)
		if m2 != 0 {
			f.emit(m2)
		}
	}
}

func (f *folder) emit(r rune) {
	if f.sep && len(f.b) > f.start {
		f.b = append(f.b, ' ')
	}
	f.sep = false
	f.b = utf8.AppendRune(f.b, r)
	if r >= 0x900 {
		f.needNFC = true
	}
	f.prevCyr = r >= 0x400 && r <= 0x52f
}

// passThrough reports whether a rune at or above U+0700 is left alone by
// NFKD and needs no composition afterwards: the format characters and
// quotation marks common in chat text.
func passThrough(r rune) bool {
	return (r >= 0x200b && r <= 0x200f) || r == 0x2018 || r == 0x2019 || r == 0x201c || r == 0x201d
}

// decomposed maps each rune below U+0700 to the first rune of its NFKD
// decomposition when the rest are nonspacing marks (which Fold drops), or
// to -1 when the decomposition is anything else (ligatures, fractions).
var decomposed = func() (t [0x700]rune) {
	for r := range t {
		d := []rune(norm.NFKD.String(string(rune(r))))
		t[r] = d[0]
		for _, c := range d[1:] {
			if !unicode.Is(unicode.Mn, c) {
				t[r] = -1
			}
		}
	}
	return t
}()

// foldRune is what the fast path of Fold does with one rune below U+0700:
// its class after decomposition and, for a letter, the one or two runes
// it folds to; class needNFKD sends the whole text through NFKD.
type foldRune struct {
	class  runeClass
	base   rune // first rune of the decomposition
	r1, r2 rune
}

// foldTable caches decomposed, classify, lower and mapLetter for the
// runes of the fast path: folding the texts of a large knowledge base
// calls them for every rune.
var foldTable = func() (t [len(decomposed)]foldRune) {
	for r, d := range decomposed {
		if d < 0 {
			t[r] = foldRune{class: needNFKD}
			continue
		}
		t[r] = foldRune{class: classify(d), base: d}
		if t[r].class == letter {
			t[r].r1, t[r].r2 = mapLetter(lower(d))
		}
	}
	return t
}()

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

// AppendTokens appends the words of s, as Tokens returns them and
// separated by single spaces, to dst and returns the extended buffer.
// It is Tokens for callers that fold many texts, such as a search index:
// with a reused buffer, folding costs no allocation.
func AppendTokens(dst []byte, s string) []byte {
	start := len(dst)
	dst = appendFold(dst, s)
	// dropUmlautE on every word, in place: words only get shorter.
	w := start
	for i := start; i < len(dst); {
		j := i + bytes.IndexByte(dst[i:], ' ')
		if j < i {
			j = len(dst)
		}
		if tok := dst[i:j]; hasUmlautE(tok) {
			ws := w
			for _, c := range tok {
				if c == 'e' && w > ws && (dst[w-1] == 'a' || dst[w-1] == 'o' || dst[w-1] == 'u') {
					continue
				}
				dst[w] = c
				w++
			}
		} else {
			w += copy(dst[w:], tok)
		}
		if j < len(dst) {
			dst[w] = ' '
			w++
		}
		i = j + 1
	}
	return dst[:w]
}

// hasUmlautE reports whether dropUmlautE would change the word t.
func hasUmlautE(t []byte) bool {
	found := false
	for i, c := range t {
		if c >= utf8.RuneSelf {
			return false
		}
		if c == 'e' && i > 0 && (t[i-1] == 'a' || t[i-1] == 'o' || t[i-1] == 'u') {
			found = true
		}
	}
	return found
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
	needNFKD // only in foldTable
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
	// Fast paths for Cyrillic and Arabic-script text.
	switch {
	case r >= 0x410 && r <= 0x44f, r >= 0x621 && r <= 0x63a, r >= 0x641 && r <= 0x64a,
		r >= 0x660 && r <= 0x669, r >= 0x6f0 && r <= 0x6f9:
		return letter
	case r >= 0x64b && r <= 0x65f: // harakat
		return drop
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

// mapLetter unifies lower-case letters that NFKD leaves distinct but
// people use interchangeably; a letter may become two (ß → ss). A switch,
// not a map: it runs for every non-ASCII rune of every text indexed.
func mapLetter(r rune) (rune, rune) {
	switch r {
	case 'ß':
		return 's', 's'
	case 'ς':
		return 'σ', 0
	case 'ı':
		return 'i', 0
	case 'æ':
		return 'a', 'e'
	case 'œ':
		return 'o', 'e'
	case 'ø':
		return 'o', 0
	case 'ł':
		return 'l', 0
	case 'đ', 'ð':
		return 'd', 0
	case 'þ':
		return 't', 'h'
	case 'ħ':
		return 'h', 0
	// Arabic and Persian: one form per letter.
	case '\u064a', // Arabic yeh
		'\u0649', // alef maksura
		'\u06cd', // yeh with tail (Pashto)
		'\u06d0': // yeh (Pashto, Uzbek)
		return 'ی', 0
	case '\u0643': // Arabic kaf -> keheh
		return 'ک', 0
	case '\u0629', // teh marbuta
		'\u06d5', // ae (heh with hamza decomposes to it)
		'\u06c1': // heh goal
		return 'ه', 0
	case '\u0671', '\u0672', '\u0673': // alef wasla, alef with wavy hamza
		return 'ا', 0
	}
	switch {
	case r >= '\u0660' && r <= '\u0669': // Arabic-Indic digits
		return '0' + r - '\u0660', 0
	case r >= '\u06f0' && r <= '\u06f9': // Persian digits
		return '0' + r - '\u06f0', 0
	}
	return r, 0
}

// lower is unicode.ToLower with fast paths for the scripts we see most.
func lower(r rune) rune {
	switch {
	case r >= 0x410 && r <= 0x42f: // Cyrillic capitals А-Я
		return r + 0x20
	case r >= 0x430 && r <= 0x45f, r >= 0x600 && r <= 0x6ff:
		return r
	}
	return unicode.ToLower(r)
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
