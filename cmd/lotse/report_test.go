package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/knowledge"
)

// reportEnv records figures for the last days in a namespace of their own
// and returns the environment pointing lotse report at them.
func reportEnv(t *testing.T) func(string) string {
	t.Helper()
	rdb := bottest.Redis(t)
	ns := bottest.Namespace(t, rdb)
	m := redisstore.New(rdb, redisstore.Options{Namespace: ns}).Monitor()
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	today := time.Now().In(kb.Location())
	for i := range 7 {
		day := today.AddDate(0, 0, -i)
		for range 6 {
			mustOK(t, m.Question(ctx, monitor.Q{Topic: "housing", District: "nord", Lang: "ar", Answered: true, Day: day}))
		}
		mustOK(t, m.Question(ctx, monitor.Q{Topic: "work", District: "feldmark", Lang: "fa", Day: day}))
		mustOK(t, m.Ticket(ctx, monitor.TicketEvent{Kind: monitor.TicketOpened, District: "nord", Topic: "housing", Day: day}))
	}
	for _, q := range []string{"Wo kann ich schwimmen lernen?", "wo kann ich schwimmen lernen", "Gibt es Hilfe beim Umzug?"} {
		mustOK(t, m.Unanswered(ctx, q, "de", today))
	}
	env := map[string]string{"REDIS_URL": "redis://" + rdb.(*redis.Client).Options().Addr, "LOTSE_NAMESPACE": ns}
	return func(k string) string { return env[k] }
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func runReport(t *testing.T, env func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), append([]string{"report"}, args...), env, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestReportCommand(t *testing.T) {
	env := reportEnv(t)
	code, out, errs := runReport(t, env, "-period", "last-7-days", "-format", "csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"period,district,indicator,dimension,value",
		",all,questions,total,49",
		",all,questions_by_area,wohnen,42",
		",all,questions_by_district,feldmark,7",
		",all,tickets_opened,total,7",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("CSV lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runReport(t, env, "-period", "last-7-days", "-district", "Nordstadt")
	if code != exitOK || !strings.Contains(out, "Stadtteil Nordstadt") || !strings.Contains(out, "Wohnen                                   42") {
		t.Errorf("text report for Nordstadt: exit %d, %s\n%s", code, errs, out)
	}
	code, out, _ = runReport(t, env, "-period", "last-1-days", "-format", "unanswered")
	if code != exitOK || !strings.Contains(out, "   2× ") || !strings.Contains(out, "Umzug") {
		t.Errorf("unanswered questions: exit %d\n%s", code, out)
	}
	file := filepath.Join(t.TempDir(), "r.png")
	if code, _, errs = runReport(t, env, "-format", "png", "-o", file); code != exitOK {
		t.Fatalf("png: exit %d: %s", code, errs)
	}
	f, err := os.Open(file)
	mustOK(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	mustOK(t, err)
	if b := img.Bounds(); b.Dx() != monitor.ChartWidth || b.Dy() != monitor.ChartHeight {
		t.Errorf("chart size %v", b)
	}
}

func TestReportBadArguments(t *testing.T) {
	env := func(k string) string {
		if k == "REDIS_URL" {
			return "redis://127.0.0.1:1"
		}
		return ""
	}
	future := time.Now().AddDate(1, 0, 0).Format("2006-01")
	tests := []struct {
		args []string
		says string
	}{
		{[]string{"-period", "2026-11-30..2026-11-01"}, "before the start"},
		{[]string{"-period", "2020-01-01..2023-01-01"}, "longer than 366 days"},
		{[]string{"-period", future}, "after today"},
		{[]string{"-period", "gestern"}, "unknown period"},
		{[]string{"-district", "Atlantis"}, "unknown district"},
		{[]string{"-format", "pdf"}, "-format must be"},
		{[]string{"-threshold", "0"}, "-threshold"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runReport(t, env, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if strings.Count(errs, "\n") != 1 || !strings.Contains(errs, tc.says) {
				t.Errorf("stderr = %q, want one line saying %q", errs, tc.says)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
	code, _, errs := runReport(t, func(string) string { return "" })
	if code != exitUsage || !strings.Contains(errs, "REDIS_URL is not set") || strings.Count(errs, "\n") != 1 {
		t.Errorf("without Redis: exit %d, %q", code, errs)
	}
}
