package bottest

import (
	"strconv"

	"github.com/lotse-bot/lotse/internal/jsonstr"
)

// sentJSON is the answer to a send of a text message, byte for byte as
// write encodes okAnswer(tgbotapi.Message{MessageID: id, Date: date,
// Chat: &tgbotapi.Chat{ID: chat, Type: typ}, Text: text}) (see
// TestSentJSONMatchesEncoder), without encoding/json walking the
// library's Message struct of some hundred fields by reflection for
// every message the bot sends.
func sentJSON(id, date int, chat int64, typ, text string) []byte {
	b := make([]byte, 0, 320+len(text)+len(text)/8)
	b = append(b, `{"ok":true,"result":{"message_id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"date":`...)
	b = strconv.AppendInt(b, int64(date), 10)
	b = append(b, `,"chat":{"id":`...)
	b = strconv.AppendInt(b, chat, 10)
	b = append(b, `,"type":`...)
	b = jsonstr.Append(b, typ)
	// The library's pointer fields without omitempty.
	b = append(b, `,"photo":null,"location":null}`...)
	if text != "" {
		b = append(b, `,"text":`...)
		b = jsonstr.Append(b, text)
	}
	b = append(b, `,"message_auto_delete_timer_changed":null,"proximity_alert_triggered":null,`...)
	b = append(b, `"voice_chat_scheduled":null,"voice_chat_started":null,"voice_chat_ended":null,`...)
	return append(b, `"voice_chat_participants_invited":null}}`+"\n"...)
}
