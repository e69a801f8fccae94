package telegram_test

import (
	"encoding/json"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// mustUpdate decodes a Bot API update from JSON, as Telegram sends it.
func mustUpdate(t testing.TB, js string) tgbotapi.Update {
	t.Helper()
	var u tgbotapi.Update
	if err := json.Unmarshal([]byte(js), &u); err != nil {
		t.Fatalf("decode update: %v", err)
	}
	return u
}

const (
	from    = `"from":{"id":42,"is_bot":false,"first_name":"Amina","language_code":"ar"}`
	private = `"chat":{"id":42,"type":"private"}`
	group   = `"chat":{"id":-1001234,"type":"supergroup","title":"Kiez"}`
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name   string
		js     string
		botNam string
		ok     bool
		want   bot.Incoming
	}{
		{
			name: "text",
			js:   `{"update_id":7,"message":{"message_id":3,"date":1700000000,` + from + `,` + private + `,"text":"Wo ist das Bürgeramt?"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 7, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 3, Kind: bot.InText, Text: "Wo ist das Bürgeramt?", Time: time.Unix(1700000000, 0).UTC()},
		},
		{
			name: "command with bot name and args",
			js:   `{"update_id":8,"message":{"message_id":4,` + from + `,` + group + `,"text":"/Lang@lotse_bot  uk ","entities":[{"type":"bot_command","offset":0,"length":14}]}}`,
			ok:   true, botNam: "lotse_bot",
			want: bot.Incoming{UpdateID: 8, ChatID: -1001234, ChatType: bot.ChatSupergroup, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 4, Kind: bot.InText, Text: "/Lang@lotse_bot  uk ", Command: "lang", Args: "uk"},
		},
		{
			name: "command for another bot",
			js:   `{"update_id":9,"message":{"message_id":5,` + from + `,` + group + `,"text":"/start@other_bot"}}`,
			ok:   false, botNam: "lotse_bot",
		},
		{
			name: "command with newline",
			js:   `{"update_id":9,"message":{"message_id":5,` + from + `,` + private + `,"text":"/help\nplease"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 9, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 5, Kind: bot.InText, Text: "/help\nplease", Command: "help", Args: "please"},
		},
		{
			name: "path is not a command",
			js:   `{"update_id":10,"message":{"message_id":6,` + from + `,` + private + `,"text":"/usr/bin"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 10, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 6, Kind: bot.InText, Text: "/usr/bin"},
		},
		{
			name: "callback",
			js:   `{"update_id":11,"callback_query":{"id":"cb1",` + from + `,"message":{"message_id":12,` + private + `},"chat_instance":"x","data":"more:2"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 11, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 12, Kind: bot.InCallback, CallbackID: "cb1", CallbackData: "more:2"},
		},
		{
			name: "callback without message goes to the user",
			js:   `{"update_id":12,"callback_query":{"id":"cb2",` + from + `,"inline_message_id":"im","data":"x"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 12, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				Kind: bot.InCallback, CallbackID: "cb2", CallbackData: "x"},
		},
		{
			name: "location",
			js:   `{"update_id":13,"message":{"message_id":7,` + from + `,` + private + `,"location":{"latitude":52.52,"longitude":13.405}}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 13, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 7, Kind: bot.InLocation, Location: &bot.Location{Lat: 52.52, Lon: 13.405}},
		},
		{
			name: "venue",
			js:   `{"update_id":14,"message":{"message_id":8,` + from + `,` + private + `,"location":{"latitude":1,"longitude":2},"venue":{"location":{"latitude":1,"longitude":2},"title":"Rathaus","address":"Str. 1"}}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 14, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 8, Kind: bot.InLocation, Location: &bot.Location{Lat: 1, Lon: 2}, Text: "Rathaus"},
		},
		{
			name: "photo with caption takes largest size",
			js:   `{"update_id":15,"message":{"message_id":9,` + from + `,` + private + `,"photo":[{"file_id":"small"},{"file_id":"big"}],"caption":"Brief"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 15, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 9, Kind: bot.InPhoto, FileID: "big", Text: "Brief"},
		},
		{
			name: "document", js: `{"update_id":16,"message":{"message_id":1,` + from + `,` + private + `,"document":{"file_id":"d"}}}`, ok: true,
			want: bot.Incoming{UpdateID: 16, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina", MessageID: 1, Kind: bot.InDocument, FileID: "d"},
		},
		{
			name: "voice", js: `{"update_id":17,"message":{"message_id":1,` + from + `,` + private + `,"voice":{"file_id":"v"}}}`, ok: true,
			want: bot.Incoming{UpdateID: 17, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina", MessageID: 1, Kind: bot.InVoice, FileID: "v"},
		},
		{
			name: "audio", js: `{"update_id":18,"message":{"message_id":1,` + from + `,` + private + `,"audio":{"file_id":"a"}}}`, ok: true,
			want: bot.Incoming{UpdateID: 18, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina", MessageID: 1, Kind: bot.InVoice, FileID: "a"},
		},
		{
			name: "video note", js: `{"update_id":19,"message":{"message_id":1,` + from + `,` + private + `,"video_note":{"file_id":"vn"}}}`, ok: true,
			want: bot.Incoming{UpdateID: 19, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina", MessageID: 1, Kind: bot.InVideo, FileID: "vn"},
		},
		{
			name: "sticker", js: `{"update_id":20,"message":{"message_id":1,` + from + `,` + private + `,"sticker":{"file_id":"s"}}}`, ok: true,
			want: bot.Incoming{UpdateID: 20, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina", MessageID: 1, Kind: bot.InSticker, FileID: "s"},
		},
		{
			name: "contact", js: `{"update_id":21,"message":{"message_id":1,` + from + `,` + private + `,"contact":{"phone_number":"+49","first_name":"X"}}}`, ok: true,
			want: bot.Incoming{UpdateID: 21, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina", MessageID: 1, Kind: bot.InContact},
		},
		{
			name: "edited command does not run again",
			js:   `{"update_id":22,"edited_message":{"message_id":1,"date":5,"edit_date":9,` + from + `,` + private + `,"text":"/start x"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 22, ChatID: 42, ChatType: bot.ChatPrivate, UserID: 42, LanguageCode: "ar", FirstName: "Amina",
				MessageID: 1, Kind: bot.InEdited, Text: "/start x", Time: time.Unix(9, 0).UTC()},
		},
		{
			name: "channel post has no user",
			js:   `{"update_id":23,"channel_post":{"message_id":1,"sender_chat":{"id":-1005,"type":"channel"},"chat":{"id":-1005,"type":"channel"},"text":"news"}}`,
			ok:   true,
			want: bot.Incoming{UpdateID: 23, ChatID: -1005, ChatType: bot.ChatChannel, MessageID: 1, Kind: bot.InText, Text: "news"},
		},
		{name: "service message", js: `{"update_id":24,"message":{"message_id":1,` + from + `,` + group + `,"new_chat_members":[{"id":5,"first_name":"B"}]}}`},
		{name: "inline query", js: `{"update_id":25,"inline_query":{"id":"q",` + from + `,"query":"x","offset":""}}`},
		{name: "message without chat", js: `{"update_id":26,"message":{"message_id":1,"text":"hi"}}`},
		{name: "callback without sender", js: `{"update_id":27,"callback_query":{"id":"c","data":"x"}}`},
		{name: "empty", js: `{"update_id":28}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := telegram.ConvertFor(mustUpdate(t, tt.js), tt.botNam)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (got %+v)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			gotJS, _ := json.Marshal(got)
			wantJS, _ := json.Marshal(tt.want)
			if string(gotJS) != string(wantJS) {
				t.Errorf("got  %s\nwant %s", gotJS, wantJS)
			}
		})
	}
}

func TestConvertStripsAnyBotName(t *testing.T) {
	in, ok := telegram.Convert(mustUpdate(t, `{"update_id":1,"message":{"message_id":1,`+from+`,`+group+`,"text":"/start@whatever_bot"}}`))
	if !ok || in.Command != "start" || in.Args != "" {
		t.Errorf("Convert = %+v, %v; want command start", in, ok)
	}
}

func FuzzConvert(f *testing.F) {
	f.Add(`{"update_id":1,"message":{"message_id":1,` + from + `,` + private + `,"text":"/start@lotse_bot a","entities":[{"type":"bot_command","offset":0,"length":99}]}}`)
	f.Add(`{"update_id":2,"callback_query":{"id":"c",` + from + `,"message":{"message_id":1,` + group + `},"data":"x"}}`)
	f.Add(`{"update_id":3,"edited_channel_post":{"chat":{"id":-5,"type":"channel"},"photo":[]}}`)
	f.Add(`{"update_id":4,"message":{"chat":{"id":1},"text":"/\u0000@"}}`)
	f.Add(`{"message":{"chat":{"id":1},"venue":{},"location":null}}`)
	f.Fuzz(func(t *testing.T, js string) {
		var u tgbotapi.Update
		if json.Unmarshal([]byte(js), &u) != nil {
			return
		}
		in, ok := telegram.ConvertFor(u, "lotse_bot")
		if !ok {
			return
		}
		if in.UpdateID != int64(u.UpdateID) {
			t.Errorf("UpdateID = %d, want %d", in.UpdateID, u.UpdateID)
		}
		if in.Command != "" && (in.Kind != bot.InText || in.Text == "" || in.Text[0] != '/') {
			t.Errorf("command %q from a non-command: %+v", in.Command, in)
		}
		if in.Kind == bot.InCallback && in.CallbackID == "" {
			t.Errorf("callback without id: %+v", in)
		}
	})
}
