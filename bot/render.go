package bot

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// maxCardText keeps a card, details included, inside one Telegram
// message (4096 characters), so its buttons stay attached to it.
const maxCardText = 4000

// title is an entry's name in the turn's language, or its German name.
func (t *turn) title(e *knowledge.Entry) string {
	if s, _ := e.Title.In(t.lang); s != "" {
		return s
	}
	return e.NameDE
}

// titleLine is the translated name with the official German name, which
// users need to recognise signs and letters: "Immigration office —
// Ausländerbehörde Lotsenstadt".
func (t *turn) titleLine(e *knowledge.Entry) string {
	s := t.title(e)
	if s == e.NameDE || e.NameDE == "" {
		return s
	}
	return s + " — " + e.NameDE
}

func (t *turn) topicsButton() Button { return Button{Text: t.T("ButtonTopics", nil), Data: cbMenu} }

func (t *turn) personButton() Button {
	return Button{Text: t.T("ButtonAskPerson", nil), Data: cbPerson}
}

// navRow is the row that ends most answers: a person, or the topics.
func (t *turn) navRow() []Button { return []Button{t.personButton(), t.topicsButton()} }

func (t *turn) navButtons() [][]Button { return [][]Button{{t.topicsButton()}} }

// menu sends text with one button per topic.
func (t *turn) menu(text string) {
	var rows [][]Button
	for _, tp := range t.kb.Topics() {
		name, _ := tp.Name.In(t.lang)
		if name == "" {
			name = tp.ID
		}
		if b, ok := button(name, cbTopic+tp.ID+":0"); ok {
			rows = append(rows, []Button{b})
		}
	}
	rows = append(rows, []Button{{Text: t.T("ButtonLanguage", nil), Data: cbLangMenu}})
	t.text(text, rows)
}

// topicList sends one page of a topic's entries as buttons.
func (t *turn) topicList(tp knowledge.Topic, page int) {
	name, _ := tp.Name.In(t.lang)
	if name == "" {
		name = tp.ID
	}
	entries := t.kb.ByTopic(tp.ID)
	if len(entries) == 0 {
		t.text(t.T("TopicEmpty", nil), t.navButtons())
		return
	}
	pages := (len(entries) + pageSize - 1) / pageSize
	if page >= pages {
		page = pages - 1
	}
	var rows [][]Button
	for _, e := range entries[page*pageSize : min(len(entries), (page+1)*pageSize)] {
		if b, ok := button(t.title(e), cbEntry+e.ID); ok {
			rows = append(rows, []Button{b})
		}
	}
	text := t.T("TopicEntries", map[string]any{"Topic": name})
	if pages > 1 {
		text += "\n" + t.T("TopicPage", map[string]any{"Page": page + 1, "Pages": pages})
		var nav []Button
		if page > 0 {
			nav = append(nav, Button{Text: t.T("ButtonPrev", nil), Data: cbTopic + tp.ID + ":" + strconv.Itoa(page-1)})
		}
		if page < pages-1 {
			nav = append(nav, Button{Text: t.T("ButtonNext", nil), Data: cbTopic + tp.ID + ":" + strconv.Itoa(page+1)})
		}
		rows = append(rows, nav)
	}
	rows = append(rows, []Button{t.topicsButton()})
	t.text(text, rows)
}

// card sends the answer card for e; more are further matches offered as
// buttons.
func (t *turn) card(e *knowledge.Entry, more []*knowledge.Entry) {
	t.cardWithIntro("", e, more)
}

func (t *turn) cardWithIntro(intro string, e *knowledge.Entry, more []*knowledge.Entry) {
	t.s.Entry = e.ID
	var b strings.Builder
	b.Grow(len(intro) + 1024) // a card is a few hundred bytes
	if intro != "" {
		b.WriteString(intro)
		b.WriteString("\n\n")
	}
	t.writeCardText(&b, e)
	var rows [][]Button
	var top []Button
	if d, _ := e.Details.In(t.lang); d != "" {
		top = append(top, Button{Text: t.T("ButtonDetails", nil), Data: cbDetails + e.ID})
	}
	if p, _ := t.place(e); p != nil {
		top = append(top, Button{Text: t.T("ButtonMap", nil), Data: cbMap + e.ID})
	}
	if len(top) > 0 {
		rows = append(rows, top)
	}
	if e.Event != nil {
		if row := t.eventRow(e); len(row) > 0 {
			rows = append(rows, row)
		}
	}
	var alts [][]Button
	for _, m := range more {
		if bt, ok := button(t.b.cards.parts(t, m).more, cbEntry+m.ID); ok {
			alts = append(alts, []Button{bt})
		}
	}
	if len(alts) > 0 {
		b.WriteString("\n\n")
		b.WriteString(t.b.cfg.Catalog.Plural(t.lang, "MoreResults", len(alts), nil))
		rows = append(rows, alts...)
	}
	rows = append(rows, t.navRow())
	text := b.String()
	if len(text) > maxCardText { // else it has no more runes than that either
		text = clip(text, maxCardText)
	}
	t.text(text, rows)
}

// writeCardText writes an entry as plain text in the turn's language to
// b: the head (title line, note, summary; one per line), the facts (one
// per line) and the date last checked, as blocks separated by blank
// lines. Only the hours and events depend on the time; the rest of the
// card comes from the bot's card memo (cardmemo.go).
func (t *turn) writeCardText(b *strings.Builder, e *knowledge.Entry) {
	p := t.b.cards.parts(t, e)
	b.WriteString(p.head)
	sep := "\n\n" // the first fact opens the facts block
	fact := func(s string) {
		b.WriteString(sep)
		b.WriteString(s)
		sep = "\n"
	}
	for _, l := range t.hoursLines(e) {
		fact(l)
	}
	for _, l := range t.eventLines(e) {
		fact(l)
	}
	if p.facts > 0 {
		fact(p.fixed)
	}
	b.WriteString(p.tail)
}

// cardParts renders the parts of e's card that do not depend on the time.
func (t *turn) cardParts(e *knowledge.Entry) cardParts {
	var p cardParts
	p.more = t.T("ButtonMore", map[string]any{"Title": t.title(e)})
	var head strings.Builder
	head.WriteString(t.titleLine(e))
	if sum, sl := e.Summary.In(t.lang); sum != "" {
		if note := t.onlyIn(sl); note != "" {
			head.WriteString("\n")
			head.WriteString(note)
		}
		head.WriteString("\n")
		head.WriteString(sum)
	}
	p.head = head.String()

	var facts []string
	if a := formatAddress(e.Address); a != "" {
		facts = append(facts, t.T("CardAddress", map[string]any{"Address": a}))
	}
	if e.ContactPerson != "" {
		facts = append(facts, t.T("CardContactPerson", map[string]any{"Name": e.ContactPerson}))
	}
	if c := e.Contact; c.Phone != "" {
		facts = append(facts, t.T("CardPhone", map[string]any{"Phone": c.Phone}))
	}
	if c := e.Contact; c.Email != "" {
		facts = append(facts, t.T("CardEmail", map[string]any{"Email": c.Email}))
	}
	if c := e.Contact; c.Website != "" {
		facts = append(facts, t.T("CardWebsite", map[string]any{"URL": c.Website}))
	}
	if len(e.Languages) > 0 {
		facts = append(facts, t.T("CardLanguages", map[string]any{"Languages": languageNames(e.Languages)}))
	}
	if e.District != "" {
		if d, ok := t.kb.Entry(e.District); ok {
			facts = append(facts, t.T("CardDistrict", map[string]any{"District": t.title(d)}))
		}
	}
	p.fixed, p.facts = strings.Join(facts, "\n"), len(facts)
	if !e.LastChecked.IsZero() {
		p.tail = "\n\n" + t.T("CardLastChecked", map[string]any{"Date": e.LastChecked.Format("02.01.2006")})
	}
	return p
}

// marked returns a short text in the user's language or, failing that, in
// the fallback language with that language's name appended, so a reader
// knows why the note is in a language they may not read.
func (t *turn) marked(text knowledge.Text) string {
	s, l := text.In(t.lang)
	if s == "" || l == t.lang {
		return s
	}
	return s + " (" + i18n.NativeNames[l] + ")"
}

// onlyIn is the line saying a text is shown in another language than the
// user's, or "".
func (t *turn) onlyIn(textLang string) string {
	switch {
	case textLang == t.lang || textLang == "":
		return ""
	case textLang == "de":
		return t.T("CardOnlyGerman", nil)
	case textLang == "en":
		return t.T("CardOnlyEnglish", nil)
	}
	return ""
}

func (t *turn) hoursLines(e *knowledge.Entry) []string {
	st := t.kb.Status(e, t.now)
	if !st.Known {
		return nil
	}
	var out []string
	if st.Holiday != "" {
		out = append(out, t.T("CardHoliday", map[string]any{"Holiday": st.Holiday}))
	}
	switch {
	case st.Open && !st.Until.IsZero():
		out = append(out, t.T("CardOpenUntil", map[string]any{"Time": t.clock(st.Until)}))
	case st.Open:
		out = append(out, t.T("CardOpenNow", nil))
	case !st.Next.IsZero():
		out = append(out, t.T("CardClosedNext", map[string]any{"Next": t.when(st.Next)}))
	default:
		out = append(out, t.T("CardClosed", nil))
	}
	if st.AppointmentOnly {
		out = append(out, t.T("CardAppointmentOnly", nil))
	}
	if e.Hours != nil {
		if n := t.marked(e.Hours.Note); n != "" {
			out = append(out, t.T("CardHoursNote", map[string]any{"Note": n}))
		}
	}
	return out
}

func (t *turn) eventLines(e *knowledge.Entry) []string {
	if e.Event == nil {
		return nil
	}
	var out []string
	occ, ok := t.kb.NextOccurrence(e, t.now)
	if !ok {
		out = append(out, t.T("CardEventNone", nil))
	} else {
		start, end := occ.Start.In(t.kb.Location()), occ.End.In(t.kb.Location())
		out = append(out, t.T("CardEventNext", map[string]any{
			"Weekday": t.weekday(start.Weekday()), "Date": start.Format("02.01.2006"),
			"Start": t.clock(start), "End": t.clock(end),
		}))
		if occ.Changed {
			out = append(out, t.T("CardEventChanged", nil))
			if n := t.marked(occ.Note); n != "" {
				out = append(out, n)
			}
		}
	}
	if r := e.Event.Registration; r != "" {
		out = append(out, t.T("CardRegistration", map[string]any{"URL": r}))
	}
	return out
}

// clock formats a time as HH:MM in the city's time zone.
func (t *turn) clock(tm time.Time) string { return tm.In(t.kb.Location()).Format("15:04") }

// when phrases a future moment relative to now: today, tomorrow, or
// weekday and date.
func (t *turn) when(tm time.Time) string {
	loc := t.kb.Location()
	tm, now := tm.In(loc), t.now.In(loc)
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	day := time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, loc)
	data := map[string]any{"Time": t.clock(tm)}
	switch {
	case day.Equal(today):
		return t.T("WhenToday", data)
	case day.Equal(today.AddDate(0, 0, 1)):
		return t.T("WhenTomorrow", data)
	}
	data["Weekday"] = t.weekday(tm.Weekday())
	data["Date"] = tm.Format("02.01.")
	return t.T("WhenDay", data)
}

var weekdayIDs = [...]string{"WeekdaySunday", "WeekdayMonday", "WeekdayTuesday", "WeekdayWednesday",
	"WeekdayThursday", "WeekdayFriday", "WeekdaySaturday"}

func (t *turn) weekday(d time.Weekday) string { return t.T(weekdayIDs[d%7], nil) }

// languageNames lists languages by their own names (what a speaker
// looks for), whatever the user's language.
func languageNames(codes []string) string {
	names := make([]string, 0, len(codes))
	for _, c := range codes {
		if n, ok := i18n.NativeNames[c]; ok {
			names = append(names, n)
			continue
		}
		if tag, err := language.Parse(c); err == nil {
			if n := display.Self.Name(tag); n != "" {
				names = append(names, n)
				continue
			}
		}
		names = append(names, c)
	}
	return strings.Join(names, ", ")
}

func formatAddress(a knowledge.Address) string {
	city := strings.TrimSpace(a.Postcode + " " + a.City)
	switch {
	case a.Street == "":
		return city
	case city == "":
		return a.Street
	}
	return a.Street + ", " + city
}

// details sends an entry's longer text.
func (t *turn) details(e *knowledge.Entry) {
	t.s.Entry = e.ID
	d, dl := e.Details.In(t.lang)
	if d == "" {
		t.text(t.titleLine(e)+"\n\n"+t.T("CardNoDetails", nil), [][]Button{t.navRow()})
		return
	}
	head := t.titleLine(e)
	if note := t.onlyIn(dl); note != "" {
		head += "\n" + note
	}
	t.text(clip(head+"\n\n"+d, maxCardText), [][]Button{t.navRow()})
}

// venue sends an entry's place for the map, or its card if it has no
// coordinates (the button may be older than the data).
func (t *turn) venue(e *knowledge.Entry) {
	p, at := t.place(e)
	if p == nil {
		t.card(e, nil)
		return
	}
	t.out = append(t.out, Outgoing{Venue: &Venue{
		Lat: p.Lat, Lon: p.Lon,
		Title:   t.titleLine(e),
		Address: cmp.Or(formatAddress(at.Address), formatAddress(e.Address), at.NameDE, t.title(e)),
	}})
}
