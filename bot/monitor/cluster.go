package monitor

import (
	"math"
	"sort"

	"github.com/lotse-bot/lotse/i18n"
)

// Cluster is a group of similar unanswered questions.
type Cluster struct {
	// Text is the representative question: a text of the most frequent
	// wording (same words after folding), the most used, then shortest,
	// then alphabetically first.
	Text string
	// Langs are the languages the group's questions were asked in, sorted.
	Langs []string
	// Count is the number of questions in the group.
	Count int
	// Examples are up to MaxExamples other distinct wordings.
	Examples []string
}

// Limits of Group, so a large backlog stays cheap to group.
const (
	// MaxGroupInput is the most questions Group considers (the newest
	// are given last; it keeps the last MaxGroupInput).
	MaxGroupInput = 20000
	// MaxClusters is the most groups Group returns; the rest are the
	// rarest and are dropped.
	MaxClusters = 200
	// MaxExamples is the most other wordings shown per group.
	MaxExamples = 3
	// DefaultSimilarity is the weighted Jaccard similarity from which two
	// questions count as the same question.
	DefaultSimilarity = 0.5
)

// Group groups similar questions. Questions are compared by their folded
// words (i18n.Tokens, so spelling, case and script variants agree) with a
// Jaccard similarity in which each word weighs its inverse document
// frequency among qs: words nearly every question has ("wo", "ich",
// "kann") count little, the subject counts much, in every language and
// without a stop-word list. Distinct wordings are taken most frequent
// first; each joins the first group whose first wording is at least
// minSim similar (DefaultSimilarity if minSim <= 0) or starts a new one.
// The result is deterministic: groups sorted by size, then text.
func Group(qs []Unanswered, minSim float64) []Cluster {
	if minSim <= 0 {
		minSim = DefaultSimilarity
	}
	if len(qs) > MaxGroupInput {
		qs = qs[len(qs)-MaxGroupInput:]
	}
	// Distinct wordings by folded form.
	type wording struct {
		key    string
		texts  map[string]int
		langs  map[string]bool
		count  int
		tokens map[string]bool
	}
	byKey := map[string]*wording{}
	var ws []*wording
	for _, q := range qs {
		toks := i18n.Tokens(q.Text)
		if len(toks) == 0 {
			continue
		}
		set := make(map[string]bool, len(toks))
		for _, t := range toks {
			set[t] = true
		}
		key := sortedJoin(set)
		w := byKey[key]
		if w == nil {
			w = &wording{key: key, texts: map[string]int{}, langs: map[string]bool{}, tokens: set}
			byKey[key] = w
			ws = append(ws, w)
		}
		w.count++
		w.texts[q.Text]++
		if q.Lang != "" {
			w.langs[q.Lang] = true
		}
	}
	// Inverse document frequency of each word over the wordings' uses.
	df := map[string]int{}
	total := 0
	for _, w := range ws {
		total += w.count
		for t := range w.tokens {
			df[t] += w.count
		}
	}
	weights := make(map[string]float64, len(df))
	for t, n := range df {
		weights[t] = math.Log(1 + float64(total)/float64(n))
	}
	weight := func(t string) float64 { return weights[t] }
	sim := func(a, b map[string]bool) float64 {
		var inter, union float64
		for t := range a {
			if b[t] {
				inter += weight(t)
			}
			union += weight(t)
		}
		for t := range b {
			if !a[t] {
				union += weight(t)
			}
		}
		if union == 0 {
			return 0
		}
		return inter / union
	}
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].count != ws[j].count {
			return ws[i].count > ws[j].count
		}
		return ws[i].key < ws[j].key
	})
	type group struct {
		seed    *wording
		members []*wording
		count   int
	}
	var groups []*group
	for _, w := range ws {
		var into *group
		for _, g := range groups {
			if sim(g.seed.tokens, w.tokens) >= minSim {
				into = g
				break
			}
		}
		if into == nil {
			// Past a generous bound new groups are only singletons of
			// rare wordings; stop comparing to keep the work bounded.
			if len(groups) >= 4*MaxClusters {
				continue
			}
			into = &group{seed: w}
			groups = append(groups, into)
		}
		into.members = append(into.members, w)
		into.count += w.count
	}
	out := make([]Cluster, 0, len(groups))
	for _, g := range groups {
		texts := map[string]int{}   // raw text -> uses
		wordUse := map[string]int{} // raw text -> uses of its wording
		langs := map[string]bool{}
		for _, m := range g.members {
			for t, n := range m.texts {
				texts[t] += n
				wordUse[t] = m.count
			}
			for l := range m.langs {
				langs[l] = true
			}
		}
		ranked := make([]string, 0, len(texts))
		for t := range texts {
			ranked = append(ranked, t)
		}
		sort.Slice(ranked, func(i, j int) bool {
			a, b := ranked[i], ranked[j]
			if wordUse[a] != wordUse[b] {
				return wordUse[a] > wordUse[b]
			}
			if texts[a] != texts[b] {
				return texts[a] > texts[b]
			}
			if len([]rune(a)) != len([]rune(b)) {
				return len([]rune(a)) < len([]rune(b))
			}
			return a < b
		})
		c := Cluster{Text: ranked[0], Langs: sortedKeys(langs), Count: g.count}
		if n := min(len(ranked)-1, MaxExamples); n > 0 {
			c.Examples = append([]string(nil), ranked[1:1+n]...)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Text < out[j].Text
	})
	if len(out) > MaxClusters {
		out = out[:MaxClusters]
	}
	return out
}

func sortedJoin(set map[string]bool) string {
	keys := sortedKeys(set)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += k
	}
	return s
}
