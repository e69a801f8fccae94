package bottest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadParamsMatchesParseForm: reading an urlencoded body into a
// buffer of its length gives the parameters and errors r.ParseForm
// gives, for well-formed and broken bodies, query strings, content types,
// lengths that are wrong or unknown, and bodies that fail.
func TestReadParamsMatchesParseForm(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	long := "text=" + strings.Repeat("%C3%A4b+c", 2000) + "&chat_id=7"
	type req struct {
		method, target, ct, body string
		length                   int64 // -2: from the body
		broken                   bool  // the body fails after it
	}
	reqs := []req{
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=hi", -2, false},
		{"POST", "/bot1/sendMessage", form + "; charset=UTF-8", "chat_id=1&text=h%C3%A4", -2, false},
		{"POST", "/bot1/sendMessage", "Application/X-WWW-Form-Urlencoded", "a=1", -2, false},
		{"POST", "/bot1/sendMessage?chat_id=2&x=y", form, "chat_id=1&text=hi", -2, false},
		{"POST", "/bot1/sendMessage?bad=%zz", form, "chat_id=1", -2, false},
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=%zz&b=2", -2, false},
		{"POST", "/bot1/sendMessage", form, "a;b=1", -2, false},
		{"POST", "/bot1/sendMessage", form, "", -2, false},
		{"POST", "/bot1/sendMessage", form, long, -2, false},
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=hi", -1, false},
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=hi", 5, false},
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=hi", 40, false},
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=hi", -2, true},
		{"POST", "/bot1/sendMessage", form, "chat_id=1&text=hi", 40, true},
		{"POST", "/bot1/sendMessage", "", "chat_id=1", -2, false},
		{"POST", "/bot1/sendMessage", "text/plain", "chat_id=1", -2, false},
		{"POST", "/bot1/sendMessage", "form; =", "chat_id=1", -2, false},
		{"GET", "/bot1/getUpdates?offset=3&timeout=0", "", "", -2, false},
		{"GET", "/bot1/getUpdates?offset=3", form, "offset=4", -2, false},
		{"PUT", "/bot1/sendMessage", form, "chat_id=1", -2, false},
	}
	build := func(q req) *http.Request {
		var body io.Reader = strings.NewReader(q.body)
		if q.broken {
			body = io.MultiReader(body, iotest.ErrReader(io.ErrClosedPipe))
		}
		r := httptest.NewRequest(q.method, q.target, body)
		if q.ct != "" {
			r.Header.Set("Content-Type", q.ct)
		}
		if q.length != -2 {
			r.ContentLength = q.length
		}
		return r
	}
	for _, q := range reqs {
		want := build(q)
		werr := want.ParseForm()
		got := build(q)
		gotParams, err := readParams(got)
		if (err != nil) != (werr != nil) || (err != nil && err.Error() != "can't parse form: "+werr.Error()) {
			t.Errorf("%+v: error %v, ParseForm's %v", q, err, werr)
		}
		if werr == nil && !reflect.DeepEqual(gotParams, want.Form) {
			t.Errorf("%+v: params %v, ParseForm's %v", q, gotParams, want.Form)
		}
		if !reflect.DeepEqual(got.PostForm, want.PostForm) || !reflect.DeepEqual(got.Form, want.Form) {
			t.Errorf("%+v: PostForm %v Form %v, ParseForm's %v %v", q, got.PostForm, got.Form, want.PostForm, want.Form)
		}
	}
}

// TestReadJSONParams: a JSON body gives the parameters a form with the
// same values would, objects as their JSON text; broken bodies are
// refused.
func TestReadJSONParams(t *testing.T) {
	tests := []struct {
		body string
		want map[string][]string // nil: an error
	}{
		{`{"chat_id":1,"text":"h\u00e4 \"x\"","allow_sending_without_reply":true}`,
			map[string][]string{"chat_id": {"1"}, "text": {`hä "x"`}, "allow_sending_without_reply": {"true"}}},
		{`{"chat_id":-100,"reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}}`,
			map[string][]string{"chat_id": {"-100"}, "reply_markup": {`{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}`}}},
		{`{"chat_id":1,"entities":null}`, map[string][]string{"chat_id": {"1"}}},
		{`{}`, map[string][]string{}},
		{`{"chat_id":1`, nil},
		{`[1,2]`, nil},
		{`"text"`, nil},
		{``, nil},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/bot1/sendMessage", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
		got, err := readParams(r)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: no error, params %v", tc.body, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(map[string][]string(got), tc.want) {
			t.Errorf("%s: params %v, err %v; want %v", tc.body, got, err, tc.want)
		}
	}
	big := httptest.NewRequest("POST", "/bot1/sendMessage", strings.NewReader(`{"text":"`+strings.Repeat("a", maxFormSize)+`"}`))
	big.Header.Set("Content-Type", "application/json")
	if _, err := readParams(big); err == nil {
		t.Error("a body over the size limit was read")
	}
}
