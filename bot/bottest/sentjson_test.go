package bottest

import (
	"net/http/httptest"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

func TestSentJSONMatchesEncoder(t *testing.T) {
	for _, tc := range []struct {
		id, date int
		chat     int64
		typ      string
		text     string
	}{
		{1, 1700000000, 42, "private", "hello"},
		{0, 0, 0, "", ""},
		{987654, 1, -1001234567890, "supergroup", "Zeile 1\n<b>&</b> \"x\" \\ \u2028 \xff ä أين 😀"},
		{-5, -7, -9, "group", "\x00\x1f"},
	} {
		checkSentJSON(t, tc.id, tc.date, tc.chat, tc.typ, tc.text)
	}
}

func FuzzSentJSON(f *testing.F) {
	f.Add(1, 1700000000, int64(42), "private", "hello <&>\n")
	f.Fuzz(checkSentJSON)
}

func checkSentJSON(t *testing.T, id, date int, chat int64, typ, text string) {
	rec := httptest.NewRecorder()
	(&FakeAPI{}).write(rec, okAnswer(tgbotapi.Message{MessageID: id, Date: date, Chat: &tgbotapi.Chat{ID: chat, Type: typ}, Text: text}))
	if got := string(sentJSON(id, date, chat, typ, text)); got != rec.Body.String() {
		t.Fatalf("sentJSON\n%s\nencoding/json\n%s", got, rec.Body.String())
	}
}
