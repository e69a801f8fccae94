package i18n_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"gopkg.in/yaml.v3"

	"github.com/lotse-bot/lotse/i18n"
)

func mustCatalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	c, err := i18n.NewCatalog()
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	return c
}

// sampleData has a value for every placeholder the messages use; a
// message using any other placeholder renders "<no value>" and fails.
var sampleData = map[string]any{
	"City": "Lotsenstadt", "Topic": "Housing", "Page": 2, "Pages": 3, "Title": "Ausländerbehörde",
	"Count": 2, "District": "Nord", "Address": "Marktplatz 1, 47100 Lotsenstadt", "Time": "08:00",
	"Next": "tomorrow at 08:00", "Holiday": "Neujahr", "Note": "Bitte Termin vereinbaren",
	"Weekday": "Monday", "Date": "24.11.2026", "Phone": "+49 30 23125 101", "Email": "a@example.org",
	"URL": "https://lotsenstadt.example.org", "Languages": "Deutsch, English", "Name": "Frau Beispiel",
	"Start": "15:00", "End": "17:30",
	// Requests to a person.
	"Ref": "K-7F3Q", "Days": "2 working days", "Due": "Thursday 26.11.2026 10:00", "Files": 1,
	"Text": "Ich habe einen Brief bekommen.", "Person": "Quartiersmanagement Nord", "Outcome": "Solved",
	"Language": "العربية", "State": "waiting",
	// Events, nearby places, volunteers, privacy, reports.
	"When": "tomorrow at 15:00", "Distance": "1,2 km", "Minutes": 15, "Districts": "mitte, nord",
	"Subscriptions": 2, "Requests": 1,
	// Broadcasts.
	"Audience": "Nord · Alle", "Done": 40, "Total": 100, "Delivered": 37, "Blocked": 2, "Failed": 1, "Pending": 60,
}

// pluralCounts reaches every CLDR cardinal form of every shipped
// language: 0 (ar zero), 1, 2 (ar two), 3-10 (ar few), 11-99 (ar many),
// 21/22/25 (uk/ru one/few/many), 100+ (other) and 10^6 (fr many).
func pluralCounts() []int {
	var ns []int
	for n := 0; n <= 200; n++ {
		ns = append(ns, n)
	}
	return append(ns, 1000, 1001, 1000000)
}

// TestCatalogComplete fails until every shipped language has a message
// file with every message of the source language, in every plural form
// its CLDR rules need. It is the test that tracks translation work.
func TestCatalogComplete(t *testing.T) {
	c := mustCatalog(t)
	for _, lang := range i18n.Languages {
		t.Run(lang, func(t *testing.T) {
			if !c.Has(lang) {
				t.Fatalf("missing message files locales/*.%s.yaml", lang)
			}
			var missing []string
			for _, id := range c.IDs() {
				if err := checkMessage(c, lang, id); err != nil {
					missing = append(missing, err.Error())
				}
			}
			if len(missing) > 0 {
				t.Errorf("%d problems:\n%s", len(missing), strings.Join(missing, "\n"))
			}
		})
	}
}

func checkMessage(c *i18n.Catalog, lang, id string) error {
	if !c.IsPlural(id) {
		return c.Check(lang, id, sampleData, 0, false)
	}
	for _, n := range pluralCounts() {
		d := map[string]any{}
		for k, v := range sampleData {
			d[k] = v
		}
		d["Count"] = n
		if err := c.Check(lang, id, d, n, true); err != nil {
			return err
		}
	}
	return nil
}

// TestLoadedLanguages checks the message files that exist: the source
// and German must be complete, and in every file the messages present
// must have every plural form the language needs and render with the
// sample data. Missing messages are TestCatalogComplete's business.
func TestLoadedLanguages(t *testing.T) {
	c := mustCatalog(t)
	langs := c.Languages()
	for _, must := range []string{"en", "de"} {
		if !c.Has(must) {
			t.Fatalf("no message file for %s; have %v", must, langs)
		}
	}
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			for _, id := range c.IDs() {
				err := checkMessage(c, lang, id)
				var nf *goi18n.MessageNotFoundErr
				if errors.As(err, &nf) && lang != "en" && lang != "de" {
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
}

func TestSourceMessagesDescribed(t *testing.T) {
	files, err := filepath.Glob("locales/*.en.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no English message files: %v", err)
	}
	msgs := map[string]map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var part map[string]map[string]string
		if err := yaml.Unmarshal(raw, &part); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for id, m := range part {
			if _, dup := msgs[id]; dup {
				t.Errorf("%s: message %s is defined in another English file too", f, id)
			}
			msgs[id] = m
		}
	}
	if len(msgs) < 20 {
		t.Fatalf("only %d messages parsed", len(msgs))
	}
	for id, m := range msgs {
		if strings.TrimSpace(m["description"]) == "" {
			t.Errorf("%s has no description for translators", id)
		}
		if m["other"] == "" {
			t.Errorf("%s has no 'other' form", id)
		}
		if m["one"] != "" && !strings.Contains(m["other"], "{{.Count}}") {
			t.Errorf("%s: plural message should show {{.Count}}", id)
		}
	}
	c := mustCatalog(t)
	if got := len(c.IDs()); got != len(msgs) {
		t.Errorf("catalog has %d ids, file %d", got, len(msgs))
	}
}

func TestTFallbacks(t *testing.T) {
	c := mustCatalog(t)
	en := c.T("en", "ChooseLanguage", nil)
	if en == "" || en == "ChooseLanguage" {
		t.Fatalf("en ChooseLanguage = %q", en)
	}
	tests := []struct {
		name, lang, id string
		want           string
	}{
		{"german", "de", "ChooseLanguage", "Bitte wählen Sie Ihre Sprache:"},
		{"language without file falls back to English", "xx", "ChooseLanguage", en},
		{"empty language", "", "ChooseLanguage", en},
		{"unknown id returns id", "de", "NoSuchMessage", "NoSuchMessage"},
		{"template data", "de", "CardPhone", "Telefon: +49 30 23125 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.T(tt.lang, tt.id, sampleData); got != tt.want {
				t.Errorf("T(%q, %q) = %q, want %q", tt.lang, tt.id, got, tt.want)
			}
		})
	}
	if !c.Has("ru") {
		// go-i18n's own matcher would pick a Cyrillic file for ru;
		// we must fall back to English instead.
		if got := c.T("ru", "ChooseLanguage", nil); got != en {
			t.Errorf("ru without a file = %q, want English %q", got, en)
		}
	}
}

func TestPlural(t *testing.T) {
	c := mustCatalog(t)
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "I found 1 more matching entry, see the button below."},
		{"en", 3, "I found 3 more matching entries, see the buttons below."},
		{"de", 1, "Ich habe noch 1 passenden Eintrag gefunden, siehe den Knopf unten."},
		{"de", 0, "Ich habe noch 0 passende Einträge gefunden, siehe die Knöpfe unten."},
	}
	for _, tt := range tests {
		if got := c.Plural(tt.lang, "MoreResults", tt.n, nil); got != tt.want {
			t.Errorf("Plural(%s, %d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
	// Plural on a non-plural message, and on every shipped language, never
	// panics and never returns an empty string.
	for _, lang := range append(append([]string{}, i18n.Languages...), "xx") {
		for _, n := range []int{-1, 0, 1, 2, 5, 11, 1000000} {
			if got := c.Plural(lang, "MoreResults", n, nil); got == "" || got == "MoreResults" {
				t.Errorf("Plural(%s, %d) = %q", lang, n, got)
			}
			if got := c.Plural(lang, "CardClosed", n, nil); got == "" {
				t.Errorf("Plural(%s, CardClosed, %d) empty", lang, n)
			}
		}
	}
}

func TestLanguages(t *testing.T) {
	c := mustCatalog(t)
	for _, l := range c.Languages() {
		if !i18n.Supported(l) {
			t.Errorf("message file for %q, which is not a shipped language", l)
		}
	}
}
