package synth

import "strings"

// Queries is a fixed mix of questions for search benchmarks: exact,
// typo, transcribed umlauts, other scripts, filler words, nonsense and a
// long text. knowledge's BenchmarkSearch and `lotse bench`
// (knowledge/searchbench) both cycle through it, so their figures
// measure the same mix.
var Queries = []string{
	"Ausländerbehörde",
	"Auslenderbehörde termin",
	"jobcentr",
	"Integrationskurs anmelden",
	"wo ist die Beratung für Frauen?",
	"Sprachkurs mit Kinderbetreuung",
	"Krankenkase Arzt",
	"Wohnung Miete Kaution",
	"Anerkennung Zeugnis",
	"where is the job centre",
	"I need help with my residence permit",
	"курс німецької мови",
	"ищу работу",
	"دورة لغة",
	"اجاره خانه",
	"kira yardımı",
	"cherche un logement",
	"asdfgh",
	"🙂🙂",
	strings.Repeat("Beratung Wohnung Arbeit Familie ", 40),
}
