package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// TestRunStaffReloadOnHangup: SIGHUP reloads LOTSE_STAFF_FILE while
// `lotse run` runs. A broken file is refused with file:line in the log and
// the last good staff stay; a good one is in force at once, and a request
// claimed by somebody it removed returns to the desk's queue; when the
// desk moves to another group, its request is posted there once.
func TestRunStaffReloadOnHangup(t *testing.T) {
	// The test process receives the SIGHUP it sends; without a handler
	// of its own the default action would end it before Lotse's runs.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	demo, err := os.ReadFile("../../bot/staffconfig/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const nordLine = "  - {person: qm-nord,              users: [1101, 1102], names: {1101: Anna, 1102: Malik}, chat: -1001101}"
	if !strings.Contains(string(demo), nordLine) {
		t.Fatal("demo.yaml changed: update the qm-nord line in this test")
	}
	staffFile := filepath.Join(t.TempDir(), "staff.yaml")
	write := func(s string) {
		if err := os.WriteFile(staffFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(string(demo))

	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	api := bottest.NewFakeAPI(t)
	const (
		req       = 777101
		anna      = 1101
		malik     = 1102
		nordChat  = -1001101
		movedChat = -1001999
	)
	api.AddChat(nordChat, "supergroup")
	api.AddChat(movedChat, "supergroup")
	r := startLotseWith(t, api, map[string]string{
		"REDIS_URL":        "redis://" + rdb.(*redis.Client).Options().Addr + "/0",
		"LOTSE_SECRET":     strings.Repeat("h", 32),
		"LOTSE_NAMESPACE":  ns,
		"LOTSE_STAFF_FILE": staffFile,
	})
	// waitLogN returns the nth log line with want.
	waitLogN := func(want string, n int) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			seen := 0
			for _, l := range strings.Split(r.logs.String(), "\n") {
				if strings.Contains(l, want) {
					if seen++; seen == n {
						return l
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no log line %d with %q within 20s; log:\n%s", n, want, r.logs.String())
		return ""
	}
	waitLog := func(want string) string { t.Helper(); return waitLogN(want, 1) }
	notice := func(callbackID string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, c := range api.Calls("answerCallbackQuery") {
				if c.Params.Get("callback_query_id") == callbackID {
					return c.Params.Get("text")
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("callback %s not answered within 20s", callbackID)
		return ""
	}

	// A request to qm-nord, claimed by Anna.
	api.PushText(req, req, "en", "/person")
	m := r.waitFor(t, req, "Which district")
	api.PushCallback(req, req, "en", "kd:nord", m.MessageID)
	m = r.waitFor(t, req, "remember")
	api.PushCallback(req, req, "en", "kr:n", m.MessageID)
	m = r.waitFor(t, req, "What is your request about")
	api.PushCallback(req, req, "en", "kt:work", m.MessageID)
	r.waitFor(t, req, "describe your request")
	api.PushText(req, req, "en", "A letter I do not understand. "+bottest.CanaryText)
	m = r.waitFor(t, req, "Please check your request")
	api.PushCallback(req, req, "en", "ks", m.MessageID)
	ref := regexp.MustCompile(`K-[0-9A-Z]{4,8}`).FindString(r.waitFor(t, req, "Your reference is").Text)
	card := r.waitFor(t, nordChat, "Neue Anfrage "+ref)
	api.PushCallback(nordChat, anna, "de", buttonData(card, 0, 0), card.MessageID)
	r.waitFor(t, nordChat, ref+" wird jetzt von Anna bearbeitet")

	// A broken file: refused, with file and line; Anna keeps the request.
	lines := strings.Split(string(demo), "\n")
	broken := -1
	for i, l := range lines {
		if l == nordLine {
			lines[i] = strings.Replace(l, "users: [1101, 1102]", "users: [1101, anna]", 1)
			broken = i + 1
		}
	}
	write(strings.Join(lines, "\n"))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	refused := waitLog("staff file reload refused")
	if want := "staff.yaml:" + strconv.Itoa(broken); !strings.Contains(refused, want) {
		t.Errorf("refusal does not name %s: %s", want, refused)
	}

	// Anna leaves qm-nord: her claim returns to the queue and the request
	// is posted to the desk again.
	write(strings.Replace(string(demo), nordLine,
		"  - {person: qm-nord, users: [1102], names: {1102: Malik}, chat: -1001101}", 1))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if l := waitLog("staff file reloaded"); !strings.Contains(l, "requests_returned=1") {
		t.Errorf("reload log: %s", l)
	}
	again := r.waitFor(t, nordChat, "Weitergegeben an")
	if !strings.Contains(again.Text, ref) || again.Markup == nil {
		t.Fatalf("requeued card: %+v", again)
	}
	_, cb := api.PushCallback(nordChat, anna, "de", buttonData(again, 0, 0), again.MessageID)
	if n := notice(cb); !strings.Contains(n, "zuständigen") {
		t.Errorf("Anna's press after the reload: notice %q, want a refusal", n)
	}
	api.PushCallback(nordChat, malik, "de", buttonData(again, 0, 0), again.MessageID)
	r.waitFor(t, nordChat, ref+" wird jetzt von Malik bearbeitet")
	for _, m := range api.Sent(nordChat) {
		if strings.Contains(m.Text, "wird jetzt von Anna") && m.MessageID > again.MessageID {
			t.Errorf("Anna claimed again after the reload: %q", m.Text)
		}
	}

	// qm-nord moves to another group: the request, claimed by Malik who
	// stays, is posted there once with Malik keeping it; the old group is
	// told with the reference only. A second SIGHUP moves nothing.
	movedFile := strings.Replace(string(demo), nordLine,
		"  - {person: qm-nord, users: [1102], names: {1102: Malik}, chat: -1001999}", 1)
	write(movedFile)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if l := waitLogN("staff file reloaded", 2); !strings.Contains(l, "requests_moved=1") || !strings.Contains(l, "requests_returned=0") {
		t.Errorf("reload log after the desk moved: %s", l)
	}
	moved := r.waitFor(t, movedChat, "In diesen Chat verlegt: "+ref)
	if !strings.Contains(moved.Text, "A letter I do not understand.") || moved.Markup == nil {
		t.Fatalf("moved card: %+v", moved)
	}
	if note := r.waitFor(t, nordChat, ref+" wird jetzt in einem anderen Chat"); strings.Contains(note.Text, "letter") || note.Markup != nil {
		t.Errorf("note in the old group: %q", note.Text)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if l := waitLogN("staff file reloaded", 3); !strings.Contains(l, "requests_moved=0") {
		t.Errorf("second reload of the same file: %s", l)
	}
	// Malik answers by replying to the moved card; the requester's reply
	// to the answer arrives in the new group, after anything queued there
	// before it.
	nextID := 9000
	reply := func(chat, user int64, text string, to int) {
		nextID++
		typ := "private"
		if chat < 0 {
			typ = "supergroup"
		}
		api.PushUpdate(tgbotapi.Update{Message: &tgbotapi.Message{
			MessageID: nextID, Date: int(time.Now().Unix()), Text: text,
			From:           &tgbotapi.User{ID: user, FirstName: "Staff", LanguageCode: "de"},
			Chat:           &tgbotapi.Chat{ID: chat, Type: typ},
			ReplyToMessage: &tgbotapi.Message{MessageID: to, Chat: &tgbotapi.Chat{ID: chat, Type: typ}},
		}})
	}
	reply(movedChat, malik, "Please come on Thursday.", moved.MessageID)
	answer := r.waitFor(t, req, "Please come on Thursday.")
	reply(req, req, "Thank you, I will come.", answer.MessageID)
	r.waitFor(t, movedChat, "Thank you, I will come.")
	cards, notes := 0, 0
	for _, m := range api.Sent(movedChat) {
		if strings.Contains(m.Text, "verlegt: "+ref) {
			cards++
		}
	}
	for _, m := range api.Sent(nordChat) {
		if strings.Contains(m.Text, ref+" wird jetzt in einem anderen Chat") {
			notes++
		}
		if strings.Contains(m.Text, "Thank you") {
			t.Errorf("the requester's reply reached the old group: %q", m.Text)
		}
	}
	if cards != 1 || notes != 1 {
		t.Errorf("%d cards in the new group and %d notes in the old one, want one each", cards, notes)
	}
	if code := r.stop(); code != exitOK {
		t.Errorf("exit code %d; log:\n%s", code, r.logs.String())
	}
	if logs := r.logs.String(); strings.Contains(logs, "A letter I do not understand") || strings.Contains(logs, bottest.CanaryText) {
		t.Error("log contains the request text")
	}
}
