package main

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/bot/redisstore"
	"github.com/lotse-bot/lotse/bot/telegram"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// benchQuestions are typical questions; users cycle through them.
var benchQuestions = []struct{ lang, q string }{
	{"de", "Wo ist die Ausländerbehörde?"},
	{"en", "I need a German course"},
	{"ar", "أين مكتب العمل"},
	{"fa", "کلاس زبان آلمانی"},
	{"uk", "Де Jobcenter?"},
	{"ru", "где получить вид на жительство"},
	{"tr", "oturma izni nerede"},
	{"fr", "cours d'intégration"},
}

// BenchmarkEndToEnd measures the whole bot — the real transport polling a
// fake Bot API on loopback, the real conversation logic, the sample
// knowledge base and a store — with 1,000 distinct users asking
// questions. Flood limits are lifted on both sides so the figure is the
// pipeline's capacity, not Telegram's 30 messages/s. Run with a fixed
// count, e.g. -benchtime 5000x; each iteration is one update.
func BenchmarkEndToEnd(b *testing.B) {
	b.Run("store=memory", func(b *testing.B) {
		benchEndToEnd(b, memstore.New(time.Now))
	})
	b.Run("store=redis", func(b *testing.B) {
		rdb := bottest.Redis(b)
		ns := bottest.Namespace(b, rdb)
		benchEndToEnd(b, redisstore.New(rdb, redisstore.Options{Namespace: ns}))
	})
}

func benchEndToEnd(b *testing.B, store bot.Store) {
	const users = 1000
	api := bottest.NewFakeAPI(b, func(c *bottest.FakeConfig) { c.Limits.Disabled = true })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg, err := telegram.New(ctx, telegram.Config{
		Token: api.Token(), Endpoint: api.Endpoint(), PollTimeout: time.Second,
		Workers: 8, GlobalRate: 1e9, PerChat: time.Nanosecond, PerChatBurst: 1 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	kb, err := knowledge.Sample()
	if err != nil {
		b.Fatal(err)
	}
	cat, err := i18n.NewCatalog()
	if err != nil {
		b.Fatal(err)
	}
	lotse, err := bot.New(bot.Config{KB: knowledge.NewLive(kb), Store: store, Sender: tg, Catalog: cat,
		UserKeySecret: []byte("0123456789abcdef0123456789abcdef"),
		Logger:        copyLogger(slog.NewTextHandler(io.Discard, nil)),
		Flood:         bot.FloodLimit{Off: true}}) // closed-loop users are a flood
	if err != nil {
		b.Fatal(err)
	}
	polled := make(chan error, 1)
	go func() { polled <- tg.Poll(ctx, lotse) }()

	// Warm up: every user starts the bot, so the measured updates are
	// plain questions that each get exactly one answer.
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	for u := 1; u <= users; u++ {
		q := benchQuestions[u%len(benchQuestions)]
		api.PushText(int64(u), int64(u), q.lang, "/start")
	}
	if err := api.WaitSent(wctx, users); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	for len(api.Pending()) > 0 && wctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the last warm-up sends land
	base := len(api.Calls("sendMessage"))

	type push struct {
		chat int64
		at   time.Time
	}
	pushes := make([]push, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		u := i%users + 1
		q := benchQuestions[(u+i/users)%len(benchQuestions)]
		pushes[i] = push{int64(u), time.Now()}
		api.PushText(int64(u), int64(u), q.lang, q.q)
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer rcancel()
	if err := api.WaitCalls(rctx, "sendMessage", base+b.N); err != nil {
		b.Fatalf("waiting for %d answers: %v", b.N, err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-polled

	// Per-chat order is kept, so the k-th answer to a chat after the
	// warm-up answers that chat's k-th question.
	answers := map[int64][]time.Time{}
	for _, c := range api.Calls("sendMessage")[base:] {
		id, _ := strconv.ParseInt(c.Params.Get("chat_id"), 10, 64)
		answers[id] = append(answers[id], c.At)
	}
	next := map[int64]int{}
	lat := make([]time.Duration, 0, b.N)
	for _, p := range pushes {
		k := next[p.chat]
		next[p.chat]++
		if k < len(answers[p.chat]) {
			lat = append(lat, answers[p.chat][k].Sub(p.at))
		}
	}
	if len(lat) != b.N {
		b.Fatalf("%d answers for %d questions", len(lat), b.N)
	}
	if bad := api.BadRequests(); len(bad) > 0 {
		b.Fatalf("Bot API rejected %d requests, e.g. %+v", len(bad), bad[0])
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
