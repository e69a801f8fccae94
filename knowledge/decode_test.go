package knowledge_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lotse-bot/lotse/knowledge"
)

// TestRepeatedKeys covers both ways the decoder finds a key given twice:
// by looking back in short mappings and lists, with a map in long ones.
// The problem must read the same either way.
func TestRepeatedKeys(t *testing.T) {
	langs := []string{"de", "en", "ar", "fa", "uk", "ru", "tr", "fr", "es", "it", "pl", "ro", "bg", "el", "sq", "sr",
		"hr", "bs", "ku", "ps", "so", "ti", "am", "ur", "hi", "bn", "ta", "zh", "vi", "ko"}
	for _, n := range []int{3, 24, 25, len(langs)} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			var b strings.Builder
			b.WriteString(entryHead + "    title:\n")
			for _, l := range langs[:n] {
				fmt.Fprintf(&b, "      %s: T\n", l)
			}
			b.WriteString("      en: again\n")
			b.WriteString("    topics: [")
			for i := range n {
				fmt.Fprintf(&b, "t%d, ", i)
			}
			b.WriteString("t1]\n")
			titleLine := strings.Count(entryHead, "\n") + 1
			ps := mustProblems(t, "city: {name: A, state: NW}\n"+b.String())
			wantTitle := fmt.Sprintf(`title: "en" given twice (first on line %d)`, titleLine+3)
			wantTopic := `topics: "t1" listed twice`
			for _, want := range []string{wantTitle, wantTopic} {
				found := false
				for _, p := range ps {
					found = found || strings.Contains(p.Msg, want)
				}
				if !found {
					t.Errorf("no problem %q among %v", want, ps)
				}
			}
		})
	}
}

func mustProblems(t *testing.T, file string) []knowledge.Problem {
	t.Helper()
	_, err := knowledge.Load(fstest.MapFS{"f.yaml": {Data: []byte(file)}})
	var le *knowledge.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load: %v, want a *LoadError", err)
	}
	return le.Problems
}
