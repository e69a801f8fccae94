package bottest

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Forum topics in the fake (Bot API 6.3): chats marked with MarkForum
// accept createForumTopic and closeForumTopic and messages with a
// message_thread_id of one of their topics; other chats answer
// createForumTopic with Telegram's 400 "Bad Request: the chat is not a
// forum". A topic's thread id is the id of its first message (the
// service message "topic created"), as in Telegram, so it takes a
// message id of the chat.

// MarkForum makes chatID a supergroup with topics enabled.
func (f *FakeAPI) MarkForum(chatID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chats[chatID] = "supergroup"
	f.forums[chatID] = true
}

// Topics returns the topics of chatID, oldest first.
func (f *FakeAPI) Topics(chatID int64) []FakeTopic {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FakeTopic
	for _, t := range f.topics[chatID] {
		out = append(out, *t)
	}
	for i := 1; i < len(out); i++ { // few topics: insertion sort by thread
		for j := i; j > 0 && out[j].Thread < out[j-1].Thread; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// topicOpen reports whether thread is a topic of chat. f.mu is not held.
// Closed topics count: the bot is an admin that may manage topics, and
// such admins may still post in closed ones.
func (f *FakeAPI) topicOpen(chat int64, thread int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.topics[chat][thread]
	return ok
}

func (f *FakeAPI) createForumTopic(p url.Values) answer {
	const method = "createForumTopic"
	chat, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil || chat == 0 {
		return f.reject(method, 400, "Bad Request: chat_id is empty")
	}
	name := p.Get("name")
	if n := utf16Len(name); n == 0 || n > 128 || !utf8.ValidString(name) || strings.TrimSpace(name) == "" {
		return f.reject(method, 400, "Bad Request: TOPIC_TITLE_INVALID")
	}
	f.mu.Lock()
	_, known := f.chats[chat]
	forum := f.forums[chat]
	if !known || !forum {
		f.mu.Unlock()
		if !known {
			return f.reject(method, 400, "Bad Request: chat not found")
		}
		return f.reject(method, 400, "Bad Request: the chat is not a forum")
	}
	defer f.mu.Unlock()
	f.nextMsg[chat]++
	t := &FakeTopic{Thread: f.nextMsg[chat], Name: name}
	if f.topics[chat] == nil {
		f.topics[chat] = map[int]*FakeTopic{}
	}
	f.topics[chat][t.Thread] = t
	f.notify()
	return okAnswer(map[string]any{"message_thread_id": t.Thread, "name": name, "icon_color": 7322096})
}

func (f *FakeAPI) closeForumTopic(p url.Values) answer {
	const method = "closeForumTopic"
	chat, err1 := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	thread, err2 := strconv.Atoi(p.Get("message_thread_id"))
	if err1 != nil || err2 != nil {
		return f.reject(method, 400, "Bad Request: chat_id or message_thread_id is invalid")
	}
	f.mu.Lock()
	var desc string
	t := f.topics[chat][thread]
	switch {
	case !f.forums[chat]:
		desc = "Bad Request: the chat is not a forum"
	case t == nil:
		desc = "Bad Request: message thread not found"
	case t.Closed:
		desc = "Bad Request: TOPIC_NOT_MODIFIED"
	default:
		t.Closed = true
		f.notify()
	}
	f.mu.Unlock()
	if desc != "" {
		return f.reject(method, 400, desc)
	}
	return okAnswer(true)
}

// PushTopicText queues a text message from userID written inside topic
// thread of forum chatID, as Telegram sends it: with message_thread_id,
// is_topic_message and, as it replies to nothing else, as a reply to
// the topic's first message. It returns the update id.
func (f *FakeAPI) PushTopicText(chatID, userID int64, lang, text string, thread int) int {
	m := f.message(chatID, userID, lang)
	m.Text = text
	m.ReplyToMessage = &tgbotapi.Message{
		MessageID: thread, Date: int(time.Now().Unix()), Chat: m.Chat,
		From: &tgbotapi.User{ID: f.cfg.BotID, IsBot: true, FirstName: "Lotse", UserName: f.cfg.BotUsername},
	}
	return f.push(tgbotapi.Update{Message: m}, &fakeThread{thread: thread, isTopic: true})
}

// withTopic is u as getUpdates answers it: with the topic fields of its
// message if it was written in a topic. f.mu is held.
func (f *FakeAPI) withTopic(u tgbotapi.Update) any {
	th, ok := f.inTopic[u.UpdateID]
	if !ok || u.Message == nil {
		return u
	}
	raw, err := json.Marshal(u)
	if err != nil {
		return u
	}
	var v map[string]any
	if json.Unmarshal(raw, &v) != nil {
		return u
	}
	msg, _ := v["message"].(map[string]any)
	if msg == nil {
		return u
	}
	msg["message_thread_id"] = th.thread
	msg["is_topic_message"] = th.isTopic
	if r, _ := msg["reply_to_message"].(map[string]any); r != nil {
		r["message_thread_id"] = th.thread
		r["forum_topic_created"] = map[string]any{"name": "topic", "icon_color": 7322096}
	}
	return v
}
