package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/knowledge"
)

// This file is /report for coordinators: the monitoring report of a
// period and district as a German summary, a PNG chart and a CSV file,
// and the questions the knowledge base could not answer, grouped; and
// /unanswered, those questions alone, for coordinators and curators.

// cbReport is rep:<period>:<district|all>; rep:<period>: asks for the district.
const cbReport = "rep:"

const (
	// reportTimeout bounds reading the figures of a long period.
	reportTimeout = 20 * time.Second
	// maxClusters is how many groups of unanswered questions are listed.
	maxClusters = 25
	reportAll   = "all"
)

// Who sees what. Coordinators get the full report (/report: figures,
// chart, CSV and the unanswered questions) and /unanswered. Curators —
// the editors of the knowledge base, configured by Telegram user id in the
// staff file like coordinators — get /unanswered only: the questions the
// knowledge base could not answer are their work list, while the
// figures on tickets and districts are for steering the city's work.
// Everybody else is refused politely; a refusal is logged with the
// command only, never who asked.

// WithCurators returns a copy of d in which users are curators: they may
// see the questions the knowledge base could not answer (/unanswered),
// nothing else. Every id must be a Telegram user id (positive).
func (d *StaffDirectory) WithCurators(users []int64) (*StaffDirectory, error) {
	// Field by field (the directory holds an atomic pointer): a new field
	// of StaffDirectory must be copied here too.
	cur := d.cur()
	c := &StaffDirectory{
		desks: cur.desks, order: cur.order, byUser: cur.byUser, byChat: cur.byChat,
		coordinators: cur.coordinators, names: cur.names,
		curators: make(map[int64]bool, len(users)),
	}
	var errs []error
	for _, u := range users {
		if u <= 0 {
			errs = append(errs, fmt.Errorf("curator %d is not a Telegram user id", u))
			continue
		}
		c.curators[u] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	return c, nil
}

// IsCurator reports whether user is a curator of the knowledge base.
// Coordinators are not curators unless listed as such; they may see
// everything a curator may anyway.
func (d *StaffDirectory) IsCurator(user int64) bool { return d.cur().curators[user] }

// isCoordinator reports whether the user may see reports.
func (t *turn) isCoordinator() bool {
	return t.b.cfg.Staff != nil && t.b.cfg.Staff.IsCoordinator(t.in.UserID)
}

// mayCurate reports whether the user may see the unanswered questions.
func (t *turn) mayCurate() bool {
	return t.isCoordinator() || t.b.cfg.Staff != nil && t.b.cfg.Staff.IsCurator(t.in.UserID)
}

// refuse answers a user who may not use command, and logs the refusal
// without anything about the user.
func (t *turn) refuse(command, msg string) {
	t.outcome = command + "_refused"
	t.b.log.Warn("command refused", "command", command, "reason", "not_authorised")
	t.withLanguage(func() { t.text(t.T(msg, nil), t.navButtons()) })
}

// reportCommand handles /report [period] [district].
func (t *turn) reportCommand(args string) {
	if !t.isCoordinator() {
		if t.mayCurate() {
			t.refuse("report", "CuratorReportHint")
			return
		}
		t.refuse("report", "CoordinatorsOnly")
		return
	}
	if t.b.cfg.Monitor == nil {
		t.outcome = "report_unavailable"
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	f := strings.Fields(args)
	switch len(f) {
	case 0:
		t.reportPeriods()
	case 1:
		t.report(f[0], "")
	default:
		t.report(f[0], strings.Join(f[1:], " "))
	}
}

// reportPeriods offers the usual periods as buttons.
func (t *turn) reportPeriods() {
	t.outcome = "report_periods"
	now := t.now.In(t.kb.Location())
	lastMonth := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, now.Location())
	specs := []struct{ spec, label string }{
		{"last-7-days", t.T("ReportLast7", nil)},
		{"last-30-days", t.T("ReportLast30", nil)},
		{now.Format("2006-01"), now.Format("01/2006")},
		{lastMonth.Format("2006-01"), lastMonth.Format("01/2006")},
	}
	var rows [][]Button
	for _, s := range specs {
		if b, ok := button(s.label, cbReport+s.spec+":"); ok {
			rows = append(rows, []Button{b})
		}
	}
	t.text(t.T("ReportChoosePeriod", nil), rows)
}

// reportDistricts offers the districts (and the whole city) for spec.
func (t *turn) reportDistricts(spec string) {
	t.outcome = "report_districts"
	rows := [][]Button{{{Text: t.T("ReportWholeCity", nil), Data: cbReport + spec + ":" + reportAll}}}
	var row []Button
	for _, d := range t.kb.OfKind(knowledge.KindDistrict) {
		if b, ok := button(t.title(d), cbReport+spec+":"+d.ID); ok {
			row = append(row, b)
		}
		if len(row) == 2 {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	t.text(t.T("ReportChooseDistrict", nil), rows)
}

// reportCallback handles rep:<period>:<district>.
func (t *turn) reportCallback(data string) {
	if !t.isCoordinator() || t.b.cfg.Monitor == nil {
		t.outdated()
		return
	}
	spec, district, ok := strings.Cut(data, ":")
	if !ok || spec == "" || len(spec) > 30 {
		t.outdated()
		return
	}
	if district == "" {
		t.reportDistricts(spec)
		return
	}
	if district == reportAll {
		district = ""
	}
	t.report(spec, district)
}

// report sends the report of period spec for district ("" or "all": the
// whole city).
func (t *turn) report(spec, district string) {
	loc := t.kb.Location()
	p, err := monitor.ParsePeriod(spec, t.now.In(loc))
	if err != nil {
		t.outcome = "report_bad_period"
		t.text(t.T("ReportBadPeriod", map[string]any{"Note": clip(err.Error(), 200)}), nil)
		return
	}
	id := ""
	if district != "" && !strings.EqualFold(district, reportAll) {
		var ok bool
		if id, ok = monitor.FindDistrict(t.kb, district); !ok {
			t.outcome = "report_bad_district"
			t.text(t.T("ReportUnknownDistrict", map[string]any{"District": clip(district, 40), "Districts": t.districtIDs()}), nil)
			return
		}
	}
	ctx, cancel := context.WithTimeout(t.ctx, reportTimeout)
	defer cancel()
	m := t.b.cfg.Monitor
	f, err := m.Figures(ctx, p.From, p.To)
	if err != nil {
		t.outcome = "report_failed"
		t.warn("report figures failed", err)
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	r := monitor.Build(f, t.kb, p, id, t.b.cfg.ReportThreshold)
	var text, png, csv bytes.Buffer
	err = errors.Join(monitor.WriteText(&text, r), monitor.WritePNG(&png, r), monitor.WriteCSV(&csv, r))
	if err != nil {
		t.outcome = "report_failed"
		t.warn("report rendering failed", err)
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	t.outcome = "report"
	name := "lotse-bericht-" + strings.ReplaceAll(p.Spec, "..", "_")
	if id != "" {
		name += "-" + id
	}
	// The report is German (the administration's language), whatever
	// the coordinator's chat language.
	for _, part := range splitLines(text.String(), maxCardText) {
		t.out = append(t.out, Outgoing{Text: part})
	}
	t.out = append(t.out,
		Outgoing{Document: &Document{Name: name + ".png", Content: png.Bytes(), Caption: "Diagramm " + p.String()}},
		Outgoing{Document: &Document{Name: name + ".csv", Content: csv.Bytes(), Caption: "Kennzahlen " + p.String()}},
	)
	qs, err := m.UnansweredTexts(ctx, p.From, p.To)
	if err != nil {
		t.warn("unanswered questions failed", err)
		return
	}
	t.out = append(t.out, Outgoing{Text: clip(unansweredText(monitor.Group(qs, 0), p), maxCardText)})
}

// unansweredCommand handles /unanswered [period] (default: the last 30
// days) for coordinators and curators: the grouped questions the
// knowledge base could not answer, the most frequent as messages, all of
// them with their other wordings as a text file.
func (t *turn) unansweredCommand(args string) {
	if !t.mayCurate() {
		t.refuse("unanswered", "CuratorOnly")
		return
	}
	m := t.b.cfg.Monitor
	if m == nil {
		t.outcome = "unanswered_unavailable"
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	spec := "last-30-days"
	if f := strings.Fields(args); len(f) > 0 {
		spec = f[0]
	}
	p, err := monitor.ParsePeriod(spec, t.now.In(t.kb.Location()))
	if err != nil {
		t.outcome = "unanswered_bad_period"
		t.text(t.T("ReportBadPeriod", map[string]any{"Note": clip(err.Error(), 200)}), nil)
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, reportTimeout)
	defer cancel()
	qs, err := m.UnansweredTexts(ctx, p.From, p.To)
	if err != nil {
		t.outcome = "unanswered_failed"
		t.warn("unanswered questions failed", err)
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	cs := monitor.Group(qs, 0)
	var full bytes.Buffer
	if err := monitor.WriteClusters(&full, cs, p); err != nil {
		t.outcome = "unanswered_failed"
		t.warn("unanswered rendering failed", err)
		t.text(t.T("Unavailable", nil), nil)
		return
	}
	t.outcome = "unanswered"
	// German, like the report: the administration's working language.
	for _, part := range splitLines(unansweredText(cs, p), maxCardText) {
		t.out = append(t.out, Outgoing{Text: part})
	}
	if len(cs) > 0 {
		name := "lotse-fragen-ohne-antwort-" + strings.ReplaceAll(p.Spec, "..", "_") + ".txt"
		t.out = append(t.out, Outgoing{Document: &Document{Name: name, Content: full.Bytes(), Caption: "Fragen ohne Antwort " + p.String()}})
	}
}

// unansweredText lists grouped unanswered questions, most frequent first.
// They are texts people wrote (cleaned, without any reference to them):
// shown to coordinators and curators only.
func unansweredText(cs []monitor.Cluster, p monitor.Period) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Fragen ohne Antwort aus der Wissensbasis, %s bis %s (nur für Koordination und Redaktion):\n", p.From.Format("02.01.2006"), p.To.Format("02.01.2006"))
	if len(cs) == 0 {
		b.WriteString("\nKeine.")
		return b.String()
	}
	for i, c := range cs {
		if i == maxClusters {
			fmt.Fprintf(&b, "\n… und %d weitere Gruppen (/unanswered, lotse report -format unanswered).", len(cs)-i)
			break
		}
		fmt.Fprintf(&b, "\n%d× %s [%s]", c.Count, clip(c.Text, 200), strings.Join(c.Langs, ", "))
	}
	return b.String()
}

// splitLines cuts s into parts of at most n runes at line ends (a longer
// line is clipped), so a long report arrives as several messages.
func splitLines(s string, n int) []string {
	var parts []string
	var cur strings.Builder
	size := 0
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		line = clip(line, n)
		l := utf8.RuneCountInString(line) + 1
		if size > 0 && size+l > n {
			parts = append(parts, strings.TrimRight(cur.String(), "\n"))
			cur.Reset()
			size = 0
		}
		cur.WriteString(line + "\n")
		size += l
	}
	if size > 0 {
		parts = append(parts, strings.TrimRight(cur.String(), "\n"))
	}
	return parts
}
