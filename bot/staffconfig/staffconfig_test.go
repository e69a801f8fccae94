package staffconfig_test

import (
	"strings"
	"testing"

	"github.com/lotse-bot/lotse/bot/staffconfig"
	"github.com/lotse-bot/lotse/knowledge"
)

func mustSample(t *testing.T) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func TestDemoCoversEveryRoutingTarget(t *testing.T) {
	kb := mustSample(t)
	d, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	for _, e := range kb.RoutingTargets() {
		if desk, ok := d.Desk(e.ID); !ok || desk.Chat == 0 || len(desk.Users) == 0 {
			t.Errorf("routing target %s: desk %+v, %v", e.ID, desk, ok)
		}
	}
	if !d.IsCoordinator(9001) || !d.MayAct(9001, "qm-nord") || d.MayAct(1101, "qm-sued") || !d.MayAct(1102, "qm-nord") {
		t.Error("permissions of the demo staff are wrong")
	}
}

func TestParseErrors(t *testing.T) {
	kb := mustSample(t)
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown person", "staff:\n  - {person: qm-nrd, users: [1], chat: 1}\n", []string{"x.yaml:2: person \"qm-nrd\"", "routing target \"qm-nord\""}},
		{"missing chat", "staff:\n  - person: qm-nord\n    users: [1]\n", []string{"x.yaml:2: desk without chat"}},
		{"bad user", "staff:\n  - {person: qm-nord, users: [abc], chat: 5}\n", []string{"x.yaml:2: users: \"abc\" is not a Telegram user id"}},
		{"unknown key", "staf: []\n", []string{"x.yaml:1: unknown key \"staf\""}},
		{"duplicate", "staff:\n  - {person: qm-nord, users: [1], chat: 1}\n  - {person: qm-nord, users: [2], chat: 2}\n", []string{"x.yaml:3: person \"qm-nord\" has a desk already (line 2)"}},
		{"not a chat", "staff:\n  - {person: qm-nord, users: [1], chat: x}\n", []string{"x.yaml:2: chat: \"x\""}},
		{"bad curator", "curators: [12, -3, x]\n", []string{"x.yaml:1: curators: \"-3\" is not a Telegram user id", "x.yaml:1: curators: \"x\""}},
		{"curators not a list", "curators: 12\n", []string{"x.yaml:1: curators: want a list"}},
		{"forum not a bool", "staff:\n  - {person: qm-nord, users: [1], chat: -1001, forum: yes please}\n", []string{"x.yaml:2: forum: want true or false"}},
		{"forum in a private chat", "staff:\n  - {person: qm-nord, users: [1], forum: true, chat: 5}\n", []string{"x.yaml:2: forum: a private chat has no topics"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := staffconfig.Parse("x.yaml", []byte(c.yaml), kb)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConsole(t *testing.T) {
	kb := mustSample(t)
	d, err := staffconfig.Console(kb, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(kb); err != nil {
		t.Fatal(err)
	}
	if !d.MayAct(1, "qm-hafen") || d.MayAct(2, "qm-hafen") {
		t.Error("console staff permissions wrong")
	}
}

// TestCurators: curators are configured by user id beside the
// coordinators; they are neither coordinators nor desk staff, and a
// coordinator is not a curator unless listed.
func TestCurators(t *testing.T) {
	kb := mustSample(t)
	d, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	if !d.IsCurator(9501) || d.IsCoordinator(9501) || d.IsStaff(9501) || d.MayAct(9501, "qm-nord") {
		t.Error("demo curator 9501 has the wrong permissions")
	}
	if d.IsCurator(9001) || d.IsCurator(1101) {
		t.Error("a coordinator or desk user is a curator without being listed")
	}
	if _, err := d.WithCurators([]int64{0}); err == nil {
		t.Error("WithCurators accepted user id 0")
	}
	e, err := d.WithCurators([]int64{77})
	if err != nil || !e.IsCurator(77) || e.IsCurator(9501) || !d.IsCurator(9501) || d.IsCurator(77) {
		t.Errorf("WithCurators did not return an independent copy (err %v)", err)
	}
	if !e.IsCoordinator(9001) || !e.MayAct(1102, "qm-nord") {
		t.Error("WithCurators lost the desks or coordinators")
	}
}
