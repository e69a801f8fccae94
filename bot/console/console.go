// Package console lets a person talk to the bot in a terminal: it prints
// outgoing messages with their buttons numbered, and turns typed lines
// into incoming updates (a number presses the button with that number,
// "/loc LAT LON" shares a location).
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// Handler handles one incoming update (implemented by *bot.Bot).
type Handler interface {
	Handle(ctx context.Context, in bot.Incoming) error
}

// Console is a bot.Sender writing to a terminal, and the loop reading it.
type Console struct {
	out      io.Writer
	lang     string
	chatID   int64
	userID   int64
	mu       sync.Mutex
	nextMsg  int
	nextUpd  int64
	buttons  []bot.Button // buttons of the last message that had any
	callback int
}

var _ bot.Sender = (*Console)(nil)

// New returns a console writing to out. lang is reported as the user's
// Telegram language code ("" lets the bot ask).
func New(out io.Writer, lang string) *Console {
	return &Console{out: out, lang: lang, chatID: 1, userID: 1}
}

// Send implements bot.Sender by printing msg.
func (c *Console) Send(_ context.Context, msg bot.Outgoing) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextMsg++
	var b strings.Builder
	b.WriteString("\n")
	switch {
	case msg.Venue != nil:
		fmt.Fprintf(&b, "📍 %s\n   %s\n   https://www.openstreetmap.org/?mlat=%.5f&mlon=%.5f#map=18/%.5f/%.5f\n",
			msg.Venue.Title, msg.Venue.Address, msg.Venue.Lat, msg.Venue.Lon, msg.Venue.Lat, msg.Venue.Lon)
	case msg.File != nil:
		fmt.Fprintf(&b, "📎 %s %s\n", msg.File.Kind, msg.File.FileID)
		if msg.File.Caption != "" {
			b.WriteString(msg.File.Caption + "\n")
		}
	case msg.Document != nil:
		fmt.Fprintf(&b, "📎 %s (%d bytes)\n", msg.Document.Name, len(msg.Document.Content))
		if msg.Document.Caption != "" {
			b.WriteString(msg.Document.Caption + "\n")
		}
	default:
		b.WriteString(msg.Text)
		b.WriteString("\n")
	}
	if len(msg.Buttons) > 0 {
		c.buttons = c.buttons[:0]
		for _, row := range msg.Buttons {
			for _, btn := range row {
				c.buttons = append(c.buttons, btn)
				n := len(c.buttons)
				if btn.URL != "" {
					fmt.Fprintf(&b, "  [%d] %s ↗ %s\n", n, btn.Text, btn.URL)
				} else {
					fmt.Fprintf(&b, "  [%d] %s\n", n, btn.Text)
				}
			}
		}
	}
	_, err := io.WriteString(c.out, b.String())
	return c.nextMsg, err
}

// AnswerCallback implements bot.Sender; a notice is printed in brackets.
func (c *Console) AnswerCallback(_ context.Context, _ string, notice string) error {
	if notice == "" {
		return nil
	}
	_, err := fmt.Fprintf(c.out, "(%s)\n", notice)
	return err
}

// Incoming turns a typed line into an update: a number within the last
// buttons presses that button, anything else is a text message.
func (c *Console) Incoming(line string, now time.Time) bot.Incoming {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextUpd++
	in := bot.Incoming{
		UpdateID:     c.nextUpd,
		ChatID:       c.chatID,
		ChatType:     bot.ChatPrivate,
		UserID:       c.userID,
		LanguageCode: c.lang,
		MessageID:    c.nextMsg + 1,
		Time:         now,
	}
	line = strings.TrimRight(line, "\r\n")
	if n, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && n >= 1 && n <= len(c.buttons) {
		btn := c.buttons[n-1]
		if btn.Data != "" {
			c.callback++
			in.Kind = bot.InCallback
			in.CallbackID = strconv.Itoa(c.callback)
			in.CallbackData = btn.Data
			return in
		}
	}
	if loc, ok := parseLoc(line); ok {
		in.Kind = bot.InLocation
		in.Location = loc
		return in
	}
	in.Kind = bot.InText
	in.Text = line
	if strings.HasPrefix(line, "/") {
		cmd, args, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
		in.Command = strings.ToLower(cmd)
		in.Args = strings.TrimSpace(args)
	}
	return in
}

// parseLoc reads "/loc LAT LON" (decimal degrees, e.g. /loc 51.57 6.74):
// a terminal cannot share a location, so this stands in for Telegram's
// location attachment.
func parseLoc(line string) (*bot.Location, bool) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "/loc" {
		return nil, false
	}
	lat, err1 := strconv.ParseFloat(f[1], 64)
	lon, err2 := strconv.ParseFloat(f[2], 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return nil, false
	}
	return &bot.Location{Lat: lat, Lon: lon}, true
}

// Run reads lines from r until EOF or ctx ends, handing each to h.
// It starts the conversation with /start.
func (c *Console) Run(ctx context.Context, r io.Reader, h Handler, now func() time.Time) error {
	if err := h.Handle(ctx, c.Incoming("/start", now())); err != nil {
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	for {
		fmt.Fprint(c.out, "\n> ")
		if !sc.Scan() {
			fmt.Fprintln(c.out)
			return sc.Err()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := h.Handle(ctx, c.Incoming(line, now())); err != nil {
			fmt.Fprintf(c.out, "(error: %v)\n", err)
		}
	}
}
