package bot_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/i18n"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenEntries cover an office with hours, an event, a person (via
// "ask a person") and an entry without translations.
var goldenEntries = []string{"e:auslaenderbehoerde", "e:sprachcafe", "e:wohngeldstelle", "p", "d:auslaenderbehoerde"}

// TestGoldenCards renders answer cards in every shipped language and
// compares them with testdata/cards.<lang>.golden. Run with -update after
// a deliberate change (or when translations land) and review the diff.
func TestGoldenCards(t *testing.T) {
	for _, lang := range i18n.Languages {
		t.Run(lang, func(t *testing.T) {
			h := newHarness(t, mustTestKB(t))
			u := h.user(7, lang)
			u.say("/start") // consumes the first-contact notice
			var b strings.Builder
			for _, data := range goldenEntries {
				got := u.press(data)
				if len(got) != 1 {
					t.Fatalf("%s: %d messages, want 1", data, len(got))
				}
				writeGolden(&b, data, got[0])
			}
			h.checkRecorder(t, len(goldenEntries))
			compareGolden(t, filepath.Join("testdata", "cards."+lang+".golden"), b.String())
		})
	}
}

func writeGolden(b *strings.Builder, name string, m bot.Outgoing) {
	fmt.Fprintf(b, "=== %s rtl=%v\n%s\n", name, m.RTL, m.Text)
	for _, row := range m.Buttons {
		var cells []string
		for _, bt := range row {
			cells = append(cells, fmt.Sprintf("[%s → %s]", bt.Text, bt.Data))
		}
		b.WriteString(strings.Join(cells, " ") + "\n")
	}
	b.WriteString("\n")
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot -run TestGoldenCards -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update and review the diff):\n--- got ---\n%s", path, got)
	}
}
