package bottest

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
)

// referenceJSONParams is readJSONParams' rule through encoding/json.
func referenceJSONParams(body []byte) (url.Values, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, m := range raw {
		switch {
		case len(m) > 0 && m[0] == '"':
			var s string
			if err := json.Unmarshal(m, &s); err != nil {
				return nil, err
			}
			v[k] = []string{s}
		case string(m) != "null":
			v[k] = []string{string(m)}
		}
	}
	return v, nil
}

var jsonParamSeeds = []string{
	`{"chat_id":1,"text":"hi"}`,
	`{"chat_id":-1001234,"text":"Zeile 1\nZeile 2 \"zitiert\" \\ \/ \u00e4 \ud83d\ude00 \ud83d x \u0041","reply_markup":{"inline_keyboard":[[{"text":"a}","callback_data":"b]"}]]}}`,
	` { "a" : [1, {"b": "}"}] , "b" : true , "c" : null , "d" : 1.5e3 } `,
	`{"a":1,"a":"two","b":"x","b":null}`,
	`{}`, `{ }`, `[]`, `"x"`, `1`, ``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{"a":tru}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", "{\"a\":\"\xff\xfe\"}", `{"a":[}`, `{"a":{"b":1]}`,
	`{"a":01}`, `{"a":-}`, `{"a":1 2}`, `{"a":"b" "c":1}`, `{1:2}`, `{"\u00e4":"k"}`,
}

func TestJSONParamsMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonParamSeeds {
		checkJSONParams(t, []byte(s))
	}
}

func FuzzJSONParams(f *testing.F) {
	for _, s := range jsonParamSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkJSONParams(t, b) })
}

func checkJSONParams(t *testing.T, b []byte) {
	t.Helper()
	want, werr := referenceJSONParams(b)
	got, err := jsonParams(b)
	if (err != nil) != (werr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", b, err, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: params %q, encoding/json %q", b, got, want)
	}
}
