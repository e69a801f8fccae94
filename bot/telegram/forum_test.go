package telegram_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

const forum, plainGroup = -1007001, -1007002

// TestForumTopicCalls: createForumTopic in a forum returns the thread,
// messages (text, file, keyboard, long texts) go into it, the topic
// closes once; a group without topics is refused with Telegram's 400,
// which is neither unavailable nor blocked (so the bot falls back).
func TestForumTopicCalls(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.MarkForum(forum)
	f.AddChat(plainGroup, "supergroup")
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.MaxTextLen = 50 })
	ctx := context.Background()

	long := "K-7F3Q · " + strings.Repeat("Wohnungssuche 🏠 ", 20)
	thread, err := c.CreateForumTopic(ctx, forum, long)
	if err != nil || thread <= 0 {
		t.Fatalf("CreateForumTopic = %d, %v", thread, err)
	}
	tp := f.Topics(forum)
	if len(tp) != 1 || tp[0].Thread != thread || len(utf16.Encode([]rune(tp[0].Name))) > telegram.MaxTopicName ||
		!strings.HasPrefix(tp[0].Name, "K-7F3Q · ") {
		t.Fatalf("topics %+v", tp)
	}
	mustSend(t, c, bot.Outgoing{ChatID: forum, ThreadID: thread, Text: strings.Repeat("lang ", 30),
		Buttons: [][]bot.Button{{{Text: "Claim", Data: "sc:K-7F3Q"}}}})
	mustSend(t, c, bot.Outgoing{ChatID: forum, ThreadID: thread, File: &bot.FileRef{Kind: bot.AttachPhoto, FileID: "ph1", Caption: "K-7F3Q"}})
	mustSend(t, c, bot.Outgoing{ChatID: forum, Text: "general"})
	sent := f.Sent(forum)
	if len(sent) < 4 {
		t.Fatalf("sent %d messages", len(sent))
	}
	for i, m := range sent[:len(sent)-1] {
		if m.ThreadID != thread {
			t.Errorf("message %d (%s) in thread %d, want %d", i, m.Method, m.ThreadID, thread)
		}
	}
	if last := sent[len(sent)-2]; last.FileID != "ph1" || last.Method != "sendPhoto" {
		t.Errorf("file sent as %+v", last)
	}
	if m := sent[len(sent)-3]; m.Markup == nil {
		t.Error("keyboard lost on the last part in the topic")
	}
	if m := sent[len(sent)-1]; m.ThreadID != 0 {
		t.Errorf("message without ThreadID went to thread %d", m.ThreadID)
	}

	if err := c.CloseForumTopic(ctx, forum, thread); err != nil {
		t.Fatalf("CloseForumTopic: %v", err)
	}
	if !f.Topics(forum)[0].Closed {
		t.Error("topic not closed")
	}
	err = c.CloseForumTopic(ctx, forum, thread)
	if err == nil || errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("closing twice: %v, want a refusal", err)
	}

	_, err = c.CreateForumTopic(ctx, plainGroup, "K-7F3Q")
	var te *telegram.Error
	if !errors.As(err, &te) || te.Code != 400 || !strings.Contains(te.Description, "not a forum") ||
		errors.Is(err, bot.ErrUnavailable) || errors.Is(err, bot.ErrBlocked) {
		t.Errorf("not a forum: %v", err)
	}
	if _, err := c.Send(ctx, bot.Outgoing{ChatID: plainGroup, ThreadID: 99, Text: "x"}); err == nil || errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("send into a thread of a group without topics: %v, want a refusal", err)
	}
}

// TestForumTopicRetries: a 5xx on createForumTopic is retried like any
// call; one that keeps failing is unavailable (the outbox tries later).
func TestForumTopicRetries(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.MarkForum(forum)
	c := mustClient(t, f, func(cfg *telegram.Config) { cfg.MaxAttempts = 2 })
	f.FailNext("createForumTopic", bottest.Fault{Status: 502})
	if th, err := c.CreateForumTopic(context.Background(), forum, "K-1"); err != nil || th == 0 {
		t.Fatalf("after one 502: %d, %v", th, err)
	}
	f.FailNext("createForumTopic", bottest.Fault{Status: 502}, bottest.Fault{Status: 503})
	if _, err := c.CreateForumTopic(context.Background(), forum, "K-2"); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("after two 5xx: %v, want unavailable", err)
	}
}

// TestPollTopicMessage: a message written in a topic reaches the handler
// with its thread, without the implicit reply to the topic's first
// message; a reply to another message in the topic keeps its reply.
func TestPollTopicMessage(t *testing.T) {
	f := bottest.NewFakeAPI(t)
	f.MarkForum(forum)
	c := mustClient(t, f, nil)
	thread, err := c.CreateForumTopic(context.Background(), forum, "K-7F3Q")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []bot.Incoming
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Poll(ctx, telegram.HandlerFunc(func(_ context.Context, in bot.Incoming) error {
			mu.Lock()
			got = append(got, in)
			mu.Unlock()
			return nil
		}))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	id1 := f.PushTopicText(forum, 1101, "de", "Antwort", thread)
	id2 := f.PushText(forum, 1101, "de", "general")
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := f.WaitConfirmed(wctx, max(id1, id2)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("handled %d updates", len(got))
	}
	if in := got[0]; in.ThreadID != thread || !in.TopicMessage || in.ReplyTo != 0 || in.ReplyHead != "" || in.Text != "Antwort" {
		t.Errorf("topic message converted to %+v", in)
	}
	if in := got[1]; in.ThreadID != 0 || in.TopicMessage {
		t.Errorf("general message converted to %+v", in)
	}
}

// TestConvertJSONTopic: the topic fields of messages and of callback
// queries' messages; an explicit reply inside a topic stays a reply.
func TestConvertJSONTopic(t *testing.T) {
	for _, tc := range []struct {
		name, js          string
		thread, replyTo   int
		topic, convertsOK bool
	}{
		{"implicit reply", `{"update_id":1,"message":{"message_id":9,"date":1,"chat":{"id":-1007001,"type":"supergroup"},
			"from":{"id":5,"first_name":"A"},"text":"hi","message_thread_id":4,"is_topic_message":true,
			"reply_to_message":{"message_id":4,"date":1,"chat":{"id":-1007001,"type":"supergroup"},"forum_topic_created":{"name":"x","icon_color":1}}}}`,
			4, 0, true, true},
		{"explicit reply", `{"update_id":2,"message":{"message_id":9,"date":1,"chat":{"id":-1007001,"type":"supergroup"},
			"from":{"id":5,"first_name":"A"},"text":"hi","message_thread_id":4,"is_topic_message":true,
			"reply_to_message":{"message_id":7,"date":1,"chat":{"id":-1007001,"type":"supergroup"},"text":"card"}}}`,
			4, 7, true, true},
		{"callback in topic", `{"update_id":3,"callback_query":{"id":"q","from":{"id":5,"first_name":"A"},"chat_instance":"c","data":"d",
			"message":{"message_id":7,"date":1,"chat":{"id":-1007001,"type":"supergroup"},"text":"card","message_thread_id":4,"is_topic_message":true}}}`,
			4, 0, true, true},
		{"no topic", `{"update_id":4,"message":{"message_id":9,"date":1,"chat":{"id":1,"type":"private"},"from":{"id":1,"first_name":"A"},"text":"hi"}}`,
			0, 0, false, true},
		{"broken", `{"update_id":5,"message":{"message_thread_id":"x"}}`, 0, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, ok := telegram.ConvertJSON([]byte(tc.js), "")
			if ok != tc.convertsOK {
				t.Fatalf("ok = %v", ok)
			}
			if in.ThreadID != tc.thread || in.TopicMessage != tc.topic || in.ReplyTo != tc.replyTo {
				t.Errorf("thread %d topic %v reply %d; want %d %v %d", in.ThreadID, in.TopicMessage, in.ReplyTo, tc.thread, tc.topic, tc.replyTo)
			}
		})
	}
}
