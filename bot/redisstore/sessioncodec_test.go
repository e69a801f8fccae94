package redisstore

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// TestSessionCodecLayout: the fast codec knows bot.Session as it is. If
// this fails, bot.Session changed: update sessionLayout and the codec
// (sessioncodec.go); until then sessions go through encoding/json.
func TestSessionCodecLayout(t *testing.T) {
	if !sessionFast {
		t.Fatal("bot.Session no longer matches sessionLayout: update sessioncodec.go")
	}
}

// randomSession draws a session with the fields set or not, strings from
// plain ids to ones that need escaping, and times in several zones.
func randomSession(r *rand.Rand) bot.Session {
	strs := []string{"", "de", "ar", "e:auslaenderbehoerde", "ticket:district", "a b", "<b>&x</b>",
		`quo"te\`, "tab\there", "Ärzte", "\u2028", "bad\xffutf8", "ctl\x01", "~!@#$%^*()_+{}|:?[];',./"}
	str := func() string { return strs[r.IntN(len(strs))] }
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("X", -5*3600-1800), time.Local}
	tm := func() time.Time {
		switch r.IntN(4) {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(r.Int64N(4e9), 0).In(zones[r.IntN(len(zones))])
		}
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	}
	s := bot.Session{Lang: str(), LangChosen: r.IntN(2) == 0, Role: str(), NoticeShown: r.IntN(2) == 0,
		State: str(), Entry: str(), District: str(), Paced: tm(), Audience: tm(), Updated: tm()}
	switch r.IntN(4) {
	case 0:
		s.Results = []string{}
	case 1:
		for range r.IntN(5) + 1 {
			s.Results = append(s.Results, str())
		}
	}
	if r.IntN(5) == 0 {
		s.Draft = &bot.Draft{District: str(), Topic: str(), Text: str(), Concepts: []string{str()}}
	}
	return s
}

// TestSessionCodecMatchesJSON: encodeSession writes json.Marshal's bytes
// and decodeSession reads them as json.Unmarshal does, for sessions of
// every shape; times out of JSON's range fail as encoding/json fails.
func TestSessionCodecMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for i := range 5000 {
		s := randomSession(r)
		want, werr := json.Marshal(&s)
		got, err := encodeSession(&s)
		if string(got) != string(want) || (err == nil) != (werr == nil) {
			t.Fatalf("session %d %+v:\nencodeSession = %s, %v\njson.Marshal  = %s, %v", i, s, got, err, want, werr)
		}
		if _, ok := decodeSessionFast(want); ok {
			fast++
		}
		checkDecode(t, want)
	}
	if fast < 50 {
		t.Errorf("only %d of 5000 sessions took the fast decoder", fast)
	}
	bad := bot.Session{Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := encodeSession(&bad); err == nil {
		t.Error("a year json.Marshal refuses encoded")
	}
	bad = bot.Session{Paced: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := encodeSession(&bad); err == nil {
		t.Error("a year json.Marshal refuses encoded")
	}
}

// checkDecode wants decodeSession to agree with json.Unmarshal on raw:
// the same session, or both failing.
func checkDecode(t *testing.T, raw []byte) {
	t.Helper()
	var want bot.Session
	werr := json.Unmarshal(raw, &want)
	got, err := decodeSession(raw)
	if werr != nil {
		if err == nil {
			t.Errorf("%q: decodeSession = %+v, json.Unmarshal fails: %v", raw, got, werr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%q:\ndecodeSession  = %+v, %v\njson.Unmarshal = %+v", raw, got, err, want)
	}
}

// sessionInputs are encodings in other shapes than encodeSession's, which
// the fast decoder must leave to encoding/json or read the same way.
var sessionInputs = []string{
	`{}`, `{ }`, ` {}`, `{}x`, `{`, `}`, ``, `null`, `[]`, `"x"`,
	`{"l":"de","u":"2026-11-22T03:40:51.123456789+01:00"}`,
	`{"u":"2026-11-22T03:40:51Z","l":"ar","lc":true,"n":false}`,
	`{"l":"de","l":"ar"}`,
	`{"L":"de"}`, `{"LANG":"de"}`, `{"Lang":"de"}`, `{"x":1,"l":"de"}`,
	`{"l":null}`, `{"lc":null}`, `{"res":null}`, `{"u":null}`, `{"l":1}`, `{"lc":"true"}`, `{"lc":tru}`,
	`{"res":[]}`, `{"res":["a","b"]}`, `{"res":["a",]}`, `{"res":[,]}`, `{"res":["a" ]}`, `{"res":[1]}`, `{"res":[`,
	`{"l":"d\u0065"}`, `{"l":"d\\e"}`, `{"l":"Ärzte"}`, `{"l":"a` + "\x01" + `"}`, `{"l":"bad` + "\xff" + `"}`,
	`{"l" :"de"}`, `{"l": "de"}`, `{"l":"de" }`, `{"l":"de",}`, `{,}`, `{"l":"de"`, `{"l"}`, `{"l":}`,
	`{"u":"2026-11-22"}`, `{"u":"2026-13-22T03:40:51Z"}`, `{"u":"  2026-11-22T03:40:51Z"}`, `{"u":"2026-11-22T03:40:51+24:00"}`,
	`{"pc":"0001-01-01T00:00:00Z","au":"9999-12-31T23:59:59.999999999-23:59"}`,
	`{"dr":{"d":"x","tx":"hi"},"l":"de"}`, `{"dr":null}`,
	`{"l":"de","lc":true,"r":"staff","n":true,"s":"ticket:text","res":["e:a","e:b"],"e":"e:a","d":"d:mitte","pc":"2026-11-22T03:40:51.5Z","au":"2026-11-22T03:40:51Z","u":"2026-11-22T03:40:51.000000001Z"}`,
}

func TestSessionDecodeShapes(t *testing.T) {
	for _, in := range sessionInputs {
		checkDecode(t, []byte(in))
	}
}

// FuzzSessionDecode: whatever is stored, decodeSession reads what
// json.Unmarshal reads, or fails where it fails.
func FuzzSessionDecode(f *testing.F) {
	for _, in := range sessionInputs {
		f.Add([]byte(in))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		s := randomSession(r)
		raw, err := json.Marshal(&s)
		if err == nil {
			f.Add(raw)
			f.Add([]byte(strings.Replace(string(raw), ",", ", ", 1)))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecode(t, raw)
	})
}

func BenchmarkSessionCodec(b *testing.B) {
	s := bot.Session{Lang: "ar", LangChosen: true, NoticeShown: true, Results: []string{"e:a", "e:b", "e:c"},
		Entry: "e:auslaenderbehoerde", Audience: time.Now().UTC(), Updated: time.Now()}
	raw, _ := json.Marshal(&s)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			encodeSession(&s)
		}
	})
	b.Run("encode-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&s)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			decodeSession(raw)
		}
	})
	b.Run("decode-json", func(b *testing.B) {
		for b.Loop() {
			var s bot.Session
			json.Unmarshal(raw, &s)
		}
	})
}
