package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// TestRunTicketEndToEndRedis runs a request for a person through the real
// program, the fake Bot API and real Redis: requester → ticket → staff
// group → claim → reply → requester → reply back → close.
func TestRunTicketEndToEndRedis(t *testing.T) {
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	api := bottest.NewFakeAPI(t)
	const (
		req      = 777001
		anna     = 1101 // demo staff of qm-nord
		nordChat = -1001101
	)
	api.AddChat(nordChat, "supergroup")
	r := startLotseWith(t, api, map[string]string{
		"REDIS_URL":        "redis://" + rdb.(*redis.Client).Options().Addr + "/0",
		"LOTSE_SECRET":     strings.Repeat("k", 32),
		"LOTSE_NAMESPACE":  ns,
		"LOTSE_STAFF_FILE": "../../bot/staffconfig/demo.yaml",
	})
	press := func(chat, user int64, data string, msg bottest.SentMessage) {
		api.PushCallback(chat, user, "en", data, msg.MessageID)
	}
	nextID := 5000
	reply := func(chat, user int64, text string, to int) {
		nextID++
		typ := "private"
		if chat < 0 {
			typ = "supergroup"
		}
		api.PushUpdate(tgbotapi.Update{Message: &tgbotapi.Message{
			MessageID: nextID, Date: int(time.Now().Unix()), Text: text,
			From:           &tgbotapi.User{ID: user, FirstName: "Samira", LanguageCode: "en"},
			Chat:           &tgbotapi.Chat{ID: chat, Type: typ},
			ReplyToMessage: &tgbotapi.Message{MessageID: to, Chat: &tgbotapi.Chat{ID: chat, Type: typ}},
		}})
	}

	api.PushText(req, req, "en", "/person")
	m := r.waitFor(t, req, "Which district")
	press(req, req, "kd:nord", m)
	m = r.waitFor(t, req, "remember")
	press(req, req, "kr:n", m)
	m = r.waitFor(t, req, "What is your request about")
	press(req, req, "kt:work", m)
	r.waitFor(t, req, "describe your request")
	// The texts carry canaries (bottest.Canaries): the suite's log check
	// looks for them in every record of the run.
	request := "I need help with a letter from the Jobcenter. " + bottest.CanaryText
	staffAnswer := "Please come on Thursday, " + bottest.CanaryClosed + "."
	api.PushText(req, req, "en", request)
	m = r.waitFor(t, req, "Please check your request")
	press(req, req, "ks", m)
	sent := r.waitFor(t, req, "Your reference is")
	ref := regexp.MustCompile(`K-[0-9A-Z]{4,8}`).FindString(sent.Text)
	if ref == "" {
		t.Fatalf("no reference in %q", sent.Text)
	}
	card := r.waitFor(t, nordChat, "Neue Anfrage "+ref)
	if !strings.Contains(card.Text, request) || card.Markup == nil {
		t.Fatalf("staff card: %+v", card)
	}
	if strings.Contains(buttonData(card, 0, 0), ref) {
		t.Fatalf("staff button carries the reference instead of a token: %q", buttonData(card, 0, 0))
	}
	// A forged button with the reference is refused; the token works.
	press(nordChat, anna, "sc:"+ref, card)
	press(nordChat, anna, buttonData(card, 0, 0), card)
	r.waitFor(t, nordChat, ref+" wird jetzt von Anna bearbeitet")
	reply(nordChat, anna, staffAnswer, card.MessageID)
	answer := r.waitFor(t, req, staffAnswer)
	reply(req, req, "Thank you, I will.", answer.MessageID)
	r.waitFor(t, nordChat, "Thank you, I will.")
	press(nordChat, anna, buttonData(card, 1, 1), card)
	prompt := r.waitFor(t, nordChat, "abschließen")
	press(nordChat, anna, buttonData(prompt, 0, 0), prompt)
	r.waitFor(t, req, "has been closed")

	if code := r.stop(); code != exitOK {
		t.Errorf("exit code %d; log:\n%s", code, r.logs.String())
	}
	if bad := api.BadRequests(); len(bad) > 0 {
		t.Errorf("Bot API rejected requests: %+v", bad)
	}
	for _, m := range api.Sent(nordChat) {
		if strings.Contains(m.Text, "777001") || strings.Contains(m.Text, "Samira") {
			t.Errorf("staff chat sees the requester's identity: %q", m.Text)
		}
	}
	logs := bottest.WithoutTimes(r.logs.String())
	for _, secret := range []string{"Jobcenter.", "Thursday", "777001", "Samira", bottest.CanaryText, bottest.CanaryClosed} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
	keys := bottest.Keys(t, rdb, ns+":*")
	tickets := 0
	for k, ttl := range keys {
		if strings.Contains(k, "{tk}:t:") {
			tickets++
		}
		if ttl <= 0 {
			t.Errorf("key %s has no TTL", k)
		}
		if strings.Contains(k, "777001") {
			t.Errorf("key %s contains a raw Telegram id", k)
		}
	}
	if tickets != 1 {
		t.Errorf("%d tickets stored in Redis, want 1", tickets)
	}
}

// buttonData is the callback data of the button in row, col of m.
func buttonData(m bottest.SentMessage, row, col int) string {
	if m.Markup == nil || len(m.Markup.InlineKeyboard) <= row || len(m.Markup.InlineKeyboard[row]) <= col {
		return ""
	}
	if d := m.Markup.InlineKeyboard[row][col].CallbackData; d != nil {
		return *d
	}
	return ""
}
