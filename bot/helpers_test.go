package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// testNow is a Tuesday, 10:00 in Lotsenstadt/Teststadt: the immigration
// office (Mon, Tue, Thu 08-12) is open until 12:00.
var testNow = time.Date(2026, 11, 24, 10, 0, 0, 0, mustLocation("Europe/Berlin"))

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var secret = []byte("0123456789abcdef-test-secret")

// pagedEntries is how many extra housing entries the test KB gets, to
// need more than one page in the topic list.
const pagedEntries = 10

// mustTestKB loads testdata/kb.yaml plus generated housing entries.
func mustTestKB(t testing.TB) *knowledge.KB {
	t.Helper()
	raw, err := os.ReadFile("testdata/kb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var more strings.Builder
	more.WriteString("entries:\n")
	for i := 1; i <= pagedEntries; i++ {
		fmt.Fprintf(&more, `  - id: wohnprojekt-%02d
    kind: counselling
    name_de: Wohnprojekt %02d
    summary: {de: Beratung zur Wohnungssuche %d., en: Advice on finding a flat %d.}
    topics: [housing]
    last_checked: 2026-10-01
    owner: Test
`, i, i, i, i)
	}
	kb, err := knowledge.Load(fstest.MapFS{
		"kb.yaml":    {Data: raw},
		"paged.yaml": {Data: []byte(more.String())},
	})
	if err != nil {
		t.Fatalf("load test KB: %v", err)
	}
	return kb
}

func mustSampleKB(t testing.TB) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatalf("knowledge.Sample: %v", err)
	}
	return kb
}

func mustCatalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	c, err := i18n.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countingStore wraps memstore, counts round trips and injects failures.
type countingStore struct {
	*memstore.Store
	calls     atomic.Int64
	failFirst atomic.Bool // FirstSeen fails
	failLoad  atomic.Bool // Session fails
	failSave  atomic.Bool // SaveSession fails
}

var errDown = fmt.Errorf("redis: connection refused: %w", bot.ErrUnavailable)

func (s *countingStore) FirstSeen(ctx context.Context, id int64, ttl time.Duration) (bool, error) {
	s.calls.Add(1)
	if s.failFirst.Load() {
		return false, errDown
	}
	return s.Store.FirstSeen(ctx, id, ttl)
}

func (s *countingStore) Session(ctx context.Context, u bot.UserKey) (bot.Session, error) {
	s.calls.Add(1)
	if s.failLoad.Load() {
		return bot.Session{}, errDown
	}
	return s.Store.Session(ctx, u)
}

func (s *countingStore) SaveSession(ctx context.Context, u bot.UserKey, sess bot.Session, ttl time.Duration) error {
	s.calls.Add(1)
	if s.failSave.Load() {
		return errDown
	}
	return s.Store.SaveSession(ctx, u, sess, ttl)
}

// harness runs a Bot against memstore and a Recorder.
type harness struct {
	t     testing.TB
	bot   *bot.Bot
	rec   *bottest.Recorder
	store *countingStore
	cat   *i18n.Catalog
	kb    *knowledge.KB
	log   *syncBuffer
	mu    sync.Mutex
	next  int64
}

func newHarness(t testing.TB, kb *knowledge.KB) *harness {
	t.Helper()
	h := &harness{t: t, rec: bottest.NewRecorder(), cat: mustCatalog(t), kb: kb, log: &syncBuffer{}}
	h.store = &countingStore{Store: memstore.New(func() time.Time { return testNow })}
	b, err := bot.New(bot.Config{
		KB: knowledge.NewLive(kb), Store: h.store, Sender: h.rec, Catalog: h.cat,
		Now: func() time.Time { return testNow }, UserKeySecret: secret,
		Logger: newTestLogger(h.log),
		// The clock stands still here; the inbound limit has tests of its own.
		Flood: bot.FloodLimit{Off: true},
	})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	h.bot = b
	return h
}

func (h *harness) updateID() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	return h.next
}

// user is one person talking to the bot in a private chat.
type user struct {
	h    *harness
	id   int64
	code string // Telegram language_code
}

func (h *harness) user(id int64, code string) *user { return &user{h: h, id: id, code: code} }

func (u *user) incoming(kind bot.InKind) bot.Incoming {
	return bot.Incoming{
		UpdateID: u.h.updateID(), ChatID: u.id, ChatType: bot.ChatPrivate, UserID: u.id,
		LanguageCode: u.code, FirstName: "Test", MessageID: 1, Kind: kind, Time: testNow,
	}
}

// say sends a text message; "/cmd args" is a command, as the transport
// would split it.
func (u *user) say(text string) []bot.Outgoing {
	in := u.incoming(bot.InText)
	in.Text = text
	if cmd, ok := strings.CutPrefix(text, "/"); ok {
		in.Command, in.Args, _ = strings.Cut(cmd, " ")
	}
	return u.send(in)
}

// press presses a button with the given callback data.
func (u *user) press(data string) []bot.Outgoing {
	in := u.incoming(bot.InCallback)
	in.CallbackID = fmt.Sprintf("cb-%d", in.UpdateID)
	in.CallbackData = data
	return u.send(in)
}

// send handles in and returns what was sent to the user's chat meanwhile.
func (u *user) send(in bot.Incoming) []bot.Outgoing {
	u.h.t.Helper()
	before := len(u.h.rec.To(u.id))
	if err := u.h.bot.Handle(context.Background(), in); err != nil {
		u.h.t.Errorf("Handle: %v", err) // Errorf: send runs on many goroutines
	}
	return u.h.rec.To(u.id)[before:]
}

func (u *user) session() (bot.Session, error) {
	return u.h.store.Store.Session(context.Background(), u.h.bot.UserKey(u.id))
}

func (u *user) mustSession() bot.Session {
	u.h.t.Helper()
	s, err := u.session()
	if err != nil {
		u.h.t.Fatalf("session of user %d: %v", u.id, err)
	}
	return s
}

// allText joins the texts of msgs.
func allText(msgs []bot.Outgoing) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, m.Text)
	}
	return strings.Join(parts, "\n---\n")
}

// allData lists the callback data of every button in msgs.
func allData(msgs []bot.Outgoing) []string {
	var out []string
	for _, m := range msgs {
		for _, b := range bottest.Buttons(m) {
			if b.Data != "" {
				out = append(out, b.Data)
			}
		}
	}
	return out
}

func hasData(msgs []bot.Outgoing, data string) bool {
	for _, d := range allData(msgs) {
		if d == data {
			return true
		}
	}
	return false
}

// checkRecorder fails the test on any limit violation or unanswered callback.
func (h *harness) checkRecorder(t testing.TB, callbacks int) {
	t.Helper()
	for _, p := range h.rec.Problems() {
		t.Error(p)
	}
	if callbacks >= 0 {
		if got := len(h.rec.Answered()); got != callbacks {
			t.Errorf("%d callbacks answered, want %d", got, callbacks)
		}
	}
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestLogger logs everything to w, and info and above to the suite's
// log file if scripts/test.sh set one (bottest.LogFileEnv).
func newTestLogger(w io.Writer) *slog.Logger {
	return bottest.Logger(w, slog.LevelDebug)
}
