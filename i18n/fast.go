package i18n

import (
	"strconv"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// The fast path of Catalog.T. Every message Lotse ships is either plain
// text or text with {{.Field}} placeholders, so T can substitute them
// directly instead of going through go-i18n (language matching, template
// lookup, text/template with reflection) on every call. Anything the
// fast path does not cover exactly — plural messages, custom delimiters,
// other template syntax, missing or non-scalar values — goes through
// go-i18n as before, so the output is the same either way
// (TestFastMatchesGoI18n compares both for every message and language).

// fastMessage is a message split into literal text and placeholders:
// parts[0] field[0] parts[1] field[1] ... parts[n].
type fastMessage struct {
	parts  []string
	fields []string
	size   int // total length of the literal parts
}

// compileFast precompiles the singular messages of every language, the
// English text standing in for a translation that lacks a message (as
// go-i18n falls back to the bundle's default language).
func compileFast(byLang map[string][]*goi18n.Message) map[string]map[string]*fastMessage {
	compile := func(msgs []*goi18n.Message) map[string]*fastMessage {
		out := make(map[string]*fastMessage, len(msgs))
		for _, m := range msgs {
			if m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != "" ||
				m.LeftDelim != "" || m.RightDelim != "" || m.Other == "" {
				continue
			}
			if fm, ok := parseFast(m.Other); ok {
				out[m.ID] = fm
			}
		}
		return out
	}
	src := compile(byLang[SourceLanguage])
	all := map[string]map[string]*fastMessage{SourceLanguage: src}
	for lang, msgs := range byLang {
		if lang == SourceLanguage {
			continue
		}
		own := compile(msgs)
		has := make(map[string]bool, len(msgs))
		for _, m := range msgs {
			has[m.ID] = true
		}
		for id, fm := range src {
			if !has[id] {
				own[id] = fm // go-i18n's English fallback
			}
		}
		all[lang] = own
	}
	return all
}

// parseFast splits s at {{.Field}} placeholders; false if s uses any
// other template syntax.
func parseFast(s string) (*fastMessage, bool) {
	fm := &fastMessage{}
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			fm.parts = append(fm.parts, s)
			fm.size += len(s)
			return fm, true
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, false
		}
		field, ok := strings.CutPrefix(s[i+2:i+j], ".")
		if !ok || !isIdent(field) {
			return nil, false
		}
		fm.parts = append(fm.parts, s[:i])
		fm.fields = append(fm.fields, field)
		fm.size += i
		s = s[i+j+2:]
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// fastT renders message id in lang; false if the fast path cannot give
// exactly what go-i18n would.
func (c *Catalog) fastT(lang, id string, data map[string]any) (string, bool) {
	msgs := c.fast[lang]
	if msgs == nil {
		msgs = c.fast[SourceLanguage]
	}
	fm := msgs[id]
	if fm == nil {
		return "", false
	}
	if len(fm.fields) == 0 {
		return fm.parts[0], true
	}
	var vals [8]string
	vs := vals[:0]
	size := fm.size
	for _, f := range fm.fields {
		v, ok := scalar(data[f])
		if !ok {
			return "", false
		}
		vs = append(vs, v)
		size += len(v)
	}
	var b strings.Builder
	b.Grow(size)
	for i, p := range fm.parts {
		b.WriteString(p)
		if i < len(vs) {
			b.WriteString(vs[i])
		}
	}
	return b.String(), true
}

// scalar formats v as text/template prints it, for the types the
// messages are given; false for anything else (and for a missing value,
// which text/template prints as "<no value>").
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
