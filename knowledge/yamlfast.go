package knowledge

import (
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// fastYAML parses the plain subset of YAML that curated files are written
// in and returns the same node tree yaml.Unmarshal builds, without the
// comments (which Load never reads). Building yaml.v3's tree is most of
// the time a load takes: its scanner works character by character through
// a general state machine and allocates every node, content slice and
// string separately. This parser reads line by line, takes keys and
// values as substrings of one copy of the file and allocates nodes in
// slabs.
//
// The subset: block mappings with plain keys (letters, digits, _ - .),
// block sequences, one-line plain, single- and double-quoted scalars, and
// flow sequences and mappings that close on the line they open; spaces
// for indentation; comments on lines of their own or after a value.
// Anything else (tabs, a CR not before LF, block scalars, anchors,
// aliases, tags, multi-line scalars, empty values, document markers,
// anything yaml.v3 would reject) makes fastYAML return nil, and the
// caller parses with yaml.Unmarshal, which also writes every error
// message. So on any input Load reports exactly what it reported with
// yaml.v3 alone; FuzzFastYAML checks that every tree fastYAML returns
// equals yaml.v3's.
//
// data must be valid UTF-8 (parseFile checks that first).
func fastYAML(data []byte) (doc *yaml.Node) {
	defer func() {
		// A bail-out, or an input this parser does not foresee: either
		// way yaml.v3 decides.
		if recover() != nil {
			doc = nil
		}
	}()
	return fastParse(data)
}

// fastParse is fastYAML without the recover: it panics with
// fastBailout{} on input outside the subset, and tests treat any other
// panic as a bug.
func fastParse(data []byte) *yaml.Node {
	p := &fastParser{src: string(data)}
	p.split()
	if len(p.lines) == 0 {
		return nil
	}
	top := p.block(p.lines[0].ind, 0)
	if p.li != len(p.lines) {
		fastBail()
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Line: top.Line, Column: top.Column, Content: []*yaml.Node{top}}
}

// fastBailout is the panic value that abandons the fast parse.
type fastBailout struct{}

func fastBail() { panic(fastBailout{}) }

// maxFastDepth bounds nesting; yaml.v3 has its own limits, and deeper
// files are left to it.
const maxFastDepth = 64

type fastParser struct {
	src   string
	lines []fastLine // lines with content; blank and comment lines left out
	li    int        // the line being parsed

	slab  []yaml.Node  // nodes are handed out from here
	kids  []*yaml.Node // children of the collections being parsed, innermost last
	arena []*yaml.Node // Content slices are cut from here
	keys  map[string]fastKey
	tags  map[string]string // tags of short plain values
}

type fastLine struct {
	start int // offset of the line in src
	ind   int // offset of its first non-space byte
	end   int // offset of its end (the '\n' or len(src))
	num   int // 1-based line number
}

// fastKey is an interned mapping key with its resolved tag.
type fastKey struct{ val, tag string }

// split finds the lines with content and bails out on bytes the subset
// does not allow anywhere: control characters (tabs and CR not ending a
// line included),
// DEL, and the characters YAML treats as line breaks (NEL, LS, PS) or
// does not accept (a BOM inside the text, U+FFFE, U+FFFF).
func (p *fastParser) split() {
	s := p.src
	p.lines = make([]fastLine, 0, strings.Count(s, "\n")+1)
	num := 0
	for start := 0; start < len(s); {
		num++
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		next := end + 1
		if end > start && s[end-1] == '\r' {
			end-- // CRLF, as editors on Windows write
		}
		for i := start; i < end; i++ {
			switch c := s[i]; {
			case c < 0x20 || c == 0x7f:
				fastBail()
			case c == 0xc2 && s[i+1] < 0xa0,
				c == 0xe2 && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9),
				c == 0xef && (s[i+1] == 0xbb && s[i+2] == 0xbf || s[i+1] == 0xbf && s[i+2] >= 0xbe):
				fastBail()
			}
		}
		ind := start
		for ind < end && s[ind] == ' ' {
			ind++
		}
		if ind < end && s[ind] != '#' {
			if ind == start && (s[ind] == '%' || end-start >= 3 && (s[start:start+3] == "---" || s[start:start+3] == "...")) {
				fastBail() // directives and document markers
			}
			p.lines = append(p.lines, fastLine{start: start, ind: ind, end: end, num: num})
		}
		start = next
	}
}

func (p *fastParser) node(kind yaml.Kind, tag string, l *fastLine, pos int) *yaml.Node {
	if len(p.slab) == 0 {
		p.slab = make([]yaml.Node, 512)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	n.Kind, n.Tag, n.Line = kind, tag, l.num
	n.Column = utf8.RuneCountInString(p.src[l.start:pos]) + 1
	return n
}

// take moves the children pushed since base into a Content slice.
func (p *fastParser) take(base int) []*yaml.Node {
	k := len(p.kids) - base
	if k == 0 {
		return nil
	}
	if len(p.arena) < k {
		p.arena = make([]*yaml.Node, max(k, 2048))
	}
	out := p.arena[:k:k]
	p.arena = p.arena[k:]
	copy(out, p.kids[base:])
	clear(p.kids[base:])
	p.kids = p.kids[:base]
	return out
}

func (p *fastParser) isSeqItem(l *fastLine, pos int) bool {
	return p.src[pos] == '-' && (pos+1 == l.end || p.src[pos+1] == ' ')
}

// col is the indentation of pos; the bytes before it are ASCII.
func (l *fastLine) col(pos int) int { return pos - l.start }

// block parses the block node that starts at pos on the current line.
func (p *fastParser) block(pos, depth int) *yaml.Node {
	if depth > maxFastDepth {
		fastBail()
	}
	l := &p.lines[p.li]
	if p.isSeqItem(l, pos) {
		if pos != l.ind {
			fastBail()
		}
		return p.seq(depth)
	}
	return p.mapping(pos, depth)
}

// keyEnd returns the offset of the ':' ending a plain key at pos, or -1
// if no key in the subset starts there.
func (p *fastParser) keyEnd(l *fastLine, pos int) int {
	s := p.src
	i := pos
	for i < l.end && i-pos <= 100 {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '-' || c == '.') && i > pos:
		case c == ':' && i > pos && (i+1 == l.end || s[i+1] == ' '):
			return i
		default:
			return -1
		}
		i++
	}
	return -1
}

func (p *fastParser) key(l *fastLine, pos, colon int) *yaml.Node {
	if p.keys == nil {
		p.keys = make(map[string]fastKey, 64)
	}
	k, ok := p.keys[p.src[pos:colon]]
	if !ok {
		v := p.src[pos:colon]
		k = fastKey{val: v, tag: p.plainTag(v)}
		if k.tag == "!!merge" {
			fastBail()
		}
		p.keys[v] = k
	}
	n := p.node(yaml.ScalarNode, k.tag, l, pos)
	n.Value = k.val
	return n
}

// mapping parses a block mapping whose first key is at pos on the
// current line; the following keys are in the same column.
func (p *fastParser) mapping(pos, depth int) *yaml.Node {
	l := &p.lines[p.li]
	ind := l.col(pos)
	m := p.node(yaml.MappingNode, "!!map", l, pos)
	base := len(p.kids)
	for {
		colon := p.keyEnd(l, pos)
		if colon < 0 {
			fastBail()
		}
		p.kids = append(p.kids, p.key(l, pos, colon))
		i := skipSpaces(p.src, colon+1, l.end)
		var v *yaml.Node
		if i == l.end {
			// The value is the block on the following lines.
			p.li++
			if p.li == len(p.lines) {
				fastBail()
			}
			l = &p.lines[p.li]
			switch c := l.col(l.ind); {
			case c > ind:
				v = p.block(l.ind, depth+1)
			case c == ind && p.isSeqItem(l, l.ind):
				v = p.seq(depth + 1)
			default:
				fastBail() // an empty value
			}
		} else {
			v = p.inline(l, i, depth+1)
		}
		p.kids = append(p.kids, v)
		if l = p.nextInColumn(ind); l == nil {
			break
		}
		if p.isSeqItem(l, l.ind) {
			fastBail()
		}
		pos = l.ind
	}
	m.Content = p.take(base)
	return m
}

// seq parses a block sequence whose first "-" starts the current line.
func (p *fastParser) seq(depth int) *yaml.Node {
	if depth > maxFastDepth {
		fastBail()
	}
	l := &p.lines[p.li]
	ind := l.col(l.ind)
	s := p.node(yaml.SequenceNode, "!!seq", l, l.ind)
	base := len(p.kids)
	for {
		i := skipSpaces(p.src, l.ind+1, l.end)
		if i == l.ind+1 || i == l.end || p.src[i] == '#' || p.isSeqItem(l, i) {
			fastBail() // "-" alone, a comment, or a nested "- -"
		}
		var v *yaml.Node
		if p.keyEnd(l, i) >= 0 {
			v = p.mapping(i, depth+1)
		} else {
			v = p.inline(l, i, depth+1)
		}
		p.kids = append(p.kids, v)
		if l = p.nextInColumn(ind); l == nil || !p.isSeqItem(l, l.ind) {
			break // the end of the block, or the next key of a mapping in the same column
		}
	}
	s.Content = p.take(base)
	return s
}

// nextInColumn returns the current line if it continues the block whose
// items start in column ind, or nil if the block has ended (no more
// lines, or a line less indented); a line indented further bails out.
func (p *fastParser) nextInColumn(ind int) *fastLine {
	if p.li == len(p.lines) {
		return nil
	}
	l := &p.lines[p.li]
	c := l.col(l.ind)
	if c < ind {
		return nil
	}
	if c > ind {
		fastBail()
	}
	return l
}

func skipSpaces(s string, i, end int) int {
	for i < end && s[i] == ' ' {
		i++
	}
	return i
}

// lineEnd checks that only spaces and a comment follow end on line l.
func (p *fastParser) lineEnd(l *fastLine, end int) {
	i := skipSpaces(p.src, end, l.end)
	if i < l.end && (p.src[i] != '#' || i == end) {
		fastBail()
	}
}

// inline parses a value that starts at pos in block context and ends
// line l (only a comment may follow it), and moves on to the next line.
func (p *fastParser) inline(l *fastLine, pos, depth int) *yaml.Node {
	s := p.src
	var v *yaml.Node
	var end int
	switch c := s[pos]; c {
	case '"':
		v, end = p.doubleQuoted(l, pos)
	case '\'':
		v, end = p.singleQuoted(l, pos)
	case '[':
		v, end = p.flowSeq(l, pos, depth)
	case '{':
		v, end = p.flowMap(l, pos, depth)
	case '&', '*', '!', '|', '>', '%', '@', '`', '#', ',', ']', '}', '?', ':':
		fastBail()
	case '-':
		if pos+1 == l.end || s[pos+1] == ' ' {
			fastBail()
		}
	}
	if v == nil {
		end = p.plainEnd(l, pos)
		v = p.plain(l, pos, end)
	}
	p.lineEnd(l, end)
	p.li++
	return v
}

// plainEnd returns the end of the plain scalar that starts at pos in
// block context: the end of line l, or a comment.
func (p *fastParser) plainEnd(l *fastLine, pos int) int {
	s := p.src
	i := pos
	for i < l.end {
		c := s[i]
		if c == ':' && (i+1 == l.end || s[i+1] == ' ') {
			fastBail() // "a: b: c" is an error
		}
		if c == ' ' && i+1 < l.end && s[i+1] == '#' {
			break
		}
		i++
	}
	for s[i-1] == ' ' {
		i--
	}
	return i
}

func (p *fastParser) plain(l *fastLine, pos, end int) *yaml.Node {
	v := p.src[pos:end]
	if v == "<<" {
		fastBail() // a merge key
	}
	n := p.node(yaml.ScalarNode, p.plainTag(v), l, pos)
	n.Value = v
	return n
}

// plainTag resolves the tag of a plain scalar as yaml.v3 does. yaml.v3
// only looks further than the first byte for values that may be a
// number, bool, null, date or special float; the short ones among those
// (days, times, dates) repeat, so their tags are cached.
func (p *fastParser) plainTag(v string) string {
	switch c := v[0]; {
	case c >= '0' && c <= '9', strings.IndexByte("+-.~yYnNtTfFoO", c) >= 0:
	default:
		return "!!str"
	}
	if isDecimal(v) {
		return "!!float" // coordinates: unique, so not worth caching
	}
	if len(v) > 16 {
		return (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
	}
	if p.tags == nil {
		p.tags = make(map[string]string, 64)
	}
	tag, ok := p.tags[v]
	if !ok {
		tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
		p.tags[v] = tag
	}
	return tag
}

// flowPlain parses a plain scalar inside [ ] or { }.
func (p *fastParser) flowPlain(l *fastLine, pos int) (*yaml.Node, int) {
	s := p.src
	switch c := s[pos]; c {
	case '&', '*', '!', '|', '>', '%', '@', '`', '#', ',', '[', ']', '{', '}', '?', ':', ' ':
		fastBail()
	case '-':
		if pos+1 == l.end || strings.IndexByte(" ,[]{}", s[pos+1]) >= 0 {
			fastBail()
		}
	}
	i := pos
scan:
	for {
		if i == l.end {
			fastBail() // flow collections must close on their line
		}
		switch c := s[i]; c {
		case ',', ']', '}':
			break scan
		case '[', '{', '?':
			fastBail()
		case ':':
			if i+1 < l.end && s[i+1] == ' ' {
				break scan
			}
			if i+1 == l.end || strings.IndexByte(",[]{}", s[i+1]) >= 0 {
				fastBail()
			}
		case ' ':
			if i+1 < l.end && s[i+1] == '#' {
				fastBail()
			}
		}
		i++
	}
	end := i
	for s[end-1] == ' ' {
		end--
	}
	return p.plain(l, pos, end), i
}

// flowItem parses one value inside [ ] or { }.
func (p *fastParser) flowItem(l *fastLine, pos, depth int) (*yaml.Node, int) {
	switch p.src[pos] {
	case '"':
		return p.doubleQuoted(l, pos)
	case '\'':
		return p.singleQuoted(l, pos)
	case '[':
		return p.flowSeq(l, pos, depth+1)
	case '{':
		return p.flowMap(l, pos, depth+1)
	}
	return p.flowPlain(l, pos)
}

// flowNext skips the spaces after an item and a comma after them; it
// returns the offset of the next item, or of close if the collection
// ends there.
func (p *fastParser) flowNext(l *fastLine, i int, close byte) (int, bool) {
	s := p.src
	i = skipSpaces(s, i, l.end)
	if i == l.end {
		fastBail()
	}
	switch s[i] {
	case close:
		return i + 1, true
	case ',':
		i = skipSpaces(s, i+1, l.end)
		if i == l.end || s[i] == close || s[i] == ',' {
			fastBail() // a trailing or doubled comma
		}
		return i, false
	}
	fastBail()
	return 0, false
}

func (p *fastParser) flowSeq(l *fastLine, pos, depth int) (*yaml.Node, int) {
	if depth > maxFastDepth {
		fastBail()
	}
	n := p.node(yaml.SequenceNode, "!!seq", l, pos)
	n.Style = yaml.FlowStyle
	base := len(p.kids)
	i := skipSpaces(p.src, pos+1, l.end)
	if i < l.end && p.src[i] == ']' {
		return n, i + 1
	}
	for {
		if i == l.end {
			fastBail()
		}
		v, end := p.flowItem(l, i, depth)
		p.kids = append(p.kids, v)
		var done bool
		if i, done = p.flowNext(l, end, ']'); done {
			break
		}
	}
	n.Content = p.take(base)
	return n, i
}

func (p *fastParser) flowMap(l *fastLine, pos, depth int) (*yaml.Node, int) {
	if depth > maxFastDepth {
		fastBail()
	}
	s := p.src
	n := p.node(yaml.MappingNode, "!!map", l, pos)
	n.Style = yaml.FlowStyle
	base := len(p.kids)
	i := skipSpaces(s, pos+1, l.end)
	if i < l.end && s[i] == '}' {
		return n, i + 1
	}
	for {
		if i == l.end || s[i] == '[' || s[i] == '{' {
			fastBail()
		}
		k, end := p.flowItem(l, i, depth)
		if end+1 >= l.end || s[end] != ':' || s[end+1] != ' ' {
			fastBail() // a key without ": value"
		}
		i = skipSpaces(s, end+1, l.end)
		if i == l.end || s[i] == ',' || s[i] == '}' {
			fastBail() // an empty value
		}
		v, end := p.flowItem(l, i, depth)
		p.kids = append(p.kids, k, v)
		var done bool
		if i, done = p.flowNext(l, end, '}'); done {
			break
		}
	}
	n.Content = p.take(base)
	return n, i
}

func (p *fastParser) singleQuoted(l *fastLine, pos int) (*yaml.Node, int) {
	s := p.src
	var b []byte // nil until a '' is seen
	from := pos + 1
	i := from
	for {
		j := strings.IndexByte(s[i:l.end], '\'')
		if j < 0 {
			fastBail() // multi-line
		}
		i += j
		if i+1 < l.end && s[i+1] == '\'' {
			b = append(b, s[from:i+1]...)
			i += 2
			from = i
			continue
		}
		break
	}
	return p.quoted(l, pos, yaml.SingleQuotedStyle, b, s[from:i]), i + 1
}

func (p *fastParser) doubleQuoted(l *fastLine, pos int) (*yaml.Node, int) {
	s := p.src
	var b []byte // nil until an escape is seen
	from := pos + 1
	i := from
	for {
		if i >= l.end {
			fastBail() // multi-line
		}
		c := s[i]
		if c == '"' {
			break
		}
		if c != '\\' {
			i++
			continue
		}
		b = append(b, s[from:i]...)
		if i+1 >= l.end {
			fastBail() // an escaped line break
		}
		width := 0
		switch e := s[i+1]; e {
		case '0':
			b = append(b, 0)
		case 'a':
			b = append(b, 7)
		case 'b':
			b = append(b, 8)
		case 't':
			b = append(b, 9)
		case 'n':
			b = append(b, 10)
		case 'v':
			b = append(b, 11)
		case 'f':
			b = append(b, 12)
		case 'r':
			b = append(b, 13)
		case 'e':
			b = append(b, 0x1b)
		case ' ', '"', '\'', '\\':
			b = append(b, e)
		case 'N':
			b = utf8.AppendRune(b, 0x85)
		case '_':
			b = utf8.AppendRune(b, 0xa0)
		case 'L':
			b = utf8.AppendRune(b, 0x2028)
		case 'P':
			b = utf8.AppendRune(b, 0x2029)
		case 'x':
			width = 2
		case 'u':
			width = 4
		case 'U':
			width = 8
		default:
			fastBail()
		}
		i += 2
		if width > 0 {
			if i+width > l.end {
				fastBail()
			}
			var r rune
			for _, h := range []byte(s[i : i+width]) {
				switch {
				case h >= '0' && h <= '9':
					r = r<<4 | rune(h-'0')
				case h >= 'a' && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				case h >= 'A' && h <= 'F':
					r = r<<4 | rune(h-'A'+10)
				default:
					fastBail()
				}
			}
			if r >= 0xd800 && r <= 0xdfff || r > 0x10ffff {
				fastBail()
			}
			b = utf8.AppendRune(b, r)
			i += width
		}
		from = i
	}
	return p.quoted(l, pos, yaml.DoubleQuotedStyle, b, s[from:i]), i + 1
}

// quoted makes the node of a quoted scalar at pos whose value is b (the
// text up to its last escape, nil if it has none) followed by rest.
func (p *fastParser) quoted(l *fastLine, pos int, style yaml.Style, b []byte, rest string) *yaml.Node {
	n := p.node(yaml.ScalarNode, "!!str", l, pos)
	n.Style = style
	if b == nil {
		n.Value = rest
	} else {
		n.Value = string(append(b, rest...))
	}
	return n
}

// isDecimal reports whether v is digits, a point and digits, short
// enough not to overflow a float64: yaml.v3 resolves those to !!float.
func isDecimal(v string) bool {
	point := strings.IndexByte(v, '.')
	if point < 1 || point == len(v)-1 || len(v) > 20 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i != point && (v[i] < '0' || v[i] > '9') {
			return false
		}
	}
	return true
}
