package i18n

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// localeFS holds the message files, named <part>.<lang>.yaml
// (active.de.yaml, tickets.de.yaml): go-i18n takes the language from the
// file name. A language may have several files, one per feature, so that
// work on different features does not touch the same file.
//
//go:embed locales/*.yaml
var localeFS embed.FS

// SourceLanguage is the language messages are written in first and the
// fallback for every message a translation lacks.
const SourceLanguage = "en"

// Catalog holds the user-interface messages of every shipped language.
// It is immutable after NewCatalog and safe for concurrent use.
type Catalog struct {
	bundle *goi18n.Bundle
	// locs has one Localizer per loaded language, built with that exact
	// tag: go-i18n's own matcher would otherwise map e.g. ru to uk.
	locs map[string]*goi18n.Localizer
	ids  []string // message ids of the source language, sorted
	// plural marks the source messages that have plural forms.
	plural map[string]bool
	// fast holds the precompiled singular messages per language (with
	// the English fallback resolved): T answers these without go-i18n,
	// whose matcher, template lookup and text/template execution were
	// the largest share of rendering a knowledge answer (fast.go).
	fast map[string]map[string]*fastMessage
	// pluralMemo holds Plural's answers without template data, keyed by
	// pluralKey: they depend on nothing else, and go-i18n's plural path
	// (operands, matcher, text/template) is a large share of an answer
	// card that offers further results.
	pluralMemo sync.Map
}

// pluralKey identifies a memoised Plural answer.
type pluralKey struct {
	lang, id string
	n        int
}

// maxPluralMemoCount bounds the counts Plural memoises (and so the memo:
// plural ids × languages × counts).
const maxPluralMemoCount = 1000

// NewCatalog loads the embedded message files. It fails if a file does not
// parse or the source language file is missing; a missing translation is
// not an error (its messages fall back to English).
func NewCatalog() (*Catalog, error) {
	return newCatalog(localeFS)
}

func newCatalog(fsys fs.FS) (*Catalog, error) {
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	files, err := fs.Glob(fsys, "locales/*.*.yaml")
	if err != nil {
		return nil, fmt.Errorf("i18n: list message files: %w", err)
	}
	c := &Catalog{bundle: b, locs: map[string]*goi18n.Localizer{}, plural: map[string]bool{}}
	byLang := map[string][]*goi18n.Message{}
	for _, f := range files {
		mf, err := b.LoadMessageFileFS(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("i18n: load %s: %w", path.Base(f), err)
		}
		lang := mf.Tag.String()
		c.locs[lang] = goi18n.NewLocalizer(b, lang)
		byLang[lang] = append(byLang[lang], mf.Messages...)
		if lang == SourceLanguage {
			for _, m := range mf.Messages {
				c.ids = append(c.ids, m.ID)
				if m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != "" {
					c.plural[m.ID] = true
				}
			}
		}
	}
	if c.locs[SourceLanguage] == nil {
		return nil, errors.New("i18n: no message file for the source language " + SourceLanguage)
	}
	sort.Strings(c.ids)
	c.fast = compileFast(byLang)
	return c, nil
}

// Languages returns the languages that have a message file, sorted.
func (c *Catalog) Languages() []string {
	out := make([]string, 0, len(c.locs))
	for l := range c.locs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Has reports whether lang has a message file of its own.
func (c *Catalog) Has(lang string) bool { return c.locs[lang] != nil }

// IDs returns the ids of all messages of the source language, sorted.
func (c *Catalog) IDs() []string { return append([]string(nil), c.ids...) }

// IsPlural reports whether the source message id has plural forms.
func (c *Catalog) IsPlural(id string) bool { return c.plural[id] }

// T returns message id in lang, executed with data. A language without a
// file, or a message missing from it, falls back to English; an unknown id
// returns the id itself so that tests and users notice. T never panics.
func (c *Catalog) T(lang, id string, data map[string]any) string {
	if s, ok := c.fastT(lang, id, data); ok {
		return s
	}
	s, _ := c.localize(lang, id, data, nil)
	return s
}

// Plural is T for a message with CLDR plural forms chosen by n; data gets
// "Count" = n unless it sets it. A missing form falls back to "other".
func (c *Catalog) Plural(lang, id string, n int, data map[string]any) string {
	if len(data) > 0 || n < 0 || n >= maxPluralMemoCount || !c.plural[id] {
		return c.plural1(lang, id, n, data)
	}
	if c.locs[lang] == nil {
		lang = SourceLanguage // as localize falls back
	}
	k := pluralKey{lang, id, n}
	if s, ok := c.pluralMemo.Load(k); ok {
		return s.(string)
	}
	s := c.plural1(lang, id, n, nil)
	c.pluralMemo.Store(k, s)
	return s
}

// plural1 is Plural without the memo.
func (c *Catalog) plural1(lang, id string, n int, data map[string]any) string {
	d := make(map[string]any, len(data)+1)
	for k, v := range data {
		d[k] = v
	}
	if _, ok := d["Count"]; !ok {
		d["Count"] = n
	}
	s, _ := c.localize(lang, id, d, n)
	return s
}

// Check renders message id in lang (with plural count n if count is true)
// and returns every problem: a missing message or plural form, a template
// error, or a missing template value. It is meant for tests and start-up
// checks; T and Plural never fail.
func (c *Catalog) Check(lang, id string, data map[string]any, n int, count bool) error {
	loc := c.locs[lang]
	if loc == nil {
		return fmt.Errorf("no message file for language %q", lang)
	}
	cfg := &goi18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if count {
		cfg.PluralCount = n
	}
	s, tag, err := loc.LocalizeWithTag(cfg)
	switch {
	case err != nil:
		return err
	case tag.String() != lang:
		return fmt.Errorf("message %q rendered in %s, not %s", id, tag, lang)
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("message %q is empty in %s", id, lang)
	case strings.Contains(s, "<no value>"):
		return fmt.Errorf("message %q in %s uses a value the data lacks: %q", id, lang, s)
	}
	return nil
}

func (c *Catalog) localize(lang, id string, data map[string]any, count any) (string, error) {
	loc := c.locs[lang]
	if loc == nil {
		loc = c.locs[SourceLanguage]
	}
	cfg := &goi18n.LocalizeConfig{MessageID: id, PluralCount: count}
	if data != nil {
		// A nil map stored in the interface would hide PluralCount data.
		cfg.TemplateData = data
	}
	s, err := loc.Localize(cfg)
	if s == "" {
		// Unknown id, or a template that failed in every form: show the
		// id rather than nothing, so the gap is visible and fixable.
		if err == nil {
			err = fmt.Errorf("message %q is empty", id)
		}
		return id, err
	}
	// A MessageNotFoundErr with text means an English fallback: fine.
	return s, err
}
