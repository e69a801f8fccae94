package ical

// Internal test: folding and escaping are the point, and they are not
// exported.

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	goical "github.com/emersion/go-ical"
)

// unfold undoes RFC 5545 folding: a CRLF followed by one space or tab is
// removed.
func unfold(s string) string {
	s = strings.ReplaceAll(s, "\r\n ", "")
	return strings.ReplaceAll(s, "\r\n\t", "")
}

// checkFolded checks that b is lines ending in CRLF, each at most
// maxLine octets and valid UTF-8 on its own, and returns the unfolded
// logical lines.
func checkFolded(t *testing.T, b []byte) []string {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("output does not end in CRLF: %q", b)
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(l) > maxLine {
			t.Errorf("line %d has %d octets: %q", i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d is not valid UTF-8 on its own: %q", i+1, l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, l)
		}
		if i > 0 && l == " " {
			t.Errorf("line %d is an empty continuation", i+1)
		}
	}
	return strings.Split(strings.TrimSuffix(unfold(string(b)), "\r\n"), "\r\n")
}

// sanitized is what text promises to keep of s: valid UTF-8, line breaks
// as "\n", no control characters but tab.
func sanitized(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func TestFold(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines int
	}{
		{"empty", "", 1},
		{"exactly 75", strings.Repeat("a", 75), 1},
		{"76", strings.Repeat("a", 76), 2},
		{"75 plus 74", strings.Repeat("a", 75+74), 2},
		{"75 plus 75", strings.Repeat("a", 75+75), 3},
		// "ä" is two octets: 37 of them are 74 octets, the 38th would
		// straddle the limit and must move to the next line.
		{"two-octet at boundary", "a" + strings.Repeat("ä", 40), 2},
		{"four-octet runes", strings.Repeat("😀", 60), 4},
		{"arabic", strings.Repeat("مؤتمر الاندماج ", 20), 8}, // 560 octets
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			fold(&b, tt.in)
			got := checkFolded(t, b.Bytes())
			if len(got) != 1 || got[0] != tt.in {
				t.Errorf("unfolded = %q, want %q", got, tt.in)
			}
			if n := strings.Count(b.String(), "\r\n"); n != tt.lines {
				t.Errorf("%d physical lines, want %d:\n%s", n, tt.lines, b.String())
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a\b`, `a\\b`},
		{"a;b,c", `a\;b\,c`},
		{"one\ntwo\r\nthree\rfour", `one\ntwo\nthree\nfour`},
		{"tab\tkept, bell\a dropped, DEL\x7f dropped", `tab` + "\t" + `kept\, bell dropped\, DEL dropped`},
		{"bad \xff utf-8", "bad \uFFFD utf-8"},
		{`already \n escaped`, `already \\n escaped`},
		{"Geflüchtete – مؤتمر", "Geflüchtete – مؤتمر"},
	}
	for _, tt := range tests {
		if got := text(tt.in); got != tt.want {
			t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzFold checks, for any text, that a folded DESCRIPTION line unfolds
// to the original, that every physical line is at most 75 octets of valid
// UTF-8, and that a real iCalendar parser reads the text back unchanged.
func FuzzFold(f *testing.F) {
	for _, s := range []string{
		"", "a", strings.Repeat("x", 200), "ä;,\\\n", "\r\n\r", strings.Repeat("😀", 30),
		"Integrationskonferenz – مؤتمر الاندماج; Термін, 18:00\\",
		"\xff\xfe", "a\x00b\x1fc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		logical := "DESCRIPTION:" + text(s)
		var b bytes.Buffer
		fold(&b, logical)
		lines := checkFolded(t, b.Bytes())
		if len(lines) != 1 || lines[0] != logical {
			t.Fatalf("unfolded %q, want %q", lines, logical)
		}

		cal := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T000000Z\r\n" +
			b.String() + "END:VEVENT\r\nEND:VCALENDAR\r\n"
		parsed, err := goical.NewDecoder(strings.NewReader(cal)).Decode()
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, cal)
		}
		ev := parsed.Events()
		if len(ev) != 1 {
			t.Fatalf("%d events", len(ev))
		}
		got, err := ev[0].Props.Text(goical.PropDescription)
		if err != nil {
			t.Fatal(err)
		}
		if want := sanitized(s); got != want {
			t.Fatalf("parsed text %q, want %q", got, want)
		}
	})
}
