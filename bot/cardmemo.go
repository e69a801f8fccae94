package bot

import (
	"sync"

	"github.com/lotse-bot/lotse/knowledge"
)

// cardParts are the parts of an answer card that depend only on the
// entry and the language: the head, the fixed facts (address, contacts,
// languages, district; fixed joined by newlines, facts of them) and the
// tail (the date last checked, with its blank line); and more, the text
// of the button that leads to the entry from another entry's card.
type cardParts struct {
	head, fixed, tail, more string
	facts                   int
}

// cardMemo keeps cardParts per entry and language of the current
// knowledge base: they are most of a card's rendering, and the same
// entries are asked for again and again. A new knowledge base (its
// entries are new values) or a full memo starts it afresh.
type cardMemo struct {
	mu sync.Mutex
	kb *knowledge.KB
	m  map[cardKey]cardParts
}

type cardKey struct {
	e    *knowledge.Entry
	lang string
}

// maxCardMemo bounds the memo (entries × languages).
const maxCardMemo = 8192

// parts returns t.cardParts(e), from the memo if it has them.
func (c *cardMemo) parts(t *turn, e *knowledge.Entry) cardParts {
	k := cardKey{e, t.lang}
	c.mu.Lock()
	p, ok := c.m[k]
	if ok && c.kb != t.kb {
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return p
	}
	p = t.cardParts(e)
	c.mu.Lock()
	if c.kb != t.kb || c.m == nil || len(c.m) >= maxCardMemo {
		c.kb, c.m = t.kb, map[cardKey]cardParts{}
	}
	c.m[k] = p
	c.mu.Unlock()
	return p
}
