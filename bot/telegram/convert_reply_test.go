package telegram_test

import (
	"strings"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// TestConvertReplyHead: the first line of the message replied to is
// passed on only if this bot sent it.
func TestConvertReplyHead(t *testing.T) {
	chat := &tgbotapi.Chat{ID: -1001234, Type: "supergroup"}
	self := &tgbotapi.User{ID: 42, IsBot: true, UserName: "Lotse_Bot"}
	card := "📨 Neue Anfrage K-7F3Q\nThema: Arbeit"
	long := strings.Repeat("ü", bot.MaxReplyHead) // two bytes each
	for _, c := range []struct {
		name     string
		botName  string
		to       *tgbotapi.Message
		wantHead string
	}{
		{"own card", "lotse_bot", &tgbotapi.Message{From: self, Text: card}, "📨 Neue Anfrage K-7F3Q"},
		{"own caption", "lotse_bot", &tgbotapi.Message{From: self, Caption: "K-7F3Q: Formular", Photo: []tgbotapi.PhotoSize{{FileID: "x"}}}, "K-7F3Q: Formular"},
		{"clipped", "lotse_bot", &tgbotapi.Message{From: self, Text: "K-7F3Q " + long}, strings.ToValidUTF8(("K-7F3Q " + long)[:bot.MaxReplyHead], "")},
		{"a user's message", "lotse_bot", &tgbotapi.Message{From: &tgbotapi.User{ID: 42, UserName: "lotse_bot"}, Text: card}, ""},
		{"another bot", "lotse_bot", &tgbotapi.Message{From: &tgbotapi.User{ID: 7, IsBot: true, UserName: "copy_bot"}, Text: card}, ""},
		{"anonymous admin", "lotse_bot", &tgbotapi.Message{SenderChat: chat, Text: card}, ""},
		{"bot name unknown", "", &tgbotapi.Message{From: self, Text: card}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.to.MessageID, c.to.Chat = 4, chat
			u := tgbotapi.Update{UpdateID: 1, Message: &tgbotapi.Message{MessageID: 5, Date: 1700000000, Chat: chat,
				From: &tgbotapi.User{ID: 1101, FirstName: "Anna"}, Text: "Bitte am Donnerstag", ReplyToMessage: c.to}}
			in, ok := telegram.ConvertFor(u, c.botName)
			if !ok || in.ReplyTo != 4 || in.ReplyHead != c.wantHead {
				t.Errorf("ConvertFor = ReplyTo %d, ReplyHead %q, %v; want %q", in.ReplyTo, in.ReplyHead, ok, c.wantHead)
			}
		})
	}
}
