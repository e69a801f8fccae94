package telegram_test

import (
	"testing"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

func TestSendFileByID(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.AddChat(-1001, "supergroup")
	c := mustClient(t, f, nil)
	mustSend(t, c, bot.Outgoing{ChatID: -1001, File: &bot.FileRef{Kind: bot.AttachPhoto, FileID: "AgACphoto", Caption: "K-7F3Q"}})
	mustSend(t, c, bot.Outgoing{ChatID: -1001, File: &bot.FileRef{Kind: bot.AttachDocument, FileID: "BQACdoc", Caption: "K-7F3Q: Formular"}})
	sent := f.Sent(-1001)
	if len(sent) != 2 {
		t.Fatalf("sent %d, want 2", len(sent))
	}
	if sent[0].Method != "sendPhoto" || sent[0].FileID != "AgACphoto" || sent[0].Text != "K-7F3Q" {
		t.Errorf("photo = %+v", sent[0])
	}
	if sent[1].Method != "sendDocument" || sent[1].FileID != "BQACdoc" || sent[1].Text != "K-7F3Q: Formular" {
		t.Errorf("document = %+v", sent[1])
	}
	if _, err := c.Send(t.Context(), bot.Outgoing{ChatID: -1001, File: &bot.FileRef{Kind: "voice", FileID: "x"}}); err == nil {
		t.Error("unknown file kind sent")
	}
	if _, err := c.Send(t.Context(), bot.Outgoing{ChatID: -1001, Text: "x", File: &bot.FileRef{Kind: bot.AttachPhoto, FileID: "x"}}); err == nil {
		t.Error("two payloads sent")
	}
	checkClean(t, f)
}

func TestConvertReplyTo(t *testing.T) {
	u := mustUpdate(t, `{"update_id":9,"message":{"message_id":5,"date":1700000000,`+from+`,`+group+
		`,"text":"Bitte am Donnerstag kommen.","reply_to_message":{"message_id":4,"date":1700000000,"chat":{"id":-1001234,"type":"supergroup"},"text":"Neue Anfrage"}}}`)
	in, ok := telegram.Convert(u)
	if !ok || in.ReplyTo != 4 || in.Kind != bot.InText {
		t.Errorf("Convert = %+v, %v", in, ok)
	}
	u = mustUpdate(t, `{"update_id":10,"message":{"message_id":6,"date":1700000000,`+from+`,`+private+`,"text":"hallo"}}`)
	if in, _ := telegram.Convert(u); in.ReplyTo != 0 {
		t.Errorf("ReplyTo without a reply: %d", in.ReplyTo)
	}
}
