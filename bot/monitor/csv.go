package monitor

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"period", "district", "indicator", "dimension", "value"}

// WriteCSV writes r in a tidy long format, one figure per row: period
// (YYYY-MM-DD..YYYY-MM-DD), district (id, "all" for the city), indicator,
// dimension (what the figure is broken down by, "total" for none) and
// value. Small counts are written "<threshold", counts hidden to protect
// them "hidden"; waits are minutes
// (the upper bound of the bucket), "" if longer than the last bucket.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	period, district := r.Period.String(), r.District
	if r.CityWide {
		district = "all"
	}
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	row := func(indicator, dimension, value string) {
		_ = cw.Write([]string{period, district, indicator, dimension, value})
	}
	cell := func(indicator, dimension string, c Cell) { row(indicator, dimension, csvNum(c, r.Threshold)) }
	items := func(indicator string, its []Item) {
		for _, it := range its {
			cell(indicator, it.Key, it.Cell)
		}
	}
	cell("questions", "total", r.Questions)
	cell("questions_unanswered", "total", r.Unanswered)
	items("questions_by_area", r.ByArea)
	items("questions_by_language", r.ByLanguage)
	items("questions_by_district", r.ByDistrict)
	for _, s := range r.Series {
		for i, a := range seriesAreas() {
			cell("questions_by_area_from", s.Start.Format("2006-01-02")+"/"+a.ID, s.ByArea[i])
		}
	}
	for _, t := range r.Tickets {
		cell("tickets_"+t.Kind, "total", t.Total)
		items("tickets_"+t.Kind+"_by_district", t.ByDistrict)
	}
	items("tickets_closed_by_outcome", r.Outcomes)
	waits := func(indicator string, w Wait) {
		if w.Hidden {
			row(indicator, "median_max_minutes", "<"+strconv.FormatInt(r.Threshold, 10))
			row(indicator, "p90_max_minutes", "<"+strconv.FormatInt(r.Threshold, 10))
			return
		}
		row(indicator, "median_max_minutes", minutes(w.Median))
		row(indicator, "p90_max_minutes", minutes(w.P90))
	}
	waits("wait_first_answer", r.FirstAnswer)
	waits("wait_close", r.Close)
	if r.CityWide {
		items("active_users_week", r.ActiveWeeks)
		items("active_users_month", r.ActiveMonths)
		cell("reminders_sent", "total", r.Reminders)
		items("broadcast", r.Broadcast)
	}
	cw.Flush()
	return cw.Error()
}

// seriesAreas lists the areas in the order of Step.ByArea.
func seriesAreas() []Area { return append(append([]Area(nil), Areas...), OtherArea) }

func csvNum(c Cell, thr int64) string {
	switch {
	case c.Secondary:
		return "hidden"
	case c.Hidden:
		return "<" + strconv.FormatInt(thr, 10)
	}
	return strconv.FormatInt(c.N, 10)
}

// minutes writes a bucket bound in minutes; zero (beyond the last
// bucket) is written empty.
func minutes(d time.Duration) string {
	m := int64(d.Minutes())
	if m == 0 {
		return ""
	}
	return strconv.FormatInt(m, 10)
}
