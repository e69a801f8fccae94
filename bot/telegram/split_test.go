package telegram_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot/telegram"
)

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"Straße", 6},
		{"привіт", 6},
		{"مرحبا", 5},
		{"😀", 2},        // astral: a surrogate pair
		{"👍🏽", 4},       // emoji + skin tone, two astral runes
		{"\xff\xfe", 2}, // invalid bytes count one each
	}
	for _, tt := range tests {
		if got := telegram.UTF16Len(tt.in); got != tt.want {
			t.Errorf("UTF16Len(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		text string
		max  int
		want []string
	}{
		{"short", "hello", 10, []string{"hello"}},
		{"empty", "", 10, nil},
		{"whitespace only", " \n\t ", 10, nil},
		{"trims", "  hi  ", 10, []string{"hi"}},
		{"paragraphs", "aaaa bbbb\n\ncccc dddd", 12, []string{"aaaa bbbb", "cccc dddd"}},
		{"lines before words", "aaa bbb\nccc ddd eee", 12, []string{"aaa bbb", "ccc ddd eee"}},
		{"words", "aaa bbb ccc ddd", 8, []string{"aaa bbb", "ccc ddd"}},
		{"hard cut", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"surrogate pair kept whole", "a😀😀", 2, []string{"a", "😀", "😀"}},
		{"combining mark kept with base", "abce\u0301f", 4, []string{"abc", "e\u0301f"}},
		{"flag pair kept whole", "a🇩🇪🇺🇦", 5, []string{"a🇩🇪", "🇺🇦"}},
		{"zwj sequence kept whole", "ab👩\u200D💻", 5, []string{"ab", "👩\u200D💻"}},
		{"max below 2", "abc", 0, []string{"ab", "c"}},
		{"invalid utf8 replaced", "a\xffb", 10, []string{"a\uFFFDb"}},
		{"paragraph too early falls back to words", "a\n\nbbbbbbbbb ccccc ddd", 18, []string{"a\n\nbbbbbbbbb ccccc", "ddd"}},
		{"zwj sequence longer than max is cut", "ab👩\u200D💻", 4, []string{"ab", "👩\u200D", "💻"}},
		{"space just past the window", "aaaa bbbb cccc", 9, []string{"aaaa bbbb", "cccc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := telegram.Split(tt.text, tt.max)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("Split(%q, %d) = %q, want %q", tt.text, tt.max, got, tt.want)
			}
		})
	}
}

func TestSplitLongAnswer(t *testing.T) {
	para := strings.Repeat("Антрag für Wohnberechtigungsschein, كيف أحصل على موعد؟ ", 20)
	text := strings.Repeat(para+"\n\n", 12)
	parts := telegram.Split(text, telegram.MaxText)
	if len(parts) < 2 {
		t.Fatalf("got %d parts, want several", len(parts))
	}
	for i, p := range parts {
		if n := telegram.UTF16Len(p); n > telegram.MaxText {
			t.Errorf("part %d has %d units", i, n)
		}
		// Paragraph boundaries are available, so no part ends mid-paragraph.
		if !strings.HasSuffix(p, "؟") {
			t.Errorf("part %d ends with %q, want a paragraph end", i, p[len(p)-10:])
		}
	}
	checkContent(t, text, parts)
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 5, "abcd…"},
		{"ab😀cd", 4, "ab…"},
		{"abe\u0301cd", 4, "ab…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := telegram.Truncate(tt.in, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// checkContent fails unless parts hold exactly the non-whitespace
// characters of text, in order.
func checkContent(t *testing.T, text string, parts []string) {
	t.Helper()
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	want := strip(strings.ToValidUTF8(text, "\uFFFD"))
	if got := strip(strings.Join(parts, "")); got != want {
		t.Errorf("content changed:\n got %q\nwant %q", got, want)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("hello world", 5)
	f.Add("aaaa\n\nbbbb\ncccc dddd", 6)
	f.Add("😀😀😀 🇩🇪🇺🇦 e\u0301", 3)
	f.Add("مرحبا بكم في برلين\nJobcenter Mitte", 7)
	f.Add("\xff\xfe\x00 a", 2)
	f.Fuzz(func(t *testing.T, text string, n int) {
		n %= 200 // include 0 and 1, which are raised to 2
		if n < 0 {
			n = -n
		}
		parts := telegram.Split(text, n)
		limit := max(n, 2)
		for i, p := range parts {
			if p == "" || strings.TrimSpace(p) == "" {
				t.Fatalf("part %d is empty: %q", i, parts)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("part %d is not valid UTF-8: %q", i, p)
			}
			if n := telegram.UTF16Len(p); n > limit {
				t.Fatalf("part %d has %d units, max %d", i, n, limit)
			}
		}
		checkContent(t, text, parts)
	})
}
