package console_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/console"
)

// echo answers every text with its text and two buttons, and records what it got.
type echo struct {
	c   *console.Console
	got []bot.Incoming
}

func (e *echo) Handle(ctx context.Context, in bot.Incoming) error {
	e.got = append(e.got, in)
	_, err := e.c.Send(ctx, bot.Outgoing{ChatID: in.ChatID, Text: "got " + in.Text,
		Buttons: [][]bot.Button{{{Text: "One", Data: "d:1"}, {Text: "Web", URL: "https://example.org"}}}})
	return err
}

func TestRunTurnsNumbersIntoButtonPresses(t *testing.T) {
	var out bytes.Buffer
	c := console.New(&out, "uk")
	h := &echo{c: c}
	in := strings.NewReader("hello\n1\n2\n\n/language  de\n")
	if err := c.Run(context.Background(), in, h, func() time.Time { return time.Unix(0, 0) }); err != nil {
		t.Fatal(err)
	}
	if len(h.got) != 5 {
		t.Fatalf("want 5 updates (start, text, button, url-number as text, command), got %d", len(h.got))
	}
	if h.got[0].Command != "start" || h.got[0].LanguageCode != "uk" {
		t.Errorf("first update %+v, want /start in uk", h.got[0])
	}
	if h.got[1].Kind != bot.InText || h.got[1].Text != "hello" {
		t.Errorf("text update %+v", h.got[1])
	}
	if h.got[2].Kind != bot.InCallback || h.got[2].CallbackData != "d:1" || h.got[2].CallbackID == "" {
		t.Errorf("button press %+v", h.got[2])
	}
	if h.got[3].Kind != bot.InText || h.got[3].Text != "2" {
		t.Errorf("a URL button cannot be pressed from the terminal: %+v", h.got[3])
	}
	if h.got[4].Command != "language" || h.got[4].Args != "de" {
		t.Errorf("command %+v", h.got[4])
	}
	seen := map[int64]bool{}
	for _, u := range h.got {
		if seen[u.UpdateID] {
			t.Errorf("update id %d repeated", u.UpdateID)
		}
		seen[u.UpdateID] = true
	}
	if !strings.Contains(out.String(), "[1] One") || !strings.Contains(out.String(), "[2] Web ↗ https://example.org") {
		t.Errorf("buttons not numbered in output:\n%s", out.String())
	}
}

func TestIncomingLocation(t *testing.T) {
	c := console.New(io.Discard, "de")
	tests := []struct {
		line     string
		location bool
	}{
		{"/loc 51.57 6.74", true},
		{"/loc -33.9 151.2", true},
		{"/loc 91 6.74", false},
		{"/loc 51.57", false},
		{"/loc a b", false},
		{"/location 51.57 6.74", false},
	}
	for _, tt := range tests {
		in := c.Incoming(tt.line, time.Now())
		if got := in.Kind == bot.InLocation && in.Location != nil; got != tt.location {
			t.Errorf("%q: location %v, want %v (kind %v)", tt.line, got, tt.location, in.Kind)
		}
	}
}
