package bot

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// Limits on what Lotse reads from a user.
const (
	// maxQuery is how much of a message is searched; longer messages are
	// almost never questions, and search cost grows with length.
	maxQuery = 300
	// searchLimit is how many results a question asks for.
	searchLimit = 4
	// nearDistrictKm is how close a shared point must be to a district's
	// centre to name that district.
	nearDistrictKm = 3.0
)

// pendingOpen prefixes Session.State while a deep-linked entry waits for
// the user to choose a language.
const pendingOpen = "open:"

func (t *turn) dispatch() {
	in := t.in
	if t.broadcastHook() {
		return
	}
	if t.ticketHook() {
		return
	}
	switch in.Kind {
	case InCallback:
		t.callback()
		return
	case InText, InEdited:
		if in.Command != "" {
			if in.Kind == InEdited {
				// Re-running a command because its text was edited
				// would surprise; edited questions are answered again.
				t.outcome = "ignored_edited_command"
				return
			}
			t.command()
			return
		}
		t.withLanguage(func() { t.question(in.Text) })
	case InLocation:
		t.withLanguage(t.location)
	case InPhoto, InDocument, InVoice, InVideo, InSticker, InContact:
		// Files are never stored or forwarded: the chat is not end-to-end
		// encrypted and we must not collect documents.
		t.outcome = "only_text"
		t.withLanguage(func() { t.text(t.T("OnlyText", nil), t.navButtons()) })
	default:
		t.outcome = "ignored_kind"
	}
}

// withLanguage runs reply, first asking new users whose language we could
// not match to choose one, and showing the first-contact notice once.
func (t *turn) withLanguage(reply func()) {
	if t.askLang {
		t.languagePrompt(true)
	}
	n := len(t.out)
	reply()
	if len(t.out) > n {
		t.ensureNotice(n)
	}
}

// ensureNotice inserts the privacy notice before the reply at index i if
// the user has not seen it yet.
func (t *turn) ensureNotice(i int) {
	if t.s.NoticeShown {
		return
	}
	t.s.NoticeShown = true
	msg := Outgoing{Text: t.T("PrivacyNotice", nil), RTL: i18n.IsRTL(t.lang)}
	t.out = append(t.out[:i], append([]Outgoing{msg}, t.out[i:]...)...)
}

func (t *turn) command() {
	switch strings.ToLower(t.in.Command) {
	case "start":
		t.start(strings.TrimSpace(t.in.Args))
	case "help", "hilfe":
		t.outcome = "help"
		t.withLanguage(func() { t.text(t.T("Help", t.cityData())+"\n\n"+t.T("HelpMore", nil), t.navButtons()) })
	case "topics", "menu", "themen":
		t.outcome = "menu"
		t.withLanguage(func() { t.menu(t.T("MenuPrompt", nil)) })
	case "language", "lang", "sprache":
		t.outcome = "language"
		t.languagePrompt(t.askLang)
	case "privacy", "datenschutz":
		t.outcome = "privacy"
		// Reading the details counts as having seen the notice.
		t.s.NoticeShown = true
		t.text(t.T("Privacy", nil), [][]Button{{{Text: t.T("ButtonMyData", nil), Data: cbMyData}}})
	case "forget", "vergessen":
		t.forget()
	case "mydata", "meinedaten":
		t.myData()
	case "events", "termine":
		t.withLanguage(t.whatsOn)
	case "subscriptions", "abos":
		t.withLanguage(func() { t.subscriptions("") })
	case "near", "nearby", "naehe":
		t.withLanguage(t.nearPrompt)
	case "volunteer", "ehrenamt":
		t.withLanguage(t.volunteerPrompt)
	case "invite":
		t.invite(t.in.Args)
	case "report", "bericht":
		t.reportCommand(t.in.Args)
	case "unanswered", "offenefragen":
		t.unansweredCommand(t.in.Args)
	default:
		t.outcome = "unknown_command"
		t.withLanguage(func() { t.text(t.T("UnknownCommand", nil), t.navButtons()) })
	}
}

// start greets the user, or opens a deep-linked entry (t.me/bot?start=<id>).
func (t *turn) start(payload string) {
	t.outcome = "start"
	if strings.HasPrefix(payload, invitePrefix) {
		t.invitation(payload)
		return
	}
	var e *knowledge.Entry
	if validID(payload) {
		e, _ = t.kb.Entry(payload)
	}
	if t.askLang {
		// Greet bilingually and let the user choose; a deep link waits.
		if e != nil {
			t.s.State = pendingOpen + e.ID
		}
		t.languagePrompt(true)
		return
	}
	if e != nil {
		t.outcome = "start_entry"
		if !t.s.NoticeShown {
			t.text(t.greeting(false), nil)
		}
		t.card(e, nil)
		return
	}
	t.welcome()
}

// welcome is the greeting, the notice (once) and the topic menu, in one message.
func (t *turn) welcome() {
	t.menu(t.greeting(true))
}

func (t *turn) greeting(howTo bool) string {
	parts := []string{t.T("Greeting", t.cityData())}
	if howTo {
		parts = append(parts, t.T("GreetingHowTo", nil))
	}
	if !t.s.NoticeShown {
		t.s.NoticeShown = true
		parts = append(parts, t.T("PrivacyNotice", nil))
	}
	return strings.Join(parts, "\n\n")
}

func (t *turn) cityData() map[string]any {
	return map[string]any{"City": t.kb.City.Name}
}

// languagePrompt asks for the language with one button per shipped
// language. bilingual greets in German and English first, for users whose
// language we do not know.
func (t *turn) languagePrompt(bilingual bool) {
	if t.outcome == "" {
		t.outcome = "ask_language"
	}
	cat := t.b.cfg.Catalog
	var text string
	rtl := false
	if bilingual {
		city := t.cityData()
		text = cat.T("de", "Greeting", city) + "\n" + cat.T("de", "ChooseLanguage", nil) +
			"\n\n" + cat.T("en", "Greeting", city) + "\n" + cat.T("en", "ChooseLanguage", nil)
		// Asked once: from now on the user gets English until they choose.
		t.askLang = false
	} else {
		text = t.T("ChooseLanguage", nil)
		rtl = i18n.IsRTL(t.lang)
	}
	var rows [][]Button
	var row []Button
	for _, l := range i18n.Languages {
		row = append(row, Button{Text: i18n.NativeNames[l], Data: cbLang + l})
		if len(row) == 2 {
			rows = append(rows, row)
			row = nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	t.out = append(t.out, Outgoing{Text: text, Buttons: rows, RTL: rtl})
}

func (t *turn) setLanguage(lang string) {
	t.outcome = "language_set"
	t.lang = lang
	t.s.Lang, t.s.LangChosen = lang, true
	t.askLang = false
	confirm := t.T("LanguageSet", nil)
	if id, ok := strings.CutPrefix(t.s.State, pendingOpen); ok {
		t.s.State = ""
		if e, found := t.kb.Entry(id); found {
			t.text(confirm, nil)
			if !t.s.NoticeShown {
				t.text(t.greeting(false), nil)
			}
			t.card(e, nil)
			return
		}
	}
	if !t.s.NoticeShown {
		t.menu(confirm + "\n\n" + t.greeting(true))
		return
	}
	t.menu(confirm + "\n\n" + t.T("MenuPrompt", nil))
}

// question answers free text from the knowledge base, or says honestly
// that it does not know. It never shows an unconfident hit as an answer.
func (t *turn) question(text string) {
	q := cleanQuery(text)
	if !hasWord(q) {
		t.outcome = "empty_question"
		t.text(t.T("EmptyQuestion", nil), t.navButtons())
		return
	}
	var confident []knowledge.Result
	for _, r := range t.kb.Search(q, t.lang, searchLimit) {
		if r.Confident() && r.Entry != nil {
			confident = append(confident, r)
		}
	}
	if len(confident) == 0 {
		t.outcome = "not_known"
		t.text(t.T("NotKnown", nil), [][]Button{t.navRow()})
		t.recordQuestion(nil, q)
		return
	}
	t.outcome = "answer"
	t.recordQuestion(confident[0].Entry, q)
	more := make([]*knowledge.Entry, 0, len(confident)-1)
	for _, r := range confident[1:] {
		more = append(more, r.Entry)
	}
	t.card(confident[0].Entry, more)
}

// cleanQuery drops invisible formatting characters (bidi overrides, zero
// width joiners are kept for Persian) and caps the length.
func cleanQuery(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= maxQuery {
			break
		}
		switch {
		case r == utf8.RuneError:
			continue
		case r == '\u200c': // ZWNJ is part of Persian spelling
		case unicode.Is(unicode.Bidi_Control, r), unicode.IsControl(r) && r != '\n' && r != '\t':
			continue
		case unicode.In(r, unicode.Cf):
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// hasWord reports whether s has a letter or digit to search for.
func hasWord(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// location names the district the user is in if that is obvious and
// lists the places nearby. The point is not stored.
func (t *turn) location() {
	t.outcome = "location"
	if l := t.in.Location; l != nil {
		t.nearby(l.Lat, l.Lon)
		return
	}
	t.nearPrompt()
}

func (t *turn) nearestDistrict(lat, lon float64) *knowledge.Entry {
	if math.IsNaN(lat) || math.IsNaN(lon) {
		return nil
	}
	var best *knowledge.Entry
	bestKm := nearDistrictKm
	for _, d := range t.kb.OfKind(knowledge.KindDistrict) {
		if d.Geo == nil {
			continue
		}
		if km := distanceKm(lat, lon, d.Geo.Lat, d.Geo.Lon); km <= bestKm {
			best, bestKm = d, km
		}
	}
	return best
}

// distanceKm is the great-circle distance (haversine).
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(math.Min(1, a)))
}

// askPerson starts a request for a person, or shows the central contact
// when no staff are configured.
func (t *turn) askPerson() {
	t.outcome = "ask_person"
	if t.b.cfg.Staff != nil {
		t.startRequest()
		return
	}
	e, ok := t.kb.Entry(t.b.cfg.CentralContactID)
	if !ok {
		t.b.log.Warn("central contact entry missing from knowledge base")
		t.text(t.T("Unavailable", nil), [][]Button{{t.topicsButton()}})
		return
	}
	t.cardWithIntro(t.T("AskPersonSoon", nil), e, nil)
}
