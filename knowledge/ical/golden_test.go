package ical_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden pins the complete output for one one-off event (in Arabic,
// which exercises folding of multi-octet text) and one weekly event with
// a cancelled and a changed date. Refresh with go test -update after a
// deliberate change and review the diff.
func TestGolden(t *testing.T) {
	kb := mustSample(t)
	now := time.Date(2026, 10, 20, 8, 30, 0, 0, time.UTC)
	tests := []struct{ id, lang, file string }{
		{"integrationskonferenz-mitte", "ar", "oneoff.ics"},
		{"cafe-grenzenlos-nord-treff", "en", "weekly.ics"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := mustEvent(t, kb, mustEntry(t, kb, tt.id), tt.lang, now)
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update to accept):\n%s", path, got)
			}
		})
	}
}
