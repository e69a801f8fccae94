package knowledge_test

import (
	"os"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/knowledge"
)

func TestZZTry(t *testing.T) {
	dir := os.Getenv("KBDIR")
	if dir == "" {
		t.Skip()
	}
	kb, err := knowledge.LoadDir(dir)
	if err != nil {
		knowledge.WriteProblems(os.Stdout, err)
		return
	}
	knowledge.WriteReport(os.Stdout, kb, time.Now())
}
