package telegram_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/telegram"
)

// BenchmarkSend is one Send against the fake Bot API on loopback, flood
// limits off: a short echo and a knowledge card with buttons. ns/op and
// allocs/op include the fake's side; compare them between versions of
// the send path (go test -bench Send -benchmem -count 5).
func BenchmarkSend(b *testing.B) {
	card := strings.Repeat("Ausländerbehörde Lotsenstadt (Ausländerbehörde): Termine nach Vereinbarung, Mo–Fr 8–12 Uhr.\n", 8) +
		"Адрес: Rathausplatz 1 · 📞 0123 456789 · https://lotsenstadt.example/amt"
	msgs := map[string]bot.Outgoing{
		"echo": {ChatID: 42, Text: "Wo ist die Ausländerbehörde?"},
		"card": {ChatID: 42, Text: card, ReplyTo: 7, Buttons: [][]bot.Button{
			{{Text: "📍 Karte", Data: "v:amt-auslaender"}, {Text: "🕒 Öffnungszeiten", Data: "h:amt-auslaender"}},
			{{Text: "🌐 Website", URL: "https://lotsenstadt.example/amt?x=1&y=2"}},
		}},
	}
	for _, name := range []string{"echo", "card"} {
		b.Run(name, func(b *testing.B) {
			f := bottest.StartFakeAPI(nil, func(c *bottest.FakeConfig) { c.Limits.Disabled = true })
			defer f.Close()
			f.AddChat(42, "private")
			c, err := telegram.New(context.Background(), telegram.Config{
				Token: f.Token(), Endpoint: f.Endpoint(), PollTimeout: time.Second,
				GlobalRate: 1e9, PerChat: time.Nanosecond, PerChatBurst: 1 << 20,
			})
			if err != nil {
				b.Fatal(err)
			}
			msg := msgs[name]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Send(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
