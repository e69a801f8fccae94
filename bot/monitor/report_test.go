package monitor_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot/monitor"
	"github.com/lotse-bot/lotse/knowledge"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func mustSample(t testing.TB) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func mustPeriod(t testing.TB, spec string, now time.Time) monitor.Period {
	t.Helper()
	p, err := monitor.ParsePeriod(spec, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is November 2026 in Lotsenstadt: a busy Stadtmitte and
// Nordstadt, a quiet Feldmark whose few questions must stay hidden.
func fixture(t testing.TB) (monitor.Figures, monitor.Period) {
	loc := berlin(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, loc)
	p := mustPeriod(t, "2026-11", now)
	var f monitor.Figures
	for i := range 30 {
		date := p.From.AddDate(0, 0, i)
		d := monitor.Day{Date: date, Questions: map[monitor.QKey]int64{}, Tickets: map[monitor.TKey]int64{},
			FirstAnswer: map[string]monitor.Histogram{}, Close: map[string]monitor.Histogram{}}
		d.Questions[monitor.QKey{Topic: "housing", District: "mitte", Lang: "ar", Answered: true}] = int64(3 + i%4)
		d.Questions[monitor.QKey{Topic: "housing", District: "nord", Lang: "uk", Answered: i%3 > 0}] = int64(1 + i%2)
		d.Questions[monitor.QKey{Topic: "language", District: "nord", Lang: "uk", Answered: true}] = int64(2 + i%3)
		d.Questions[monitor.QKey{Topic: "language", District: "mitte", Lang: "ar", Answered: true}] = 1
		d.Questions[monitor.QKey{Topic: "work", District: "", Lang: "fa", Answered: i%2 == 0}] = 2
		d.Questions[monitor.QKey{Topic: "work", District: "mitte", Lang: "ar", Answered: true}] = int64(i % 2)
		d.Questions[monitor.QKey{Topic: "residence", District: "mitte", Lang: "tr", Answered: false}] = int64(i % 2)
		d.Questions[monitor.QKey{Topic: "residence", District: "nord", Lang: "ar", Answered: true}] = int64((i + 1) % 2)
		d.Questions[monitor.QKey{Topic: "social", District: "nord", Lang: "de", Answered: true}] = int64((i + 1) % 2)
		if i == 10 {
			d.Questions[monitor.QKey{Topic: "health", District: "feldmark", Lang: "ru", Answered: false}] = 2
		}
		if i%3 == 0 {
			d.Tickets[monitor.TKey{Kind: monitor.TicketOpened, District: "mitte", Topic: "housing"}] = 2
			d.Tickets[monitor.TKey{Kind: monitor.TicketOpened, District: "nord", Topic: "language"}] = 1
			d.Tickets[monitor.TKey{Kind: monitor.TicketClosed, District: "mitte", Topic: "housing", Outcome: "solved"}] = 1
			d.Tickets[monitor.TKey{Kind: monitor.TicketClosed, District: "nord", Topic: "language", Outcome: "referred"}] = 1
			var h monitor.Histogram
			h[monitor.Bucket(3*time.Hour)] = 2
			h[monitor.Bucket(30*time.Hour)] = 1
			d.FirstAnswer["mitte"] = h
			var c monitor.Histogram
			c[monitor.Bucket(4*24*time.Hour)] = 1
			d.Close["mitte"] = c
			d.Close["nord"] = c
		}
		if i == 20 {
			d.Tickets[monitor.TKey{Kind: monitor.TicketOpened, District: "feldmark", Topic: "health"}] = 1
			d.Tickets[monitor.TKey{Kind: monitor.TicketEscalated, District: "feldmark", Topic: "health"}] = 1
		}
		d.Reminders = 4
		if i == 14 {
			d.Delivered, d.Blocked, d.Failed = 230, 3, 1
		}
		f.Days = append(f.Days, d)
	}
	f.Weeks = []monitor.Active{{"2026-W44", 61}, {"2026-W45", 88}, {"2026-W46", 93}, {"2026-W47", 79}, {"2026-W48", 81}, {"2026-W49", 4}}
	f.Months = []monitor.Active{{"2026-11", 212}}
	return f, p
}

func TestGolden(t *testing.T) {
	kb := mustSample(t)
	f, p := fixture(t)
	for _, district := range []string{"", "feldmark", "nord"} {
		r := monitor.Build(f, kb, p, district, 0)
		name := district
		if name == "" {
			name = "city"
		}
		var txt, csv bytes.Buffer
		if err := monitor.WriteText(&txt, r); err != nil {
			t.Fatal(err)
		}
		if err := monitor.WriteCSV(&csv, r); err != nil {
			t.Fatal(err)
		}
		golden(t, "report-"+name+".txt", txt.Bytes())
		golden(t, "report-"+name+".csv", csv.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// TestFeldmarkHidden: the quiet district's two questions and single
// ticket appear nowhere as numbers, and cannot be recovered by
// subtracting the other districts from the city.
func TestFeldmarkHidden(t *testing.T) {
	kb := mustSample(t)
	f, p := fixture(t)
	city := monitor.Build(f, kb, p, "", 5)
	feld := monitor.Build(f, kb, p, "feldmark", 5)
	if !feld.Questions.Hidden {
		t.Errorf("Feldmark's 2 questions shown: %+v", feld.Questions)
	}
	for _, it := range city.ByDistrict {
		if it.Key == "feldmark" && !it.Hidden {
			t.Errorf("Feldmark shown in the city's districts: %+v", it)
		}
	}
	var txt, csv bytes.Buffer
	monitor.WriteText(&txt, feld)
	monitor.WriteCSV(&csv, feld)
	for _, line := range strings.Split(csv.String(), "\n") {
		if strings.HasSuffix(line, ",1") || strings.HasSuffix(line, ",2") {
			t.Errorf("small count in Feldmark's CSV: %s", line)
		}
	}
}

// TestSuppressionHoldsAcrossReports attacks random figures the way a
// reader of all reports could: for every published total (city-wide or a
// district's) and its published breakdown, exactly one hidden part would
// be recoverable by subtraction, and hidden parts summing to less than
// the threshold would bound each of them too tightly.
func TestSuppressionHoldsAcrossReports(t *testing.T) {
	kb := mustSample(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, berlin(t))
	p := mustPeriod(t, "2026-11", now)
	districts := []string{"mitte", "nord", "sued", "ost", "west", "hafen", "feldmark", ""}
	// "none" is the row of questions without a district; it is not a
	// report anyone can ask for, but building it shows which of its cells
	// the grid hides, and so what an attacker could know at most.
	rows := []string{"mitte", "nord", "sued", "ost", "west", "hafen", "feldmark", "none"}
	topics := []string{"housing", "language", "safety", "work", "social", "health", ""}
	langs := []string{"ar", "uk", "fa", "de"}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var f monitor.Figures
		for i := range 30 {
			d := monitor.Day{Date: p.From.AddDate(0, 0, i), Questions: map[monitor.QKey]int64{}, Tickets: map[monitor.TKey]int64{}}
			for range rng.IntN(6) {
				k := monitor.QKey{Topic: topics[rng.IntN(len(topics))], District: districts[rng.IntN(len(districts))], Lang: langs[rng.IntN(len(langs))], Answered: rng.IntN(3) > 0}
				d.Questions[k] += int64(1 + rng.IntN(4))
			}
			for range rng.IntN(3) {
				k := monitor.TKey{Kind: monitor.TicketKinds[rng.IntN(len(monitor.TicketKinds))], District: districts[rng.IntN(len(districts))], Topic: topics[rng.IntN(len(topics))]}
				d.Tickets[k] += int64(1 + rng.IntN(3))
			}
			f.Days = append(f.Days, d)
		}
		city := monitor.Build(f, kb, p, "", 5)
		reports := map[string]monitor.Report{}
		for _, d := range rows {
			reports[d] = monitor.Build(f, kb, p, d, 5)
		}
		check := func(what string, total monitor.Cell, parts []monitor.Cell) {
			t.Helper()
			hidden, sum := 0, int64(0)
			for _, c := range parts {
				if c.Hidden {
					hidden++
					sum += c.N
				}
			}
			if total.Hidden || hidden == 0 {
				return
			}
			if hidden == 1 || sum < 5 {
				t.Errorf("seed %d: %s: %d hidden parts summing to %d are recoverable from the total %d", seed, what, hidden, sum, total.N)
			}
		}
		cells := func(items []monitor.Item) []monitor.Cell {
			var out []monitor.Cell
			for _, it := range items {
				out = append(out, it.Cell)
			}
			return out
		}
		// Within each report.
		for name, r := range map[string]monitor.Report{"city": city, "mitte": reports["mitte"], "feldmark": reports["feldmark"]} {
			check(name+" areas", r.Questions, cells(r.ByArea))
			check(name+" answered", r.Questions, []monitor.Cell{r.Unanswered, {N: r.Questions.N - r.Unanswered.N, Hidden: r.Unanswered.Hidden}})
			for a := range monitor.Areas {
				var steps []monitor.Cell
				for _, s := range r.Series {
					steps = append(steps, s.ByArea[a])
				}
				check(name+" series "+monitor.Areas[a].ID, r.ByArea[a].Cell, steps)
			}
		}
		check("city districts", city.Questions, cells(city.ByDistrict))
		// Across reports: the city's figure is the sum of the districts'.
		for a := range monitor.Areas {
			var parts []monitor.Cell
			for _, d := range rows {
				parts = append(parts, reports[d].ByArea[a].Cell)
			}
			check(fmt.Sprintf("area %s across districts", monitor.Areas[a].ID), city.ByArea[a].Cell, parts)
		}
		for k, kind := range monitor.TicketKinds {
			var parts []monitor.Cell
			for _, d := range rows {
				parts = append(parts, reports[d].Tickets[k].Total)
			}
			check("tickets "+kind+" across districts", city.Tickets[k].Total, parts)
		}
		for l := range city.ByLanguage {
			var parts []monitor.Cell
			for _, d := range rows {
				for _, it := range reports[d].ByLanguage {
					if it.Key == city.ByLanguage[l].Key {
						parts = append(parts, it.Cell)
					}
				}
			}
			check("language "+city.ByLanguage[l].Key+" across districts", city.ByLanguage[l].Cell, parts)
		}
	}
}

func TestThresholdOneHidesNothing(t *testing.T) {
	f, p := fixture(t)
	r := monitor.Build(f, mustSample(t), p, "", 1)
	var csv bytes.Buffer
	monitor.WriteCSV(&csv, r)
	if strings.Contains(csv.String(), "<") {
		t.Errorf("threshold 1 hid figures:\n%s", csv.String())
	}
}

func TestWaits(t *testing.T) {
	var h monitor.Histogram
	h[monitor.Bucket(10*time.Minute)] = 5
	h[monitor.Bucket(3*time.Hour)] = 4
	h[monitor.Bucket(100*24*time.Hour)] = 1
	if q, ok := h.Quantile(0.5); !ok || q != 15*time.Minute {
		t.Errorf("median = %v, %v; want 15m", q, ok)
	}
	if q, ok := h.Quantile(0.9); !ok || q != 4*time.Hour {
		t.Errorf("p90 = %v, %v; want 4h", q, ok)
	}
	if _, ok := h.Quantile(1); ok {
		t.Error("maximum beyond the last bucket reported as bounded")
	}
	if _, ok := (monitor.Histogram{}).Quantile(0.5); ok {
		t.Error("empty histogram has a median")
	}
}
