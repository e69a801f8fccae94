package bottest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
)

// LogFileEnv names the file every test logger also writes its records at
// info level and above to, as JSON lines, when set: scripts/test.sh sets
// it for the whole run and then checks the file with CheckLogFile, so a
// message text or name logged by any test fails the suite. Records are
// appended (O_APPEND, one write per record), so parallel test processes
// can share the file. Loggers that print nothing in tests still copy to
// it (LogHandler(slog.DiscardHandler)); `lotse run` subprocesses get the
// path as LOTSE_LOG_COPY.
const LogFileEnv = "LOTSE_TEST_LOG_FILE"

// LogFile is the path in LogFileEnv, "" if unset.
func LogFile() string { return os.Getenv(LogFileEnv) }

// Logger returns a logger that writes JSON lines at level and above to w
// and, if LogFileEnv is set, its records at info and above to that file.
// Tests that read their logs use it instead of building a handler.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// LogHandler returns h, also writing the records at info level and above
// to the file in LogFileEnv if it is set (otherwise h itself).
func LogHandler(h slog.Handler) slog.Handler {
	path := LogFile()
	if path == "" {
		return h
	}
	return Tee(h, slog.NewJSONHandler(AppendFile(path), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// AppendFile is an io.Writer that appends every Write to the file at its
// path (created if missing) with O_APPEND: slog handlers write a record
// in one Write, so records of concurrent processes never interleave.
// Opening per write keeps no descriptor open, which suits loggers
// created by the thousand in tests.
type AppendFile string

// Write implements io.Writer.
func (f AppendFile) Write(p []byte) (int, error) {
	fd, err := os.OpenFile(string(f), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := fd.Write(p)
	return n, errors.Join(err, fd.Close())
}

// Tee returns a handler that passes each record to every handler that is
// enabled for its level.
func Tee(hs ...slog.Handler) slog.Handler { return tee(hs) }

type tee []slog.Handler

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(tee, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t tee) WithGroup(name string) slog.Handler {
	out := make(tee, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}

// CheckLogFile reads a log file written through LogHandler and reports
// every line that contains a canary, and an error if the file is empty
// or missing: a check of no logs at all would pass vacuously.
func CheckLogFile(path string, canaries []string) (records int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("log file: %w", err)
	}
	defer f.Close()
	var errs []error
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		records++
		for _, c := range canaries {
			if bytes.Contains(line, []byte(c)) && len(errs) < 20 {
				errs = append(errs, fmt.Errorf("line %d contains %q: %s", records, c, clipLine(string(line))))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return records, fmt.Errorf("log file: %w", err)
	}
	if records == 0 {
		return 0, fmt.Errorf("log file %s is empty: no test logged at info level or above, so the check would pass vacuously", path)
	}
	return records, errors.Join(errs...)
}

func clipLine(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return strings.TrimSpace(s)
}

// timeAndLatency matches the fields of a log line whose digits are the
// clock's and the handler's, in JSON and in text form.
var timeAndLatency = regexp.MustCompile(`("time":)"[^"]*"|(\btime=)\S+|("latency_ms":)[0-9.e+-]+|(\blatency_ms=)[0-9.e+-]+`)

// WithoutTimes returns logs with the values of timestamps and latencies
// left out (the keys stay), for tests
// that look for a number (a Telegram id) in the logs: the nanoseconds of
// a timestamp can spell any id of up to nine digits.
func WithoutTimes(logs string) string { return timeAndLatency.ReplaceAllString(logs, "$1$2$3$4") }
