package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// mustClient connects a Client to f with fast test timings; mod may
// change the config further. Its logger prints nothing but copies info
// and above to the suite's log file if scripts/test.sh set one
// (bottest.LogFileEnv).
func mustClient(t *testing.T, f *bottest.FakeAPI, mod func(*telegram.Config)) *telegram.Client {
	t.Helper()
	cfg := telegram.Config{
		Token:       f.Token(),
		Endpoint:    f.Endpoint(),
		PollTimeout: time.Second,
		RetryBase:   10 * time.Millisecond,
		CallTimeout: 5 * time.Second,
		Logger:      slog.New(bottest.LogHandler(slog.DiscardHandler)),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := telegram.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func mustSend(t *testing.T, c *telegram.Client, msg bot.Outgoing) int {
	t.Helper()
	id, err := c.Send(t.Context(), msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return id
}

// checkClean fails if the fake saw invalid requests or limit violations.
func checkClean(t *testing.T, f *bottest.FakeAPI) {
	t.Helper()
	if errs := f.Errors(); len(errs) > 0 {
		t.Errorf("API errors: %+v", errs)
	}
	if v := f.Violations(); len(v) > 0 {
		t.Errorf("flood limit violations: %d, first %+v", len(v), v[0])
	}
}

func TestNewKeepsTokenSecret(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	var logs bytes.Buffer
	logger := slog.New(bottest.LogHandler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	secret := "987654:SECRET-token-that-must-not-leak"
	tests := []struct {
		name     string
		endpoint string
	}{
		{"wrong token", f.Endpoint()},
		{"unreachable", "http://127.0.0.1:1/bot%s/%s"},
		{"not an API", f.URL() + "/nothing/%s/%s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := telegram.New(t.Context(), telegram.Config{Token: secret, Endpoint: tt.endpoint, Logger: logger, CallTimeout: 2 * time.Second})
			if err == nil {
				t.Fatal("New succeeded")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("log leaks the token: %s", logs.String())
	}
}

func TestNewRejectsShortHTTPTimeout(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	_, err := telegram.New(t.Context(), telegram.Config{Token: f.Token(), Endpoint: f.Endpoint(),
		PollTimeout: 30 * time.Second, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err == nil {
		t.Fatal("New accepted an HTTP timeout shorter than the poll timeout")
	}
}

func TestSendPlainText(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	c := mustClient(t, f, nil)
	if c.Username() != f.BotUsername() {
		t.Errorf("Username = %q, want %q", c.Username(), f.BotUsername())
	}
	// Markup characters that would break every parse mode.
	text := "Termin <b>morgen</b> *nicht* [vergessen](x) & 5_000 € ."
	id := mustSend(t, c, bot.Outgoing{ChatID: 42, Text: text, ReplyTo: 7,
		Buttons: [][]bot.Button{{{Text: "Mehr", Data: "more:1"}, {Text: "Karte", URL: "https://example.org/map"}}}})
	sent := f.Sent(42)
	if len(sent) != 1 || sent[0].Text != text || sent[0].MessageID != id || sent[0].ReplyTo != 7 {
		t.Fatalf("sent %+v, id %d", sent, id)
	}
	if sent[0].ParseMode != "" {
		t.Errorf("parse_mode = %q, want none", sent[0].ParseMode)
	}
	if mk := sent[0].Markup; mk == nil || len(mk.InlineKeyboard) != 1 || len(mk.InlineKeyboard[0]) != 2 ||
		*mk.InlineKeyboard[0][0].CallbackData != "more:1" || *mk.InlineKeyboard[0][1].URL != "https://example.org/map" {
		t.Errorf("markup = %+v", sent[0].Markup)
	}
	for _, call := range f.Calls("sendMessage") {
		if _, ok := call.Params["parse_mode"]; ok {
			t.Errorf("sendMessage with parse_mode %q", call.Params.Get("parse_mode"))
		}
	}
	checkClean(t, f)
}

func TestSendLongTextSplits(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	c := mustClient(t, f, nil)
	para := strings.Repeat("Bitte bringen Sie Ihren Ausweis mit. ", 40) // ~1480 chars
	text := strings.Join([]string{para, para, para, para, para}, "\n\n")
	mustSend(t, c, bot.Outgoing{ChatID: 42, Text: text, ReplyTo: 3, Buttons: [][]bot.Button{{{Text: "OK", Data: "ok"}}}})
	sent := f.Sent(42)
	if len(sent) < 2 {
		t.Fatalf("sent %d messages, want the text split", len(sent))
	}
	var got []string
	for i, m := range sent {
		got = append(got, m.Text)
		if n := telegram.UTF16Len(m.Text); n > telegram.MaxText {
			t.Errorf("part %d has %d characters", i, n)
		}
		if (m.Markup != nil) != (i == len(sent)-1) {
			t.Errorf("part %d: markup %v; want buttons only on the last part", i, m.Markup != nil)
		}
		if (m.ReplyTo != 0) != (i == 0) {
			t.Errorf("part %d: reply_to %d; want it only on the first part", i, m.ReplyTo)
		}
	}
	checkContent(t, text, got)
	checkClean(t, f)
}

func TestSendRTL(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	c := mustClient(t, f, nil)
	text := "موعد في المكتب\nJobcenter Mitte: الطابق 2\n030 12345\n\nشكرا"
	mustSend(t, c, bot.Outgoing{ChatID: 42, Text: text, RTL: true})
	want := "موعد في المكتب\n\u200FJobcenter Mitte: الطابق 2\n\u200F030 12345\n\nشكرا"
	if got := f.Sent(42)[0].Text; got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
	// A cut inside a line starting with Latin text also gets the mark.
	long := "\u0645" + strings.Repeat(" Ausländerbehörde", 300)
	for i, p := range c.Parts(long, true) {
		if i > 0 && !strings.HasPrefix(p, "\u200F") {
			t.Errorf("part %d starts %q, want U+200F", i, p[:10])
		}
		if n := telegram.UTF16Len(p); n > telegram.MaxText {
			t.Errorf("part %d has %d characters", i, n)
		}
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	c := mustClient(t, f, nil)
	tests := []struct {
		name string
		msg  bot.Outgoing
	}{
		{"callback data over 64 bytes", bot.Outgoing{ChatID: 42, Text: "x", Buttons: [][]bot.Button{{{Text: "a", Data: strings.Repeat("ж", 33)}}}}},
		{"button without text", bot.Outgoing{ChatID: 42, Text: "x", Buttons: [][]bot.Button{{{Data: "d"}}}}},
		{"button with data and URL", bot.Outgoing{ChatID: 42, Text: "x", Buttons: [][]bot.Button{{{Text: "a", Data: "d", URL: "https://x"}}}}},
		{"button without action", bot.Outgoing{ChatID: 42, Text: "x", Buttons: [][]bot.Button{{{Text: "a"}}}}},
		{"javascript URL", bot.Outgoing{ChatID: 42, Text: "x", Buttons: [][]bot.Button{{{Text: "a", URL: "javascript:alert(1)"}}}}},
		{"empty text", bot.Outgoing{ChatID: 42, Text: " \n "}},
		{"no payload", bot.Outgoing{ChatID: 42}},
		{"two payloads", bot.Outgoing{ChatID: 42, Text: "x", Venue: &bot.Venue{Lat: 1, Lon: 1, Title: "t", Address: "a"}}},
		{"venue without title", bot.Outgoing{ChatID: 42, Venue: &bot.Venue{Lat: 52, Lon: 13, Address: "a"}}},
		{"empty document", bot.Outgoing{ChatID: 42, Document: &bot.Document{Name: "x.pdf"}}},
		{"long caption", bot.Outgoing{ChatID: 42, Document: &bot.Document{Name: "x.pdf", Content: []byte("%PDF"), Caption: strings.Repeat("c", 1025)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Send(t.Context(), tt.msg)
			if !errors.Is(err, telegram.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if calls := len(f.Calls("")) - len(f.Calls("getMe")); calls != 0 {
		t.Errorf("%d API calls for invalid messages, want 0", calls)
	}
}

func TestSendVenueAndDocument(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(-1001, "supergroup")
	c := mustClient(t, f, nil)
	mustSend(t, c, bot.Outgoing{ChatID: -1001, Venue: &bot.Venue{Lat: 52.5, Lon: 13.4, Title: "Bürgeramt", Address: "Karl-Marx-Allee 31"}})
	content := []byte("%PDF-1.4 \x00\xff binary")
	mustSend(t, c, bot.Outgoing{ChatID: -1001, Document: &bot.Document{Name: "merkblatt.pdf", Content: content, Caption: "Merkblatt"},
		Buttons: [][]bot.Button{{{Text: "OK", Data: "ok"}}}})
	sent := f.Sent(-1001)
	if len(sent) != 2 {
		t.Fatalf("sent %d messages, want 2", len(sent))
	}
	if v := sent[0].Venue; v == nil || v.Title != "Bürgeramt" || v.Location.Latitude != 52.5 || v.Location.Longitude != 13.4 {
		t.Errorf("venue = %+v", sent[0].Venue)
	}
	if d := sent[1].Document; d == nil || d.Name != "merkblatt.pdf" || !bytes.Equal(d.Content, content) || sent[1].Text != "Merkblatt" || sent[1].Markup == nil {
		t.Errorf("document = %+v", sent[1])
	}
	checkClean(t, f)
}

func TestAnswerCallback(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, nil)
	_, cb1 := f.PushCallback(42, 42, "uk", "more:1", 5)
	_, cb2 := f.PushCallback(42, 42, "uk", "more:2", 5)
	if err := c.AnswerCallback(t.Context(), cb1, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.AnswerCallback(t.Context(), cb2, strings.Repeat("Дякуємо! ", 40)); err != nil {
		t.Fatal(err)
	}
	if rec, ans := f.Callbacks(); rec != 2 || ans != 2 {
		t.Errorf("callbacks received %d, answered %d; want 2, 2", rec, ans)
	}
	calls := f.Calls("answerCallbackQuery")
	if n := telegram.UTF16Len(calls[1].Params.Get("text")); n != telegram.MaxNotice {
		t.Errorf("notice has %d characters, want %d", n, telegram.MaxNotice)
	}
	// Answering twice is a 400 from Telegram, returned without retries.
	err := c.AnswerCallback(t.Context(), cb1, "")
	var te *telegram.Error
	if !errors.As(err, &te) || te.Code != 400 {
		t.Errorf("second answer: err = %v, want a 400 *Error", err)
	}
	if n := len(f.Calls("answerCallbackQuery")); n != 3 {
		t.Errorf("%d calls, want 3 (no retry of a 400)", n)
	}
}

func TestSetCommands(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	c := mustClient(t, f, nil)
	err := c.SetCommands(t.Context(), map[string][]telegram.Command{
		"":   {{Name: "start", Description: "Start"}, {Name: "lang", Description: "Language"}},
		"uk": {{Name: "start", Description: "Почати"}},
		"ar": {{Name: "start", Description: "ابدأ"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Commands(""); len(got) != 2 || got[1].Command != "lang" {
		t.Errorf("default commands = %+v", got)
	}
	if got := f.Commands("uk"); len(got) != 1 || got[0].Description != "Почати" {
		t.Errorf("uk commands = %+v", got)
	}
	if got := f.Commands("ar"); len(got) != 1 {
		t.Errorf("ar commands = %+v", got)
	}
	err = c.SetCommands(t.Context(), map[string][]telegram.Command{"": {{Name: "Start!", Description: "x"}}})
	if !errors.Is(err, telegram.ErrInvalid) {
		t.Errorf("bad command name: err = %v, want ErrInvalid", err)
	}
	checkClean(t, f)
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		chat      int64
		setup     func(f *bottest.FakeAPI)
		wantIs    error
		wantCode  int
		wantCalls int
	}{
		{name: "blocked user", chat: 987654321, setup: func(f *bottest.FakeAPI) { f.AddChat(987654321, "private"); f.Block(987654321) },
			wantIs: bot.ErrBlocked, wantCode: 403, wantCalls: 1},
		{name: "kicked from group", chat: -5557777, setup: func(f *bottest.FakeAPI) { f.AddChat(-5557777, "group"); f.Block(-5557777) },
			wantIs: bot.ErrBlocked, wantCode: 403, wantCalls: 1},
		{name: "chat not found", chat: 77, setup: func(*bottest.FakeAPI) {},
			wantIs: bot.ErrBlocked, wantCode: 400, wantCalls: 1},
		{name: "5xx until attempts run out", chat: 987654321, setup: func(f *bottest.FakeAPI) {
			f.AddChat(987654321, "private")
			f.FailNext("sendMessage", bottest.Fault{Status: 500}, bottest.Fault{Status: 502, HTML: true}, bottest.Fault{Drop: true})
		}, wantIs: bot.ErrUnavailable, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := bottest.NewFakeAPI(t)
			tt.setup(f)
			var logs bytes.Buffer
			c := mustClient(t, f, func(cfg *telegram.Config) {
				cfg.MaxAttempts = 3
				cfg.Logger = slog.New(bottest.LogHandler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			})
			_, err := c.Send(t.Context(), bot.Outgoing{ChatID: tt.chat, Text: "Hallo " + bottest.CanaryName})
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			var te *telegram.Error
			if tt.wantCode != 0 && (!errors.As(err, &te) || te.Code != tt.wantCode) {
				t.Errorf("err = %#v, want code %d", err, tt.wantCode)
			}
			if n := len(f.Calls("sendMessage")); n != tt.wantCalls {
				t.Errorf("%d sendMessage calls, want %d", n, tt.wantCalls)
			}
			for _, leak := range []string{f.Token(), bottest.CanaryName, "987654321", "5557777"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
					t.Errorf("%q leaked: err %q, logs %q", leak, err, logs.String())
				}
			}
		})
	}
}

func TestSendRetries(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	f.FailNext("sendMessage",
		bottest.Fault{Status: 502, HTML: true}, // proxy page: not JSON
		bottest.Fault{Drop: true},              // connection reset
		bottest.Fault{Status: 429, RetryAfter: 1},
		bottest.Fault{Status: 500})
	c := mustClient(t, f, nil)
	mustSend(t, c, bot.Outgoing{ChatID: 42, Text: "hallo"})
	calls := f.Calls("sendMessage")
	if len(calls) != 5 || len(f.Sent(42)) != 1 {
		t.Fatalf("%d calls, %d sent; want 5 calls, 1 sent", len(calls), len(f.Sent(42)))
	}
	// The attempt after the 429 waited retry_after.
	if gap := calls[3].At.Sub(calls[2].At); gap < time.Second {
		t.Errorf("retried %v after a 429 with retry_after=1", gap)
	}
}

func TestSendFloodWaitTooLong(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	f.FailNext("sendMessage", bottest.Fault{Status: 429, RetryAfter: 3600})
	c := mustClient(t, f, nil)
	_, err := c.Send(t.Context(), bot.Outgoing{ChatID: 42, Text: "x"})
	var te *telegram.Error
	if !errors.Is(err, bot.ErrUnavailable) || !errors.As(err, &te) || te.RetryAfter != time.Hour {
		t.Errorf("err = %v, want ErrUnavailable with RetryAfter 1h", err)
	}
}

func TestSendRespectsContext(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(42, "private")
	f.FailNext("sendMessage", bottest.Fault{Status: 429, RetryAfter: 30})
	c := mustClient(t, f, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Send(ctx, bot.Outgoing{ChatID: 42, Text: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	// A hanging server: the context ends the request itself.
	f.FailNext("sendMessage", bottest.Fault{Delay: time.Minute})
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Send(ctx, bot.Outgoing{ChatID: 42, Text: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

// TestSendStaysWithinLimits sends bursts to private chats and a group
// with the limits scaled down (both sides alike) and expects no 429.
func TestSendStaysWithinLimits(t *testing.T) {
	limits := bottest.FakeLimits{PerChat: 50 * time.Millisecond, PerChatBurst: 3, GlobalPerSecond: 60,
		GroupPerWindow: 5, GroupWindow: 300 * time.Millisecond}
	f := bottest.NewFakeAPI(t, func(c *bottest.FakeConfig) { c.Limits = limits })
	c := mustClient(t, f, func(cfg *telegram.Config) {
		cfg.PerChat, cfg.PerChatBurst, cfg.GlobalRate = limits.PerChat, limits.PerChatBurst, float64(limits.GlobalPerSecond)
		cfg.GroupPerMinute, cfg.GroupWindow = limits.GroupPerWindow, limits.GroupWindow
	})
	chats := []int64{1, 2, 3, -100}
	for _, id := range chats {
		f.AddChat(id, "")
	}
	const perChat = 8
	errs := make(chan error, len(chats)*perChat)
	done := make(chan struct{})
	for _, id := range chats {
		go func() {
			defer func() { done <- struct{}{} }()
			for range perChat {
				_, err := c.Send(t.Context(), bot.Outgoing{ChatID: id, Text: "x"})
				errs <- err
			}
		}()
	}
	for range chats {
		<-done
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(f.Sent(0)); n != len(chats)*perChat {
		t.Errorf("sent %d, want %d", n, len(chats)*perChat)
	}
	checkClean(t, f)
}

func TestNewRetriesTransientGetMe(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.FailNext("getMe", bottest.Fault{Status: 502}, bottest.Fault{Drop: true})
	c, err := telegram.New(context.Background(), telegram.Config{Token: f.Token(), Endpoint: f.Endpoint(),
		RetryBase: time.Millisecond})
	if err != nil {
		t.Fatalf("New after a 502 and a dropped connection: %v", err)
	}
	if c.Username() == "" {
		t.Error("no username after getMe")
	}
	if n := len(f.Calls("getMe")); n != 3 {
		t.Errorf("%d getMe calls, want 3", n)
	}

	f.FailNext("getMe", bottest.Fault{Status: 401})
	if _, err := telegram.New(context.Background(), telegram.Config{Token: f.Token(), Endpoint: f.Endpoint(),
		RetryBase: time.Millisecond}); err == nil {
		t.Error("New accepted a 401")
	}
}
