package bottest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// readJSONParams reads a JSON body as Telegram does: an object whose
// string members are parameter values and whose other members (numbers,
// booleans, objects such as reply_markup) stand for their JSON text, as
// in a form. null is a parameter not given; of a repeated member the
// last counts, as with encoding/json.
//
// The body is split by hand instead of through encoding/json's generic
// decoding, which cost the fake Bot API more CPU than the bot it serves
// spent building the request (a long answer text, a keyboard). It
// accepts and rejects exactly what json.Unmarshal into a
// map[string]json.RawMessage does (FuzzJSONParams).
func readJSONParams(r *http.Request) (url.Values, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= maxFormSize {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // ReadFrom wants MinRead spare
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxFormSize+1)); err != nil {
		return url.Values{}, err
	}
	body := buf.Bytes()
	if len(body) > maxFormSize {
		return url.Values{}, errors.New("request entity too large")
	}
	v, err := jsonParams(body)
	if err != nil {
		return url.Values{}, fmt.Errorf("can't parse JSON object: %v", err)
	}
	return v, nil
}

var errJSON = errors.New("invalid JSON object")

func jsonParams(b []byte) (url.Values, error) {
	v := url.Values{}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, errJSON
		}
		return v, nil
	}
	for {
		key, next, err := jsonString(b, i)
		if err != nil {
			return nil, err
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return nil, errJSON
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return nil, errJSON
		}
		if b[i] == '"' {
			val, next, err := jsonString(b, i)
			if err != nil {
				return nil, err
			}
			v[key] = []string{val}
			i = next
		} else {
			end, err := jsonValueEnd(b, i)
			if err != nil {
				return nil, err
			}
			if raw := string(b[i:end]); raw == "null" {
				delete(v, key)
			} else {
				v[key] = []string{raw}
			}
			i = end
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, errJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return nil, errJSON
			}
			return v, nil
		default:
			return nil, errJSON
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonString decodes the string starting at b[i] == '"' as encoding/json
// does (invalid UTF-8 and lone surrogates become U+FFFD) and returns the
// index after its closing quote.
func jsonString(b []byte, i int) (string, int, error) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, errJSON
	}
	start := i + 1
	plain := true
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if plain && utf8.Valid(b[start:j]) {
				return string(b[start:j]), j + 1, nil
			}
			s, err := unquoteSlow(b[start:j])
			return s, j + 1, err
		case c == '\\':
			plain = false
			j++ // the escaped byte cannot end the string
		case c < 0x20:
			return "", 0, errJSON
		}
	}
	return "", 0, errJSON
}

// unquoteSlow decodes a string body with escapes or invalid UTF-8.
func unquoteSlow(s []byte) (string, error) {
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); {
		run := bytes.IndexByte(s[i:], '\\')
		if run < 0 {
			run = len(s) - i
		}
		if run > 0 {
			writeUTF8(&out, s[i:i+run])
			i += run
			continue
		}
		if i+1 >= len(s) {
			return "", errJSON
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out.WriteByte(s[i+1])
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return "", errJSON
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out.WriteRune(dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out.WriteRune(r)
			continue
		default:
			return "", errJSON
		}
		i += 2
	}
	return out.String(), nil
}

// writeUTF8 writes p, each invalid byte as U+FFFD as encoding/json does.
func writeUTF8(out *strings.Builder, p []byte) {
	if utf8.Valid(p) {
		out.Write(p)
		return
	}
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		out.WriteRune(r) // RuneError for a bad byte
		p = p[size:]
	}
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonValueEnd returns the end of the non-string value starting at b[i]:
// a literal or number, or an object or array, checked with json.Valid.
func jsonValueEnd(b []byte, i int) (int, error) {
	switch b[i] {
	case '{', '[':
		depth, inString := 0, false
		for j := i; j < len(b); j++ {
			c := b[j]
			switch {
			case inString:
				if c == '\\' {
					j++
				} else if c == '"' {
					inString = false
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					if !validObject(b[i : j+1]) {
						return 0, errJSON
					}
					return j + 1, nil
				}
			}
		}
		return 0, errJSON
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i || !json.Valid(b[i:j]) {
			return 0, errJSON
		}
		return j, nil
	}
}

// validObjects remembers objects and arrays json.Valid accepted: bots
// send the same keyboards again and again, and checking each copy cost
// the fake more than reading the rest of the body.
var validObjects struct {
	sync.Mutex
	m map[string]struct{}
}

const maxValidObjects = 4096

func validObject(b []byte) bool {
	validObjects.Lock()
	_, ok := validObjects.m[string(b)]
	validObjects.Unlock()
	if ok {
		return true
	}
	if !json.Valid(b) {
		return false
	}
	validObjects.Lock()
	if validObjects.m == nil || len(validObjects.m) >= maxValidObjects {
		validObjects.m = map[string]struct{}{}
	}
	validObjects.m[string(b)] = struct{}{}
	validObjects.Unlock()
	return true
}
