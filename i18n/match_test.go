package i18n_test

import (
	"testing"

	"github.com/lotse-bot/lotse/i18n"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		code   string
		want   string
		wantOK bool
	}{
		// Shipped languages, with and without region, any case.
		{"de", "de", true},
		{"DE", "de", true},
		{"de-AT", "de", true},
		{"de-CH", "de", true},
		{"en", "en", true},
		{"en-US", "en", true},
		{"en-GB", "en", true},
		{"ar", "ar", true},
		{"ar-EG", "ar", true},
		{"ar-SY", "ar", true},
		{"fa", "fa", true},
		{"fa-IR", "fa", true},
		{"fa-AF", "fa", true},
		{"uk", "uk", true},
		{"uk-UA", "uk", true},
		{"ru", "ru", true},
		{"ru-UA", "ru", true},
		{"tr", "tr", true},
		{"fr", "fr", true},
		{"fr-CA", "fr", true},
		{" fr ", "fr", true},
		// Overrides.
		{"prs", "fa", true},
		{"ps", "fa", true},
		{"az", "tr", true},
		{"be", "ru", true},
		{"kk", "ru", true},
		{"ky", "ru", true},
		{"tg", "ru", true},
		{"ckb", "", false},
		{"ku", "", false},
		{"kmr", "", false},
		{"ku-Arab", "", false},
		{"uz", "", false},
		// CLDR's own High matches.
		{"ti", "en", true},
		{"lb", "de", true},
		// No confident match: ask.
		{"", "", false},
		{"   ", "", false},
		{"pt-br", "", false},
		{"es", "", false},
		{"pl", "", false},
		{"zh-hans", "", false},
		{"he", "", false},
		{"und", "", false},
		{"not a tag!", "", false},
		{"x-klingon", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, ok := i18n.Match(tt.code)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Match(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.wantOK)
			}
			if ok && !i18n.Supported(got) {
				t.Errorf("Match(%q) = %q, which is not a shipped language", tt.code, got)
			}
		})
	}
}
