package monitor

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteText writes r as a short German summary for the monitoring report.
// Hidden figures appear as "<threshold".
func WriteText(w io.Writer, r Report) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	area := "ganze Stadt"
	if !r.CityWide {
		area = "Stadtteil " + r.DistrictName
	}
	p("Lotse – Monitoring auf Basis einheitlicher Indikatoren\n")
	p("Zeitraum: %s bis %s (%s), %s\n", r.Period.From.Format("02.01.2006"), r.Period.To.Format("02.01.2006"), r.Period.Spec, area)
	p("Damit niemand erkennbar wird, steht „<%d“ für weniger als %d Fälle; „verdeckt“ sind Werte,\naus denen sich sonst ein kleiner Wert durch Summen oder Differenzen errechnen ließe.\n\n", r.Threshold, r.Threshold)

	p("Fragen an Lotse: %s, davon ohne passende Antwort in der Wissensbasis: %s\n", num(r.Questions, r.Threshold), num(r.Unanswered, r.Threshold))
	p("\nFragen nach Handlungsfeld\n")
	writeItems(b, r.ByArea, r.Threshold)
	if len(r.ByLanguage) > 0 {
		p("\nFragen nach Sprache\n")
		writeItems(b, r.ByLanguage, r.Threshold)
	}
	if len(r.ByDistrict) > 0 {
		p("\nFragen nach Stadtteil\n")
		writeItems(b, r.ByDistrict, r.Threshold)
	}

	p("\nAnliegen an Ansprechpersonen (Tickets)\n")
	for _, t := range r.Tickets {
		p("  %-34s %8s\n", t.Label, num(t.Total, r.Threshold))
	}
	p("  %-34s %s\n", "Zeit bis zur ersten Antwort", waitText(r.FirstAnswer, r.Threshold))
	p("  %-34s %s\n", "Zeit bis zum Abschluss", waitText(r.Close, r.Threshold))
	if len(r.Outcomes) > 0 {
		p("\nErgebnis abgeschlossener Anliegen\n")
		writeItems(b, r.Outcomes, r.Threshold)
	}
	if r.CityWide {
		for _, t := range r.Tickets {
			if t.Kind != TicketOpened {
				continue
			}
			var shown []Item
			for _, it := range t.ByDistrict {
				if it.N > 0 {
					shown = append(shown, it)
				}
			}
			if len(shown) > 0 {
				p("\nEröffnete Anliegen nach Stadtteil\n")
				writeItems(b, shown, r.Threshold)
			}
		}
		p("\nErreichte Menschen (gezählt ohne gespeicherte Kennungen, Schätzwerte)\n")
		for _, it := range r.ActiveWeeks {
			p("  %-34s %8s\n", "aktiv in "+it.Label, num(it.Cell, r.Threshold))
		}
		for _, it := range r.ActiveMonths {
			p("  %-34s %8s\n", "aktiv im "+it.Label, num(it.Cell, r.Threshold))
		}
		p("  %-34s %8s\n", "Terminerinnerungen versandt", num(r.Reminders, r.Threshold))
		for _, it := range r.Broadcast {
			p("  %-34s %8s\n", "Rundnachrichten "+it.Label, num(it.Cell, r.Threshold))
		}
	} else {
		p("\nAktive Nutzende, Erinnerungen und Rundnachrichten werden nur für die ganze Stadt berichtet.\n")
	}
	return b.Flush()
}

func writeItems(w io.Writer, items []Item, thr int64) {
	for _, it := range items {
		fmt.Fprintf(w, "  %-34s %8s\n", it.Label, num(it.Cell, thr))
	}
}

// num formats a figure with German digit grouping, or "<thr" if hidden.
func num(c Cell, thr int64) string {
	switch {
	case c.Secondary:
		return "verdeckt"
	case c.Hidden:
		return "<" + strconv.FormatInt(thr, 10)
	}
	s := strconv.FormatInt(c.N, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "." + s[i:]
	}
	return s
}

func waitText(w Wait, thr int64) string {
	if w.Hidden {
		return fmt.Sprintf("weniger als %d Fälle, nicht ausgewiesen", thr)
	}
	return "Median höchstens " + duration(w.Median) + ", 90 % höchstens " + duration(w.P90)
}

// duration writes a bucket bound in German; zero stands for "longer than
// the last bucket".
func duration(d time.Duration) string {
	switch {
	case d == 0:
		return "mehr als " + duration(Buckets[len(Buckets)-1])
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " Min."
	case d < 24*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " Std."
	case d == 24*time.Hour:
		return "1 Tag"
	}
	return strings.TrimSpace(strconv.Itoa(int(d.Hours()/24))) + " Tage"
}

// WriteClusters lists grouped unanswered questions of period p, most
// frequent first, each with its other wordings: the list curators improve
// the knowledge base from (lotse report -format unanswered, /unanswered).
// The texts are what people wrote, cleaned and without any reference to
// them; they are for coordinators and curators only.
func WriteClusters(w io.Writer, cs []Cluster, p Period) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "Fragen ohne Antwort aus der Wissensbasis, %s bis %s (nur für Koordination und Redaktion)\n\n", p.From.Format("02.01.2006"), p.To.Format("02.01.2006"))
	if len(cs) == 0 {
		fmt.Fprintln(b, "Keine.")
	}
	for _, c := range cs {
		fmt.Fprintf(b, "%4d× %s [%s]\n", c.Count, c.Text, strings.Join(c.Langs, ", "))
		for _, ex := range c.Examples {
			fmt.Fprintf(b, "      auch: %s\n", ex)
		}
	}
	return b.Flush()
}
