package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
