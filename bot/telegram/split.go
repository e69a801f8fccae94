package telegram

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
)

// MaxText is the longest text Telegram accepts in one message: "1-4096
// characters after entities parsing". We send plain text and count
// UTF-16 code units, which is never less than Telegram's own count, so a
// part that fits here fits there.
const MaxText = 4096

// MaxCaption is the longest media caption, counted like MaxText.
const MaxCaption = 1024

// MaxNotice is the longest callback answer text.
const MaxNotice = 200

// UTF16Len returns the length of s in UTF-16 code units, the unit in
// which Telegram measures texts and entity offsets. Invalid bytes count
// as one unit each (they become U+FFFD).
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += runeUnits(r)
	}
	return n
}

func runeUnits(r rune) int {
	if r >= 0x10000 && r <= utf8.MaxRune {
		return 2
	}
	return 1
}

// Split cuts text into parts of at most max UTF-16 code units each. It
// prefers to cut between paragraphs, then between lines, then between
// words, and only then inside a word; it never cuts a surrogate pair and
// avoids cutting grapheme clusters (combining marks, emoji sequences,
// flags). Whitespace at the cuts and around the whole text is dropped;
// every other character is kept, in order. Invalid UTF-8 is replaced by
// U+FFFD so that every part is valid. A text that is empty or only
// whitespace gives no parts. A max below 2 is treated as 2, the smallest
// size that can hold every character.
func Split(text string, max int) []string {
	if max < 2 {
		max = 2
	}
	text = strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))
	var parts []string
	for text != "" {
		cut := cutPoint(text, max)
		if cut == len(text) {
			parts = append(parts, text)
			break
		}
		part := strings.TrimRightFunc(text[:cut], unicode.IsSpace)
		if part != "" {
			parts = append(parts, part)
		}
		text = strings.TrimLeftFunc(text[cut:], unicode.IsSpace)
	}
	return parts
}

// cutPoint returns a byte index 0 < i <= len(s) at which to cut s so
// that s[:i] holds at most max UTF-16 units; len(s) if all of s fits.
// It looks at no more than the first max characters, so Split is linear.
func cutPoint(s string, max int) int {
	if len(s) <= max && utf8.ValidString(s) {
		return len(s) // a character has no more UTF-16 units than bytes
	}
	limit, units := 0, 0
	for i, r := range s {
		u := runeUnits(r)
		if units+u > max {
			break
		}
		units += u
		limit = i + utf8.RuneLen(r)
	}
	if limit == len(s) {
		return limit
	}
	// A natural boundary in the second half of the window keeps parts
	// reasonably full; otherwise take any natural boundary at all before
	// resorting to a cut inside a word. A boundary right at limit (the
	// character after the window is a space) counts.
	half := limit / 2
	for _, min := range []int{half, 1} {
		for _, sep := range []string{"\n\n", "\n"} {
			if i := lastIndexAtMost(s, sep, limit); i >= min {
				return i
			}
		}
		if i := lastSpaceAtMost(s, limit); i >= min {
			return i
		}
	}
	// Inside a word: step back to a grapheme boundary, if one is near.
	for i := limit; i > 0; {
		if graphemeBoundary(s, i) {
			return i
		}
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	if limit == 0 { // unreachable for max >= 2; keep progress guaranteed
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	return limit
}

// lastIndexAtMost returns the last index i <= limit of sep in s, or -1.
func lastIndexAtMost(s, sep string, limit int) int {
	return strings.LastIndex(s[:min(len(s), limit+len(sep))], sep)
}

// lastSpaceAtMost returns the last index i <= limit of a whitespace rune
// in s, or -1.
func lastSpaceAtMost(s string, limit int) int {
	i := strings.LastIndexFunc(s[:min(len(s), limit+utf8.UTFMax)], unicode.IsSpace)
	for i > limit {
		i = strings.LastIndexFunc(s[:i], unicode.IsSpace)
	}
	return i
}

// graphemeBoundary approximates UAX #29: cutting at byte i of s would not
// separate a base character from combining marks, a zero-width joiner
// sequence, variation selectors, skin-tone modifiers, emoji tag
// sequences, or the two halves of a regional-indicator flag.
func graphemeBoundary(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return true
	}
	next, _ := utf8.DecodeRuneInString(s[i:])
	prev, _ := utf8.DecodeLastRuneInString(s[:i])
	if extendsCluster(next) || prev == '\u200D' {
		return false
	}
	if prev == '\r' && next == '\n' {
		return false
	}
	if isRegionalIndicator(next) && isRegionalIndicator(prev) {
		// Flags are pairs: cut only after an even run of indicators.
		n := 0
		for j := i; j > 0; {
			r, size := utf8.DecodeLastRuneInString(s[:j])
			if !isRegionalIndicator(r) {
				break
			}
			n++
			j -= size
		}
		return n%2 == 0
	}
	return true
}

func extendsCluster(r rune) bool {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
		return true
	case r == '\u200D': // zero-width joiner
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF: // variation selectors
		return true
	case r >= 0x1F3FB && r <= 0x1F3FF: // skin-tone modifiers
		return true
	case r >= 0xE0020 && r <= 0xE007F: // emoji tag sequences
		return true
	}
	return false
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// rlm is U+200F RIGHT-TO-LEFT MARK, a strong RTL character of zero width.
const rlm = "\u200F"

// markRTL prefixes every line of s whose first strong character is not
// right-to-left (a line opening with a Latin street name, a phone number
// or a URL) with U+200F. Telegram clients pick each paragraph's direction
// from its first strong character, so without the mark such a line of an
// Arabic or Persian answer would be laid out left-to-right, with its
// Arabic words and punctuation jumbled. Lines that already start with an
// RTL letter are left alone.
func markRTL(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if needsRLM(line) {
			lines[i] = rlm + line
		}
	}
	return strings.Join(lines, "\n")
}

// needsRLM reports whether line has visible content and does not already
// start (in the bidi sense) right-to-left.
func needsRLM(line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	for _, r := range line {
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.R, bidi.AL:
			return false
		case bidi.L:
			return true
		}
	}
	return true // only neutral or weak characters (digits, punctuation)
}
