package monitor_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"

	"github.com/lotse-bot/lotse/bot/monitor"
)

func mustPNG(t *testing.T, r monitor.Report) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := monitor.WritePNG(&buf, r); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("LOTSE_CHART_DIR"); dir != "" { // to look at it
		os.WriteFile(dir+"/"+r.Period.Spec+"-"+r.District+".png", buf.Bytes(), 0o644)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decoding the chart: %v", err)
	}
	return img
}

// count counts the pixels of colour c within r.
func count(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == c {
				n++
			}
		}
	}
	return n
}

func TestChart(t *testing.T) {
	kb := mustSample(t)
	f, p := fixture(t)
	city := monitor.Build(f, kb, p, "", 5)
	img := mustPNG(t, city)
	if b := img.Bounds(); b.Dx() != monitor.ChartWidth || b.Dy() != monitor.ChartHeight {
		t.Fatalf("size %v, want %dx%d", b, monitor.ChartWidth, monitor.ChartHeight)
	}
	series := image.Rect(70, 110, monitor.ChartWidth-24, 371)
	// Wohnen (178 questions, shown in the weeks with enough of them) is
	// drawn; "Ohne Zuordnung" (0) is not.
	if n := count(img, series, monitor.AreaColors[0]); n < 500 {
		t.Errorf("housing bars: %d pixels, want a visible bar", n)
	}
	if n := count(img, series, monitor.AreaColors[5]); n != 0 {
		t.Errorf("empty area drawn with %d pixels", n)
	}
	tickets := image.Rect(24, 476, monitor.ChartWidth-24, monitor.ChartHeight-34)
	if n := count(img, tickets, color.RGBA{0, 114, 178, 255}); n < 200 {
		t.Errorf("opened tickets: %d pixels, want bars", n)
	}

	// Feldmark's report: its only figures are small, so no bar at all.
	feld := mustPNG(t, monitor.Build(f, kb, p, "feldmark", 5))
	for i, c := range monitor.AreaColors {
		if n := count(feld, series, c); n != 0 {
			t.Errorf("Feldmark: area %d drawn with %d pixels although all its counts are small", i, n)
		}
	}
	if n := count(feld, image.Rect(24, 456, monitor.ChartWidth-24, monitor.ChartHeight-34), color.RGBA{0, 114, 178, 255}); n != 0 {
		t.Errorf("Feldmark: hidden ticket counts drawn as bars (%d pixels)", n)
	}
}
