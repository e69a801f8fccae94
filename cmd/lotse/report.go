package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/knowledge"
)

const reportUsage = "usage: lotse report [-period P] [-district D] [-format text|csv|png|unanswered] [-threshold N] [-kb DIR] [-o FILE]"

// cmdReport writes the monitoring report from the figures the bot counted
// in Redis: a German summary, a CSV, a PNG chart, or the grouped
// unanswered questions (for curators; they are texts people wrote, so
// the file is written readable by its owner only). Bad arguments give one
// line on stderr and exit code 2.
func cmdReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line below
	period := fs.String("period", "last-30-days", "2026-11, 2026-W47, 2026-11-01..2026-11-30 or last-N-days")
	district := fs.String("district", "", "district id or German name; empty: the whole city")
	format := fs.String("format", "text", "text, csv, png or unanswered")
	threshold := fs.Int("threshold", monitor.DefaultThreshold, "smallest count shown")
	dir := fs.String("kb", getenv("LOTSE_KNOWLEDGE_DIR"), "knowledge base directory (default: embedded sample)")
	out := fs.String("o", "", "output file (default: standard output)")
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "lotse report: %s\n", fmt.Sprintf(format, a...))
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, reportUsage)
			return exitOK
		}
		return bad("%v (%s)", err, reportUsage)
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (%s)", fs.Arg(0), reportUsage)
	}
	switch *format {
	case "text", "csv", "png", "unanswered":
	default:
		return bad("-format must be text, csv, png or unanswered, not %q", *format)
	}
	if *threshold < 1 || *threshold > 1000 {
		return bad("-threshold must be 1 to 1000")
	}
	if *format == "png" && *out == "" && isTerminal(stdout) {
		return bad("a PNG would garble the terminal; write it with -o FILE")
	}
	kb, err := loadKB(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	p, err := monitor.ParsePeriod(*period, time.Now().In(kb.Location()))
	if err != nil {
		return bad("-period: %s", strings.TrimSuffix(err.Error(), ": "+monitor.ErrPeriod.Error()))
	}
	districtID := ""
	if *district != "" {
		id, ok := monitor.FindDistrict(kb, *district)
		if !ok {
			var ids []string
			for _, e := range kb.Entries() {
				if e.Kind == knowledge.KindDistrict {
					ids = append(ids, e.ID)
				}
			}
			return bad("unknown district %q; known: %s", *district, strings.Join(ids, ", "))
		}
		districtID = id
	}
	// The report reads anonymous counters only and never hashes a
	// Telegram id, so it neither needs nor should be handed LOTSE_SECRET.
	cfg, err := loadConfig(func(k string) string {
		if k == "LOTSE_SECRET" {
			return strings.Repeat("-", 32)
		}
		return getenv(k)
	}, false)
	if err != nil {
		return bad("bad configuration: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if cfg.RedisURL == "" {
		return bad("REDIS_URL is not set: reports read the figures the bot keeps in Redis")
	}
	rdb, err := redisstore.ParseURL(cfg.RedisURL)
	if err != nil {
		return bad("REDIS_URL: %v", err)
	}
	defer rdb.Close()
	st := redisstore.New(rdb, redisstore.Options{Namespace: cfg.Namespace}).Monitor()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	var buf bytes.Buffer
	if *format == "unanswered" {
		qs, err := st.UnansweredTexts(rctx, p.From, p.To)
		if err != nil {
			fmt.Fprintf(stderr, "lotse report: reading unanswered questions: %v\n", err)
			return exitFailed
		}
		if err := monitor.WriteClusters(&buf, monitor.Group(qs, 0), p); err != nil {
			fmt.Fprintf(stderr, "lotse report: %v\n", err)
			return exitFailed
		}
	} else {
		f, err := st.Figures(rctx, p.From, p.To)
		if err != nil {
			fmt.Fprintf(stderr, "lotse report: reading figures: %v\n", err)
			return exitFailed
		}
		r := monitor.Build(f, kb, p, districtID, *threshold)
		switch *format {
		case "text":
			err = monitor.WriteText(&buf, r)
		case "csv":
			err = monitor.WriteCSV(&buf, r)
		case "png":
			err = monitor.WritePNG(&buf, r)
		}
		if err != nil {
			fmt.Fprintf(stderr, "lotse report: %v\n", err)
			return exitFailed
		}
	}
	if *out == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintf(stderr, "lotse report: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	// Rendered in full first, so a failure leaves no half-written file.
	if err := os.WriteFile(*out, buf.Bytes(), 0o600); err != nil {
		fmt.Fprintf(stderr, "lotse report: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
