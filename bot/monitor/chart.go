package monitor

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
)

// Chart geometry. The image is large enough to read on a phone when
// Telegram scales it down, small enough to send as a photo.
const (
	ChartWidth  = 1000
	ChartHeight = 720
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	ink       = color.RGBA{33, 33, 33, 255}
	gridGrey  = color.RGBA{225, 225, 225, 255}
	noteGrey  = color.RGBA{120, 120, 120, 255}
	openColor = color.RGBA{0, 114, 178, 255} // Okabe-Ito blue
	doneColor = color.RGBA{0, 158, 115, 255} // Okabe-Ito bluish green
	// AreaColors are the colours of Areas then OtherArea in the chart
	// (Okabe-Ito, distinguishable with colour-vision deficiencies).
	AreaColors = []color.RGBA{
		{230, 159, 0, 255},   // orange: Wohnen
		{86, 180, 233, 255},  // sky blue: Sprache und Bildung
		{213, 94, 0, 255},    // vermillion: Sicherheit und Ordnung
		{0, 114, 178, 255},   // blue: Arbeitsmarkt
		{204, 121, 167, 255}, // reddish purple: soziale und kulturelle Strukturen
		{153, 153, 153, 255}, // grey: ohne Zuordnung
	}
)

// WritePNG draws r as a PNG chart: questions by field of action over time
// as stacked bars (top) and tickets by district, opened and closed, or for
// a district's report its tickets by step (bottom). Hidden figures are
// left out, never drawn to scale; a note says so.
func WritePNG(w io.Writer, r Report) error {
	img := image.NewRGBA(image.Rect(0, 0, ChartWidth, ChartHeight))
	fillRect(img, 0, 0, ChartWidth, ChartHeight, white)
	where := "GANZE STADT"
	if !r.CityWide {
		where = r.DistrictName
	}
	drawText(img, 24, 18, "Fragen nach Handlungsfeld - "+where+", "+r.Period.From.Format("02.01.2006")+" bis "+r.Period.To.Format("02.01.2006"), 2, ink)
	for i, a := range seriesAreas() {
		x, y := 24+(i%3)*320, 50+(i/3)*22
		fillRect(img, x, y, 14, 14, AreaColors[i])
		drawText(img, x+20, y, a.Short, 2, ink)
	}
	drawSeries(img, r, image.Rect(70, 110, ChartWidth-24, 370))

	if r.CityWide {
		drawText(img, 24, 420, "Anliegen nach Stadtteil", 2, ink)
		fillRect(img, 24, 448, 14, 14, openColor)
		drawText(img, 44, 448, "eröffnet", 2, ink)
		fillRect(img, 184, 448, 14, 14, doneColor)
		drawText(img, 204, 448, "abgeschlossen", 2, ink)
		var opened, closed TicketLine
		for _, t := range r.Tickets {
			switch t.Kind {
			case TicketOpened:
				opened = t
			case TicketClosed:
				closed = t
			}
		}
		var rows []barRow
		for i, it := range opened.ByDistrict {
			c := Cell{}
			if i < len(closed.ByDistrict) {
				c = closed.ByDistrict[i].Cell
			}
			if it.N == 0 && c.N == 0 {
				continue
			}
			rows = append(rows, barRow{it.Label, []Cell{it.Cell, c}})
		}
		drawBars(img, rows, []color.RGBA{openColor, doneColor}, r.Threshold, image.Rect(24, 476, ChartWidth-24, ChartHeight-34))
	} else {
		drawText(img, 24, 420, "Anliegen in "+r.DistrictName, 2, ink)
		var rows []barRow
		for _, t := range r.Tickets {
			rows = append(rows, barRow{t.Label, []Cell{t.Total}})
		}
		drawBars(img, rows, []color.RGBA{openColor}, r.Threshold, image.Rect(24, 456, ChartWidth-24, ChartHeight-34))
	}
	drawText(img, 24, ChartHeight-22, "Werte unter "+strconv.FormatInt(r.Threshold, 10)+" und zu ihrem Schutz verdeckte Werte sind nicht dargestellt.", 1, noteGrey)
	return png.Encode(w, img)
}

// drawSeries draws the stacked bars of r.Series into plot.
func drawSeries(img *image.RGBA, r Report, plot image.Rectangle) {
	var max int64
	for _, s := range r.Series {
		var sum int64
		for _, c := range s.ByArea {
			if !c.Hidden {
				sum += c.N
			}
		}
		max = maxInt(max, sum)
	}
	top := 4 * niceCeil((max+3)/4)
	// Grid lines and their labels.
	for i := 0; i <= 4; i++ {
		y := plot.Max.Y - int(int64(plot.Dy())*int64(i)/4)
		fillRect(img, plot.Min.X, y, plot.Dx(), 1, gridGrey)
		label := strconv.FormatInt(top*int64(i)/4, 10)
		drawText(img, plot.Min.X-8-textWidth(label, 1), y-3, label, 1, ink)
	}
	n := len(r.Series)
	if n == 0 {
		return
	}
	slot := plot.Dx() / n
	barW := max2(2, slot*7/10)
	labelEvery := 1
	for _, s := range r.Series {
		for labelEvery*slot < textWidth(s.Label, 1)+6 && labelEvery < n {
			labelEvery++
		}
	}
	for i, s := range r.Series {
		x := plot.Min.X + i*slot + (slot-barW)/2
		y := plot.Max.Y
		for a, c := range s.ByArea {
			if c.Hidden || c.N == 0 {
				continue
			}
			h := int(c.N * int64(plot.Dy()) / top)
			fillRect(img, x, y-h, barW, h, AreaColors[a%len(AreaColors)])
			y -= h
		}
		if i%labelEvery == 0 {
			drawText(img, x+barW/2-textWidth(s.Label, 1)/2, plot.Max.Y+6, s.Label, 1, ink)
		}
	}
	fillRect(img, plot.Min.X, plot.Max.Y, plot.Dx(), 1, ink)
}

// barRow is a labelled group of horizontal bars.
type barRow struct {
	label  string
	values []Cell
}

// drawBars draws rows of horizontal bars into area: labels left, bars
// scaled to the largest shown value, each bar's figure after it.
func drawBars(img *image.RGBA, rows []barRow, colors []color.RGBA, thr int64, area image.Rectangle) {
	if len(rows) == 0 {
		drawText(img, area.Min.X, area.Min.Y, "Keine Anliegen im Zeitraum", 2, noteGrey)
		return
	}
	var max int64
	for _, r := range rows {
		for _, c := range r.values {
			if !c.Hidden {
				max = maxInt(max, c.N)
			}
		}
	}
	top := niceCeil(max)
	rowH := min(44, area.Dy()/len(rows))
	labelW := 260
	barMax := area.Dx() - labelW - 80
	for i, r := range rows {
		y := area.Min.Y + i*rowH
		scale := 2
		if rowH < 18 {
			scale = 1
		}
		drawText(img, area.Min.X, y+(rowH-glyphH*scale)/2-2, r.label, scale, ink)
		bh := max2(2, (rowH-8)/len(r.values))
		for j, c := range r.values {
			by := y + j*bh
			x := area.Min.X + labelW
			text := strconv.FormatInt(c.N, 10)
			col := ink
			switch {
			case c.Secondary:
				text, col = "verdeckt", noteGrey
			case c.Hidden:
				text, col = "<"+strconv.FormatInt(thr, 10), noteGrey
			default:
				wBar := int(c.N * int64(barMax) / top)
				fillRect(img, x, by, wBar, bh-2, colors[j%len(colors)])
				x += wBar
			}
			drawText(img, x+6, by+(bh-2-glyphH)/2, text, 1, col)
		}
	}
}

// niceCeil rounds n up to 1, 2, 2.5 (from 25 on) or 5 times a power of
// ten (at least 1), so axes have round labels.
func niceCeil(n int64) int64 {
	if n < 1 {
		return 1
	}
	for p := int64(1); p <= 1e15; p *= 10 {
		for _, m := range [...]int64{10, 20, 25, 50} {
			if v := m * p / 10; v >= n && v*10 == m*p {
				return v
			}
		}
	}
	return n
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}
