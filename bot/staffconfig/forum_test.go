package staffconfig_test

import (
	"strings"
	"testing"

	"github.com/lotse-bot/lotse/bot/staffconfig"
)

// TestForumDesk: "forum: true" (or the older topics_forum) marks a
// desk's group as a forum; desks without it are not.
func TestForumDesk(t *testing.T) {
	kb := mustSample(t)
	d, err := staffconfig.Demo(kb)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.All() {
		if desk, _ := d.Desk(p); desk.Forum {
			t.Errorf("demo desk %s is a forum; the default is off", p)
		}
	}
	for _, key := range []string{"forum", "topics_forum"} {
		var b strings.Builder
		for _, p := range d.All() {
			b.WriteString("  - {person: " + p + ", users: [1], chat: ")
			if p == "qm-nord" {
				b.WriteString("-1001101, " + key + ": true}\n")
			} else {
				b.WriteString("-1002}\n")
			}
		}
		got, err := staffconfig.Parse("x.yaml", []byte("staff:\n"+b.String()), kb)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if nord, _ := got.Desk("qm-nord"); !nord.Forum {
			t.Errorf("%s: qm-nord not a forum", key)
		}
		if mitte, _ := got.Desk("qm-mitte"); mitte.Forum {
			t.Errorf("%s: qm-mitte a forum", key)
		}
	}
}
