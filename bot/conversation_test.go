package bot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lotse-bot/lotse/bot"
)

// step is one user action and what must follow.
type step struct {
	say   string        // a text message ("/cmd args" for commands)
	press string        // callback data of a button press
	in    *bot.Incoming // any other update (UpdateID, chat and user are filled in)

	want    []string // substrings of the replies' texts
	notWant []string
	data    []string // callback data that must be offered
	noReply bool
	rtl     bool // replies are marked right-to-left
	venue   bool // a venue is sent
	state   func(t *testing.T, s bot.Session, err error)
}

type conversation struct {
	name  string
	code  string // Telegram language_code
	steps []step
}

func langIs(lang string, chosen bool) func(*testing.T, bot.Session, error) {
	return func(t *testing.T, s bot.Session, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		if s.Lang != lang || s.LangChosen != chosen {
			t.Errorf("session lang = %q chosen=%v, want %q chosen=%v", s.Lang, s.LangChosen, lang, chosen)
		}
	}
}

func TestConversations(t *testing.T) {
	c := mustCatalog(t)
	city := map[string]any{"City": "Teststadt"}
	T := func(lang, id string) string { return c.T(lang, id, nil) }
	Td := func(lang, id string, d map[string]any) string { return c.T(lang, id, d) }

	convs := []conversation{
		{name: "german user starts", code: "de-AT", steps: []step{
			{say: "/start", want: []string{Td("de", "Greeting", city), T("de", "PrivacyNotice")},
				data: []string{"t:residence:0", "t:housing:0", "lang"},
				state: func(t *testing.T, s bot.Session, err error) {
					langIs("de", false)(t, s, err)
					if !s.NoticeShown {
						t.Error("notice not marked shown")
					}
				}},
			{say: "/start", want: []string{Td("de", "Greeting", city)}, notWant: []string{T("de", "PrivacyNotice")}},
		}},
		{name: "unknown language is asked bilingually", code: "ku", steps: []step{
			{say: "/start", want: []string{T("de", "ChooseLanguage"), T("en", "ChooseLanguage")},
				notWant: []string{T("en", "PrivacyNotice")},
				data:    []string{"l:de", "l:en", "l:ar", "l:fa", "l:uk", "l:ru", "l:tr", "l:fr"},
				state: func(t *testing.T, s bot.Session, err error) {
					langIs("en", false)(t, s, err)
					if s.NoticeShown {
						t.Error("notice marked shown before it was shown")
					}
				}},
			{press: "l:fa", want: []string{T("fa", "LanguageSet"), T("fa", "PrivacyNotice")}, rtl: true,
				data: []string{"t:residence:0"}, state: langIs("fa", true)},
			{say: "/help", want: []string{Td("fa", "Help", city)}, rtl: true},
		}},
		{name: "empty language code is asked, then questions get English", code: "", steps: []step{
			{say: "residence permit", want: []string{T("en", "ChooseLanguage"), T("en", "PrivacyNotice"), "Immigration office — Ausländerbehörde Teststadt"}},
			{say: "residence permit", notWant: []string{T("de", "ChooseLanguage"), T("en", "PrivacyNotice")},
				want: []string{"Immigration office"}},
		}},
		{name: "arabic question gets an arabic card", code: "ar", steps: []step{
			{say: "دائرة الأجانب", rtl: true,
				want: []string{T("ar", "PrivacyNotice"), "دائرة الأجانب — Ausländerbehörde Teststadt",
					"مسؤولة عن تصاريح الإقامة", Td("ar", "CardOpenUntil", map[string]any{"Time": "12:00"}),
					Td("ar", "CardLanguages", map[string]any{"Languages": "Deutsch, English, العربية, پښتو"}),
					Td("ar", "CardDistrict", map[string]any{"District": "وسط المدينة"})},
				notWant: []string{T("ar", "CardOnlyGerman"), T("ar", "CardOnlyEnglish")},
				data:    []string{"d:auslaenderbehoerde", "m:auslaenderbehoerde", "p", "menu"},
				state: func(t *testing.T, s bot.Session, err error) {
					langIs("ar", false)(t, s, err)
					if s.Entry != "auslaenderbehoerde" {
						t.Errorf("session entry = %q", s.Entry)
					}
				}},
			{press: "d:auslaenderbehoerde", rtl: true, want: []string{T("ar", "CardOnlyEnglish"), "Apply eight weeks"}},
		}},
		{name: "question without answer is honest", code: "en", steps: []step{
			{say: "/start"},
			{say: "where can I repair my bicycle chain", want: []string{T("en", "NotKnown")},
				notWant: []string{"Ausländerbehörde", "Wohngeld"}, data: []string{"p", "menu"}},
		}},
		{name: "deep link opens an entry", code: "uk", steps: []step{
			{say: "/start auslaenderbehoerde", want: []string{Td("uk", "Greeting", city), T("uk", "PrivacyNotice"),
				"Відомство у справах іноземців — Ausländerbehörde Teststadt", T("uk", "CardOnlyEnglish"), "Responsible for residence permits"}},
			{say: "/start ../../etc/passwd", want: []string{Td("uk", "Greeting", city)},
				notWant: []string{"Ausländerbehörde Teststadt"}, data: []string{"t:residence:0"}},
			{say: "/start " + strings.Repeat("a", 65), data: []string{"t:residence:0"}, notWant: []string{"Ausländerbehörde Teststadt"}},
			{say: "/start no-such-entry", data: []string{"t:residence:0"}},
		}},
		{name: "deep link waits for the language choice", code: "", steps: []step{
			{say: "/start sprachcafe", want: []string{T("de", "ChooseLanguage")}, notWant: []string{"Sprachcafé im Bürgerhaus"},
				state: func(t *testing.T, s bot.Session, err error) {
					if err != nil || s.State != "open:sprachcafe" {
						t.Errorf("state = %q (%v), want pending deep link", s.State, err)
					}
				}},
			{press: "l:de", want: []string{T("de", "LanguageSet"), T("de", "PrivacyNotice"), "Sprachcafé — Sprachcafé im Bürgerhaus"},
				state: func(t *testing.T, s bot.Session, err error) {
					langIs("de", true)(t, s, err)
					if s.State != "" {
						t.Errorf("state = %q after the deep link was shown", s.State)
					}
				}},
		}},
		{name: "topics, pages and cards", code: "en", steps: []step{
			{say: "/topics", want: []string{T("en", "MenuPrompt")}, data: []string{"t:housing:0", "lang"}},
			{press: "t:housing:0", want: []string{"Housing: choose an entry.", "Page 1 of 2"},
				data: []string{"t:housing:1", "e:wohngeldstelle", "e:wohnprojekt-01", "menu"}},
			{press: "t:housing:1", want: []string{"Page 2 of 2"}, data: []string{"t:housing:0", "e:wohnprojekt-10", "e:koordinierungsstelle"}},
			{press: "t:housing:7", want: []string{"Page 2 of 2"}},
			{press: "e:wohngeldstelle", want: []string{"Wohngeldstelle\n",
				"Closed now. Opens again tomorrow at 13:00", "Address: Rathausplatz 2, 47100 Teststadt", "Last checked: 01.10.2026"},
				notWant: []string{" — Wohngeldstelle", T("en", "CardOnlyGerman")}},
			{press: "e:sprachcafe", want: []string{"Language café — Sprachcafé im Bürgerhaus",
				"Next date: Wednesday, 02.12.2026, 15:00–17:30", "Registration: https://teststadt.example.org/sprachcafe",
				"Languages spoken there: Deutsch, Українська", "District: North district"}},
		}},
		{name: "details and map", code: "de", steps: []step{
			{press: "d:auslaenderbehoerde", want: []string{"Ausländerbehörde — Ausländerbehörde Teststadt", "Stellen Sie den Antrag acht Wochen"},
				notWant: []string{T("de", "CardOnlyGerman")}},
			{press: "m:auslaenderbehoerde", venue: true},
			{press: "d:koordinierungsstelle", want: []string{T("de", "CardNoDetails")}},
		}},
		{name: "ask a person shows the central contact", code: "en", steps: []step{
			{press: "p", want: []string{T("en", "AskPersonSoon"), "Integration coordination office — Koordinierungsstelle Integration",
				"Contact person: Frau Erika Beispiel", "Phone: +49 30 23125 100"}},
		}},
		{name: "commands", code: "tr", steps: []step{
			{say: "/help", want: []string{Td("tr", "Help", city)}},
			{say: "/privacy", want: []string{T("tr", "Privacy")}},
			{say: "/nosuchcommand", want: []string{T("tr", "UnknownCommand")}},
			{say: "/language", want: []string{T("tr", "ChooseLanguage")}, notWant: []string{T("de", "ChooseLanguage")}, data: []string{"l:tr"}},
			{press: "lang", data: []string{"l:ru"}},
			{press: "l:ru", want: []string{T("ru", "LanguageSet")}, state: langIs("ru", true)},
		}},
		{name: "forget deletes the session", code: "en", steps: []step{
			{say: "/start", state: langIs("en", false)},
			{say: "/forget", want: []string{T("en", "Forgotten")}, state: func(t *testing.T, _ bot.Session, err error) {
				if err == nil {
					t.Error("session still stored after /forget")
				}
			}},
		}},
		{name: "non-text messages", code: "en", steps: []step{
			{say: "/start"},
			{in: &bot.Incoming{Kind: bot.InPhoto, FileID: "photo-1"}, want: []string{T("en", "OnlyText")}},
			{in: &bot.Incoming{Kind: bot.InDocument, FileID: "doc-1", Text: "my passport"}, want: []string{T("en", "OnlyText")}},
			{in: &bot.Incoming{Kind: bot.InVoice}, want: []string{T("en", "OnlyText")}},
			{in: &bot.Incoming{Kind: bot.InVideo}, want: []string{T("en", "OnlyText")}},
			{in: &bot.Incoming{Kind: bot.InSticker}, want: []string{T("en", "OnlyText")}},
			{in: &bot.Incoming{Kind: bot.InContact}, want: []string{T("en", "OnlyText")}},
			{in: &bot.Incoming{Kind: bot.InLocation, Location: &bot.Location{Lat: 51.5930, Lon: 6.7480}},
				want: []string{T("en", "LocationThanks"), "You are in or near: North district.", T("en", "NearbyHeader"), "on foot"},
				data: []string{"m:auslaenderbehoerde", "menu"}},
			{in: &bot.Incoming{Kind: bot.InLocation, Location: &bot.Location{Lat: 48.1, Lon: 11.5}},
				want: []string{T("en", "LocationThanks"), T("en", "NearbyNone")}, notWant: []string{"You are in or near"}},
			{in: &bot.Incoming{Kind: bot.InOther}, noReply: true},
		}},
		{name: "edited messages", code: "en", steps: []step{
			{say: "/start"},
			{in: &bot.Incoming{Kind: bot.InEdited, Text: "immigration office"}, want: []string{"Immigration office — Ausländerbehörde Teststadt"}},
			{in: &bot.Incoming{Kind: bot.InEdited, Text: "/start", Command: "start"}, noReply: true},
		}},
		{name: "outdated and forged buttons", code: "de", steps: []step{
			{say: "/start"},
			{press: "e:no-such-entry", want: []string{T("de", "ButtonOutdated")}, data: []string{"t:residence:0"}},
			{press: "e:../../x", want: []string{T("de", "ButtonOutdated")}},
			{press: "t:housing:-1", want: []string{T("de", "ButtonOutdated")}},
			{press: "t:nosuchtopic:0", want: []string{T("de", "ButtonOutdated")}},
			{press: "l:xx", want: []string{T("de", "ButtonOutdated")}, state: langIs("de", false)},
			{press: strings.Repeat("e", 200), want: []string{T("de", "ButtonOutdated")}},
			{press: "", want: []string{T("de", "ButtonOutdated")}},
		}},
	}

	for _, conv := range convs {
		t.Run(conv.name, func(t *testing.T) {
			h := newHarness(t, mustTestKB(t))
			u := h.user(1000, conv.code)
			presses := 0
			for i, st := range conv.steps {
				var got []bot.Outgoing
				switch {
				case st.press != "" || (st.say == "" && st.in == nil):
					presses++
					got = u.press(st.press)
				case st.in != nil:
					in := u.incoming(st.in.Kind)
					in.Text, in.Command, in.Location, in.FileID = st.in.Text, st.in.Command, st.in.Location, st.in.FileID
					got = u.send(in)
				default:
					got = u.say(st.say)
				}
				checkStep(t, i, st, got)
				if st.state != nil {
					s, err := u.session()
					st.state(t, s, err)
				}
			}
			h.checkRecorder(t, presses)
		})
	}
}

func checkStep(t *testing.T, i int, st step, got []bot.Outgoing) {
	t.Helper()
	text := allText(got)
	if st.noReply {
		if len(got) != 0 {
			t.Errorf("step %d: want no reply, got %q", i, text)
		}
		return
	}
	if len(got) == 0 {
		t.Fatalf("step %d: no reply", i)
	}
	for _, w := range st.want {
		if !strings.Contains(text, w) {
			t.Errorf("step %d: reply lacks %q; got:\n%s", i, w, text)
		}
	}
	for _, w := range st.notWant {
		if strings.Contains(text, w) {
			t.Errorf("step %d: reply has %q; got:\n%s", i, w, text)
		}
	}
	data := allData(got)
	for _, d := range st.data {
		if !slices.Contains(data, d) {
			t.Errorf("step %d: no button %q; have %v", i, d, data)
		}
	}
	for _, m := range got {
		if m.Text != "" && m.RTL != st.rtl {
			t.Errorf("step %d: RTL = %v, want %v for %q", i, m.RTL, st.rtl, m.Text)
		}
	}
	hasVenue := slices.ContainsFunc(got, func(m bot.Outgoing) bool { return m.Venue != nil })
	if hasVenue != st.venue {
		t.Errorf("step %d: venue sent = %v, want %v", i, hasVenue, st.venue)
	}
}
