package bot_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/bot/bottest"
	"github.com/lotse-bot/lotse/bot/memstore"
	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// TestCardMemo: cards come out the same when their fixed parts come from
// the bot's memo as when they are first rendered, with users of every
// language asking for the same entries in turn on one bot (the golden
// files hold the first renderings).
func TestCardMemo(t *testing.T) {
	h := newHarness(t, mustTestKB(t))
	var users []*user
	for i, lang := range i18n.Languages {
		u := h.user(int64(100+i), lang)
		u.say("/start")
		users = append(users, u)
	}
	for round := range 3 {
		for i, lang := range i18n.Languages {
			var b strings.Builder
			for _, data := range goldenEntries {
				got := users[i].press(data)
				if len(got) != 1 {
					t.Fatalf("%s %s: %d messages, want 1", lang, data, len(got))
				}
				writeGolden(&b, data, got[0])
			}
			want, err := os.ReadFile(filepath.Join("testdata", "cards."+lang+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("round %d, %s: cards differ from testdata/cards.%s.golden:\n%s", round+1, lang, lang, b.String())
			}
		}
	}
}

// TestCardMemoFollowsReload: after the knowledge base is reloaded, a card
// shows the new data, not the memo's.
func TestCardMemoFollowsReload(t *testing.T) {
	raw, err := os.ReadFile("testdata/kb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	load := func(phone string) *knowledge.KB {
		kb, err := knowledge.Load(fstest.MapFS{"kb.yaml": {Data: []byte(strings.ReplaceAll(string(raw), "+49 30 23125 200", phone))}})
		if err != nil {
			t.Fatal(err)
		}
		return kb
	}
	live := knowledge.NewLive(load("+49 30 1111"))
	rec := bottest.NewRecorder()
	b, err := bot.New(bot.Config{KB: live, Store: memstore.New(func() time.Time { return testNow }), Sender: rec,
		Catalog: mustCatalog(t), Now: func() time.Time { return testNow }, UserKeySecret: secret,
		Logger: newTestLogger(&syncBuffer{}), Flood: bot.FloodLimit{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rec: rec, bot: b}
	u := h.user(7, "en")
	u.say("/start")
	for _, phone := range []string{"+49 30 1111", "+49 30 2222"} {
		if phone != "+49 30 1111" {
			if err := live.Reload(func() (*knowledge.KB, error) { return load(phone), nil }); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			got := u.press("e:auslaenderbehoerde")
			if len(got) != 1 || !strings.Contains(got[0].Text, phone) {
				t.Fatalf("card after loading phone %s: %+v", phone, got)
			}
		}
	}
}
