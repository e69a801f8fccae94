package monitor_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/lotse-bot/lotse/bot/monitor"
)

func TestGroup(t *testing.T) {
	qs := []monitor.Unanswered{
		{Text: "Wo bekomme ich einen Wohnberechtigungsschein?", Lang: "de"},
		{Text: "wo bekomme ich einen wohnberechtigungsschein", Lang: "de"},
		{Text: "Wo bekomme ich den Wohnberechtigungsschein?", Lang: "de"},
		{Text: "Wohnberechtigungsschein beantragen wo?", Lang: "de"},
		{Text: "Wo kann ich Schwimmen lernen?", Lang: "de"},
		{Text: "Wo kann ich schwimmen lernen", Lang: "de"},
		{Text: "Где можно выучить плавание?", Lang: "ru"},
		{Text: "Wo kann ich meinen Hund anmelden?", Lang: "de"},
	}
	got := monitor.Group(qs, 0)
	// The three wordings of one question form a group; asking how to
	// apply for it is a question of its own, as is the Russian one (no
	// words in common); the dog is unrelated.
	if len(got) != 5 {
		t.Fatalf("got %d groups, want 5: %+v", len(got), got)
	}
	want := monitor.Cluster{
		Text:     "wo bekomme ich einen wohnberechtigungsschein",
		Langs:    []string{"de"},
		Count:    3,
		Examples: []string{"Wo bekomme ich einen Wohnberechtigungsschein?", "Wo bekomme ich den Wohnberechtigungsschein?"},
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("first group = %+v\nwant %+v", got[0], want)
	}
	if got[1].Count != 2 || !strings.Contains(got[1].Text, "chwimmen") {
		t.Errorf("second group = %+v, want the two swimming questions", got[1])
	}
	// Deterministic regardless of input order.
	rev := make([]monitor.Unanswered, len(qs))
	for i, q := range qs {
		rev[len(qs)-1-i] = q
	}
	if again := monitor.Group(rev, 0); !reflect.DeepEqual(again, got) {
		t.Errorf("order changed the result:\n%+v\n%+v", again, got)
	}
}

func TestGroupBounded(t *testing.T) {
	qs := make([]monitor.Unanswered, 0, 1200)
	for i := range 1200 {
		qs = append(qs, monitor.Unanswered{Text: fmt.Sprintf("Frage nummer%d zu thema%d", i, i%7)})
	}
	got := monitor.Group(qs, 0.9)
	if len(got) > monitor.MaxClusters {
		t.Errorf("%d groups, want at most %d", len(got), monitor.MaxClusters)
	}
	if n := len(monitor.Group(nil, 0)); n != 0 {
		t.Errorf("no questions formed %d groups", n)
	}
	if n := len(monitor.Group([]monitor.Unanswered{{Text: "?!"}}, 0)); n != 0 {
		t.Errorf("a question without words formed %d groups", n)
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Wo ist\tdas\nAmt?  ", "Wo ist das Amt?"},
		{"Meine Nummer ist +49 176 12345678", "Meine Nummer ist [Nummer]"},
		{"PLZ 47101, Haus 12", "PLZ 47101, Haus 12"},
		{"Aktenzeichen 123456/2026", "Aktenzeichen [Nummer]"},
		{"Schreib an max.muster@example.org bitte", "Schreib an [E-Mail] bitte"},
		{"Telefon ۰۹۱۲۳۴۵۶۷۸۹", "Telefon [Nummer]"},
		{"bad \xff utf8", "bad utf8"},
		{strings.Repeat("ab ", 300), string([]rune(strings.Repeat("ab ", 67))[:199]) + "…"},
	}
	for _, tc := range tests {
		if got := monitor.CleanText(tc.in); got != tc.want {
			t.Errorf("CleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
