package bottest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot/bottest"
)

type apiResp struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// post calls method on the fake with form values, like tgbotapi does.
func post(t *testing.T, f *bottest.FakeAPI, token, method string, v url.Values) apiResp {
	t.Helper()
	resp, err := http.PostForm(fmt.Sprintf(f.Endpoint(), token, method), v)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var r apiResp
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: decode: %v", method, err)
	}
	if r.OK != (resp.StatusCode == http.StatusOK) || (!r.OK && r.ErrorCode != resp.StatusCode) {
		t.Errorf("%s: HTTP %d but ok=%v error_code=%d", method, resp.StatusCode, r.OK, r.ErrorCode)
	}
	return r
}

func updateIDs(t *testing.T, r apiResp) []int {
	t.Helper()
	var us []tgbotapi.Update
	if err := json.Unmarshal(r.Result, &us); err != nil {
		t.Fatalf("decode updates: %v", err)
	}
	ids := make([]int, len(us))
	for i, u := range us {
		ids[i] = u.UpdateID
	}
	return ids
}

func TestFakeGetUpdatesOffsets(t *testing.T) {
	f := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.MaxPollWait = 100 * time.Millisecond })
	a := f.PushText(1, 1, "de", "a")
	b := f.PushText(2, 2, "de", "b")
	c := f.PushText(1, 1, "de", "/start x")
	tok := f.Token()

	if got := updateIDs(t, post(t, f, tok, "getUpdates", nil)); !slices.Equal(got, []int{a, b, c}) {
		t.Errorf("first poll = %v", got)
	}
	// Without a higher offset nothing is confirmed.
	if got := updateIDs(t, post(t, f, tok, "getUpdates", url.Values{"limit": {"2"}})); !slices.Equal(got, []int{a, b}) {
		t.Errorf("limit 2 = %v", got)
	}
	if got := updateIDs(t, post(t, f, tok, "getUpdates", url.Values{"offset": {fmt.Sprint(b)}})); !slices.Equal(got, []int{b, c}) {
		t.Errorf("offset b = %v", got)
	}
	if p := f.Pending(); !slices.Equal(p, []int{b, c}) {
		t.Errorf("pending = %v, want [b c]", p)
	}
	if got := updateIDs(t, post(t, f, tok, "getUpdates", url.Values{"offset": {"-1"}})); !slices.Equal(got, []int{c}) {
		t.Errorf("offset -1 = %v", got)
	}
	// Long poll: empty after the (capped) timeout; a push wakes it early.
	post(t, f, tok, "getUpdates", url.Values{"offset": {fmt.Sprint(c + 1)}})
	if got := updateIDs(t, post(t, f, tok, "getUpdates", url.Values{"timeout": {"30"}})); len(got) != 0 {
		t.Errorf("empty poll = %v", got)
	}
	f2 := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.MaxPollWait = 10 * time.Second })
	go func() {
		time.Sleep(20 * time.Millisecond)
		f2.PushText(3, 3, "de", "late")
	}()
	if got := updateIDs(t, post(t, f2, f2.Token(), "getUpdates", url.Values{"timeout": {"30"}})); len(got) != 1 {
		t.Errorf("long poll after push = %v", got)
	}
}

func TestFakeValidation(t *testing.T) {
	f := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.Limits.Disabled = true })
	f.AddChat(1, "private")
	f.AddChat(2, "private")
	f.Block(2)
	_, cb := f.PushCallback(1, 1, "de", "x", 1)
	kb := func(buttons string) string { return `{"inline_keyboard":[[` + buttons + `]]}` }
	tests := []struct {
		name   string
		token  string
		method string
		v      url.Values
		code   int
		desc   string
	}{
		{"ok", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"hi"}}, 200, ""},
		{"4096 astral units", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {strings.Repeat("😀", 2048)}}, 200, ""},
		{"too long", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {strings.Repeat("😀", 2048) + "a"}}, 400, "message is too long"},
		{"empty", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {" "}}, 400, "message text is empty"},
		{"markdownv2 reserved", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"Ende."}, "parse_mode": {"MarkdownV2"}}, 400, "can't parse entities"},
		{"markdownv2 escaped", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"*Ende*\\."}, "parse_mode": {"MarkdownV2"}}, 200, ""},
		{"markdown unclosed", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"a_b"}, "parse_mode": {"Markdown"}}, 400, "can't parse entities"},
		{"html unclosed", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"<b>x"}, "parse_mode": {"HTML"}}, 400, "can't parse entities"},
		{"html unknown tag", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"<div>x</div>"}, "parse_mode": {"HTML"}}, 400, "can't parse entities"},
		{"html ok", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"<b>x</b> &amp; y"}, "parse_mode": {"HTML"}}, 200, ""},
		{"callback data 64 bytes", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"x"}, "reply_markup": {kb(`{"text":"a","callback_data":"` + strings.Repeat("ж", 32) + `"}`)}}, 200, ""},
		{"callback data 65 bytes", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"x"}, "reply_markup": {kb(`{"text":"a","callback_data":"` + strings.Repeat("ж", 32) + `x"}`)}}, 400, "BUTTON_DATA_INVALID"},
		{"two button types", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"x"}, "reply_markup": {kb(`{"text":"a","callback_data":"d","url":"https://x"}`)}}, 400, "BUTTON_TYPE_INVALID"},
		{"no button type", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"x"}, "reply_markup": {kb(`{"text":"a"}`)}}, 400, "BUTTON_TYPE_INVALID"},
		{"empty button text", "", "sendMessage", url.Values{"chat_id": {"1"}, "text": {"x"}, "reply_markup": {kb(`{"text":"","callback_data":"d"}`)}}, 400, "BUTTON_TEXT_INVALID"},
		{"unknown chat", "", "sendMessage", url.Values{"chat_id": {"99"}, "text": {"x"}}, 400, "chat not found"},
		{"blocked", "", "sendMessage", url.Values{"chat_id": {"2"}, "text": {"x"}}, 403, "bot was blocked by the user"},
		{"venue", "", "sendVenue", url.Values{"chat_id": {"1"}, "latitude": {"52.5"}, "longitude": {"13.4"}, "title": {"t"}, "address": {"a"}}, 200, ""},
		{"venue without address", "", "sendVenue", url.Values{"chat_id": {"1"}, "latitude": {"52.5"}, "longitude": {"13.4"}, "title": {"t"}}, 400, "venue"},
		{"location", "", "sendLocation", url.Values{"chat_id": {"1"}, "latitude": {"52.5"}, "longitude": {"13.4"}}, 200, ""},
		{"callback answer too long", "", "answerCallbackQuery", url.Values{"callback_query_id": {cb}, "text": {strings.Repeat("a", 201)}}, 400, "MESSAGE_TOO_LONG"},
		{"callback answer", "", "answerCallbackQuery", url.Values{"callback_query_id": {cb}, "text": {strings.Repeat("a", 200)}}, 200, ""},
		{"callback answered twice", "", "answerCallbackQuery", url.Values{"callback_query_id": {cb}}, 400, "query is too old"},
		{"bad command", "", "setMyCommands", url.Values{"commands": {`[{"command":"Start","description":"x"}]`}}, 400, "BOT_COMMAND_INVALID"},
		{"wrong token", "1:wrong", "getMe", nil, 401, "Unauthorized"},
		{"unknown method", "", "sendTelepathy", nil, 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token
			if tok == "" {
				tok = f.Token()
			}
			r := post(t, f, tok, tt.method, tt.v)
			code := 200
			if !r.OK {
				code = r.ErrorCode
			}
			if code != tt.code || !strings.Contains(r.Description, tt.desc) {
				t.Errorf("got %d %q, want %d %q", code, r.Description, tt.code, tt.desc)
			}
		})
	}
	if rec, ans := f.Callbacks(); rec != 1 || ans != 1 {
		t.Errorf("callbacks %d received, %d answered; want 1, 1", rec, ans)
	}
	if n := len(f.BadRequests()); n != 15 {
		t.Errorf("%d bad requests recorded, want 15", n)
	}
}

func TestFakeLimits(t *testing.T) {
	f := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) {
		c.Limits = bottest.FakeLimits{PerChatBurst: 3, GroupPerWindow: 2}
	})
	f.AddChat(1, "private")
	f.AddChat(-1, "group")
	send := func(chat string) apiResp {
		return post(t, f, f.Token(), "sendMessage", url.Values{"chat_id": {chat}, "text": {"x"}})
	}
	for i := range 3 {
		if r := send("1"); !r.OK {
			t.Fatalf("burst message %d refused: %s", i, r.Description)
		}
	}
	if r := send("1"); r.ErrorCode != 429 || r.Parameters.RetryAfter < 1 {
		t.Errorf("4th message in a burst: %+v, want 429 with retry_after", r)
	}
	send("-1")
	send("-1")
	if r := send("-1"); r.ErrorCode != 429 {
		t.Errorf("3rd group message in the window: %+v, want 429", r)
	}
	v := f.Violations()
	if len(v) != 2 || v[0].Kind != "chat" || v[1].Kind != "group" {
		t.Errorf("violations = %+v", v)
	}
	if len(f.Errors()) != 0 {
		t.Errorf("limit 429s counted as API errors: %+v", f.Errors())
	}
}

func TestFakeFaults(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(1, "private")
	f.FailNext("sendMessage", bottest.Fault{Status: 500}, bottest.Fault{Status: 429, RetryAfter: 7})
	v := url.Values{"chat_id": {"1"}, "text": {"x"}}
	if r := post(t, f, f.Token(), "sendMessage", v); r.ErrorCode != 500 {
		t.Errorf("first = %+v, want 500", r)
	}
	if r := post(t, f, f.Token(), "sendMessage", v); r.ErrorCode != 429 || r.Parameters.RetryAfter != 7 {
		t.Errorf("second = %+v, want 429 retry_after 7", r)
	}
	if r := post(t, f, f.Token(), "sendMessage", v); !r.OK {
		t.Errorf("third = %+v, want ok", r)
	}
	f.FailNext("getMe", bottest.Fault{Drop: true})
	if _, err := http.PostForm(fmt.Sprintf(f.Endpoint(), f.Token(), "getMe"), nil); err == nil {
		t.Error("dropped connection gave an answer")
	}

	// Random faults are reproducible from the seed.
	statuses := func() []int {
		g := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) {
			c.Seed, c.P5xx, c.P429 = 42, 0.3, 0.2
			c.Limits.Disabled = true
		})
		g.AddChat(1, "private")
		for range 20 {
			resp, err := http.PostForm(fmt.Sprintf(g.Endpoint(), g.Token(), "sendMessage"), v)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		var out []int
		for _, c := range g.Calls("sendMessage") {
			out = append(out, c.Status)
		}
		return out
	}
	a, b := statuses(), statuses()
	if !slices.Equal(a, b) || !slices.Contains(a, 200) || slices.Index(a, 200) == -1 || !slices.ContainsFunc(a, func(s int) bool { return s != 200 }) {
		t.Errorf("seeded faults: %v vs %v; want equal, mixed", a, b)
	}
}

// TestFakeWithLibrary drives the fake through tgbotapi itself: getMe,
// multipart upload, edits and webhooks.
func TestFakeWithLibrary(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	api, err := tgbotapi.NewBotAPIWithClient(f.Token(), f.Endpoint(), &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if api.Self.UserName != f.BotUsername() {
		t.Errorf("getMe username = %q", api.Self.UserName)
	}
	f.AddChat(7, "private")
	doc := tgbotapi.NewDocument(7, tgbotapi.FileBytes{Name: "a.pdf", Bytes: []byte("%PDF\x00")})
	doc.Caption = "Formular"
	if _, err := api.Send(doc); err != nil {
		t.Fatal(err)
	}
	m, err := api.Send(tgbotapi.NewMessage(7, "alt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Send(tgbotapi.NewEditMessageText(7, m.MessageID, "neu")); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Send(tgbotapi.NewEditMessageText(7, m.MessageID, "neu")); err == nil || !strings.Contains(err.Error(), "not modified") {
		t.Errorf("same edit: err = %v, want not modified", err)
	}
	sent := f.Sent(7)
	if len(sent) != 3 || sent[0].Document == nil || string(sent[0].Document.Content) != "%PDF\x00" || sent[0].Text != "Formular" ||
		!sent[2].Edited || sent[2].Text != "neu" {
		t.Errorf("sent = %+v", sent)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := f.WaitSent(ctx, 3); err != nil {
		t.Error(err)
	}

	wh, _ := tgbotapi.NewWebhook("https://bot.example.org/tg")
	if _, err := api.Request(wh); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetUpdates(tgbotapi.NewUpdate(0)); err == nil || !strings.Contains(err.Error(), "Conflict") {
		t.Errorf("getUpdates with webhook: err = %v, want Conflict", err)
	}
	if info, err := api.GetWebhookInfo(); err != nil || info.URL != "https://bot.example.org/tg" {
		t.Errorf("webhook info = %+v, %v", info, err)
	}
	if _, err := api.Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetUpdates(tgbotapi.NewUpdate(0)); err != nil {
		t.Errorf("getUpdates after deleteWebhook: %v", err)
	}
}
