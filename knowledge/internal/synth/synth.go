// Package synth generates synthetic knowledge bases of any size, for
// benchmarks of loading and search. The output is deterministic (the same
// n gives the same files) and valid: it loads without problems.
//
// The texts are made of real words mixed with invented ones in eight
// languages and four scripts, so that an index sees a realistic spread
// of vocabulary rather than one word repeated.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing/fstest"
)

// EntriesPerFile is how many entries each generated entries file holds;
// it keeps every file well below the loader's size limit.
const EntriesPerFile = 1000

// Languages are the languages the generated texts use.
var Languages = []string{"de", "en", "ar", "fa", "uk", "ru", "tr", "fr"}

// Topics are the generated topic ids (the eight fields of action).
var Topics = []string{"housing", "language", "work", "residence", "health", "family", "social", "safety"}

// seed words per language; invented words are added from syllables.
var words = map[string][]string{
	"de": {"Wohnung", "Miete", "Sprachkurs", "Deutschkurs", "Arbeit", "Jobcenter", "Aufenthalt", "Ausländerbehörde", "Arzt", "Krankenkasse", "Kita", "Schule", "Beratung", "Familie", "Kinder", "Frauen", "Treffpunkt", "Café", "Hilfe", "Termin", "Antrag", "Formular", "Anerkennung", "Zeugnis", "Ehrenamt", "Nachbarschaft", "Sozialamt", "Wohngeld", "Bürgergeld", "Integrationskurs"},
	"en": {"flat", "rent", "language", "course", "German", "work", "job", "centre", "residence", "permit", "doctor", "health", "insurance", "school", "counselling", "family", "children", "women", "meeting", "place", "help", "appointment", "application", "form", "recognition", "certificate", "volunteer", "neighbourhood", "benefits", "housing"},
	"ar": {"سكن", "إيجار", "دورة", "لغة", "عمل", "إقامة", "طبيب", "تأمين", "مدرسة", "استشارة", "عائلة", "أطفال", "نساء", "لقاء", "مساعدة", "موعد", "طلب", "استمارة", "اعتراف", "شهادة", "تطوع", "جيران", "مساعدات", "مكتب"},
	"fa": {"مسکن", "اجاره", "کلاس", "زبان", "کار", "اقامت", "پزشک", "بیمه", "مدرسه", "مشاوره", "خانواده", "کودکان", "زنان", "دیدار", "کمک", "وقت", "درخواست", "فرم", "مدرک", "داوطلب", "همسایه", "اداره"},
	"uk": {"житло", "оренда", "курс", "мова", "робота", "перебування", "лікар", "страхування", "школа", "консультація", "родина", "діти", "жінки", "зустріч", "допомога", "запис", "заява", "форма", "визнання", "диплом", "волонтер", "сусіди", "виплати"},
	"ru": {"жильё", "аренда", "курс", "язык", "работа", "пребывание", "врач", "страховка", "школа", "консультация", "семья", "дети", "женщины", "встреча", "помощь", "запись", "заявление", "форма", "признание", "диплом", "волонтёр", "соседи", "пособие"},
	"tr": {"konut", "kira", "kurs", "dil", "iş", "oturum", "doktor", "sigorta", "okul", "danışmanlık", "aile", "çocuklar", "kadınlar", "buluşma", "yardım", "randevu", "başvuru", "form", "denklik", "diploma", "gönüllü", "komşuluk", "yardımlar"},
	"fr": {"logement", "loyer", "cours", "langue", "travail", "séjour", "médecin", "assurance", "école", "conseil", "famille", "enfants", "femmes", "rencontre", "aide", "rendez-vous", "demande", "formulaire", "reconnaissance", "diplôme", "bénévole", "voisinage", "prestations"},
}

var syllables = map[string][]string{
	"de": {"ber", "ge", "mein", "schaft", "wal", "lung", "stadt", "haus", "amt", "kur", "te", "ner"},
	"en": {"com", "mu", "ni", "ty", "ser", "vice", "port", "al", "cen", "tre", "ing", "ad"},
	"ar": {"مس", "تش", "فى", "كت", "اب", "در", "سة", "عم", "ال", "حي", "نا", "قر"},
	"fa": {"خا", "نه", "شه", "ری", "کا", "ر", "دا", "نش", "گا", "ه", "مر", "کز"},
	"uk": {"мі", "сь", "ка", "ра", "да", "цен", "тр", "по", "слу", "га", "ві", "дді"},
	"ru": {"го", "род", "ской", "от", "дел", "ус", "лу", "га", "по", "мо", "щь", "ни"},
	"tr": {"bel", "e", "di", "ye", "mer", "kez", "hiz", "met", "ler", "ça", "lış", "ma"},
	"fr": {"mai", "rie", "cen", "tre", "ser", "vi", "ce", "so", "ci", "al", "ac", "cueil"},
}

type gen struct {
	r     *rand.Rand
	vocab map[string][]string
}

func newGen() *gen {
	g := &gen{r: rand.New(rand.NewPCG(1, 2)), vocab: map[string][]string{}}
	for _, l := range Languages {
		v := append([]string(nil), words[l]...)
		syl := syllables[l]
		for i := 0; i < 400; i++ {
			n := 2 + g.r.IntN(3)
			var b strings.Builder
			for j := 0; j < n; j++ {
				b.WriteString(syl[g.r.IntN(len(syl))])
			}
			v = append(v, b.String())
		}
		g.vocab[l] = v
	}
	return g
}

func (g *gen) sentence(lang string, n int) string {
	v := g.vocab[lang]
	ws := make([]string, n)
	for i := range ws {
		ws[i] = v[g.r.IntN(len(v))]
	}
	return strings.Join(ws, " ") + "."
}

// q writes s as YAML: plain where that is safe (as curators write), else
// double-quoted.
func q(s string) string {
	plain := s != "" && !strings.ContainsAny(s, ":#,[]{}&*!|>'\"%@`\n\\") &&
		s == strings.TrimSpace(s) && !strings.ContainsAny(s[:1], "-?0123456789")
	if plain {
		return s
	}
	return strconv.Quote(s)
}

// FS returns a knowledge base of n entries (at least one) as YAML files:
// city.yaml, topics.yaml, glossary.yaml and entries-NNN.yaml with
// EntriesPerFile entries each. About one entry in 50 is a district (at
// least one), the rest cycle through the other kinds; events recur
// weekly, offices have opening hours.
func FS(n int) fstest.MapFS {
	if n < 1 {
		n = 1
	}
	g := newGen()
	fsys := fstest.MapFS{}
	fsys["city.yaml"] = &fstest.MapFile{Data: []byte(`city:
  name: Synthstadt
  state: NW
  timezone: Europe/Berlin
  sample: true
  stale_after_days: 365
`)}

	var b strings.Builder
	b.WriteString("topics:\n")
	for _, t := range Topics {
		fmt.Fprintf(&b, "  - id: %s\n    name:\n", t)
		for _, l := range Languages {
			fmt.Fprintf(&b, "      %s: %s\n", l, q(g.sentence(l, 2)))
		}
	}
	fsys["topics.yaml"] = &fstest.MapFile{Data: []byte(b.String())}

	const concepts = 60
	b.Reset()
	b.WriteString("glossary:\n")
	for i := 0; i < concepts; i++ {
		fmt.Fprintf(&b, "  - id: concept_%02d\n    terms:\n", i)
		for _, l := range Languages {
			v := g.vocab[l]
			fmt.Fprintf(&b, "      %s: [%s, %s]\n", l, q(v[(i*2)%len(v)]), q(v[(i*2+1)%len(v)]))
		}
	}
	fsys["glossary.yaml"] = &fstest.MapFile{Data: []byte(b.String())}

	districts := max(1, n/50)
	kinds := []string{"office", "counselling", "cafe", "course", "event", "person"}
	for file := 0; file*EntriesPerFile < n; file++ {
		b.Reset()
		b.WriteString("entries:\n")
		for i := file * EntriesPerFile; i < min(n, (file+1)*EntriesPerFile); i++ {
			kind := "district"
			if i >= districts {
				kind = kinds[i%len(kinds)]
			}
			g.entry(&b, i, kind, districts, concepts)
		}
		fsys[fmt.Sprintf("entries-%03d.yaml", file)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	return fsys
}

func (g *gen) entry(b *strings.Builder, i int, kind string, districts, concepts int) {
	fmt.Fprintf(b, "  - id: %s-%d\n    kind: %s\n", kind, i, kind)
	fmt.Fprintf(b, "    name_de: %s\n", q(strings.TrimSuffix(g.sentence("de", 3), ".")))
	// Every entry has German and English; others with falling frequency.
	langs := Languages[:2+i%(len(Languages)-1)]
	b.WriteString("    title:\n")
	for _, l := range langs {
		fmt.Fprintf(b, "      %s: %s\n", l, q(strings.TrimSuffix(g.sentence(l, 3), ".")))
	}
	b.WriteString("    summary:\n")
	for _, l := range langs {
		fmt.Fprintf(b, "      %s: %s\n", l, q(g.sentence(l, 12+g.r.IntN(10))))
	}
	if i%3 == 0 {
		fmt.Fprintf(b, "    details:\n      de: %s\n      en: %s\n", q(g.sentence("de", 50)), q(g.sentence("en", 50)))
	}
	fmt.Fprintf(b, "    address: {street: %s, postcode: \"%05d\", city: Synthstadt}\n", q(fmt.Sprintf("Synthweg %d", i)), 47100+i%90)
	fmt.Fprintf(b, "    geo: {lat: %.5f, lon: %.5f}\n", 51.5+g.r.Float64()/10, 6.7+g.r.Float64()/10)
	fmt.Fprintf(b, "    contact: {phone: \"+49 30 23125 %03d\", email: e%d@example.org, website: \"https://synthstadt.example.org/e/%d\"}\n", i%1000, i, i)
	b.WriteString("    languages: [de, en, ar]\n")
	switch kind {
	case "district":
		fmt.Fprintf(b, "    postcodes: [\"%05d\"]\n", 47100+i%90)
	default:
		fmt.Fprintf(b, "    district: district-%d\n", i%districts)
	}
	fmt.Fprintf(b, "    topics: [%s, %s]\n", Topics[i%len(Topics)], Topics[(i+1+(i/len(Topics))%(len(Topics)-1))%len(Topics)])
	fmt.Fprintf(b, "    keywords:\n      de: [%s]\n      en: [%s]\n", q(g.vocab["de"][g.r.IntN(len(g.vocab["de"]))]), q(g.vocab["en"][g.r.IntN(len(g.vocab["en"]))]))
	fmt.Fprintf(b, "    concepts: [concept_%02d]\n", i%concepts)
	fmt.Fprintf(b, "    last_checked: 2026-%02d-%02d\n", 1+i%12, 1+i%28)
	b.WriteString("    owner: Synthamt\n")
	switch kind {
	case "office", "counselling", "cafe":
		b.WriteString(`    hours:
      weekly:
        - {days: [mon, tue, thu], from: "08:00", to: "12:00"}
        - {days: [thu], from: "14:00", to: "17:30"}
      exceptions:
        - {date: 2026-12-24, closed: true}
`)
	case "person":
		b.WriteString("    role: quartiermanager\n    contact_person: Frau Synthia Beispiel\n")
	case "event":
		fmt.Fprintf(b, `    event:
      audience: [everybody]
      weekly:
        - {days: [%s], from: "15:00", to: "17:30"}
      from: 2026-01-01
      until: 2027-06-30
`, [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}[i%7])
	}
}
