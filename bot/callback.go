package bot

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/i18n"
	"github.com/lotse-bot/lotse/knowledge"
)

// Callback data: short ASCII, ids rather than labels, so that a button
// stays meaningful across languages and fits Telegram's 64 bytes. Every
// press is validated again on receipt: data can be forged, and old
// buttons can point at entries that no longer exist.
const (
	cbLang     = "l:"   // l:<lang> choose a language
	cbLangMenu = "lang" // show the language choice
	cbMenu     = "menu" // show the topics
	cbTopic    = "t:"   // t:<topic>:<page> list a topic's entries
	cbEntry    = "e:"   // e:<id> show an entry
	cbDetails  = "d:"   // d:<id> an entry's details
	cbMap      = "m:"   // m:<id> an entry's location as a venue
	cbPerson   = "p"    // ask a person
	cbMyData   = "my"   // export what is stored (/mydata)
	maxCBData  = 64     // Telegram's limit, in bytes
	maxIDLen   = 64     // longest id accepted from outside
	pageSize   = 8      // entries per page of a topic list
	maxButton  = 60     // longest button label, in runes
	ellipsis   = "…"
)

// validID reports whether s looks like an entry or topic id: 1-64 bytes of
// lower-case ASCII letters, digits and '-'. It guards deep links and
// callback data before any lookup.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (t *turn) callback() {
	data := t.in.CallbackData
	if len(data) > maxCBData {
		t.outdated()
		return
	}
	switch {
	case data == cbMenu:
		t.outcome = "menu"
		t.withLanguage(func() { t.menu(t.T("MenuPrompt", nil)) })
		return
	case data == cbLangMenu:
		t.outcome = "language"
		t.languagePrompt(false)
		return
	case data == cbPerson:
		t.withLanguage(t.askPerson)
		return
	case data == cbEvents:
		t.withLanguage(t.whatsOn)
		return
	case data == cbSubs:
		t.withLanguage(func() { t.subscriptions("") })
		return
	case data == cbMyData:
		t.myData()
		return
	case strings.HasPrefix(data, cbVolunteer):
		switch data[len(cbVolunteer):] {
		case yes:
			t.withLanguage(func() { t.setVolunteer(true) })
			return
		case no:
			t.withLanguage(func() { t.setVolunteer(false) })
			return
		}
	case strings.HasPrefix(data, cbRemind), strings.HasPrefix(data, cbCalendar):
		if e := t.event(data[2:]); e != nil {
			if data[:2] == cbRemind {
				t.withLanguage(func() { t.remindMe(e) })
			} else {
				t.withLanguage(func() { t.calendar(e) })
			}
			return
		}
	case strings.HasPrefix(data, cbUnsub):
		t.withLanguage(func() { t.unsubscribe(data[len(cbUnsub):]) })
		return
	case data == cbFollow || strings.HasPrefix(data, cbFollow+":"):
		if t.followCallback(data) {
			return
		}
	case strings.HasPrefix(data, cbReport):
		t.reportCallback(data[len(cbReport):])
		return
	case strings.HasPrefix(data, cbLang):
		if l := data[len(cbLang):]; i18n.Supported(l) {
			t.setLanguage(l)
			return
		}
	case strings.HasPrefix(data, cbTopic):
		topic, page, ok := strings.Cut(data[len(cbTopic):], ":")
		n, err := strconv.Atoi(page)
		if ok && err == nil && n >= 0 && validID(topic) {
			if tp, found := t.kb.Topic(topic); found {
				t.outcome = "topic"
				t.withLanguage(func() { t.topicList(tp, n) })
				return
			}
		}
	case strings.HasPrefix(data, cbEntry), strings.HasPrefix(data, cbDetails), strings.HasPrefix(data, cbMap):
		if e := t.entryFromData(data[2:]); e != nil {
			switch data[:2] {
			case cbEntry:
				t.outcome = "entry"
				t.withLanguage(func() { t.card(e, nil) })
			case cbDetails:
				t.outcome = "details"
				t.withLanguage(func() { t.details(e) })
			case cbMap:
				t.outcome = "map"
				t.withLanguage(func() { t.venue(e) })
			}
			return
		}
	}
	t.outdated()
}

func (t *turn) entryFromData(id string) *knowledge.Entry {
	if !validID(id) {
		return nil
	}
	e, _ := t.kb.Entry(id)
	return e
}

// outdated handles forged, stale or unknown button data: a friendly
// notice and the topics, never an error.
func (t *turn) outdated() {
	t.outcome = "stale_callback"
	t.notice = t.T("ButtonOutdatedShort", nil)
	t.withLanguage(func() { t.menu(t.T("ButtonOutdated", nil)) })
}

// button makes a callback button, dropping it (ok=false) if its data
// would exceed Telegram's limit, e.g. for an overlong id in curated data.
func button(label, data string) (Button, bool) {
	if len(data) > maxCBData || data == "" {
		return Button{}, false
	}
	return Button{Text: clip(label, maxButton), Data: data}, true
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return ellipsis
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + ellipsis
}
