package knowledge

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/lotse-bot/lotse/i18n"
)

// How the search works
//
// Every text of an entry is cut into search keys (i18n.Tokens, plus a light
// Arabic/Persian stemmer) and filed under the entry with two weights: how
// much a match in that field says the entry covers the word (conf: names
// and keywords 1, summaries 0.7, details 0.5, ...) and how much it says the
// entry is about the word (rank: names 1, summaries 0.35, ...; long names
// less). Glossary concepts an entry lists or mentions add all of the
// concept's terms, in every language, with a lower rank.
//
// A question is cut the same way; stopwords go, adjacent words are joined
// where only the join is known ("Job Center") or it is a stopword
// ("می خواهم"). Each remaining word finds terms of the vocabulary exactly,
// within a small edit distance (a SymSpell deletion table makes this a few
// binary searches, not a scan), or by a shared prefix or suffix
// (inflections, compounds). Each word weighs its inverse document
// frequency (words asking for a property, like "opening hours", less; words
// the base does not know at all weigh like rare words, so "Pizza bestellen"
// covers nothing). An entry's confidence is the weighted share of the
// question's words it covers, each discounted by the quality of the match
// and the field it was found in; its score sums the rank weights.
// Everything the query touches is bounded: 2 KB of text, 32 words, a few
// dozen candidate terms per word.

// field says how much a match in one kind of field counts: conf for the
// confidence (does the entry cover the word?), rank for the order (is the
// entry about the word?). Short fields are names and keywords.
type field struct {
	conf, rank float32
	short      bool
}

var (
	fName    = field{1, 1, true}        // name_de, titles, keywords
	fID      = field{0.8, 0.8, true}    // the entry id's words, postcodes
	fPlace   = field{0.6, 0.5, true}    // district, contact person, role
	fAddress = field{0.5, 0.3, true}    // street and postcode
	fSummary = field{0.7, 0.35, false}  // summaries
	fDetails = field{0.5, 0.2, false}   // details
	fTopic   = field{0.35, 0.15, false} // names of the entry's topics: broad, never an answer alone
)

// A glossary concept the entry is about adds its terms with these shares
// of the weights of the field that mentions it: the concept makes the
// entry findable, but an entry that names the term itself ranks first.
const (
	conceptConf = 0.9
	conceptRank = 0.5
)

// Limits that bound the work one query can cause.
const (
	maxQueryBytes   = 2048  // longer questions are cut (on a rune boundary)
	maxQueryTokens  = 32    // content words considered per question
	maxPartial      = 48    // prefix/suffix candidates per word and direction
	maxFuzzyRunes   = 48    // longer words are matched exactly only
	symPrefix       = 7     // SymSpell prefix length
	unknownWeight   = 0.6   // weight of an unknown word, as a share of the rarest word's
	inflected       = 0.85  // quality of a match that differs by an ending of one or two runes
	phraseShare     = 0.5   // rank weight of two query words found as one term, as a share of its idf
	maxCands        = 12    // candidate terms per query word
	maxUnitPostings = 20000 // postings visited per query word, beyond its best candidate
)

// posting says that a term occurs in an entry, and how well.
type posting struct {
	doc  int32
	conf float32
	rank float32
}

// index is the immutable search index of one KB.
type index struct {
	entries  []*Entry
	terms    []string         // term id -> search key
	runes    [][]rune         // term id -> its runes, for edit distances
	ids      map[string]int32 // search key -> term id
	idf      []float32
	maxIDF   float32
	start    []int32   // postings of term t: post[start[t]:start[t+1]]
	post     []posting // sorted by term, then doc
	sorted   []int32   // term ids in byte order of the term
	rsorted  []int32   // term ids in byte order of the reversed term
	rterms   []string  // term id -> reversed term
	delTable []uint64  // SymSpell: hash of a deletion variant << 24 | term id, sorted
	stop     map[string]bool
	intent   map[string]bool // words asking about a property, see intentWords
	pool     sync.Pool       // *scratch
}

// scratch holds the per-query accumulators, reused through index.pool.
type scratch struct {
	uc, ur   []float32 // best conf/rank of the current word, per entry
	tc, tr   []float32 // weighted totals, per entry
	inUnit   []bool
	inAll    []bool
	unitDocs []int32
	allDocs  []int32
	cands    []cand
}

type cand struct {
	term    int32
	quality float32
}

// builder holds the state of newIndex. Every distinct key gets a build id
// on first sight, so each token costs one map lookup; per-entry weights
// live in slices indexed by build id.
type builder struct {
	ix      *index
	ids     map[string]int32
	keys    []string
	stop    []bool
	natural []bool     // occurs as a word, not only as a join
	starts  [][]phrase // glossary phrases starting with the key
	posts   [][]posting
	memo    map[string][]int32 // keys of texts repeated across entries (topic and district names)

	// The entry being built.
	conf, rank []float32
	touched    []int32
	concepts   map[int]field // concept index -> weights of the best mention
}

// phrase is one glossary term as a sequence of build ids.
type phrase struct {
	concept int
	ids     []int32
}

func (b *builder) id(k string) int32 {
	if id, ok := b.ids[k]; ok {
		return id
	}
	id := int32(len(b.keys))
	b.ids[k] = id
	b.keys = append(b.keys, k)
	b.stop = append(b.stop, b.ix.stop[k])
	b.natural = append(b.natural, false)
	b.starts = append(b.starts, nil)
	b.posts = append(b.posts, nil)
	b.conf = append(b.conf, 0)
	b.rank = append(b.rank, 0)
	return id
}

func (b *builder) idsOf(text string) []int32 {
	ks := searchKeys(text)
	out := make([]int32, len(ks))
	for i, k := range ks {
		out[i] = b.id(k)
	}
	return out
}

func (b *builder) put(id int32, conf, rank float32) {
	if b.conf[id] == 0 && b.rank[id] == 0 {
		b.touched = append(b.touched, id)
	}
	b.conf[id] = max(b.conf[id], conf)
	b.rank[id] = max(b.rank[id], rank)
}

// flush turns the entry's weights into postings.
func (b *builder) flush(doc int) {
	for _, id := range b.touched {
		b.posts[id] = append(b.posts[id], posting{doc: int32(doc), conf: b.conf[id], rank: b.rank[id]})
		b.conf[id], b.rank[id] = 0, 0
	}
	b.touched = b.touched[:0]
	clear(b.concepts)
}

func newIndex(kb *KB) *index {
	ix := &index{entries: kb.entries, ids: make(map[string]int32), stop: stopSet(), intent: intentSet()}
	b := &builder{ix: ix, ids: make(map[string]int32), memo: make(map[string][]int32), concepts: make(map[int]field)}

	// Glossary: phrases by their first key, and each concept's expansion.
	expand := make([][]int32, len(kb.concepts))
	for ci, c := range kb.concepts {
		seen := make(map[int32]bool)
		for _, lang := range sortedKeys(c.Terms) {
			for _, term := range c.Terms[lang] {
				ids := b.idsOf(term)
				if len(ids) == 0 {
					continue
				}
				b.starts[ids[0]] = append(b.starts[ids[0]], phrase{concept: ci, ids: ids})
				var content []string
				for _, id := range ids {
					b.natural[id] = true
					if !b.stop[id] {
						content = append(content, b.keys[id])
						if !seen[id] {
							seen[id] = true
							expand[ci] = append(expand[ci], id)
						}
					}
				}
				if len(content) > 1 { // "Job Center" also as one word
					if j := b.id(strings.Join(content, "")); !seen[j] {
						seen[j] = true
						expand[ci] = append(expand[ci], j)
					}
				}
			}
		}
	}
	conceptIdx := make(map[string]int, len(kb.concepts))
	for i, c := range kb.concepts {
		conceptIdx[c.ID] = i
	}
	topicNames := make(map[string]Text, len(kb.topics))
	for _, t := range kb.topics {
		topicNames[t.ID] = t.Name
	}

	for doc, e := range kb.entries {
		add := func(text string, f field) { b.addText(b.idsOf(text), f) }
		addMemo := func(text string, f field) {
			ids, ok := b.memo[text]
			if !ok {
				ids = b.idsOf(text)
				b.memo[text] = ids
			}
			b.addText(ids, f)
		}
		add(e.NameDE, fName)
		for _, l := range sortedKeys(e.Title) {
			add(e.Title[l], fName)
		}
		for _, l := range sortedKeys(e.Keywords) {
			for _, k := range e.Keywords[l] {
				add(k, fName)
			}
		}
		add(e.ID, fID)
		for _, l := range sortedKeys(e.Summary) {
			add(e.Summary[l], fSummary)
		}
		for _, l := range sortedKeys(e.Details) {
			add(e.Details[l], fDetails)
		}
		addMemo(e.ContactPerson, fPlace)
		addMemo(e.Role, fPlace)
		add(e.Address.Street, fAddress)
		addMemo(e.Address.Postcode, fAddress)
		for _, p := range e.Postcodes {
			addMemo(p, fID)
		}
		if dist, ok := kb.byID[e.District]; ok && dist != e {
			addMemo(dist.ID, fPlace)
			addMemo(dist.NameDE, fPlace)
			for _, l := range sortedKeys(dist.Title) {
				addMemo(dist.Title[l], fPlace)
			}
		}
		for _, t := range e.Topics {
			for _, l := range sortedKeys(topicNames[t]) {
				addMemo(topicNames[t][l], fTopic)
			}
		}
		for _, c := range e.Concepts {
			if ci, ok := conceptIdx[c]; ok {
				b.concepts[ci] = fName
			}
		}
		for ci, w := range b.concepts {
			// The concept makes the entry findable, but an entry that
			// names the term itself ranks first.
			for _, id := range expand[ci] {
				b.put(id, conceptConf*w.conf, conceptRank*w.rank)
			}
		}
		b.flush(doc)
	}

	// Vocabulary in byte order (terms with postings only); postings
	// flattened in the same order.
	order := make([]int32, 0, len(b.keys))
	total := 0
	for id, ps := range b.posts {
		if len(ps) > 0 {
			order = append(order, int32(id))
			total += len(ps)
		}
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(b.keys[x], b.keys[y]) })
	n := float64(len(kb.entries))
	ix.maxIDF = float32(math.Log(1 + (n-1+0.5)/(1+0.5)))
	ix.terms = make([]string, len(order))
	ix.start = make([]int32, len(order)+1)
	ix.idf = make([]float32, len(order))
	ix.runes = make([][]rune, len(order))
	ix.rterms = make([]string, len(order))
	ix.post = make([]posting, 0, total)
	words := make([]bool, len(order))
	for i, bid := range order {
		k := b.keys[bid]
		ix.terms[i] = k
		ix.ids[k] = int32(i)
		ps := b.posts[bid] // in doc order already
		ix.start[i] = int32(len(ix.post))
		ix.post = append(ix.post, ps...)
		df := float64(len(ps))
		ix.idf[i] = float32(math.Log(1 + (n-df+0.5)/(df+0.5)))
		ix.runes[i] = []rune(k)
		ix.rterms[i] = reverseString(ix.runes[i])
		// Only words take part in fuzzy and partial matching: joined
		// names ("integrationskonferenzfeldmark") would only add noise.
		if words[i] = b.natural[bid]; words[i] {
			ix.sorted = append(ix.sorted, int32(i))
		}
	}
	ix.start[len(order)] = int32(len(ix.post))
	ix.rsorted = slices.Clone(ix.sorted)
	slices.SortFunc(ix.rsorted, func(x, y int32) int { return strings.Compare(ix.rterms[x], ix.rterms[y]) })
	ix.buildDeletes(words)
	ix.pool.New = func() any {
		m := len(ix.entries)
		return &scratch{
			uc: make([]float32, m), ur: make([]float32, m),
			tc: make([]float32, m), tr: make([]float32, m),
			inUnit: make([]bool, m), inAll: make([]bool, m),
		}
	}
	return ix
}

// addText files the keys of one field of an entry and notes the glossary
// concepts the field mentions. Short fields (names, keywords) rank lower
// the more words they have: "Jobcenter" is about the Jobcenter, "Fallmanagement
// im Jobcenter für Familien" less so.
func (b *builder) addText(ids []int32, f field) {
	if len(ids) == 0 {
		return
	}
	rank := f.rank
	if f.short && len(ids) > 3 {
		rank = f.rank / (1 + 0.1*float32(len(ids)-3))
	}
	var content [3]int32
	nc := 0
	for i, id := range ids {
		for _, p := range b.starts[id] {
			if b.hasPhrase(ids[i:], p.ids) && b.concepts[p.concept].conf < f.conf {
				b.concepts[p.concept] = field{conf: f.conf, rank: rank}
			}
		}
		if b.stop[id] || !meaningful(b.keys[id]) {
			continue
		}
		b.natural[id] = true
		b.put(id, f.conf, rank)
		if nc < len(content) {
			content[nc] = id
		}
		nc++
	}
	// A short name of two or three words also as one: "Job Centre" is
	// asked for as "Jobcentre".
	if f.short && (nc == 2 || nc == 3) {
		var j strings.Builder
		for _, id := range content[:nc] {
			j.WriteString(b.keys[id])
		}
		b.put(b.id(j.String()), f.conf*0.9, rank*0.9)
	}
}

// hasPhrase reports whether ids starts with p.
func (b *builder) hasPhrase(ids, p []int32) bool {
	if len(ids) < len(p) {
		return false
	}
	for i := range p {
		if ids[i] != p[i] {
			return false
		}
	}
	return true
}

// meaningful reports whether a key is worth indexing: one letter says
// nothing, one digit may (a house number is never asked for alone).
func meaningful(k string) bool {
	return utf8.RuneCountInString(k) >= 2
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func reverseString(r []rune) string {
	b := make([]rune, len(r))
	for i, c := range r {
		b[len(r)-1-i] = c
	}
	return string(b)
}

// searchKeys cuts a text into search keys.
func searchKeys(s string) []string {
	toks := i18n.Tokens(s)
	for i, t := range toks {
		toks[i] = stem(t)
	}
	return toks
}

// Arabic-script affixes removed by stem, longest first.
var (
	arPrefixes = []string{"وال", "بال", "کال", "فال", "لل", "ال"}
	arSuffixes = []string{"های", "ها", "ات", "ه", "ی"}
)

// stem removes the Arabic article and common Arabic/Persian plural and
// gender endings, so that "الدورة", "دورة" and "دورات" (course, courses)
// and "کلاس‌ها" / "کلاس" share a key. Other scripts are left alone: their
// inflections are matched by shared prefixes at query time. The key keeps
// at least three letters, so short words are not mangled.
func stem(t string) string {
	r, _ := utf8.DecodeRuneInString(t)
	if r < 0x600 || r > 0x6ff {
		return t
	}
	n := utf8.RuneCountInString(t)
	for _, p := range arPrefixes {
		if pn := utf8.RuneCountInString(p); n-pn >= 3 && strings.HasPrefix(t, p) {
			t, n = t[len(p):], n-pn
			break
		}
	}
	for _, s := range arSuffixes {
		if sn := utf8.RuneCountInString(s); n-sn >= 3 && strings.HasSuffix(t, s) {
			t = t[:len(t)-len(s)]
			break
		}
	}
	return t
}

// Search returns up to limit entries matching query, best first. The
// query may be in any language and contain typos; lang, the user's
// language, only breaks ties in favour of entries translated into it.
// Results below ConfidentAt are returned too, so the bot can offer them
// as suggestions; nil if nothing matches or limit <= 0.
func (kb *KB) Search(query, lang string, limit int) []Result {
	if kb == nil || kb.index == nil || limit <= 0 {
		return nil
	}
	return kb.index.search(query, lang, limit)
}

// unit is one content word of a question.
type unit struct {
	key   string
	runes []rune
}

func (ix *index) search(query, lang string, limit int) []Result {
	if len(query) > maxQueryBytes {
		cut := maxQueryBytes
		for cut > 0 && !utf8.RuneStart(query[cut]) {
			cut--
		}
		query = query[:cut]
	}
	units, phrases := ix.queryUnits(query)
	if len(units) == 0 || len(ix.entries) == 0 {
		return nil
	}

	s := ix.pool.Get().(*scratch)
	defer ix.pool.Put(s)
	var total float32
	for _, u := range units {
		s.cands = ix.candidates(u, s.cands[:0])
		// Best candidates first; weak ones only while the work is small.
		slices.SortFunc(s.cands, func(a, b cand) int {
			switch {
			case a.quality > b.quality:
				return -1
			case a.quality < b.quality:
				return 1
			}
			return int(a.term - b.term)
		})
		budgetLeft := maxUnitPostings
		w := ix.maxIDF * unknownWeight
		var bestQ float32
		for _, c := range s.cands {
			if c.quality > bestQ || (c.quality == bestQ && ix.idf[c.term] > w) {
				bestQ, w = c.quality, ix.idf[c.term]
			}
		}
		if ix.intent[u.key] {
			w *= intentShare
		}
		total += w
		for i, c := range s.cands {
			ps := ix.post[ix.start[c.term]:ix.start[c.term+1]]
			if i > 0 && (i >= maxCands || len(ps) > budgetLeft) {
				continue
			}
			budgetLeft -= len(ps)
			for _, p := range ps {
				cf, rk := c.quality*p.conf, c.quality*p.rank
				if !s.inUnit[p.doc] {
					s.inUnit[p.doc] = true
					s.unitDocs = append(s.unitDocs, p.doc)
					s.uc[p.doc], s.ur[p.doc] = cf, rk
					continue
				}
				s.uc[p.doc] = max(s.uc[p.doc], cf)
				s.ur[p.doc] = max(s.ur[p.doc], rk)
			}
		}
		for _, doc := range s.unitDocs {
			s.tc[doc] += w * s.uc[doc]
			s.tr[doc] += w * s.ur[doc]
			s.inUnit[doc] = false
			if !s.inAll[doc] {
				s.inAll[doc] = true
				s.allDocs = append(s.allDocs, doc)
			}
		}
		s.unitDocs = s.unitDocs[:0]
	}
	for _, t := range phrases {
		w := phraseShare * ix.idf[t]
		for _, p := range ix.post[ix.start[t]:ix.start[t+1]] {
			if s.inAll[p.doc] {
				s.tr[p.doc] += w * p.rank
			}
		}
	}

	top := make([]Result, 0, min(limit, len(s.allDocs)))
	better := func(a, b Result) bool {
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.Confidence != b.Confidence {
			return a.Confidence > b.Confidence
		}
		_, la := a.Entry.Summary.In(lang)
		_, lb := b.Entry.Summary.In(lang)
		return la == lang && lb != lang
	}
	for _, doc := range s.allDocs {
		r := Result{
			Entry:      ix.entries[doc],
			Score:      float64(s.tr[doc]),
			Confidence: min(1, float64(s.tc[doc]/total)),
		}
		s.tc[doc], s.tr[doc], s.inAll[doc] = 0, 0, false
		if len(top) == limit && !better(r, top[len(top)-1]) {
			continue
		}
		i := sort.Search(len(top), func(i int) bool { return better(r, top[i]) })
		if len(top) < limit {
			top = append(top, Result{})
		}
		copy(top[i+1:], top[i:len(top)-1])
		top[i] = r
	}
	s.allDocs = s.allDocs[:0]
	if len(top) == 0 {
		return nil
	}
	return top
}

// queryUnits cuts a question into its content words: adjacent words are
// joined where the join is a known term or a stopword ("Job Center",
// "می خواهم"), stopwords and single letters dropped, duplicates removed.
//
// Two adjacent known words whose join is a term too ("integration course",
// "Wohnsitz anmelden") stay apart, and the join is returned as a phrase:
// it adds to the rank of entries that have the phrase, not to confidence.
func (ix *index) queryUnits(query string) (units []unit, phrases []int32) {
	toks := i18n.Tokens(query)
	if len(toks) > 4*maxQueryTokens {
		toks = toks[:4*maxQueryTokens]
	}
	units = make([]unit, 0, min(len(toks), maxQueryTokens))
	seen := make(map[string]bool, len(toks))
	for i := 0; i < len(toks) && len(units) < maxQueryTokens; i++ {
		k := stem(toks[i])
		if i+1 < len(toks) {
			// Join two content words that the index knows as one
			// ("Job Center"), or two parts of a stopword ("می خواهم"),
			// never a stopword with a content word.
			// Both parts known as words of their own: keep them apart, the
			// join may be a glossary phrase that many entries share.
			k2 := stem(toks[i+1])
			j := stem(toks[i] + toks[i+1])
			_, known := ix.ids[j]
			_, known1 := ix.ids[k]
			_, known2 := ix.ids[k2]
			content := known && !ix.stop[k] && !ix.stop[k2]
			if content && known1 && known2 && len(phrases) < maxQueryTokens {
				phrases = append(phrases, ix.ids[j])
			}
			if (content && !(known1 && known2)) || ix.stop[j] {
				k = j
				i++
			}
		}
		if ix.stop[k] || !meaningful(k) || seen[k] {
			continue
		}
		seen[k] = true
		units = append(units, unit{key: k, runes: []rune(k)})
	}
	return units, phrases
}

// candidates finds the vocabulary terms a query word may mean, with the
// quality of each match in (0,1].
func (ix *index) candidates(u unit, out []cand) []cand {
	id, exact := ix.ids[u.key]
	if exact {
		out = append(out, cand{id, 1})
	}
	n := len(u.runes)
	if n < 4 || n > maxFuzzyRunes || !hasLetter(u.runes) {
		return out
	}
	// With an exact match, look further only for close variants of longer
	// words ("Jobcentre" is a term of the glossary, "Jobcenter" the name
	// of the office): short words have too many neighbours ("Kurs", "kurz").
	if !exact || n >= 6 {
		out = ix.fuzzy(u, out, exact)
	}
	return ix.partial(u, out)
}

// addCand records a candidate, keeping the better quality of duplicates.
func addCand(out []cand, c cand) []cand {
	for i := range out {
		if out[i].term == c.term {
			out[i].quality = max(out[i].quality, c.quality)
			return out
		}
	}
	return append(out, c)
}

func hasLetter(r []rune) bool {
	for _, c := range r {
		if unicode.IsLetter(c) {
			return true
		}
	}
	return false
}

// budget is the number of edits tolerated in a word of n runes.
func budget(n int) int {
	switch {
	case n <= 3:
		return 0
	case n <= 6:
		return 1
	}
	return 2
}

// fuzzy finds terms within the word's edit budget (optimal string
// alignment distance) through the deletion table: a term and a word within
// distance d share a variant of their first symPrefix runes with at most d
// runes deleted from each.
func (ix *index) fuzzy(u unit, out []cand, exact bool) []cand {
	n := len(u.runes)
	b := budget(n)
	if exact {
		b = 1
	}
	forDeletes(u.runes, b, func(h uint64) {
		h = h >> 24 << 24
		i, _ := slices.BinarySearch(ix.delTable, h)
		for ; i < len(ix.delTable) && ix.delTable[i]>>24<<24 == h; i++ {
			t := int32(ix.delTable[i] & (1<<24 - 1))
			tr := ix.runes[t]
			if abs(len(tr)-n) > b || hasTerm(out, t) {
				continue
			}
			if d := osa(u.runes, tr, b); d <= b {
				q := float32(1 - 1.5*float64(d)/float64(n))
				out = append(out, cand{t, min(0.9, max(0.5, q))})
			}
		}
	})
	return out
}

func hasTerm(cs []cand, t int32) bool {
	for _, c := range cs {
		if c.term == t {
			return true
		}
	}
	return false
}

// partial finds terms sharing a long prefix with the word (inflections:
// "курсах"/"курс", "Auslander"/"Auslanderbehorde") or ending with it
// (the head of a German compound: "Beratung"/"Migrationsberatung").
func (ix *index) partial(u unit, out []cand) []cand {
	n := len(u.runes)
	pmin := max(4, n-2-n/8)
	// Prefixes, longest shared prefix first: the ranges are nested.
	lo, hi := 0, 0
	got := 0
	for p := n; p >= pmin && got < maxPartial; p-- {
		pre := string(u.runes[:p])
		nlo := sort.Search(len(ix.sorted), func(i int) bool { return ix.terms[ix.sorted[i]] >= pre })
		nhi := nlo
		for nhi < len(ix.sorted) && strings.HasPrefix(ix.terms[ix.sorted[nhi]], pre) && nhi-nlo < 4*maxPartial {
			nhi++
		}
		if p == n {
			lo, hi = nlo, nlo
		}
		for _, r := range [2][2]int{{nlo, lo}, {hi, nhi}} {
			for i := r[0]; i < r[1] && got < maxPartial; i++ {
				t := ix.sorted[i]
				m := len(ix.runes[t])
				if m == n && p == n {
					continue // the exact match
				}
				q := 0.3 + 0.6*float32(p)/float32(max(n, m)) - 0.1*float32(n-p)
				if p == min(n, m) && abs(n-m) <= 2 {
					q = inflected // one is the other plus an ending: "Kind"/"Kinder", "курс"/"курсы"
				}
				if q >= 0.45 {
					out = addCand(out, cand{t, min(q, 0.85)})
					got++
				}
			}
		}
		lo, hi = min(lo, nlo), max(hi, nhi)
	}
	// Suffixes: the word is the end of a longer term.
	rev := reverseString(u.runes)
	i := sort.Search(len(ix.rsorted), func(i int) bool { return ix.rterms[ix.rsorted[i]] >= rev })
	for got = 0; i < len(ix.rsorted) && got < maxPartial && strings.HasPrefix(ix.rterms[ix.rsorted[i]], rev); i++ {
		t := ix.rsorted[i]
		m := len(ix.runes[t])
		if m == n {
			continue
		}
		if q := 0.3 + 0.6*float32(n)/float32(m); q >= 0.45 {
			out = addCand(out, cand{t, min(q, 0.85)})
			got++
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// buildDeletes fills the SymSpell deletion table for terms that fuzzy
// matching may reach. Each entry packs a 40-bit hash of a deletion variant
// with the 24-bit id of its term, so the table is one sorted []uint64;
// hash collisions only cost an edit-distance check. Terms beyond 2^24
// are matched exactly only.
func (ix *index) buildDeletes(words []bool) {
	var table []uint64
	for t, r := range ix.runes {
		if t >= 1<<24 || len(r) < 3 || len(r) > maxFuzzyRunes+2 || !hasLetter(r) || !words[t] {
			continue
		}
		forDeletes(r, 2, func(h uint64) { table = append(table, h>>24<<24|uint64(t)) })
	}
	slices.Sort(table)
	ix.delTable = slices.Compact(table)
}

// forDeletes calls f with the hash of each variant of r's first symPrefix
// runes with up to d runes deleted (the variant without deletions too).
func forDeletes(r []rune, d int, f func(uint64)) {
	p := r[:min(len(r), symPrefix)]
	f(hashSkip(p, -1, -1))
	if d >= 1 {
		for i := range p {
			f(hashSkip(p, i, -1))
		}
	}
	if d >= 2 {
		for i := range p {
			for j := i + 1; j < len(p); j++ {
				f(hashSkip(p, i, j))
			}
		}
	}
}

// hashSkip is FNV-1a over the runes of p except positions i and j.
func hashSkip(p []rune, i, j int) uint64 {
	h := uint64(14695981039346656037)
	for k, c := range p {
		if k == i || k == j {
			continue
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// osa is the optimal string alignment distance of a and b (Damerau
// distance without repeated edits of a substring), or max+1 as soon as it
// must exceed max.
func osa(a, b []rune, maxD int) int {
	if abs(len(a)-len(b)) > maxD {
		return maxD + 1
	}
	var buf [3][maxFuzzyRunes + 4]int
	if len(b) >= len(buf[0]) {
		return maxD + 1
	}
	prev2, prev, cur := buf[0][:len(b)+1], buf[1][:len(b)+1], buf[2][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > maxD {
			return maxD + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
