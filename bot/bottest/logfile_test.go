package bottest_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// TestLogFileCanaries is the suite-wide privacy check: scripts/test.sh
// runs it after `go test ./...` with LOTSE_TEST_LOG_CHECK naming the file
// every test logger wrote to (LOTSE_TEST_LOG_FILE). It fails if a
// record at info level or above holds a canary (a name or message text
// the tests use), or if the file is empty. Without the variable there is
// nothing to check: a single `go test` of this package skips it.
func TestLogFileCanaries(t *testing.T) {
	path := os.Getenv("LOTSE_TEST_LOG_CHECK")
	if path == "" {
		t.Skip("LOTSE_TEST_LOG_CHECK not set: scripts/test.sh runs this check after the whole suite")
	}
	n, err := bottest.CheckLogFile(path, bottest.Canaries)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d log records of the test run checked for %d canaries", n, len(bottest.Canaries))
}

// TestCheckLogFile: the check finds canaries, refuses an empty or
// missing file and passes a clean one.
func TestCheckLogFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := write("clean", `{"level":"INFO","msg":"update","outcome":"answer"}`+"\n")
	if n, err := bottest.CheckLogFile(clean, bottest.Canaries); err != nil || n != 1 {
		t.Errorf("clean file: %d, %v", n, err)
	}
	dirty := write("dirty", `{"level":"INFO","msg":"update"}`+"\n"+`{"level":"WARN","msg":"x","text":"`+bottest.CanaryRequest+`"}`+"\n")
	if _, err := bottest.CheckLogFile(dirty, bottest.Canaries); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("canary not found: %v", err)
	}
	if _, err := bottest.CheckLogFile(write("empty", "\n"), bottest.Canaries); err == nil {
		t.Error("an empty file passed")
	}
	if _, err := bottest.CheckLogFile(filepath.Join(dir, "missing"), bottest.Canaries); err == nil {
		t.Error("a missing file passed")
	}
}

// TestLogHandlerCopiesInfoAndAbove: with LOTSE_TEST_LOG_FILE set, a test
// logger still writes everything at its level to its own writer, and
// exactly the records at info and above to the file, one whole line each
// even when many goroutines log at once.
func TestLogHandlerCopiesInfoAndAbove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	t.Setenv(bottest.LogFileEnv, path)
	var own bytes.Buffer
	var mu sync.Mutex
	log := bottest.Logger(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return own.Write(p)
	}), slog.LevelDebug).With("part", "test")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				log.Debug("debug detail", "i", i)
				log.Info("info line", "i", i, "pad", strings.Repeat("x", 500))
			}
		}()
	}
	wg.Wait()
	log.WithGroup("g").Warn("warn line", "k", "v")
	if n := strings.Count(own.String(), "debug detail"); n != 400 {
		t.Errorf("own writer has %d debug records, want 400", n)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 401 || strings.Contains(string(raw), "debug detail") {
		t.Fatalf("file has %d lines (want 401, no debug records)", len(lines))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") || !strings.Contains(l, `"part":"test"`) {
			t.Fatalf("line %d is not one whole record: %.200s", i+1, l)
		}
	}
	if !strings.Contains(lines[400], `"g":{"k":"v"}`) {
		t.Errorf("group lost: %s", lines[400])
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestWithoutTimes(t *testing.T) {
	in := `{"time":"2026-11-22T06:09:56.708008898Z","level":"INFO","msg":"update","user":"x","latency_ms":0.708}` + "\n" +
		`time=2026-11-22T06:09:56.708Z level=INFO msg=update latency_ms=708.1 id=42` + "\n"
	got := bottest.WithoutTimes(in)
	if strings.Contains(got, "708") || !strings.Contains(got, `"msg":"update"`) || !strings.Contains(got, "id=42") {
		t.Errorf("WithoutTimes:\n%s", got)
	}
}
