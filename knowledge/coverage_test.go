package knowledge_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// TestWriteReportGolden renders the report for the valid test base at a
// fixed time and compares it with testdata/load/report.golden. Run with
// -update to rewrite it after a deliberate change.
func TestWriteReportGolden(t *testing.T) {
	kb := mustLoad(t, validBase(t))
	now := time.Date(2027, 7, 15, 12, 0, 0, 0, kb.Location())
	var buf bytes.Buffer
	if err := knowledge.WriteReport(&buf, kb, now); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "load", "report.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("report differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

// TestWriteReportContent checks the facts in the report independently of
// its layout.
func TestWriteReportContent(t *testing.T) {
	kb := mustLoad(t, validBase(t))
	report := func(now time.Time) string {
		var buf bytes.Buffer
		if err := knowledge.WriteReport(&buf, kb, now); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	lineOf := func(s, prefix string) []string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, prefix) {
				return strings.Fields(l)
			}
		}
		t.Fatalf("no line starting with %q in\n%s", prefix, s)
		return nil
	}
	r := report(time.Date(2026, 6, 1, 12, 0, 0, 0, kb.Location()))
	// buergeramt: title in de, en, ar; summary in de, en, ar.
	if got, want := lineOf(r, "buergeramt "), []string{"buergeramt", "office", "TS", "TS", "TS", "--", "--", "--", "--", "--"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("buergeramt row = %q, want %q", got, want)
	}
	// nord: German title from name_de only.
	if got := lineOf(r, "nord "); strings.Join(got[2:5], " ") != "TS -S --" {
		t.Errorf("nord row = %q", got)
	}
	if got := lineOf(r, "summaries "); strings.Join(got[1:4], " ") != "3 3 1" {
		t.Errorf("summaries totals = %q", got)
	}
	if !strings.Contains(r, "Stale: 0 entries") {
		t.Errorf("nothing should be stale on 2026-06-01:\n%s", r)
	}
	r = report(time.Date(2026, 6, 2, 12, 0, 0, 0, kb.Location()))
	if !strings.Contains(r, "Stale: 1 entries") || !strings.Contains(r, "buergeramt  2025-06-01") {
		t.Errorf("buergeramt (checked 2025-06-01) should be stale on 2026-06-02:\n%s", r)
	}
	if !strings.Contains(r, "Events without upcoming dates: 0") {
		t.Errorf("event has upcoming dates in 2026:\n%s", r)
	}
	r = report(time.Date(2027, 7, 1, 12, 0, 0, 0, kb.Location()))
	if !strings.Contains(r, "Events without upcoming dates: 1\n  sprachcafe-nord (entries.yaml:") {
		t.Errorf("event is over in July 2027:\n%s", r)
	}
}

func TestWriteProblems(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "no problems\n"},
		{"one", &knowledge.LoadError{Problems: []knowledge.Problem{{File: "a.yaml", Line: 2, Msg: "bad"}}}, "a.yaml:2: bad\n1 problem\n"},
		{"two", &knowledge.LoadError{Problems: []knowledge.Problem{{File: "a.yaml", Line: 2, Msg: "bad"}, {Msg: "no city"}}}, "a.yaml:2: bad\nno city\n2 problems\n"},
		{"other", errors.New("disk on fire"), "disk on fire\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := knowledge.WriteProblems(&buf, tt.err); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, buf.String(), tt.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteReportReportsWriteErrors(t *testing.T) {
	kb := mustLoad(t, validBase(t))
	if err := knowledge.WriteReport(failWriter{}, kb, time.Now()); err == nil {
		t.Error("WriteReport to a failing writer returned nil")
	}
}
