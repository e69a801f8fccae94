package bot_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/bot"
)

var fuzzSeeds = []string{
	"", " ", "Ausländerbehörde", "immigration office", "دائرة الأجانب", "посвідка на проживання",
	"/start", "/start auslaenderbehoerde", "/start " + strings.Repeat("x", 100), "/help", "/forget",
	"\u202eevil\u202c", "*bold* <b>x</b>", "🙂", "\xff", strings.Repeat("a ", 2048),
}

// FuzzHandleText feeds arbitrary text (as a message, and as a command when
// it starts with '/') to Handle: it must not fail or panic, and every
// reply must fit Telegram: non-empty text of at most 4096 characters
// (the bot never relies on the transport to split its own texts) and
// callback data of at most 64 bytes.
func FuzzHandleText(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	h := newHarness(f, mustTestKB(f))
	var uid atomic.Int64
	f.Fuzz(func(t *testing.T, text string) {
		h.rec.Reset()
		id := uid.Add(1)
		for _, kind := range []bot.InKind{bot.InText, bot.InEdited} {
			in := bot.Incoming{UpdateID: h.updateID(), ChatID: id, UserID: id, ChatType: bot.ChatPrivate,
				LanguageCode: "de", Kind: kind, Text: text}
			if cmd, ok := strings.CutPrefix(text, "/"); ok {
				in.Command, in.Args, _ = strings.Cut(cmd, " ")
			}
			if err := h.bot.Handle(context.Background(), in); err != nil {
				t.Fatalf("Handle(%q): %v", text, err)
			}
		}
		checkFuzzReplies(t, h)
	})
}

// FuzzCallbackData presses buttons with arbitrary data: every press is
// answered, and gets a reply within Telegram's limits.
func FuzzCallbackData(f *testing.F) {
	for _, s := range []string{"menu", "p", "lang", "l:de", "l:", "t:housing:0", "t:housing:99999999999999999999",
		"e:auslaenderbehoerde", "d:sprachcafe", "m:mitte", "e:" + strings.Repeat("a", 70), "\x00", "t:::", "my"} {
		f.Add(s)
	}
	h := newHarness(f, mustTestKB(f))
	var uid atomic.Int64
	f.Fuzz(func(t *testing.T, data string) {
		h.rec.Reset()
		id := uid.Add(1)
		in := bot.Incoming{UpdateID: h.updateID(), ChatID: id, UserID: id, ChatType: bot.ChatPrivate,
			LanguageCode: "ar", Kind: bot.InCallback, CallbackID: "q", CallbackData: data}
		if err := h.bot.Handle(context.Background(), in); err != nil {
			t.Fatalf("Handle(%q): %v", data, err)
		}
		if n := len(h.rec.Answered()); n != 1 {
			t.Fatalf("callback %q answered %d times", data, n)
		}
		checkFuzzReplies(t, h)
	})
}

func checkFuzzReplies(t *testing.T, h *harness) {
	t.Helper()
	for _, p := range h.rec.Problems() {
		t.Error(p)
	}
	sent := h.rec.Sent()
	if len(sent) == 0 {
		t.Fatal("no reply")
	}
	for _, m := range sent {
		if m.Venue != nil || m.Document != nil || m.File != nil {
			continue // payload checked by the recorder
		}
		if strings.TrimSpace(m.Text) == "" || utf8.RuneCountInString(m.Text) > 4096 {
			t.Errorf("bad text of %d characters", utf8.RuneCountInString(m.Text))
		}
	}
}
