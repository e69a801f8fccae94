package i18n

// Languages we ship user-interface texts for, in the order the language
// menu shows them. German is the reference language of the content.
var Languages = []string{"de", "en", "ar", "fa", "uk", "ru", "tr", "fr"}

// Native names of the shipped languages, for the language menu.
var NativeNames = map[string]string{
	"de": "Deutsch",
	"en": "English",
	"ar": "العربية",
	"fa": "فارسی / دری",
	"uk": "Українська",
	"ru": "Русский",
	"tr": "Türkçe",
	"fr": "Français",
}

// IsRTL reports whether lang is written right to left.
func IsRTL(lang string) bool {
	switch lang {
	case "ar", "fa", "he", "ur", "ps", "ckb":
		return true
	}
	return false
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}
