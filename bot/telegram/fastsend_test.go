package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// These tests are white-box on purpose: they prove that the fast
// sendMessage path (fastsend.go) is indistinguishable from the library
// it replaces, request for request and answer for answer.

// captured is what a test server saw of one request.
type captured struct {
	path, contentType, body string
}

// captureServer records every request and answers with answer.
func captureServer(t *testing.T, answer func() string) (*httptest.Server, func() []captured) {
	t.Helper()
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.URL.Path, r.Header.Get("Content-Type"), string(b)})
		mu.Unlock()
		io.WriteString(w, answer())
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

func libBot(endpoint, token string, hc tgbotapi.HTTPClient) *tgbotapi.BotAPI {
	b := &tgbotapi.BotAPI{Token: token, Client: hc, Buffer: 100}
	b.SetAPIEndpoint(endpoint)
	return b
}

func markupOf(rows ...[]tgbotapi.InlineKeyboardButton) *tgbotapi.InlineKeyboardMarkup {
	return &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: rows}
}

var trickyTexts = []string{
	"hello",
	"Wo ist die Ausländerbehörde? 100% & <mehr> \"Zitat\" \\ a+b=c ~x_y.z-",
	"где курсы немецкого?\nСтрока 2\tтаб",
	"أين مكتب العمل \u200f؟ 🇩🇪 👩🏽‍💻",
	"line\u2028sep\u2029para \x00\x01\x08\x0c\x1f\x7f",
	"bad utf8 \xff\xfe end \xe2\x82",
	strings.Repeat("é", 5000),
}

func textRequests() []textRequest {
	var rs []textRequest
	for i, text := range trickyTexts {
		rs = append(rs, textRequest{chatID: int64(1000 + i), text: text})
	}
	k := markupOf(
		[]tgbotapi.InlineKeyboardButton{
			tgbotapi.NewInlineKeyboardButtonData("🇩🇪 Deutsch <de> & \"x\"", "l:de"),
			tgbotapi.NewInlineKeyboardButtonData(trickyTexts[4], "q:\u2028\xff"),
		},
		[]tgbotapi.InlineKeyboardButton{
			tgbotapi.NewInlineKeyboardButtonURL("Karte", "https://example.org/a?b=c&d=<e>"),
		},
	)
	rs = append(rs,
		textRequest{chatID: 42, text: "reply", replyTo: 7, allowNoReply: true},
		textRequest{chatID: -100123456789, text: "group with keyboard", markup: k},
		textRequest{chatID: 42, text: "both", replyTo: 9, allowNoReply: true, markup: k},
		textRequest{chatID: 42, text: "empty keyboard", markup: markupOf()},
		textRequest{chatID: 42, text: "nil keyboard", markup: &tgbotapi.InlineKeyboardMarkup{}},
		textRequest{chatID: 42, text: "nil row", markup: markupOf(nil, []tgbotapi.InlineKeyboardButton{})},
		textRequest{chatID: 0, text: "no chat"},
		textRequest{chatID: 42, text: ""},
	)
	return rs
}

// TestTextRequestMatchesLibrary sends the same messages through the
// library and through the fast path and compares what the server saw:
// the method, and the parameters with their values (the library's form
// against the fast path's JSON, as Telegram reads both), the keyboard's
// JSON byte for byte.
func TestTextRequestMatchesLibrary(t *testing.T) {
	const token = "123456:ABC-secret_token"
	srv, got := captureServer(t, func() string {
		return `{"ok":true,"result":{"message_id":5,"date":1,"chat":{"id":1,"type":"private"},"text":"x"}}`
	})
	endpoint := srv.URL + "/bot%s/%s"
	c := &Client{hc: srv.Client(), sendMessageURL: methodURL(endpoint, token, "sendMessage")}
	lib := libBot(endpoint, token, srv.Client())
	for i, r := range textRequests() {
		if _, err := lib.Request(r.message()); err != nil {
			t.Fatalf("%d: library: %v", i, err)
		}
		body, contentType, ok := r.body()
		if !ok && !utf8.ValidString(r.text) {
			got() // the library's request is what Send falls back to
			continue
		}
		if !ok {
			t.Fatalf("%d: fast path refused the keyboard", i)
		}
		id, derr, err := c.postSend(context.Background(), c.sendMessageURL, body, contentType)
		if err != nil || derr != nil || id != 5 {
			t.Fatalf("%d: fast path: id %d, decode %v, err %v", i, id, derr, err)
		}
		seen := got()
		if len(seen) != 2 {
			t.Fatalf("%d: %d requests, want 2", i, len(seen))
		}
		lib, fast := seen[0], seen[1]
		if lib.path != fast.path || lib.contentType != "application/x-www-form-urlencoded" || fast.contentType != "application/json" {
			t.Fatalf("%d: library %s %s, fast path %s %s", i, lib.path, lib.contentType, fast.path, fast.contentType)
		}
		want, err := formParams(lib.body)
		if err != nil {
			t.Fatalf("%d: library form: %v", i, err)
		}
		have, err := jsonParams(fast.body)
		if err != nil {
			t.Fatalf("%d: fast path JSON %s: %v", i, fast.body, err)
		}
		if !reflect.DeepEqual(have, want) {
			t.Errorf("%d: library sent\n%q\nfast path sent\n%q", i, want, have)
		}
	}
}

// formParams reads a form as Telegram does: a parameter "null" is one
// not given.
func formParams(body string) (map[string]string, error) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, vs := range v {
		if len(vs) != 1 {
			return nil, fmt.Errorf("parameter %s given %d times", k, len(vs))
		}
		if vs[0] != "null" {
			out[k] = vs[0]
		}
	}
	return out, nil
}

// jsonParams reads a JSON body as Telegram does: a string is its value,
// anything else its JSON text (as a form carries objects).
func jsonParams(body string) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
		} else if string(v) != "null" {
			out[k] = string(v)
		}
	}
	return out, nil
}

func TestBodyRefusesUnknownButtons(t *testing.T) {
	s := "q"
	for _, b := range []tgbotapi.InlineKeyboardButton{
		{Text: "x", SwitchInlineQuery: &s},
		{Text: "x", SwitchInlineQueryCurrentChat: &s},
		{Text: "x", Pay: true},
		{Text: "x", CallbackGame: &tgbotapi.CallbackGame{}},
		{Text: "x", LoginURL: &tgbotapi.LoginURL{URL: "https://example.org"}},
	} {
		r := textRequest{chatID: 1, text: "t", markup: markupOf([]tgbotapi.InlineKeyboardButton{b})}
		if _, _, ok := r.body(); ok {
			t.Errorf("body accepted %+v, which it cannot encode", b)
		}
	}
}

// TestAnswerMatchesLibrary feeds the same answers to the library's
// decoding (MakeRequest, then the result as sendChattable reads it) and
// to postSend, and compares message id, error and decoding error.
func TestAnswerMatchesLibrary(t *testing.T) {
	answers := []string{
		`{"ok":true,"result":{"message_id":77,"chat":{"id":1},"text":"\u00e9 \"x\""}}`,
		`{"ok":true,"result":{"text":"no id"}}`,
		"{\"ok\":true,\"result\":{\"message_id\":3}}\n",
		`{"ok":true,"result":{"message_id":3}} trailing`,
		`{"ok":true,"result":{"message_id":3}}{"ok":false}`,
		`{"ok":true,"result":null}`,
		`{"ok":true}`,
		`{"ok":true,"result":true}`,
		`{"ok":true,"result":{"message_id":"3"}}`,
		`{"ok":true,"result":{"MESSAGE_ID":8}}`,
		`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`,
		`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`,
		`{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user","result":true}`,
		`{"ok":false,"description":"Bad Request: migrated","parameters":{"migrate_to_chat_id":-100}}`,
		`{"ok":false,"error_code":"400"}`,
		`<html>502 Bad Gateway</html>`,
		`{"ok":true,"result":{"message_id":3}`,
		``,
		`null`,
	}
	var cur string
	srv, _ := captureServer(t, func() string { return cur })
	const token = "123456:ABCDEFGHIJ"
	endpoint := srv.URL + "/bot%s/%s"
	c := &Client{hc: srv.Client(), sendMessageURL: methodURL(endpoint, token, "sendMessage")}
	lib := libBot(endpoint, token, srv.Client())
	for _, a := range answers {
		cur = a
		wantID, wantDecode, wantErr := 0, error(nil), error(nil)
		resp, err := lib.MakeRequest("sendMessage", tgbotapi.Params{"chat_id": "1", "text": "x"})
		if err != nil {
			wantErr = err
		} else {
			var sent struct {
				MessageID int `json:"message_id"`
			}
			if err := json.Unmarshal(resp.Result, &sent); err != nil {
				wantDecode = err
			}
			wantID = sent.MessageID
		}
		id, derr, err := c.postSend(context.Background(), c.sendMessageURL, []byte(`{"chat_id":1,"text":"x"}`), "application/json")
		if id != wantID || !sameErr(derr, wantDecode) || !sameErr(err, wantErr) {
			t.Errorf("answer %q:\n got id %d, decode %v, err %#v\nwant id %d, decode %v, err %#v",
				a, id, derr, err, wantID, wantDecode, wantErr)
		}
		if classifyOrNil(err) != classifyOrNil(wantErr) {
			t.Errorf("answer %q: classified %v, library %v", a, classifyOrNil(err), classifyOrNil(wantErr))
		}
	}
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ta, tb *tgbotapi.Error
	if errors.As(a, &ta) != errors.As(b, &tb) {
		return false
	}
	if ta != nil {
		return reflect.DeepEqual(*ta, *tb)
	}
	return a.Error() == b.Error() && reflect.TypeOf(a) == reflect.TypeOf(b)
}

func classifyOrNil(err error) failure {
	if err == nil {
		return -1
	}
	return classify(err)
}

func TestMethodURL(t *testing.T) {
	for _, tc := range []struct{ endpoint, token string }{
		{tgbotapi.APIEndpoint, "123:abc"},
		{"http://127.0.0.1:8081/bot%s/%s", "123:a-b_c"},
		{"http://h/%s/x/%s?y=1", "t"},
	} {
		// The reference is what the library does.
		want := libURL(tc.endpoint, tc.token, "sendMessage")
		if got := methodURL(tc.endpoint, tc.token, "sendMessage"); got != want {
			t.Errorf("methodURL(%q, %q) = %q, library %q", tc.endpoint, tc.token, got, want)
		}
	}
}

// libURL captures the URL the library requests.
func libURL(endpoint, token, method string) string {
	var got string
	b := libBot(endpoint, token, doerFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return nil, errors.New("stop")
	}))
	b.MakeRequest(method, nil)
	return got
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func FuzzAppendMarkup(f *testing.F) {
	for _, s := range trickyTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := markupOf([]tgbotapi.InlineKeyboardButton{
			tgbotapi.NewInlineKeyboardButtonData(s, s), tgbotapi.NewInlineKeyboardButtonURL(s, s),
		})
		want, _ := json.Marshal(m)
		if got, ok := appendMarkup(nil, m); !ok || string(got) != string(want) {
			t.Errorf("appendMarkup = %s, encoding/json %s", got, want)
		}
	})
}

// FuzzDecodeSent checks the one-pass decoding of answers against the
// library's two-pass decoding, for any answer.
func FuzzDecodeSent(f *testing.F) {
	for _, s := range []string{
		`{"ok":true,"result":{"message_id":77,"chat":{"id":1,"type":"private"},"text":"\u00e9 \"x\"","entities":[{"a":[1,2.5e3,-0,true,false,null]}]}}`,
		" {\"ok\" : true , \"result\" : { \"date\":1, \"message_id\" : 3 } }\n",
		`{"result":{"message_id":3},"ok":true}`,
		`{"ok":true,"result":{"message_id":3,"message_id":4}}`,
		`{"ok":true,"result":{"Message_ID":3}}`,
		`{"ok":true,"result":{"me\u0073sage_id":3}}`,
		`{"ok":true,"result":{"meſsage_id":3}}`,
		`{"ok":true,"result":{"message_id":3.0}}`,
		`{"ok":true,"result":{"message_id":99999999999999999999}}`,
		`{"ok":true,"result":{"message_id":-0}}`,
		`{"ok":true,"result":{"message_id":01}}`,
		`{"ok":true,"result":{"message_id":null}}`,
		`{"ok":true,"result":{"text":"a` + "\x01" + `b","message_id":1}}`,
		`{"ok":true,"result":{"text":"\xff\xfe","message_id":1}}`,
		`{"ok":true,"result":{"text":"\q","message_id":1}}`,
		`{"ok":true,"result":{"x":[1,],"message_id":1}}`,
		`{"ok":true,"result":{}}`,
		`{"ok":true,"result":{"message_id":1}} x`,
		`{"ok":true,"ok":false,"result":{"message_id":1}}`,
		`{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":7}}`,
		`{"OK":true,"result":{"message_id":1}}`,
		`{"ok":true,"result":{"message_id":1},"error_code":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, derr, err := decodeSent(data, nil)
		wid, wderr, werr := slowAnswer(data, nil)
		if id != wid || !sameErr(derr, wderr) || !sameErr(err, werr) {
			t.Errorf("answer %q:\n got id %d, decode %v, err %v\nwant id %d, decode %v, err %v", data, id, derr, err, wid, wderr, werr)
		}
		if sid, ok := sentID(data); ok && (sid != wid || wderr != nil || werr != nil) {
			t.Errorf("sentID(%q) = %d; library: id %d, decode %v, err %v", data, sid, wid, wderr, werr)
		}
	})
}
