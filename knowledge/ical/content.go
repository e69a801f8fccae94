package ical

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// maxLine is the longest content line RFC 5545 (3.1) allows, in octets,
// not counting the CRLF; longer lines are folded.
const maxLine = 75

// writer accumulates content lines: CRLF-terminated and folded, so that
// every physical line is at most maxLine octets and no UTF-8 sequence is
// split across lines (RFC 5545 3.1 allows the split but many clients
// then show mojibake).
type writer struct {
	buf bytes.Buffer
}

// line writes one content line "name:value". name may carry parameters
// ("DTSTART;TZID=Europe/Berlin"); value must already be in its property's
// value syntax (escaped with text for TEXT values).
func (w *writer) line(name, value string) {
	fold(&w.buf, name+":"+value)
}

// bytes returns what was written.
func (w *writer) bytes() []byte { return w.buf.Bytes() }

// fold writes the logical line s to b as one or more physical lines of at
// most maxLine octets each; continuation lines start with a space, which
// counts towards their length. Cuts fall on rune boundaries; s must be
// valid UTF-8 without CR or LF (text guarantees that for TEXT values).
func fold(b *bytes.Buffer, s string) {
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLine - 1
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

// text escapes s as an RFC 5545 TEXT value (3.3.11): backslash,
// semicolon and comma are escaped, every line break becomes "\n".
// Control characters other than tab, which TEXT does not allow, are
// dropped, and invalid UTF-8 is replaced by U+FFFD, so that curated text
// can never break the file's structure.
func text(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == ';' || c == ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\r':
			b.WriteString(`\n`)
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b.WriteByte(c)
		}
	}
	return b.String()
}
