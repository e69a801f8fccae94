package knowledge_test

import (
	"testing"

	"github.com/lotse-bot/lotse/knowledge"
)

func TestTextFallback(t *testing.T) {
	both := knowledge.Text{"de": "Amt", "en": "Office"}
	tests := []struct {
		text           knowledge.Text
		lang           string
		want, wantLang string
	}{
		{knowledge.Text{"de": "Amt", "en": "Office", "ar": "مكتب"}, "ar", "مكتب", "ar"},
		{both, "ar", "Office", "en"}, // newcomers read English more often than German
		{both, "de", "Amt", "de"},
		{knowledge.Text{"en": "Office"}, "de", "Office", "en"},
		{knowledge.Text{"de": "Amt"}, "uk", "Amt", "de"},
		{knowledge.Text{"fr": "Bureau"}, "uk", "", ""},
		{nil, "en", "", ""},
	}
	for _, tt := range tests {
		got, gotLang := tt.text.In(tt.lang)
		if got != tt.want || gotLang != tt.wantLang {
			t.Errorf("%v.In(%q) = %q, %q; want %q, %q", tt.text, tt.lang, got, gotLang, tt.want, tt.wantLang)
		}
	}
}
