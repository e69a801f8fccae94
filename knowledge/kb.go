package knowledge

import (
	"sort"
	"sync/atomic"
	"time"
)

// KB is a loaded, validated and indexed knowledge base. It is immutable
// after construction and safe for concurrent use.
type KB struct {
	City     City
	loc      *time.Location
	entries  []*Entry // in file order
	byID     map[string]*Entry
	topics   []Topic
	concepts []Concept
	index    *index
	routing  *routing    // nil if the base has no routing: section
	places   *placeIndex // district names, streets and postcodes
}

// build assembles a KB from validated parts and indexes it for search.
func build(city City, loc *time.Location, entries []*Entry, topics []Topic, concepts []Concept) *KB {
	kb := &KB{
		City:     city,
		loc:      loc,
		entries:  entries,
		byID:     make(map[string]*Entry, len(entries)),
		topics:   topics,
		concepts: concepts,
	}
	for _, e := range entries {
		kb.byID[e.ID] = e
	}
	kb.index = newIndex(kb)
	kb.places = newPlaceIndex(entries)
	return kb
}

// Location is the city's time zone.
func (kb *KB) Location() *time.Location { return kb.loc }

// Entry returns the entry with the given id.
func (kb *KB) Entry(id string) (*Entry, bool) {
	e, ok := kb.byID[id]
	return e, ok
}

// Entries returns all entries in file order. The slice must not be modified.
func (kb *KB) Entries() []*Entry { return kb.entries }

// Len is the number of entries.
func (kb *KB) Len() int { return len(kb.entries) }

// Topics returns the topics (fields of action) in file order.
func (kb *KB) Topics() []Topic { return kb.topics }

// Topic returns the topic with the given id.
func (kb *KB) Topic(id string) (Topic, bool) {
	for _, t := range kb.topics {
		if t.ID == id {
			return t, true
		}
	}
	return Topic{}, false
}

// Concepts returns the glossary concepts.
func (kb *KB) Concepts() []Concept { return kb.concepts }

// OfKind returns the entries of one kind in file order.
func (kb *KB) OfKind(k Kind) []*Entry {
	var out []*Entry
	for _, e := range kb.entries {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// ByTopic returns the entries tagged with a topic, places and services
// first (districts and persons last), each group by German name.
func (kb *KB) ByTopic(topic string) []*Entry {
	var out []*Entry
	for _, e := range kb.entries {
		for _, t := range e.Topics {
			if t == topic {
				out = append(out, e)
				break
			}
		}
	}
	rank := func(k Kind) int {
		switch k {
		case KindDistrict, KindPerson:
			return 1
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Kind), rank(out[j].Kind)
		if ri != rj {
			return ri < rj
		}
		return out[i].NameDE < out[j].NameDE
	})
	return out
}

// Live holds the knowledge base the bot currently answers from. Reload
// swaps in a new one only if it loaded cleanly; otherwise the last good
// base stays live.
type Live struct {
	kb atomic.Pointer[KB]
}

// NewLive returns a Live serving kb.
func NewLive(kb *KB) *Live {
	l := &Live{}
	l.kb.Store(kb)
	return l
}

// Current returns the knowledge base in use.
func (l *Live) Current() *KB { return l.kb.Load() }

// Reload calls load and, if it succeeds, makes its result current.
// On error the previous knowledge base stays current and the error
// (usually a *LoadError listing every problem) is returned.
func (l *Live) Reload(load func() (*KB, error)) error {
	kb, err := load()
	if err != nil {
		return err
	}
	l.kb.Store(kb)
	return nil
}
