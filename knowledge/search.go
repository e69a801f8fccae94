package knowledge

import (
	"bytes"
	"maps"
	"math"
	"runtime"
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

	minEntriesPerWorker = 2000 // entries that are worth a parallel worker of the index build
	postBlock           = 8192 // postings per block during the build
	keysPerEntry        = 8    // expected new search keys per entry, to size maps
)

// posting says that a term occurs in an entry, and how well.
type posting struct {
	doc  int32
	conf float32
	rank float32
}

// index is the immutable search index of one KB.
//
// The entries about a glossary concept are filed once under the concept,
// not under each of its terms in every language: a concept has a dozen
// terms or more, and a base whose texts mention many concepts would
// otherwise hold most of its postings as copies. A term's entries are its
// own postings plus those of its concepts; a query takes the best weight
// per entry, as the build would have.
type index struct {
	entries []*Entry
	terms   []string         // term id -> search key, in byte order
	runes   [][]rune         // term id -> its runes, for edit distances; words only
	ids     map[string]int32 // search key -> term id
	idf     []float32
	df      []int32 // term id -> entries it finds, itself or through a concept
	maxIDF  float32
	start   []int32   // own postings of term t: post[start[t]:start[t+1]]
	post    []posting // sorted by term, then doc
	tcStart []int32   // concepts of term t: tconc[tcStart[t]:tcStart[t+1]]
	tconc   []int32
	cStart  []int32   // postings of concept c: cpost[cStart[c]:cStart[c+1]]
	cpost   []posting // sorted by concept, then doc
	sorted  []int32   // word term ids in byte order of the term
	rsorted []rword   // words in byte order of the reversed term
	// SymSpell: hash of a deletion variant << 24 | term id, sorted
	delTable []uint64
	stop     map[string]bool
	intent   map[string]bool // words asking about a property, see intentWords
	pool     sync.Pool       // *scratch
}

// rword is a word of the vocabulary written backwards, for suffix matches.
type rword struct {
	rev  string
	term int32
}

// own returns the postings filed under term t itself.
func (ix *index) own(t int32) []posting { return ix.post[ix.start[t]:ix.start[t+1]] }

// conceptsOf returns the glossary concepts term t is a term of.
func (ix *index) conceptsOf(t int32) []int32 { return ix.tconc[ix.tcStart[t]:ix.tcStart[t+1]] }

// about returns the postings of the entries about concept c.
func (ix *index) about(c int32) []posting { return ix.cpost[ix.cStart[c]:ix.cStart[c+1]] }

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

// collect keeps, per entry, the best weights of the current word among
// postings ps found with quality q.
func (s *scratch) collect(ps []posting, q float32) {
	for _, p := range ps {
		cf, rk := q*p.conf, q*p.rank
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

// collectTerm collects the postings of term t, its own and its concepts'.
func (s *scratch) collectTerm(ix *index, t int32, q float32) {
	s.collect(ix.own(t), q)
	for _, c := range ix.conceptsOf(t) {
		s.collect(ix.about(c), q)
	}
}

type cand struct {
	term    int32
	quality float32
}

// builder holds the state of one worker of newIndex. Every distinct key
// gets a build id on first sight, so each token costs one map lookup (on
// the bytes of a reused buffer: no allocation unless the key is new);
// per-entry weights live in slices indexed by build id.
//
// The glossary is read first, by one builder; each worker starts from a
// copy of it, so glossary keys have the same build id in every worker,
// and indexes a contiguous range of entries. finish merges the workers'
// vocabularies and postings in entry order.
type builder struct {
	ix      *index
	sh      *shared
	ids     map[string]int32
	keys    []string
	stop    []bool
	tiny    []bool               // too short to index on its own (not meaningful)
	natural []bool               // occurs as a word, not only as a join
	memo    map[string]*memoText // texts repeated across entries (topic and district names)
	posts   [][]tposting         // own postings of all terms, in doc order, in blocks of postBlock
	cposts  [][]posting          // concept -> postings of the entries about it
	count   []int32              // build id -> own postings, see sortVocabulary
	cdf     []int32              // glossary build id -> entries found by it or one of its concepts
	seen    []int32              // glossary build id -> last entry (plus one) counted in cdf
	sorted  []int32              // build ids that may be terms, in byte order of the key

	// The entry being built.
	conf, rank []float32
	touched    []int32
	concepts   []field // concept -> weights of the best mention; conf 0: none
	mentioned  []int32 // concepts with a mention

	// Reused buffers.
	langs []string
	text  []byte  // folded tokens of one text
	keyb  []int32 // its build ids
	join  []byte
}

// shared is what the workers of newIndex read and never write.
type shared struct {
	kb         *KB
	starts     [][]phrase // glossary build id -> glossary phrases starting with it
	expand     [][]int32  // concept -> build ids of all its terms
	conceptIdx map[string]int
	topicNames map[string]Text
	glossary   int // build ids below are the glossary's, the same in every worker
}

// fork returns a builder for a worker that indexes n entries, starting
// from the glossary builder b.
func (b *builder) fork(n int) *builder {
	// Sized for the vocabulary of the entries, so it is not rehashed as it
	// grows: most names and titles add a key of their own (the join).
	ids := make(map[string]int32, len(b.ids)+keysPerEntry*n)
	maps.Copy(ids, b.ids)
	return &builder{
		ix:       b.ix,
		sh:       b.sh,
		ids:      ids,
		keys:     slices.Clone(b.keys),
		stop:     slices.Clone(b.stop),
		tiny:     slices.Clone(b.tiny),
		natural:  slices.Clone(b.natural),
		memo:     make(map[string]*memoText),
		cposts:   make([][]posting, len(b.sh.expand)),
		conf:     make([]float32, len(b.keys)),
		rank:     make([]float32, len(b.keys)),
		concepts: make([]field, len(b.sh.expand)),
		cdf:      make([]int32, b.sh.glossary),
		seen:     make([]int32, b.sh.glossary),
	}
}

// memoText is a text repeated across entries, cut into keys once.
type memoText struct {
	ids  []int32
	join int32 // build id of the join of a short name, -1 until known
}

// tposting is a posting with its term, as collected during the build.
type tposting struct {
	term int32
	posting
}

// phrase is one glossary term as a sequence of build ids.
type phrase struct {
	concept int
	ids     []int32
}

// idOf returns the build id of key k, which is only read: a new key is
// copied, so the vocabulary never pins the buffers or texts it came from.
func (b *builder) idOf(k []byte) int32 {
	if id, ok := b.ids[string(k)]; ok {
		return id
	}
	return b.newKey(string(k))
}

// newKey gives key a new build id.
func (b *builder) newKey(key string) int32 {
	id := int32(len(b.keys))
	b.ids[key] = id
	b.keys = append(b.keys, key)
	b.stop = append(b.stop, b.ix.stop[key])
	b.tiny = append(b.tiny, !meaningful(key))
	b.natural = append(b.natural, false)
	b.conf = append(b.conf, 0)
	b.rank = append(b.rank, 0)
	return id
}

// keysOf returns the build ids of the search keys of text (see
// searchKeys), in a buffer valid until the next call.
func (b *builder) keysOf(text string) []int32 {
	b.text = i18n.AppendTokens(b.text[:0], text)
	b.keyb = b.keyb[:0]
	if len(b.text) == 0 {
		return b.keyb
	}
	for t := b.text; ; {
		end := bytes.IndexByte(t, ' ')
		if end < 0 {
			end = len(t)
		}
		i, j := stemRange(t[:end])
		b.keyb = append(b.keyb, b.idOf(t[i:j]))
		if end == len(t) {
			return b.keyb
		}
		t = t[end+1:]
	}
}

func (b *builder) put(id int32, conf, rank float32) {
	if b.conf[id] == 0 && b.rank[id] == 0 {
		b.touched = append(b.touched, id)
	}
	b.conf[id] = max(b.conf[id], conf)
	b.rank[id] = max(b.rank[id], rank)
}

// mention records that the entry mentions concept c with weights f.
// Only a stronger mention replaces an earlier one, unless force.
func (b *builder) mention(c int, f field, force bool) {
	if b.concepts[c].conf == 0 {
		b.mentioned = append(b.mentioned, int32(c))
	}
	if force || b.concepts[c].conf < f.conf {
		b.concepts[c] = f
	}
}

// flush turns the entry's weights into postings.
func (b *builder) flush(doc int) {
	for _, id := range b.touched {
		// Blocks, not one slice: growing a slice of millions of postings
		// would copy them again and again.
		if len(b.posts) == 0 || len(b.posts[len(b.posts)-1]) == postBlock {
			b.posts = append(b.posts, make([]tposting, 0, postBlock))
		}
		last := &b.posts[len(b.posts)-1]
		*last = append(*last, tposting{id, posting{doc: int32(doc), conf: b.conf[id], rank: b.rank[id]}})
		b.conf[id], b.rank[id] = 0, 0
	}
	// Document frequencies of the glossary's keys: an entry found by a
	// key and one of its concepts, or by two concepts, counts once.
	stamp := int32(doc) + 1
	for _, id := range b.touched {
		if int(id) < b.sh.glossary && b.seen[id] != stamp {
			b.seen[id] = stamp
			b.cdf[id]++
		}
	}
	for _, c := range b.mentioned {
		for _, id := range b.sh.expand[c] {
			if b.seen[id] != stamp {
				b.seen[id] = stamp
				b.cdf[id]++
			}
		}
	}
	b.touched = b.touched[:0]
	for _, c := range b.mentioned {
		// The concept makes the entry findable, but an entry that
		// names the term itself ranks first.
		w := b.concepts[c]
		b.cposts[c] = append(b.cposts[c], posting{doc: int32(doc), conf: conceptConf * w.conf, rank: conceptRank * w.rank})
		b.concepts[c] = field{}
	}
	b.mentioned = b.mentioned[:0]
}

func newIndex(kb *KB) *index {
	// A small base is not worth a second vocabulary.
	return buildIndex(kb, max(1, min(runtime.GOMAXPROCS(0), len(kb.entries)/minEntriesPerWorker)))
}

// buildIndex indexes kb on the given number of workers.
func buildIndex(kb *KB, workers int) *index {
	ix := &index{entries: kb.entries, stop: stopSet(), intent: intentSet()}
	sh := &shared{
		kb:         kb,
		expand:     make([][]int32, len(kb.concepts)),
		conceptIdx: make(map[string]int, len(kb.concepts)),
		topicNames: make(map[string]Text, len(kb.topics)),
	}
	g := &builder{ix: ix, sh: sh, ids: make(map[string]int32, 1024)}

	// Glossary: phrases by their first key, and each concept's expansion.
	for ci, c := range kb.concepts {
		seen := make(map[int32]bool)
		for _, lang := range sortedKeys(c.Terms) {
			for _, term := range c.Terms[lang] {
				ids := slices.Clone(g.keysOf(term))
				if len(ids) == 0 {
					continue
				}
				for len(sh.starts) <= int(ids[0]) {
					sh.starts = append(sh.starts, nil)
				}
				sh.starts[ids[0]] = append(sh.starts[ids[0]], phrase{concept: ci, ids: ids})
				g.join = g.join[:0]
				content := 0
				for _, id := range ids {
					g.natural[id] = true
					if !g.stop[id] {
						g.join = append(g.join, g.keys[id]...)
						content++
						if !seen[id] {
							seen[id] = true
							sh.expand[ci] = append(sh.expand[ci], id)
						}
					}
				}
				if content > 1 { // "Job Center" also as one word
					if j := g.idOf(g.join); !seen[j] {
						seen[j] = true
						sh.expand[ci] = append(sh.expand[ci], j)
					}
				}
			}
		}
	}
	sh.glossary = len(g.keys)
	for i, c := range kb.concepts {
		sh.conceptIdx[c.ID] = i
	}
	for _, t := range kb.topics {
		sh.topicNames[t.ID] = t.Name
	}

	// Entries: contiguous ranges on parallel workers.
	n := len(kb.entries)
	workers = max(1, min(workers, n))
	bs := make([]*builder, workers)
	var wg sync.WaitGroup
	for w := range bs {
		lo, hi := w*n/workers, (w+1)*n/workers
		bs[w] = g.fork(hi - lo)
		wg.Go(func() {
			for doc := lo; doc < hi; doc++ {
				bs[w].entry(doc, kb.entries[doc])
			}
			bs[w].sortVocabulary()
		})
	}
	wg.Wait()
	finish(ix, bs, sh.expand)
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

// entry indexes one entry.
func (b *builder) entry(doc int, e *Entry) {
	sh := b.sh
	add := func(text string, f field) { b.addText(b.keysOf(text), f, nil) }
	addMemo := func(text string, f field) {
		m, ok := b.memo[text]
		if !ok {
			m = &memoText{ids: slices.Clone(b.keysOf(text)), join: -1}
			b.memo[text] = m
		}
		b.addText(m.ids, f, &m.join)
	}
	add(e.NameDE, fName)
	for _, l := range b.sortedKeys(e.Title) {
		add(e.Title[l], fName)
	}
	b.langs = appendSortedKeys(b.langs[:0], e.Keywords)
	for _, l := range b.langs {
		for _, k := range e.Keywords[l] {
			add(k, fName)
		}
	}
	add(e.ID, fID)
	for _, l := range b.sortedKeys(e.Summary) {
		add(e.Summary[l], fSummary)
	}
	for _, l := range b.sortedKeys(e.Details) {
		add(e.Details[l], fDetails)
	}
	addMemo(e.ContactPerson, fPlace)
	addMemo(e.Role, fPlace)
	add(e.Address.Street, fAddress)
	addMemo(e.Address.Postcode, fAddress)
	for _, p := range e.Postcodes {
		addMemo(p, fID)
	}
	if dist, ok := sh.kb.byID[e.District]; ok && dist != e {
		addMemo(dist.ID, fPlace)
		addMemo(dist.NameDE, fPlace)
		for _, l := range b.sortedKeys(dist.Title) {
			addMemo(dist.Title[l], fPlace)
		}
	}
	for _, t := range e.Topics {
		for _, l := range b.sortedKeys(sh.topicNames[t]) {
			addMemo(sh.topicNames[t][l], fTopic)
		}
	}
	for _, c := range e.Concepts {
		if ci, ok := sh.conceptIdx[c]; ok {
			b.mention(ci, fName, true)
		}
	}
	b.flush(doc)
}

// sortedKeys returns the languages of t in order, in a buffer valid
// until the next call.
func (b *builder) sortedKeys(t Text) []string {
	b.langs = appendSortedKeys(b.langs[:0], t)
	return b.langs
}

// sortVocabulary ends a worker's part of the build: it counts the
// worker's postings per build id and sorts the keys that may become
// terms (those with postings, and the glossary's) in byte order, so that
// finish merges the workers' vocabularies without a global sort or map.
func (b *builder) sortVocabulary() {
	b.count = make([]int32, len(b.keys))
	for _, block := range b.posts {
		for _, p := range block {
			b.count[p.term]++
		}
	}
	b.sorted = make([]int32, 0, len(b.keys))
	for id := range int32(len(b.keys)) {
		if int(id) < b.sh.glossary || b.count[id] > 0 {
			b.sorted = append(b.sorted, id)
		}
	}
	slices.SortFunc(b.sorted, func(x, y int32) int { return strings.Compare(b.keys[x], b.keys[y]) })
}

// finish merges the workers' vocabularies and lays out the collected
// postings as the index: the vocabulary in byte order (terms that find an
// entry only), postings flattened in the same order, document
// frequencies, and the tables of fuzzy and partial matching.
func finish(ix *index, bs []*builder, expand [][]int32) {
	sh := bs[0].sh
	// Concept postings, in entry order, and the concepts of each glossary
	// build id (for the concepts that find an entry).
	ix.cStart = make([]int32, len(expand)+1)
	total := 0
	for _, o := range bs {
		for _, ps := range o.cposts {
			total += len(ps)
		}
	}
	ix.cpost = make([]posting, 0, total)
	inConcepts := make([][]int32, sh.glossary)
	for ci := range expand {
		for _, o := range bs {
			ix.cpost = append(ix.cpost, o.cposts[ci]...)
			o.cposts[ci] = nil
		}
		ix.cStart[ci+1] = int32(len(ix.cpost))
		if ix.cStart[ci+1] > ix.cStart[ci] {
			for _, id := range expand[ci] {
				inConcepts[id] = append(inConcepts[id], int32(ci))
			}
		}
	}

	// Merge the sorted vocabularies: term[w][id] is the term id of worker
	// w's build id, -1 if the key finds no entry.
	term := make([][]int32, len(bs))
	for w, o := range bs {
		term[w] = make([]int32, len(o.keys))
		for i := range term[w] {
			term[w][i] = -1
		}
	}
	heads := make([]int, len(bs))
	var (
		count   []int32 // term id -> own postings
		natural []bool  // term id -> is a word
		first   []int32 // term id -> glossary build id, or -1
	)
	at := make([]int, 0, len(bs)) // workers whose head is the least key
	for {
		// The least key at the workers' heads, and who has it.
		var key string
		at = at[:0]
		for w, o := range bs {
			if h := heads[w]; h < len(o.sorted) {
				k := o.keys[o.sorted[h]]
				c := -1
				if len(at) > 0 {
					c = strings.Compare(k, key)
				}
				switch {
				case c < 0:
					key, at = k, append(at[:0], w)
				case c == 0:
					at = append(at, w)
				}
			}
		}
		if len(at) == 0 {
			break
		}
		var n, df int32
		nat, gid := false, int32(-1)
		for _, w := range at {
			o := bs[w]
			id := o.sorted[heads[w]]
			n += o.count[id]
			nat = nat || o.natural[id]
			if int(id) < sh.glossary {
				gid = id
				df += o.cdf[id]
			}
		}
		t := int32(-1)
		if n > 0 || (gid >= 0 && len(inConcepts[gid]) > 0) {
			t = int32(len(ix.terms))
			ix.terms = append(ix.terms, key)
			count = append(count, n)
			natural = append(natural, nat)
			first = append(first, gid)
			if gid < 0 || len(inConcepts[gid]) == 0 {
				df = n
			}
			ix.df = append(ix.df, df)
		}
		for _, w := range at {
			term[w][bs[w].sorted[heads[w]]] = t
			heads[w]++
		}
	}
	nt := len(ix.terms)
	ix.terms = slices.Clip(ix.terms)

	// The rest in two halves that need nothing from each other.
	var wg sync.WaitGroup
	wg.Go(func() { ix.layoutPostings(bs, term, count, first, inConcepts) })
	ix.ids = make(map[string]int32, nt)
	for t, k := range ix.terms {
		ix.ids[k] = int32(t)
	}
	ix.layoutWords(natural)
	wg.Wait()
}

// layoutPostings flattens the workers' postings by term (a counting
// sort, which keeps the entry order), files the concepts of each term and
// computes the document frequencies.
func (ix *index) layoutPostings(bs []*builder, term [][]int32, count, first []int32, inConcepts [][]int32) {
	nt := len(ix.terms)
	ix.start = make([]int32, nt+1)
	for t, n := range count {
		ix.start[t+1] = ix.start[t] + n
	}
	ix.post = make([]posting, ix.start[nt])
	next := slices.Clone(ix.start[:nt])
	for w, o := range bs {
		for _, block := range o.posts {
			for _, p := range block {
				t := term[w][p.term]
				ix.post[next[t]] = p.posting
				next[t]++
			}
		}
		o.posts = nil
	}

	ix.tcStart = make([]int32, nt+1)
	for t, g := range first {
		n := int32(0)
		if g >= 0 {
			n = int32(len(inConcepts[g]))
		}
		ix.tcStart[t+1] = ix.tcStart[t] + n
	}
	ix.tconc = make([]int32, 0, ix.tcStart[nt])
	for _, g := range first {
		if g >= 0 {
			ix.tconc = append(ix.tconc, inConcepts[g]...)
		}
	}

	n := float64(len(ix.entries))
	ix.maxIDF = float32(math.Log(1 + (n-1+0.5)/(1+0.5)))
	ix.idf = make([]float32, nt)
	for t, df := range ix.df {
		ix.idf[t] = float32(math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5)))
	}
}

// layoutWords builds the tables of fuzzy and partial matching. Only words
// take part: joined names ("integrationskonferenzfeldmark") would only add
// noise. Their runes share one array.
func (ix *index) layoutWords(natural []bool) {
	nr := 0
	for t, nat := range natural {
		if nat {
			ix.sorted = append(ix.sorted, int32(t))
			nr += utf8.RuneCountInString(ix.terms[t])
		}
	}
	all := make([]rune, 0, nr)
	ix.runes = make([][]rune, len(ix.terms))
	var rev strings.Builder
	rev.Grow(4 * nr)
	for _, t := range ix.sorted {
		s := len(all)
		for _, r := range ix.terms[t] {
			all = append(all, r)
		}
		ix.runes[t] = all[s:len(all):len(all)]
		for i := len(all) - 1; i >= s; i-- {
			rev.WriteRune(all[i])
		}
	}
	revs := rev.String()
	ix.rsorted = make([]rword, len(ix.sorted))
	off := 0
	for i, t := range ix.sorted {
		n := len(ix.terms[t])
		ix.rsorted[i] = rword{rev: revs[off : off+n], term: t}
		off += n
	}
	slices.SortFunc(ix.rsorted, func(x, y rword) int { return strings.Compare(x.rev, y.rev) })
	ix.buildDeletes()
}

// addText files the keys of one field of an entry and notes the glossary
// concepts the field mentions. Short fields (names, keywords) rank lower
// the more words they have: "Jobcenter" is about the Jobcenter, "Fallmanagement
// im Jobcenter für Familien" less so.
//
// join, if not nil, caches the build id of the join of a repeated text.
func (b *builder) addText(ids []int32, f field, join *int32) {
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
		if int(id) >= len(b.sh.starts) {
			// Not a glossary key: no phrase starts with it.
		} else {
			for _, p := range b.sh.starts[id] {
				if b.hasPhrase(ids[i:], p.ids) {
					b.mention(p.concept, field{conf: f.conf, rank: rank}, false)
				}
			}
		}
		if b.stop[id] || b.tiny[id] {
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
		var j int32 = -1
		if join != nil {
			j = *join
		}
		if j < 0 {
			b.join = b.join[:0]
			for _, id := range content[:nc] {
				b.join = append(b.join, b.keys[id]...)
			}
			j = b.idOf(b.join)
			if join != nil {
				*join = j
			}
		}
		b.put(j, f.conf*0.9, rank*0.9)
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

// appendSortedKeys appends the keys of m to dst and sorts them.
func appendSortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}

func sortedKeys[V any](m map[string]V) []string {
	return appendSortedKeys(make([]string, 0, len(m)), m)
}

// reverseString returns the runes of r in reverse order as a string.
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

// Arabic-script affixes removed by stem, longest first, with their
// lengths in runes.
var (
	arPrefixes = affixes("وال", "بال", "کال", "فال", "لل", "ال")
	arSuffixes = affixes("های", "ها", "ات", "ه", "ی")
)

type affix struct {
	s     string
	runes int
}

func affixes(ss ...string) []affix {
	as := make([]affix, len(ss))
	for i, s := range ss {
		as[i] = affix{s, utf8.RuneCountInString(s)}
	}
	return as
}

// stem removes the Arabic article and common Arabic/Persian plural and
// gender endings, so that "الدورة", "دورة" and "دورات" (course, courses)
// and "کلاس‌ها" / "کلاس" share a key. Other scripts are left alone: their
// inflections are matched by shared prefixes at query time. The key keeps
// at least three letters, so short words are not mangled.
func stem(t string) string {
	i, j := stemRange([]byte(t))
	return t[i:j]
}

// stemRange returns the bounds of the stem of t (see stem) within t; the
// index stems the bytes of a reused buffer.
func stemRange(t []byte) (i, j int) {
	// U+0600 to U+06FF: a lead byte D8 to DB and a continuation byte.
	if len(t) < 2 || t[0] < 0xd8 || t[0] > 0xdb || t[1]&0xc0 != 0x80 {
		return 0, len(t)
	}
	n := utf8.RuneCount(t)
	i, j = 0, len(t)
	for _, p := range arPrefixes {
		if n-p.runes >= 3 && bytes.HasPrefix(t, []byte(p.s)) {
			i, n = len(p.s), n-p.runes
			break
		}
	}
	for _, s := range arSuffixes {
		if n-s.runes >= 3 && bytes.HasSuffix(t[i:], []byte(s.s)) {
			j -= len(s.s)
			break
		}
	}
	return i, j
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
			n := int(ix.df[c.term])
			if i > 0 && (i >= maxCands || n > budgetLeft) {
				continue
			}
			budgetLeft -= n
			s.collectTerm(ix, c.term, c.quality)
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
		// An entry may have the phrase itself and through a concept:
		// its best rank counts, once.
		w := phraseShare * ix.idf[t]
		s.collectTerm(ix, t, 1)
		for _, doc := range s.unitDocs {
			if s.inAll[doc] {
				s.tr[doc] += w * s.ur[doc]
			}
			s.inUnit[doc] = false
		}
		s.unitDocs = s.unitDocs[:0]
	}

	// Equal results keep the order of the files, whatever order the
	// postings were visited in.
	top := make([]Result, 0, min(limit, len(s.allDocs)))
	topDocs := make([]int32, 0, cap(top))
	better := func(a Result, da int32, i int) bool {
		b := top[i]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.Confidence != b.Confidence {
			return a.Confidence > b.Confidence
		}
		_, la := a.Entry.Summary.In(lang)
		_, lb := b.Entry.Summary.In(lang)
		if (la == lang) != (lb == lang) {
			return la == lang
		}
		return da < topDocs[i]
	}
	for _, doc := range s.allDocs {
		r := Result{
			Entry:      ix.entries[doc],
			Score:      float64(s.tr[doc]),
			Confidence: min(1, float64(s.tc[doc]/total)),
		}
		s.tc[doc], s.tr[doc], s.inAll[doc] = 0, 0, false
		if len(top) == limit && !better(r, doc, len(top)-1) {
			continue
		}
		i := sort.Search(len(top), func(i int) bool { return better(r, doc, i) })
		if len(top) < limit {
			top = append(top, Result{})
			topDocs = append(topDocs, 0)
		}
		copy(top[i+1:], top[i:len(top)-1])
		copy(topDocs[i+1:], topDocs[i:len(topDocs)-1])
		top[i], topDocs[i] = r, doc
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
	i := sort.Search(len(ix.rsorted), func(i int) bool { return ix.rsorted[i].rev >= rev })
	for got = 0; i < len(ix.rsorted) && got < maxPartial && strings.HasPrefix(ix.rsorted[i].rev, rev); i++ {
		t := ix.rsorted[i].term
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

// buildDeletes fills the SymSpell deletion table for the words that fuzzy
// matching may reach. Each entry packs a 40-bit hash of a deletion variant
// with the 24-bit id of its term, so the table is one sorted []uint64;
// hash collisions only cost an edit-distance check. Terms beyond 2^24
// are matched exactly only.
func (ix *index) buildDeletes() {
	var table []uint64
	for _, t := range ix.sorted {
		r := ix.runes[t]
		if t >= 1<<24 || len(r) < 3 || len(r) > maxFuzzyRunes+2 || !hasLetter(r) {
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
