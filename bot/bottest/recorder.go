package bottest

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot"
)

// MaxCallbackData is Telegram's limit for InlineKeyboardButton.callback_data, in bytes.
const MaxCallbackData = 64

// MaxText is Telegram's limit for a message text, in characters.
const MaxText = 4096

// Recorder is a bot.Sender that records what it is asked to send and
// checks every message against Telegram's limits, so a conversation test
// fails on a button Telegram would reject. Safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	sent     []bot.Outgoing
	answered []Answer
	problems []string
	nextID   int
	// SendErr, if set, is returned by every Send (e.g. an error wrapping
	// bot.ErrBlocked); the message is still recorded.
	SendErr error
}

// Answer is a recorded AnswerCallback call.
type Answer struct {
	CallbackID string
	Notice     string
}

var _ bot.Sender = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Send implements bot.Sender.
func (r *Recorder) Send(_ context.Context, msg bot.Outgoing) (int, error) {
	probs := CheckOutgoing(msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	r.sent = append(r.sent, cloneOutgoing(msg))
	for _, p := range probs {
		r.problems = append(r.problems, fmt.Sprintf("message %d to chat %d: %s", len(r.sent), msg.ChatID, p))
	}
	if r.SendErr != nil {
		return 0, r.SendErr
	}
	return r.nextID, nil
}

// AnswerCallback implements bot.Sender.
func (r *Recorder) AnswerCallback(_ context.Context, callbackID, notice string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if callbackID == "" {
		r.problems = append(r.problems, "AnswerCallback with empty callback id")
	}
	if n := utf8.RuneCountInString(notice); n > 200 {
		r.problems = append(r.problems, fmt.Sprintf("callback notice of %d characters (max 200)", n))
	}
	r.answered = append(r.answered, Answer{CallbackID: callbackID, Notice: notice})
	return nil
}

// CheckOutgoing returns every way msg violates the Bot API's limits or the
// Outgoing contract; nil if it is fine.
func CheckOutgoing(msg bot.Outgoing) []string {
	var p []string
	payloads := 0
	if msg.Text != "" {
		payloads++
	}
	if msg.Venue != nil {
		payloads++
	}
	if msg.Document != nil {
		payloads++
	}
	if msg.File != nil {
		payloads++
		if msg.File.FileID == "" || (msg.File.Kind != bot.AttachPhoto && msg.File.Kind != bot.AttachDocument) {
			p = append(p, fmt.Sprintf("file of kind %q without id or of unknown kind", msg.File.Kind))
		}
		if n := utf8.RuneCountInString(msg.File.Caption); n > 1024 {
			p = append(p, fmt.Sprintf("caption of %d characters (max 1024)", n))
		}
	}
	if payloads != 1 {
		p = append(p, fmt.Sprintf("%d payloads (want exactly one of text, venue, document, file)", payloads))
	}
	if n := utf8.RuneCountInString(msg.Text); n > MaxText {
		p = append(p, fmt.Sprintf("text of %d characters (max %d)", n, MaxText))
	}
	if msg.Text != "" && !utf8.ValidString(msg.Text) {
		p = append(p, "text is not valid UTF-8")
	}
	if msg.ChatID == 0 {
		p = append(p, "no chat id")
	}
	for _, row := range msg.Buttons {
		if len(row) == 0 {
			p = append(p, "empty button row")
		}
		for _, b := range row {
			p = append(p, CheckButton(b)...)
		}
	}
	return p
}

// CheckButton returns every way b violates the Bot API's limits.
func CheckButton(b bot.Button) []string {
	var p []string
	if b.Text == "" {
		p = append(p, "button without text")
	}
	if (b.Data == "") == (b.URL == "") {
		p = append(p, fmt.Sprintf("button %q must have exactly one of data and URL", b.Text))
	}
	if len(b.Data) > MaxCallbackData {
		p = append(p, fmt.Sprintf("button %q: callback data of %d bytes (max %d)", b.Text, len(b.Data), MaxCallbackData))
	}
	if !utf8.ValidString(b.Data) || !utf8.ValidString(b.Text) {
		p = append(p, fmt.Sprintf("button %q is not valid UTF-8", b.Text))
	}
	return p
}

// Sent returns every message sent so far, in order.
func (r *Recorder) Sent() []bot.Outgoing {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]bot.Outgoing, len(r.sent))
	for i, m := range r.sent {
		out[i] = cloneOutgoing(m)
	}
	return out
}

// To returns the messages sent to one chat, in order.
func (r *Recorder) To(chatID int64) []bot.Outgoing {
	var out []bot.Outgoing
	for _, m := range r.Sent() {
		if m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// Answered returns the callback answers so far, in order.
func (r *Recorder) Answered() []Answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Answer(nil), r.answered...)
}

// Problems returns every limit violation seen so far.
func (r *Recorder) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

// Reset forgets everything recorded (but keeps SendErr).
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent, r.answered, r.problems = nil, nil, nil
}

// Buttons returns all buttons of msg in reading order.
func Buttons(msg bot.Outgoing) []bot.Button {
	var out []bot.Button
	for _, row := range msg.Buttons {
		out = append(out, row...)
	}
	return out
}

func cloneOutgoing(m bot.Outgoing) bot.Outgoing {
	if m.Buttons != nil {
		rows := make([][]bot.Button, len(m.Buttons))
		for i, row := range m.Buttons {
			rows[i] = append([]bot.Button(nil), row...)
		}
		m.Buttons = rows
	}
	if m.Venue != nil {
		v := *m.Venue
		m.Venue = &v
	}
	if m.File != nil {
		f := *m.File
		m.File = &f
	}
	return m
}
