package telegram

import (
	"strings"
	"time"
	"unicode"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// Convert maps a Telegram update to a transport-neutral bot.Incoming. It
// reports false for updates Lotse does not act on (inline queries,
// payments, polls, membership changes, service messages, callback
// queries from inline messages, ...). A command's "@botname" suffix is
// stripped whatever the name; use ConvertFor to ignore commands addressed
// to other bots in groups.
//
// Convert reads only the fields it needs and never trusts the entity
// offsets Telegram sends, so it cannot panic on malformed updates.
func Convert(u tgbotapi.Update) (bot.Incoming, bool) {
	return ConvertFor(u, "")
}

// ConvertFor is Convert for the bot named botUsername (without "@"): a
// command addressed to a different bot ("/start@otherbot" in a group) is
// reported as not for us (false). An empty botUsername accepts any.
func ConvertFor(u tgbotapi.Update, botUsername string) (bot.Incoming, bool) {
	in := bot.Incoming{UpdateID: int64(u.UpdateID)}
	switch {
	case u.Message != nil:
		return fromMessage(in, u.Message, botUsername, false)
	case u.EditedMessage != nil:
		return fromMessage(in, u.EditedMessage, botUsername, true)
	case u.ChannelPost != nil:
		return fromMessage(in, u.ChannelPost, botUsername, false)
	case u.EditedChannelPost != nil:
		return fromMessage(in, u.EditedChannelPost, botUsername, true)
	case u.CallbackQuery != nil:
		return fromCallback(in, u.CallbackQuery)
	}
	return in, false
}

func fromCallback(in bot.Incoming, q *tgbotapi.CallbackQuery) (bot.Incoming, bool) {
	if q.ID == "" || q.From == nil {
		return in, false
	}
	in.Kind = bot.InCallback
	in.CallbackID = q.ID
	in.CallbackData = q.Data
	setUser(&in, q.From)
	if m := q.Message; m != nil && m.Chat != nil {
		in.ChatID = m.Chat.ID
		in.ChatType = bot.ChatType(m.Chat.Type)
		in.MessageID = m.MessageID
		in.Time = unixTime(m.Date)
	} else {
		// Button on an inline-mode message or a message too old to be
		// included: the answer goes to the user's private chat.
		in.ChatID = q.From.ID
		in.ChatType = bot.ChatPrivate
	}
	return in, true
}

func fromMessage(in bot.Incoming, m *tgbotapi.Message, botUsername string, edited bool) (bot.Incoming, bool) {
	if m.Chat == nil {
		return in, false
	}
	in.ChatID = m.Chat.ID
	in.ChatType = bot.ChatType(m.Chat.Type)
	in.MessageID = m.MessageID
	in.Time = unixTime(m.Date)
	if edited && m.EditDate != 0 {
		in.Time = unixTime(m.EditDate)
	}
	switch {
	case m.From != nil:
		setUser(&in, m.From)
	case m.SenderChat != nil:
		// Anonymous group admins and channel posts: there is no user; the
		// chat speaks. UserID stays 0 so the core cannot mistake the
		// chat for a person.
	}

	if r := m.ReplyToMessage; r != nil {
		in.ReplyTo = r.MessageID
		in.ReplyHead = replyHead(r, botUsername)
	}
	in.Text = m.Text
	switch {
	case m.Text != "":
		in.Kind = bot.InText
		cmd, args, ok := parseCommand(m.Text, botUsername)
		if !ok {
			return in, false
		}
		in.Command, in.Args = cmd, args
	case m.Venue != nil:
		in.Kind = bot.InLocation
		in.Location = &bot.Location{Lat: m.Venue.Location.Latitude, Lon: m.Venue.Location.Longitude}
		in.Text = m.Venue.Title
	case m.Location != nil:
		in.Kind = bot.InLocation
		in.Location = &bot.Location{Lat: m.Location.Latitude, Lon: m.Location.Longitude}
	case len(m.Photo) > 0:
		in.Kind = bot.InPhoto
		in.FileID = m.Photo[len(m.Photo)-1].FileID // largest size comes last
	case m.Document != nil:
		in.Kind = bot.InDocument
		in.FileID = m.Document.FileID
	case m.Voice != nil:
		in.Kind = bot.InVoice
		in.FileID = m.Voice.FileID
	case m.Audio != nil:
		in.Kind = bot.InVoice
		in.FileID = m.Audio.FileID
	case m.Video != nil:
		in.Kind = bot.InVideo
		in.FileID = m.Video.FileID
	case m.VideoNote != nil:
		in.Kind = bot.InVideo
		in.FileID = m.VideoNote.FileID
	case m.Animation != nil:
		in.Kind = bot.InVideo
		in.FileID = m.Animation.FileID
	case m.Sticker != nil:
		in.Kind = bot.InSticker
		in.FileID = m.Sticker.FileID
	case m.Contact != nil:
		in.Kind = bot.InContact
	default:
		// Service messages (members joining, pinned messages, chat
		// migrations, ...), polls, dice, games, payments.
		return in, false
	}
	if in.Kind != bot.InText && m.Caption != "" {
		in.Text = m.Caption
	}
	if edited {
		// An edit must not run a command a second time.
		in.Kind = bot.InEdited
		in.Command, in.Args = "", ""
	}
	return in, true
}

// replyHead is the first line of r's text or caption if this bot sent r
// (see bot.Incoming.ReplyHead). Bot usernames are unique, so a message
// of another bot, or a user's copy of ours, never passes; without
// botUsername nothing does.
func replyHead(r *tgbotapi.Message, botUsername string) string {
	if botUsername == "" || r.From == nil || !r.From.IsBot || !strings.EqualFold(r.From.UserName, botUsername) {
		return ""
	}
	s := r.Text
	if s == "" {
		s = r.Caption
	}
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > bot.MaxReplyHead {
		s = strings.ToValidUTF8(s[:bot.MaxReplyHead], "")
	}
	return s
}

func setUser(in *bot.Incoming, u *tgbotapi.User) {
	in.UserID = u.ID
	in.LanguageCode = u.LanguageCode
	in.FirstName = u.FirstName
	in.IsBot = u.IsBot
}

func unixTime(sec int) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0).UTC()
}

// parseCommand splits "/cmd@bot args" into ("cmd", "args"). Telegram's
// rule for command names is 1-32 characters of Latin letters, digits and
// underscores; anything else starting with "/" ("/ 3", "/usr/bin") is
// ordinary text. Commands are case-insensitive in the clients, so the
// name is lower-cased. ok is false only for a command addressed to a
// bot other than botUsername.
func parseCommand(text, botUsername string) (cmd, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", true
	}
	body := text[1:]
	word, rest := body, ""
	if i := strings.IndexFunc(body, unicode.IsSpace); i >= 0 { // "/start\nmore" too
		word, rest = body[:i], body[i:]
	}
	name, target, addressed := strings.Cut(word, "@")
	if !validCommand(name) {
		return "", "", true
	}
	if addressed && botUsername != "" && !strings.EqualFold(target, botUsername) {
		return "", "", false
	}
	return strings.ToLower(name), strings.TrimSpace(rest), true
}

func validCommand(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
