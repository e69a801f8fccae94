package knowledge_test

import (
	"bytes"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lotse-bot/lotse/knowledge"
)

// Thresholds of the evaluation. They are floors the search must keep, set
// a little below what it reached when they were written; raise them when
// the search gets better, never lower them to make a change pass.
const (
	minTop1          = 0.90 // correct entry ranked first
	minTop3          = 0.95 // correct entry among the first three
	minTop3PerLang   = 0.80 // ... in every language
	minConfidentTop1 = 0.85 // correct first entry that is also confident
	minNoAnswer      = 0.90 // unanswerable questions without a confident result
)

type evalSet struct {
	Questions []evalQuestion `yaml:"questions"`
	NoAnswer  []evalQuestion `yaml:"no_answer"`
}

type evalQuestion struct {
	Lang string   `yaml:"lang"`
	Q    string   `yaml:"q"`
	Want []string `yaml:"want"`
	Tags []string `yaml:"tags"`
}

func mustEvalSet(t *testing.T) evalSet {
	t.Helper()
	b, err := os.ReadFile("testdata/eval.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var set evalSet
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("testdata/eval.yaml: %v", err)
	}
	return set
}

func mustSample(t testing.TB) *knowledge.KB {
	t.Helper()
	kb, err := knowledge.Sample()
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	return kb
}

type tally struct{ n, top1, top3, confident int }

func (c tally) rate(k int) float64 {
	if c.n == 0 {
		return 0
	}
	return float64(k) / float64(c.n)
}

// TestEval runs the evaluation set against the sample base and fails if
// accuracy drops below the thresholds. Run with -v to see the figures and
// every miss.
func TestEval(t *testing.T) {
	kb := mustSample(t)
	set := mustEvalSet(t)
	langs := map[string]bool{}
	for _, q := range set.Questions {
		langs[q.Lang] = true
	}
	if len(set.Questions) < 80 || len(set.NoAnswer) < 10 || len(langs) < 8 {
		t.Fatalf("eval set too small: %d questions in %d languages, %d without answer",
			len(set.Questions), len(langs), len(set.NoAnswer))
	}

	byLang := map[string]*tally{}
	var all tally
	for _, q := range set.Questions {
		if len(q.Want) == 0 {
			t.Errorf("%q: no expected entry", q.Q)
			continue
		}
		for _, id := range q.Want {
			if _, ok := kb.Entry(id); !ok {
				t.Errorf("%q: expected entry %q is not in the sample base", q.Q, id)
			}
		}
		c := byLang[q.Lang]
		if c == nil {
			c = &tally{}
			byLang[q.Lang] = c
		}
		res := kb.Search(q.Q, q.Lang, 3)
		rank := -1
		for i, r := range res {
			if slices.Contains(q.Want, r.Entry.ID) {
				rank = i
				break
			}
		}
		for _, tl := range []*tally{c, &all} {
			tl.n++
			if rank == 0 {
				tl.top1++
				if res[0].Confident() {
					tl.confident++
				}
			}
			if rank >= 0 {
				tl.top3++
			}
		}
		if rank != 0 || !res[0].Confident() {
			got := make([]string, len(res))
			for i, r := range res {
				got[i] = r.Entry.ID + "(" + strconv.FormatFloat(r.Confidence, 'f', 2, 64) + ")"
			}
			t.Logf("miss [%s] %q: want %v, got %v", q.Lang, q.Q, q.Want, got)
		}
	}

	var noAnswerOK int
	for _, q := range set.NoAnswer {
		res := kb.Search(q.Q, q.Lang, 3)
		if len(res) == 0 || !res[0].Confident() {
			noAnswerOK++
			continue
		}
		t.Logf("confident answer to unanswerable [%s] %q: %s (%.2f)", q.Lang, q.Q, res[0].Entry.ID, res[0].Confidence)
	}

	keys := make([]string, 0, len(byLang))
	for l := range byLang {
		keys = append(keys, l)
	}
	sort.Strings(keys)
	for _, l := range keys {
		c := byLang[l]
		t.Logf("%s: n=%2d top1=%.2f top3=%.2f confident-top1=%.2f", l, c.n, c.rate(c.top1), c.rate(c.top3), c.rate(c.confident))
		if c.rate(c.top3) < minTop3PerLang {
			t.Errorf("%s: top-3 accuracy %.2f < %.2f", l, c.rate(c.top3), minTop3PerLang)
		}
	}
	noAnswer := float64(noAnswerOK) / float64(len(set.NoAnswer))
	t.Logf("all: n=%d top1=%.2f top3=%.2f confident-top1=%.2f no-answer=%.2f (%d/%d)",
		all.n, all.rate(all.top1), all.rate(all.top3), all.rate(all.confident), noAnswer, noAnswerOK, len(set.NoAnswer))
	if r := all.rate(all.top1); r < minTop1 {
		t.Errorf("top-1 accuracy %.2f < %.2f", r, minTop1)
	}
	if r := all.rate(all.top3); r < minTop3 {
		t.Errorf("top-3 accuracy %.2f < %.2f", r, minTop3)
	}
	if r := all.rate(all.confident); r < minConfidentTop1 {
		t.Errorf("confident top-1 accuracy %.2f < %.2f", r, minConfidentTop1)
	}
	if noAnswer < minNoAnswer {
		t.Errorf("no-answer precision %.2f < %.2f", noAnswer, minNoAnswer)
	}
}
