package knowledge_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

// FuzzLoad feeds arbitrary bytes as one YAML file. Load must never panic
// and must return either a KB or a *LoadError with problems, never both.
// A KB that loads must answer the time questions without panicking.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"valid", "broken"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "load", dir, "*.yaml"))
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("city: {name: A, state: NW}\n" + entryHead[:len(entryHead)-1] + "\n    hours: {weekly: [{days: [mon], from: \"00:00\", to: \"24:00\"}]}\n"))
	f.Add([]byte("city: {name: A, state: NW}\n" + entryHead[:len(entryHead)-1] + "\n    kind: event\n"))
	f.Add([]byte("a: &a [1, 2]\nb: [*a, *a]\n"))
	f.Add([]byte("\xEF\xBB\xBFcity:\r\n  name: A\r\n"))
	f.Add([]byte("---\n...\n---\n"))
	f.Add([]byte("{{{{{{{{{{"))
	start := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		kb, err := knowledge.Load(fstest.MapFS{"f.yaml": {Data: data}})
		if err != nil {
			var le *knowledge.LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			if kb != nil {
				t.Fatal("KB and error together")
			}
			_ = le.Error()
			return
		}
		if kb == nil {
			t.Fatal("neither KB nor error")
		}
		for _, e := range kb.Entries() {
			kb.Status(e, start)
			kb.Occurrences(e, start, start.AddDate(0, 1, 0))
			kb.NextOccurrence(e, start)
		}
		if err := knowledge.WriteReport(discard{}, kb, start); err != nil {
			t.Fatal(err)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
