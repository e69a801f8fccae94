package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/lotse-bot/lotse/bot"
)

// Forum topics (Bot API 6.3), which tgbotapi v5.5.1 does not know: the
// methods createForumTopic and closeForumTopic, the message_thread_id
// parameter of the send methods, and the message_thread_id and
// is_topic_message fields of incoming messages. The calls go through
// MakeRequest (and UploadFiles) with the same limits, retries and error
// mapping as every other call; incoming updates are decoded twice, once
// by the library and once for the topic fields (update).

var _ bot.ForumSender = (*Client)(nil)

// MaxTopicName is the Bot API's limit on a forum topic's name.
const MaxTopicName = 128

// CreateForumTopic opens a topic named name in chat and returns its
// message_thread_id (see bot.ForumSender). A name longer than
// MaxTopicName is shortened. Telegram refuses chats that are no forum
// ("Bad Request: the chat is not a forum") and bots without the right to
// manage topics with a 400: the error then wraps neither
// bot.ErrUnavailable nor bot.ErrBlocked.
func (c *Client) CreateForumTopic(ctx context.Context, chat int64, name string) (int, error) {
	const method = "createForumTopic"
	name = strings.TrimSpace(Truncate(strings.TrimSpace(name), MaxTopicName))
	if name == "" {
		return 0, fmt.Errorf("telegram %s: %w: empty name", method, ErrInvalid)
	}
	p := tgbotapi.Params{}
	p.AddNonZero64("chat_id", chat)
	p.AddNonEmpty("name", name)
	resp, err := c.do(ctx, method, &chat, func(b *tgbotapi.BotAPI) (*tgbotapi.APIResponse, error) {
		return b.MakeRequest(method, p)
	})
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "telegram forum call failed",
			slog.String("method", method), slog.String("chat", c.ref(chat)), slog.String("err", err.Error()))
		return 0, err
	}
	var topic struct {
		Thread int `json:"message_thread_id"`
	}
	if err := json.Unmarshal(resp.Result, &topic); err != nil || topic.Thread <= 0 {
		return 0, fmt.Errorf("telegram %s: decode result: no message_thread_id", method)
	}
	return topic.Thread, nil
}

// CloseForumTopic closes topic thread of chat (see bot.ForumSender).
func (c *Client) CloseForumTopic(ctx context.Context, chat int64, thread int) error {
	const method = "closeForumTopic"
	if thread <= 0 {
		return fmt.Errorf("telegram %s: %w: no thread", method, ErrInvalid)
	}
	p := tgbotapi.Params{}
	p.AddNonZero64("chat_id", chat)
	p.AddNonZero("message_thread_id", thread)
	_, err := c.do(ctx, method, &chat, func(b *tgbotapi.BotAPI) (*tgbotapi.APIResponse, error) {
		return b.MakeRequest(method, p)
	})
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "telegram forum call failed",
			slog.String("method", method), slog.String("chat", c.ref(chat)), slog.String("err", err.Error()))
	}
	return err
}

// sendInThread is Send for a message into forum topic msg.ThreadID: the
// same requests as the library's, plus message_thread_id.
func (c *Client) sendInThread(ctx context.Context, msg bot.Outgoing, markup *tgbotapi.InlineKeyboardMarkup) (int, error) {
	base := func() tgbotapi.Params {
		p := tgbotapi.Params{}
		p.AddNonZero64("chat_id", msg.ChatID)
		p.AddNonZero("message_thread_id", msg.ThreadID)
		return p
	}
	withMarkup := func(p tgbotapi.Params) error {
		if markup == nil {
			return nil
		}
		return p.AddInterface("reply_markup", markup)
	}
	withReply := func(p tgbotapi.Params) {
		if msg.ReplyTo != 0 {
			p.AddNonZero("reply_to_message_id", msg.ReplyTo)
			p.AddBool("allow_sending_without_reply", true) // the quoted message may be gone
		}
	}
	caption := func(s string) string {
		s = strings.TrimSpace(s)
		if msg.RTL && s != "" {
			s = markRTL(s)
		}
		return Truncate(s, MaxCaption)
	}
	switch {
	case msg.Venue != nil:
		v := msg.Venue
		if v.Lat < -90 || v.Lat > 90 || v.Lon < -180 || v.Lon > 180 || (v.Lat == 0 && v.Lon == 0) ||
			strings.TrimSpace(v.Title) == "" || strings.TrimSpace(v.Address) == "" {
			return 0, fmt.Errorf("telegram sendVenue: %w: bad venue", ErrInvalid)
		}
		p := base()
		p.AddNonZeroFloat("latitude", v.Lat)
		p.AddNonZeroFloat("longitude", v.Lon)
		p.AddNonEmpty("title", v.Title)
		p.AddNonEmpty("address", v.Address)
		withReply(p)
		if err := withMarkup(p); err != nil {
			return 0, err
		}
		return c.sendParams(ctx, "sendVenue", msg.ChatID, p, nil)
	case msg.Document != nil:
		d := msg.Document
		if len(d.Content) == 0 || len(d.Content) > maxUpload {
			return 0, fmt.Errorf("telegram sendDocument: %w: document size %d not in 1..%d", ErrInvalid, len(d.Content), maxUpload)
		}
		name := strings.TrimSpace(d.Name)
		if name == "" {
			name = "document"
		}
		p := base()
		p.AddNonEmpty("caption", caption(d.Caption))
		withReply(p)
		if err := withMarkup(p); err != nil {
			return 0, err
		}
		return c.sendParams(ctx, "sendDocument", msg.ChatID, p,
			[]tgbotapi.RequestFile{{Name: "document", Data: tgbotapi.FileBytes{Name: name, Bytes: d.Content}}})
	case msg.File != nil:
		f := msg.File
		field, method := "", ""
		switch f.Kind {
		case bot.AttachPhoto:
			field, method = "photo", "sendPhoto"
		case bot.AttachDocument:
			field, method = "document", "sendDocument"
		default:
			return 0, fmt.Errorf("telegram send file: %w: unknown kind %q", ErrInvalid, f.Kind)
		}
		if strings.TrimSpace(f.FileID) == "" {
			return 0, fmt.Errorf("telegram send file: %w: no file id", ErrInvalid)
		}
		p := base()
		p.AddNonEmpty(field, f.FileID)
		p.AddNonEmpty("caption", caption(f.Caption))
		withReply(p)
		if err := withMarkup(p); err != nil {
			return 0, err
		}
		return c.sendParams(ctx, method, msg.ChatID, p, nil)
	}
	ps := c.Parts(msg.Text, msg.RTL)
	if len(ps) == 0 {
		return 0, fmt.Errorf("telegram sendMessage: %w: text is empty", ErrInvalid)
	}
	var id int
	for i, part := range ps {
		p := base()
		p.AddNonEmpty("text", part) // no parse_mode: plain text
		if i == 0 {
			withReply(p)
		}
		if i == len(ps)-1 {
			if err := withMarkup(p); err != nil {
				return 0, err
			}
		}
		var err error
		if id, err = c.sendParams(ctx, "sendMessage", msg.ChatID, p, nil); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// sendParams makes one send call of method with p (and files, if any)
// under chat's flood limits and returns the sent message's id.
func (c *Client) sendParams(ctx context.Context, method string, chat int64, p tgbotapi.Params, files []tgbotapi.RequestFile) (int, error) {
	resp, err := c.do(ctx, method, &chat, func(b *tgbotapi.BotAPI) (*tgbotapi.APIResponse, error) {
		if len(files) > 0 {
			return b.UploadFiles(method, p, files)
		}
		return b.MakeRequest(method, p)
	})
	if err != nil {
		return 0, err
	}
	return sentMessageID(method, resp)
}

// update is a Bot API update as the library decodes it, plus the topic
// fields of its message (or of the message of its callback query).
type update struct {
	tgbotapi.Update
	topic topicFields
}

// topicFields are a message's forum fields.
type topicFields struct {
	Thread  int  `json:"message_thread_id"`
	IsTopic bool `json:"is_topic_message"`
}

// UnmarshalJSON decodes the library's Update and the topic fields.
func (u *update) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &u.Update); err != nil {
		return err
	}
	u.topic = topicFields{}
	if !bytes.Contains(data, threadKey) {
		return nil // the usual case: no second decoding
	}
	var raw struct {
		Message           *topicFields `json:"message"`
		EditedMessage     *topicFields `json:"edited_message"`
		ChannelPost       *topicFields `json:"channel_post"`
		EditedChannelPost *topicFields `json:"edited_channel_post"`
		CallbackQuery     *struct {
			Message *topicFields `json:"message"`
		} `json:"callback_query"`
	}
	if json.Unmarshal(data, &raw) != nil {
		// A malformed topic field (Telegram sends none) costs the topic,
		// not the update (nor, in getUpdates, the whole batch).
		return nil
	}
	for _, m := range []*topicFields{raw.Message, raw.EditedMessage, raw.ChannelPost, raw.EditedChannelPost} {
		if m != nil {
			u.topic = *m
			return nil
		}
	}
	if raw.CallbackQuery != nil && raw.CallbackQuery.Message != nil {
		u.topic = *raw.CallbackQuery.Message
	}
	return nil
}

var threadKey = []byte(`"message_thread_id"`)

// decodeUpdates decodes a getUpdates result.
func decodeUpdates(result json.RawMessage) ([]update, error) {
	var us []update
	if err := json.Unmarshal(result, &us); err != nil {
		return nil, err
	}
	return us, nil
}

// convertUpdate is ConvertFor with the topic fields: a message written
// inside a forum topic carries its thread (bot.Incoming.ThreadID,
// TopicMessage). Telegram makes such a message a reply to the topic's
// first message when it replies to nothing else; that implicit reply is
// dropped, so ReplyTo is a reply a person chose.
func convertUpdate(u update, botUsername string) (bot.Incoming, bool) {
	in, ok := ConvertFor(u.Update, botUsername)
	if !ok {
		return in, false
	}
	if u.topic.Thread > 0 {
		in.ThreadID = u.topic.Thread
		in.TopicMessage = u.topic.IsTopic
	}
	if in.TopicMessage && in.ReplyTo == in.ThreadID {
		in.ReplyTo, in.ReplyHead = 0, ""
	}
	return in, true
}

// ConvertJSON is ConvertFor for an update as Telegram sends it (JSON),
// with the forum topic fields the library does not decode.
func ConvertJSON(data []byte, botUsername string) (bot.Incoming, bool) {
	var u update
	if err := json.Unmarshal(data, &u); err != nil || u.UpdateID <= 0 {
		return bot.Incoming{}, false
	}
	return convertUpdate(u, botUsername)
}
