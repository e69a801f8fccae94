package bot_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
)

// curator is the demo staff file's curator (bot/staffconfig/demo.yaml).
const curator = 9501

// TestUnansweredForCoordinatorsAndCurators: the questions the knowledge
// base could not answer are shown to coordinators and curators only;
// curators do not get the full report; everybody else is refused politely
// and the refusal is logged without anything about them.
func TestUnansweredForCoordinatorsAndCurators(t *testing.T) {
	h := newFullHarness(t, testNow)
	asker := h.user(708, "uk")
	asker.say("/start")
	asker.say(bottest.CanaryQuestion) // not known
	asker.say(bottest.CanaryQuestion)
	asker.say("flumpf snirkel quorb")

	for _, who := range []struct {
		name string
		id   int64
	}{{"coordinator", coordinator}, {"curator", curator}} {
		t.Run(who.name, func(t *testing.T) {
			out := h.user(who.id, "de").say("/unanswered")
			mustContain(t, out, "Fragen ohne Antwort", "2× "+bottest.CanaryQuestion)
			docs := documents(out)
			if len(docs) != 1 || !strings.HasSuffix(docs[0].Name, ".txt") || !strings.Contains(string(docs[0].Content), "1× flumpf snirkel quorb [uk]") {
				t.Fatalf("/unanswered documents = %+v", docs)
			}
			out = h.user(who.id, "de").say("/unanswered 2026-11")
			mustContain(t, out, "blorf")
			out = h.user(who.id, "de").say("/unanswered 2026-11-30..2026-11-01")
			mustContain(t, out, h.T("de", "ReportBadPeriod")[:20])
			if len(documents(out)) != 0 {
				t.Error("a bad period sent documents")
			}
		})
	}

	// A curator asking for the full report is pointed to /unanswered.
	out := h.user(curator, "de").say("/report")
	mustContain(t, out, h.T("de", "CuratorReportHint"))
	if len(documents(out)) != 0 || strings.Contains(allText(out), "blorf") {
		t.Errorf("a curator got report content: %s", allText(out))
	}
	out = h.user(curator, "de").press("rep:2026-11:all")
	if len(documents(out)) != 0 || strings.Contains(allText(out), "blorf") {
		t.Errorf("a curator got the report through a button: %s", allText(out))
	}

	// A refugee and a desk's staff member (Quartiermanagerin Anna, 1101)
	// are refused, in their language.
	logStart := len(h.log.String())
	for _, u := range []struct {
		id   int64
		lang string
	}{{708, "uk"}, {1101, "de"}} {
		out := h.user(u.id, u.lang).say("/unanswered")
		mustContain(t, out, h.T(u.lang, "CuratorOnly"))
		if strings.Contains(allText(out), "blorf") || len(documents(out)) != 0 {
			t.Errorf("user %d saw unanswered questions", u.id)
		}
	}
	logs := bottest.WithoutTimes(h.log.String()[logStart:])
	if n := strings.Count(logs, `"command refused"`); n != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", n, logs)
	}
	for _, secret := range []string{"708", "1101", "blorf", "Test"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log of refusals contains %q:\n%s", secret, logs)
		}
	}
	h.checkRecorder(t, -1)
}

// TestMyDataExportsClosedRequests: /mydata lists every request that
// still holds personal content, closed ones included, with their texts,
// and what the user consented to.
func TestMyDataExportsClosedRequests(t *testing.T) {
	h := newFullHarness(t, testNow)
	u := h.user(requesterID, "de")
	u.say("/start")
	u.press("r:internationales-frauenfruehstueck")
	request := func(text string) string {
		t.Helper()
		u.say("/person")
		u.press("kd:nord")
		u.press("kr:y")
		u.press("kt:housing")
		u.say(text)
		mustContain(t, u.press("ksn"), "K-")
		open, err := h.mem.OpenTicketsOf(context.Background(), h.bot.UserKey(requesterID))
		if err != nil || len(open) != 1 {
			t.Fatalf("open tickets = %+v, %v", open, err)
		}
		return open[0].Ref
	}
	closed := request("Erste Anfrage " + bottest.CanaryClosed)
	mustContain(t, u.press("kw:"+closed), closed)
	open := request("Zweite Anfrage " + bottest.CanaryOpen)

	out := u.say("/mydata")
	mustContain(t, out, h.cat.T("de", "CuratorMyDataClosed", map[string]any{"Requests": 1}))
	docs := documents(out)
	if len(docs) != 1 {
		t.Fatalf("/mydata: %d documents", len(docs))
	}
	var export struct {
		Chat     int64 `json:"chat_id"`
		Consents struct {
			RememberDistrict bool     `json:"remember_district"`
			ShareIdentity    []string `json:"identity_shown_to_staff_in"`
		} `json:"consents"`
		Session *struct {
			District string `json:"district"`
		} `json:"session"`
		Subscriptions []struct {
			Event string `json:"event"`
		} `json:"subscriptions"`
		Requests []struct {
			Ref, State, Text string
			Name             string `json:"name_shown_to_staff"`
			History          []struct {
				What string `json:"what"`
			} `json:"history"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(docs[0].Content, &export); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if len(export.Requests) != 2 {
		t.Fatalf("export has %d requests, want the closed and the open one:\n%s", len(export.Requests), docs[0].Content)
	}
	byRef := map[string]int{}
	for i, r := range export.Requests {
		byRef[r.Ref] = i
	}
	c, o := export.Requests[byRef[closed]], export.Requests[byRef[open]]
	if c.Ref != closed || c.State != string(bot.TicketCancelled) || !strings.Contains(c.Text, bottest.CanaryClosed) || len(c.History) < 2 {
		t.Errorf("closed request exported as %+v", c)
	}
	if o.Ref != open || o.State != string(bot.TicketOpen) || !strings.Contains(o.Text, bottest.CanaryOpen) || o.Name == "" {
		t.Errorf("open request exported as %+v", o)
	}
	if !export.Consents.RememberDistrict || export.Session == nil || export.Session.District != "nord" ||
		len(export.Consents.ShareIdentity) != 2 || export.Chat != requesterID {
		t.Errorf("consents, session or chat missing:\n%s", docs[0].Content)
	}
	if len(export.Subscriptions) != 1 || export.Subscriptions[0].Event != "internationales-frauenfruehstueck" {
		t.Errorf("subscriptions = %+v", export.Subscriptions)
	}
	if strings.Contains(h.log.String(), bottest.CanaryClosed) || strings.Contains(h.log.String(), bottest.CanaryOpen) || strings.Contains(bottest.WithoutTimes(h.log.String()), strconv.Itoa(requesterID)) {
		t.Error("log contains the request text or the user id")
	}
}
