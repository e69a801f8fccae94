package redisstore

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// The session codec. Every update reads and writes the user's session,
// and encoding/json's reflection was a measurable share of a knowledge
// question. encodeSession writes exactly the bytes json.Marshal would,
// and decodeSession reads exactly what json.Unmarshal would, for the
// sessions that are nearly all of them: no draft, and strings of plain
// ASCII (language codes, entry ids, states). Anything else — a draft, a
// string that needs escaping, input in another shape than the encoder's
// (whitespace, other key spellings, repeated keys, null) — goes through
// encoding/json as before. If bot.Session no longer has the fields the
// codec was written for, it steps aside entirely (sessionFast is false;
// TestSessionCodecLayout says so).

// sessionLayout is bot.Session as the codec knows it: name, type, tag.
var sessionLayout = []struct {
	name, typ, tag string
}{
	{"Lang", "string", `json:"l,omitempty"`},
	{"LangChosen", "bool", `json:"lc,omitempty"`},
	{"Role", "string", `json:"r,omitempty"`},
	{"NoticeShown", "bool", `json:"n,omitempty"`},
	{"State", "string", `json:"s,omitempty"`},
	{"Results", "[]string", `json:"res,omitempty"`},
	{"Entry", "string", `json:"e,omitempty"`},
	{"District", "string", `json:"d,omitempty"`},
	{"Draft", "*bot.Draft", `json:"dr,omitempty"`},
	{"Paced", "time.Time", `json:"pc,omitzero"`},
	{"Audience", "time.Time", `json:"au,omitzero"`},
	{"Updated", "time.Time", `json:"u"`},
}

// sessionFast reports whether bot.Session is laid out as sessionLayout.
var sessionFast = func() bool {
	t := reflect.TypeFor[bot.Session]()
	if t.NumField() != len(sessionLayout) {
		return false
	}
	for i, want := range sessionLayout {
		f := t.Field(i)
		if f.Name != want.name || f.Type.String() != want.typ || string(f.Tag) != want.tag {
			return false
		}
	}
	return true
}()

// encodeSession is json.Marshal(s).
func encodeSession(s *bot.Session) ([]byte, error) {
	if !sessionFast || s.Draft != nil {
		return json.Marshal(s)
	}
	e := sessionEncoder{b: make([]byte, 0, 256)}
	e.b = append(e.b, '{')
	e.str("l", s.Lang)
	e.flag("lc", s.LangChosen)
	e.str("r", s.Role)
	e.flag("n", s.NoticeShown)
	e.str("s", s.State)
	if len(s.Results) > 0 {
		e.key("res")
		e.b = append(e.b, '[')
		for i, r := range s.Results {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.quote(r)
		}
		e.b = append(e.b, ']')
	}
	e.str("e", s.Entry)
	e.str("d", s.District)
	ok := true
	if !s.Paced.IsZero() {
		ok = e.time("pc", s.Paced)
	}
	if ok && !s.Audience.IsZero() {
		ok = e.time("au", s.Audience)
	}
	if !ok || !e.time("u", s.Updated) {
		return json.Marshal(s) // a time json.Marshal refuses: its error
	}
	e.b = append(e.b, '}')
	return e.b, nil
}

type sessionEncoder struct {
	b     []byte
	comma bool
}

func (e *sessionEncoder) key(k string) {
	if e.comma {
		e.b = append(e.b, ',')
	}
	e.comma = true
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

// str writes an omitempty string field.
func (e *sessionEncoder) str(k, v string) {
	if v != "" {
		e.key(k)
		e.quote(v)
	}
}

// flag writes an omitempty bool field.
func (e *sessionEncoder) flag(k string, v bool) {
	if v {
		e.key(k)
		e.b = append(e.b, "true"...)
	}
}

// quote writes s as encoding/json does: as it is if it is plain ASCII
// that needs no escaping (HTML characters included), else by json.Marshal.
func (e *sessionEncoder) quote(s string) {
	if plainASCII(s) {
		e.b = append(e.b, '"')
		e.b = append(e.b, s...)
		e.b = append(e.b, '"')
		return
	}
	q, _ := json.Marshal(s) // a string always encodes
	e.b = append(e.b, q...)
}

// time writes a time as time.Time.MarshalJSON does; false if it refuses.
func (e *sessionEncoder) time(k string, t time.Time) bool {
	e.key(k)
	e.b = append(e.b, '"')
	var err error
	if e.b, err = t.AppendText(e.b); err != nil {
		return false
	}
	e.b = append(e.b, '"')
	return true
}

// plainASCII reports whether s is printable ASCII that encoding/json
// writes unescaped: no quote, backslash or HTML special character.
func plainASCII[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// decodeSessionFast is json.Unmarshal(raw, &sess) for input shaped as
// encodeSession writes it without a draft; false for anything else,
// which the caller then gives to encoding/json.
func decodeSessionFast(raw []byte) (bot.Session, bool) {
	var s bot.Session
	if !sessionFast || len(raw) < 2 || raw[0] != '{' {
		return s, false
	}
	p := raw[1:]
	if len(p) == 1 && p[0] == '}' {
		return s, true
	}
	var seen uint16
	for {
		key, rest, ok := plainString(p)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return s, false
		}
		p = rest[1:]
		var bit uint16
		switch string(key) {
		case "l":
			bit = 1 << 0
			s.Lang, p, ok = stringValue(p)
		case "lc":
			bit = 1 << 1
			s.LangChosen, p, ok = boolValue(p)
		case "r":
			bit = 1 << 2
			s.Role, p, ok = stringValue(p)
		case "n":
			bit = 1 << 3
			s.NoticeShown, p, ok = boolValue(p)
		case "s":
			bit = 1 << 4
			s.State, p, ok = stringValue(p)
		case "res":
			bit = 1 << 5
			s.Results, p, ok = stringsValue(p)
		case "e":
			bit = 1 << 6
			s.Entry, p, ok = stringValue(p)
		case "d":
			bit = 1 << 7
			s.District, p, ok = stringValue(p)
		case "pc":
			bit = 1 << 8
			s.Paced, p, ok = timeValue(p)
		case "au":
			bit = 1 << 9
			s.Audience, p, ok = timeValue(p)
		case "u":
			bit = 1 << 10
			s.Updated, p, ok = timeValue(p)
		default: // a draft, or a key encodeSession does not write
			return s, false
		}
		if !ok || seen&bit != 0 || len(p) == 0 {
			return s, false
		}
		seen |= bit
		switch {
		case p[0] == ',':
			p = p[1:]
		case p[0] == '}' && len(p) == 1:
			return s, true
		default:
			return s, false
		}
	}
}

// plainString reads a JSON string of plain ASCII at the start of p.
func plainString(p []byte) (s, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return nil, p, false
	}
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			return p[1:i], p[i+1:], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, p, false
		}
	}
	return nil, p, false
}

func stringValue(p []byte) (string, []byte, bool) {
	s, rest, ok := plainString(p)
	return string(s), rest, ok
}

func boolValue(p []byte) (bool, []byte, bool) {
	switch {
	case len(p) >= 4 && string(p[:4]) == "true":
		return true, p[4:], true
	case len(p) >= 5 && string(p[:5]) == "false":
		return false, p[5:], true
	}
	return false, p, false
}

// stringsValue reads an array of plain strings; [] is an empty, non-nil
// slice, as json.Unmarshal makes it.
func stringsValue(p []byte) ([]string, []byte, bool) {
	if len(p) < 2 || p[0] != '[' {
		return nil, p, false
	}
	p = p[1:]
	out := []string{}
	if p[0] == ']' {
		return out, p[1:], true
	}
	for {
		s, rest, ok := plainString(p)
		if !ok || len(rest) == 0 {
			return nil, p, false
		}
		out = append(out, string(s))
		switch rest[0] {
		case ',':
			p = rest[1:]
		case ']':
			return out, rest[1:], true
		default:
			return nil, p, false
		}
	}
}

// timeValue reads a time as json.Unmarshal does: the JSON string given
// to time.Time.UnmarshalJSON.
func timeValue(p []byte) (time.Time, []byte, bool) {
	var t time.Time
	_, rest, ok := plainString(p)
	if !ok {
		return t, p, false
	}
	if err := t.UnmarshalJSON(p[:len(p)-len(rest)]); err != nil {
		return t, p, false
	}
	return t, rest, true
}
