package i18n

import (
	"strings"

	"golang.org/x/text/language"
)

// Product decisions CLDR does not make for us. A language listed with ""
// gets no confident match: the bot asks the user with buttons instead of
// guessing.
var matchOverrides = map[string]string{
	// Dari ("prs", or Persian tagged for Afghanistan) is written and read
	// as Persian; our "fa" texts are written to be understood by both.
	"prs": "fa",
	// Pashto: Dari is Afghanistan's lingua franca and the language of its
	// schools and offices, and most Afghans who set their phone to Pashto
	// read it; CLDR would offer English, which far fewer of them read.
	// The language menu stays one tap away for the others.
	"ps": "fa",
	// Kurdish (Sorani "ckb", Kurmanji "ku"/"kmr", Southern "sdh"): Kurds
	// come from Iraq, Syria, Turkey and Iran and read Arabic, Turkish or
	// Persian depending on where they went to school; any guess is wrong
	// for many and defaults them to a state language they may reject.
	// CLDR maps ckb to Arabic; we ask instead.
	"ckb": "", "ku": "", "kmr": "", "sdh": "",
	// Azerbaijani is close enough to Turkish to be read without effort and
	// shares its Latin script; CLDR would offer Russian.
	"az": "tr",
	// Uzbek: Latin script since the 1990s and Russian is fading among the
	// young, so Russian is no safe guess (CLDR offers it); ask.
	"uz": "",
	// Belarusian, Kazakh, Kyrgyz and Tajik users overwhelmingly read
	// Russian (an official or everyday language there). CLDR agrees at
	// High confidence; they are pinned here so the decision does not move
	// with the CLDR data shipped in golang.org/x/text.
	"be": "ru", "kk": "ru", "ky": "ru", "tg": "ru",
}

// matcher maps tags to Languages. PreferSameScript(false): with the default
// (true) a Russian-script tag falls to Ukrainian at "No" confidence, which
// is worse than asking.
var matcher = language.NewMatcher(languageTags(), language.PreferSameScript(false))

func languageTags() []language.Tag {
	tags := make([]language.Tag, len(Languages))
	for i, l := range Languages {
		tags[i] = language.MustParse(l)
	}
	return tags
}

// Match maps a Telegram language_code (an IETF tag such as "de", "de-AT",
// "pt-br", possibly empty) to one of Languages. ok is false when there is
// no confident match (Exact or High in CLDR terms, after our overrides):
// the bot should then ask the user to pick a language.
func Match(code string) (lang string, ok bool) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return "", false
	}
	tag, err := language.Parse(code)
	if err != nil {
		return "", false
	}
	base, _ := tag.Base()
	if l, found := matchOverrides[base.String()]; found {
		return l, l != ""
	}
	_, idx, conf := matcher.Match(tag)
	if conf < language.High {
		return "", false
	}
	// Use our own code, not the returned tag: it carries the user's region
	// as an extension ("de-u-rg-atzzzz").
	return Languages[idx], true
}
