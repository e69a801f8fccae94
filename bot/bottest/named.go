package bottest

import (
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// PushTextAs is PushText from a user whose first name is firstName, for
// tests that follow a name (CanaryName) through the system.
func (f *FakeAPI) PushTextAs(chatID, userID int64, lang, firstName, text string) int {
	m := f.message(chatID, userID, lang)
	m.From.FirstName = firstName
	m.Text = text
	if strings.HasPrefix(text, "/") {
		word, _, _ := strings.Cut(text, " ")
		m.Entities = []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: utf16Len(word)}}
	}
	return f.PushUpdate(tgbotapi.Update{Message: m})
}

// PushCallbackAs is PushCallback from a user whose first name is
// firstName; it returns the update id.
func (f *FakeAPI) PushCallbackAs(chatID, userID int64, lang, firstName, data string, messageID int) int {
	m := &tgbotapi.Message{
		MessageID: messageID,
		From:      &tgbotapi.User{ID: f.cfg.BotID, IsBot: true, FirstName: "Lotse", UserName: f.cfg.BotUsername},
		Date:      int(time.Now().Unix()),
		Chat:      &tgbotapi.Chat{ID: chatID, Type: chatType(chatID)},
	}
	f.mu.Lock()
	f.cbSeq++
	id := "cb" + strconv.Itoa(f.cbSeq)
	f.mu.Unlock()
	return f.PushUpdate(tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{
		ID: id, From: &tgbotapi.User{ID: userID, FirstName: firstName, LanguageCode: lang},
		Message: m, ChatInstance: "ci", Data: data,
	}})
}
