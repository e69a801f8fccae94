package knowledge

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	"golang.org/x/text/language"
)

// This file holds the checks on single values (ids, language codes,
// contacts) and the checks that need the whole base (unique ids,
// references between entries).

// crossCheck reports duplicate ids and references to ids that do not
// exist or are of the wrong kind.
func (l *loader) crossCheck() {
	entryAt := make(map[string]*Entry, len(l.entries))
	for _, e := range l.entries {
		if e.ID == "" {
			continue
		}
		if first, dup := entryAt[e.ID]; dup {
			l.add(e.Pos.File, e.Pos.Line, fmt.Sprintf("duplicate id %q (also used in %s:%d)", e.ID, first.Pos.File, first.Pos.Line))
			continue
		}
		entryAt[e.ID] = e
	}
	topicAt := map[string]Pos{}
	for _, t := range l.topics {
		if first, dup := topicAt[t.ID]; dup {
			l.add(t.Pos.File, t.Pos.Line, fmt.Sprintf("duplicate topic id %q (also used in %s:%d)", t.ID, first.File, first.Line))
			continue
		}
		topicAt[t.ID] = t.Pos
	}
	conceptAt := map[string]Pos{}
	for _, c := range l.concepts {
		if first, dup := conceptAt[c.ID]; dup {
			l.add(c.Pos.File, c.Pos.Line, fmt.Sprintf("duplicate glossary id %q (also used in %s:%d)", c.ID, first.File, first.Line))
			continue
		}
		conceptAt[c.ID] = c.Pos
	}

	for _, r := range l.refs {
		var msg string
		switch r.field {
		case "district":
			e, ok := entryAt[r.id]
			switch {
			case !ok:
				msg = fmt.Sprintf("district: no district with id %q", r.id) + didYouMean(r.id, l.entryIDs(KindDistrict))
			case e.Kind != KindDistrict:
				msg = fmt.Sprintf("district: %q is a %s entry, not a district", r.id, e.Kind)
			case r.id == r.from:
				msg = "district: a district cannot belong to itself"
			}
		case "venue":
			switch _, ok := entryAt[r.id]; {
			case !ok:
				msg = fmt.Sprintf("event.venue: no entry with id %q", r.id) + didYouMean(r.id, l.entryIDs(""))
			case r.id == r.from:
				msg = "event.venue: an event cannot take place at itself"
			}
		case "topics":
			if _, ok := topicAt[r.id]; !ok {
				msg = fmt.Sprintf("topics: no topic with id %q", r.id) + didYouMean(r.id, keys(topicAt))
			}
		case "concepts":
			if _, ok := conceptAt[r.id]; !ok {
				msg = fmt.Sprintf("concepts: no glossary concept with id %q", r.id) + didYouMean(r.id, keys(conceptAt))
			}
		}
		if msg != "" {
			l.add(r.pos.File, r.pos.Line, msg)
		}
	}
}

func (l *loader) entryIDs(k Kind) []string {
	var ids []string
	for _, e := range l.entries {
		if k == "" || e.Kind == k {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func keys(m map[string]Pos) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// suggest returns the candidate closest to s if it is close enough to be
// a likely typo (one edit for short words, two for longer ones), else "".
func suggest(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	limit := 2
	if len([]rune(s)) <= 4 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == s || len(c) > 64 {
			continue
		}
		if d := editDistance(s, c); d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// in runes: insertions, deletions, substitutions and swaps of two
// neighbours ("nrod" for "nord") each count as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	rows := make([][]int, len(ra)+1)
	for i := range rows {
		rows[i] = make([]int, len(rb)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(ra)][len(rb)]
}

const maxIDLen = 40

// checkEntryID checks an entry id: it ends up in t.me links and QR codes,
// where only a few characters are safe.
func checkEntryID(id string) string {
	if len(id) > maxIDLen {
		return fmt.Sprintf("%q is longer than %d characters", truncate(id, 50), maxIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Sprintf("%q may contain only lower-case letters a-z, digits and -", truncate(id, 50))
		}
	}
	return ""
}

// checkTermID checks a topic or glossary id, which may also use "_".
func checkTermID(id string) string {
	if len(id) > maxIDLen {
		return fmt.Sprintf("%q is longer than %d characters", truncate(id, 50), maxIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Sprintf("%q may contain only lower-case letters a-z, digits, - and _", truncate(id, 50))
		}
	}
	return ""
}

// checkLang checks a language code: an ISO 639 code (two letters where
// one exists, else three) in lower case, as golang.org/x/text knows it.
func checkLang(code string) string {
	q := truncate(code, 20)
	if code == "" {
		return "empty language code"
	}
	if len(code) > 3 {
		return fmt.Sprintf("%q is not a language code; use an ISO 639 code such as de, en, ar, fa, uk", q)
	}
	if code != strings.ToLower(code) {
		return fmt.Sprintf("language code %q must be lower-case (%s)", q, strings.ToLower(code))
	}
	b, err := language.ParseBase(code)
	if err != nil || b.String() == "und" {
		return fmt.Sprintf("%q is not an ISO 639 language code", q)
	}
	if len(code) == 3 && code[0] == 'q' && code[1] <= 't' {
		return fmt.Sprintf("%q is a private-use code, not a language", q)
	}
	if b.String() != code {
		return fmt.Sprintf("language code %q: write %q instead", q, b.String())
	}
	return ""
}

func isPostcode(s string) bool {
	if len(s) != 5 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// checkPhone accepts the usual ways of writing a German or international
// number: digits, spaces, "+" at the start, and "/ - ( )".
func checkPhone(s string) string {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '/', r == '-', r == '(', r == ')':
		default:
			return fmt.Sprintf("%q is not a phone number (digits, spaces, + / - ( ) only)", truncate(s, 40))
		}
	}
	if digits < 3 || digits > 20 {
		return fmt.Sprintf("%q is not a phone number", truncate(s, 40))
	}
	return ""
}

func checkEmail(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Sprintf("%q is not an email address", truncate(s, 60))
	}
	_, domain, _ := strings.Cut(s, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return fmt.Sprintf("%q is not an email address (domain has no dot)", truncate(s, 60))
	}
	return ""
}

// checkURL accepts absolute http and https URLs only: anything else would
// be a broken or unsafe link in a chat.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || strings.ContainsAny(s, " \t") {
		return fmt.Sprintf("%q is not a web address", truncate(s, 60))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Sprintf("%q must start with https://", truncate(s, 60))
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Sprintf("%q has no host name", truncate(s, 60))
	}
	if u.User != nil {
		return fmt.Sprintf("%q must not contain a user name or password", truncate(s, 60))
	}
	return ""
}
