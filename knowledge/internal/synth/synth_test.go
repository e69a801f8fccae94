package synth_test

import (
	"bytes"
	"testing"

	"github.com/lotse-bot/lotse/knowledge"
	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

func TestFSLoadsCleanly(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1001} {
		kb, err := knowledge.Load(synth.FS(n))
		if err != nil {
			t.Fatalf("FS(%d): %v", n, err)
		}
		if want := max(n, 1); kb.Len() != want {
			t.Errorf("FS(%d): %d entries, want %d", n, kb.Len(), want)
		}
	}
}

func TestFSDeterministic(t *testing.T) {
	a, b := synth.FS(120), synth.FS(120)
	if len(a) != len(b) {
		t.Fatalf("file count differs: %d vs %d", len(a), len(b))
	}
	for name, f := range a {
		if g, ok := b[name]; !ok || !bytes.Equal(f.Data, g.Data) {
			t.Errorf("%s differs between two calls", name)
		}
	}
}
