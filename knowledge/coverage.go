package knowledge

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportLanguages are the languages the coverage report shows, in order:
// German and English (required), then the languages most asked in.
var ReportLanguages = []string{"de", "en", "ar", "fa", "uk", "ru", "tr", "fr"}

// WriteReport writes the curator's report for kb as plain text: which
// entries have a title and a summary in each of ReportLanguages, totals
// per language, the entries not checked for longer than the city's
// stale_after_days, and events without upcoming dates. now decides what
// is stale and what is upcoming.
func WriteReport(w io.Writer, kb *KB, now time.Time) error {
	now = now.In(kb.loc)
	bw := &errWriter{w: w}
	c := kb.City
	sample := ""
	if c.Sample {
		sample = ", sample data"
	}
	fmt.Fprintf(bw, "Knowledge base: %s (%s, %s%s)\n", c.Name, c.State, c.Timezone, sample)
	fmt.Fprintf(bw, "%d entries, %d topics, %d glossary concepts\n\n", kb.Len(), len(kb.topics), len(kb.concepts))

	fmt.Fprintln(bw, "Translations: T = title, S = summary, - = missing (German title: name_de counts)")
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "id\tkind")
	for _, l := range ReportLanguages {
		fmt.Fprintf(tw, "\t%s", l)
	}
	fmt.Fprintln(tw)
	titles := make([]int, len(ReportLanguages))
	summaries := make([]int, len(ReportLanguages))
	for _, e := range kb.entries {
		fmt.Fprintf(tw, "%s\t%s", e.ID, e.Kind)
		for i, l := range ReportLanguages {
			cell := []byte("--")
			if e.Title[l] != "" || l == "de" && e.NameDE != "" {
				cell[0] = 'T'
				titles[i]++
			}
			if e.Summary[l] != "" {
				cell[1] = 'S'
				summaries[i]++
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	total := func(label string, counts []int) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, n := range counts {
			fmt.Fprintf(tw, "\t%d", n)
		}
		fmt.Fprintln(tw)
	}
	total("titles", titles)
	total("summaries", summaries)
	fmt.Fprint(tw, "summaries %\t")
	for _, n := range summaries {
		fmt.Fprintf(tw, "\t%d%%", percent(n, kb.Len()))
	}
	fmt.Fprintln(tw)
	tw.Flush()

	days := c.StaleAfterDays
	if days <= 0 {
		days = 365
	}
	cutoff := time.Date(now.Year(), now.Month(), now.Day()-days, 0, 0, 0, 0, kb.loc)
	var stale []*Entry
	for _, e := range kb.entries {
		if e.LastChecked.Before(cutoff) {
			stale = append(stale, e)
		}
	}
	sort.SliceStable(stale, func(i, j int) bool { return stale[i].LastChecked.Before(stale[j].LastChecked) })
	fmt.Fprintf(bw, "\nStale: %d entries not checked since %s (more than %d days)\n", len(stale), cutoff.Format("2006-01-02"), days)
	if len(stale) > 0 {
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "id\tlast_checked\tdays\towner\twhere")
		for _, e := range stale {
			age := int(now.Sub(e.LastChecked).Hours() / 24)
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s:%d\n", e.ID, e.LastChecked.Format("2006-01-02"), age, e.Owner, e.Pos.File, e.Pos.Line)
		}
		tw.Flush()
	}

	var over []*Entry
	for _, e := range kb.OfKind(KindEvent) {
		if _, ok := kb.NextOccurrence(e, now); !ok {
			over = append(over, e)
		}
	}
	fmt.Fprintf(bw, "\nEvents without upcoming dates: %d\n", len(over))
	for _, e := range over {
		fmt.Fprintf(bw, "  %s (%s:%d)\n", e.ID, e.Pos.File, e.Pos.Line)
	}
	return bw.err
}

func percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return (n*100 + of/2) / of
}

// WriteProblems writes err for a curator: each problem of a *LoadError
// on its own "file:line: msg" line followed by a count, or any other
// error as it is. A nil err writes "no problems".
func WriteProblems(w io.Writer, err error) error {
	bw := &errWriter{w: w}
	var le *LoadError
	switch {
	case err == nil:
		fmt.Fprintln(bw, "no problems")
	case errors.As(err, &le):
		for _, p := range le.Problems {
			fmt.Fprintln(bw, p.String())
		}
		noun := "problems"
		if len(le.Problems) == 1 {
			noun = "problem"
		}
		fmt.Fprintf(bw, "%d %s\n", len(le.Problems), noun)
	default:
		fmt.Fprintln(bw, strings.TrimSpace(err.Error()))
	}
	return bw.err
}

// errWriter remembers the first write error so that report code can
// write freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
