package bot_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lotse-bot/lotse/bot"
)

// benchQuestions mix answered and unanswered questions in several languages.
var benchQuestions = []struct{ lang, text string }{
	{"de", "Wo ist die Ausländerbehörde?"},
	{"en", "residence permit extension"},
	{"ar", "تجديد الإقامة"},
	{"uk", "посвідка на проживання"},
	{"de", "Wohngeld beantragen"},
	{"en", "where can I practise German"},
	{"fa", "کلاس زبان"},
	{"tr", "bisiklet tamiri"},
}

// BenchmarkHandleQuestion measures knowledge questions from 1,000
// distinct users against the sample knowledge base (memstore, recording
// sender); it reports updates/s.
func BenchmarkHandleQuestion(b *testing.B) {
	const users = 1000
	h := newHarness(b, mustSampleKB(b))
	ctx := context.Background()
	for i := range users {
		q := benchQuestions[i%len(benchQuestions)]
		h.user(int64(i+1), q.lang).say("/start")
	}
	h.rec.Reset()
	var upd atomic.Int64
	upd.Store(1 << 40)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		uid := int64(i%users + 1)
		q := benchQuestions[i%len(benchQuestions)]
		in := bot.Incoming{UpdateID: upd.Add(1), ChatID: uid, UserID: uid, ChatType: bot.ChatPrivate,
			LanguageCode: q.lang, Kind: bot.InText, Text: q.text}
		if err := h.bot.Handle(ctx, in); err != nil {
			b.Fatal(err)
		}
		if i%10_000 == 9_999 {
			h.rec.Reset() // bound the recorder's memory
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
}

// BenchmarkHandleQuestionParallel is the same with concurrent handlers,
// as webhook deliveries or several polling workers would run them.
func BenchmarkHandleQuestionParallel(b *testing.B) {
	const users = 1000
	h := newHarness(b, mustSampleKB(b))
	ctx := context.Background()
	var upd, n atomic.Int64
	upd.Store(1 << 40)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			uid := i%users + 1
			q := benchQuestions[i%int64(len(benchQuestions))]
			in := bot.Incoming{UpdateID: upd.Add(1), ChatID: uid, UserID: uid, ChatType: bot.ChatPrivate,
				LanguageCode: q.lang, Kind: bot.InText, Text: q.text}
			if err := h.bot.Handle(ctx, in); err != nil {
				b.Error(err)
				return
			}
			if i%10_000 == 0 {
				h.rec.Reset()
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
}
