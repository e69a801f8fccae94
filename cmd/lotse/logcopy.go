package main

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"

	"github.com/lotse-bot/lotse/bot/bottest"
)

// withLogCopy returns h, also appending every record at info level and
// above to the file at path as a JSON line ("" : h itself). The file is
// opened for each record with O_APPEND and written in one call, so
// several processes can share it and nothing stays open; it is meant for
// the test suite's log privacy check (LOTSE_LOG_COPY), not for
// production volumes.
func withLogCopy(h slog.Handler, path string) slog.Handler {
	if path == "" {
		return h
	}
	return teeHandler{h, slog.NewJSONHandler(appendFile(path), &slog.HandlerOptions{Level: slog.LevelInfo})}
}

// childLogCopy returns env for a `lotse run` subprocess that lotse chaos
// or lotse replicas start, with LOTSE_LOG_COPY added: this process's own
// LOTSE_LOG_COPY or, when it runs inside the test suite, the suite's log
// file (bottest.LogFileEnv), so the children's records reach the file
// the log privacy check reads. env is returned as is when neither is
// set, and is never modified.
func childLogCopy(env []string) []string {
	path := cmp.Or(os.Getenv("LOTSE_LOG_COPY"), bottest.LogFile())
	if path == "" {
		return env
	}
	return append(slices.Clip(env), "LOTSE_LOG_COPY="+path)
}

// copyLogger returns a logger that hands its records to h and, inside
// the test suite (bottest.LogFileEnv), also appends those at info level
// and above to the suite's log file; otherwise it is h alone. The
// benchmarks and fault scenarios build loggers of their own that print
// nothing; this keeps what their bots log in the privacy check.
func copyLogger(h slog.Handler) *slog.Logger {
	return slog.New(bottest.LogHandler(h))
}

// appendFile appends each Write to the file at its path.
type appendFile string

func (f appendFile) Write(p []byte) (int, error) {
	fd, err := os.OpenFile(string(f), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := fd.Write(p)
	return n, errors.Join(err, fd.Close())
}

// teeHandler passes a record to both handlers, each if enabled.
type teeHandler [2]slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t[0].WithGroup(name), t[1].WithGroup(name)}
}
