package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on curated input. They are far above anything a curator writes
// by hand and keep a broken or hostile file from exhausting memory.
const (
	// MaxFileSize is the largest file Load accepts.
	MaxFileSize = 4 << 20
	// MaxTextSize is the largest single value (a name, a summary, a
	// detail text) Load accepts.
	MaxTextSize = 16 << 10
	// maxFileProblems stops reporting for one file after this many
	// problems; a file this broken is usually the wrong file.
	maxFileProblems = 200
)

// Problem is one thing wrong in the curated files.
type Problem struct {
	File string // file name relative to the knowledge base directory; "" if the problem concerns the whole base
	Line int    // 1-based line; 0 if unknown
	Msg  string
}

// String formats the problem as "file:line: msg", the form editors and
// terminals turn into links.
func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Msg
	case p.Line <= 0:
		return p.File + ": " + p.Msg
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ": " + p.Msg
}

// LoadError lists every problem found while loading a knowledge base,
// sorted by file and line. Load never returns a partly loaded base: if
// there is a LoadError there is no KB.
type LoadError struct {
	Problems []Problem
}

// Error prints one "file:line: msg" line per problem.
func (e *LoadError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func newLoadError(ps []Problem) *LoadError {
	ps = append([]Problem(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Msg < b.Msg
	})
	return &LoadError{Problems: ps}
}

// LoadDir loads the knowledge base in directory dir; see Load.
func LoadDir(dir string) (*KB, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, newLoadError([]Problem{{File: dir, Msg: "cannot open knowledge base directory: " + describeFSError(err)}})
	}
	if !st.IsDir() {
		return nil, newLoadError([]Problem{{File: dir, Msg: "not a directory"}})
	}
	return Load(os.DirFS(dir))
}

// Load reads every *.yaml and *.yml file at the root of fsys (in name
// order; hidden files and subdirectories are ignored), validates the
// whole base and indexes it for search.
//
// Returns a *LoadError listing every problem, each with file and line,
// if anything is wrong; then the KB is nil.
func Load(fsys fs.FS) (kb *KB, err error) {
	l := &loader{}
	names, err := yamlFiles(fsys)
	if err != nil {
		return nil, newLoadError([]Problem{{Msg: "cannot list knowledge base files: " + describeFSError(err)}})
	}
	if len(names) == 0 {
		return nil, newLoadError([]Problem{{Msg: "no .yaml or .yml files found"}})
	}
	// Parsing dominates loading time; files are parsed in parallel, each
	// into its own problem list, and merged in name order.
	parsed := make([]*loader, len(names))
	roots := make([]*yaml.Node, len(names))
	parallel(len(names), func(i int) {
		parsed[i] = &loader{}
		roots[i] = parsed[i].parseFile(fsys, names[i])
	})
	var docs []fileDoc
	for i, name := range names {
		l.problems = append(l.problems, parsed[i].problems...)
		if roots[i] != nil {
			docs = append(docs, fileDoc{name: name, root: roots[i]})
		}
	}
	l.decodeAll(docs)
	if len(l.problems) > 0 {
		return nil, newLoadError(l.problems)
	}
	kb = build(l.city, l.loc, l.entries, l.topics, l.concepts)
	kb.routing = l.routing
	return kb, nil
}

func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// yamlFiles lists the YAML files at the root of fsys, sorted by name.
func yamlFiles(fsys fs.FS) ([]string, error) {
	des, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		switch strings.ToLower(path.Ext(name)) {
		case ".yaml", ".yml":
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

type fileDoc struct {
	name string
	root *yaml.Node // the document's top-level mapping
}

// loader collects the parts of a knowledge base and every problem found.
type loader struct {
	problems  []Problem
	perFile   map[string]int
	truncated map[string]bool

	city     City
	cityPos  *Pos
	loc      *time.Location
	entries  []*Entry
	topics   []Topic
	concepts []Concept

	// Where references were made, for checks that need the whole base.
	refs []ref

	rawRouting *rawRouting // the routing: section as written
	routing    *routing    // compiled by checkRouting if it is valid
}

// ref is a reference from one entry to another id, checked once all
// files are read.
type ref struct {
	pos   Pos
	field string // district, topics, concepts, venue
	id    string
	from  string // id of the referring entry
}

func (l *loader) add(file string, line int, msg string) {
	if l.perFile == nil {
		l.perFile = map[string]int{}
		l.truncated = map[string]bool{}
	}
	if l.perFile[file] >= maxFileProblems {
		if !l.truncated[file] {
			l.truncated[file] = true
			l.problems = append(l.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf("more than %d problems in this file; fix these first", maxFileProblems)})
		}
		return
	}
	l.perFile[file]++
	l.problems = append(l.problems, Problem{File: file, Line: line, Msg: msg})
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFile reads and parses one file and returns its top-level mapping,
// or nil after reporting why it cannot be used.
func (l *loader) parseFile(fsys fs.FS, name string) (root *yaml.Node) {
	data, err := readCapped(fsys, name)
	if err != nil {
		l.add(name, 0, err.Error())
		return nil
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")) // editors on Windows add a BOM
	if bytes.HasPrefix(data, []byte("\xFF\xFE")) || bytes.HasPrefix(data, []byte("\xFE\xFF")) {
		l.add(name, 1, "file is UTF-16; save it as UTF-8")
		return nil
	}
	if !utf8.Valid(data) {
		line := 1
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			if r == '\n' {
				line++
			}
			i += size
		}
		l.add(name, line, "invalid UTF-8; save the file as UTF-8")
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		l.add(name, 0, "file is empty")
		return nil
	}

	defer func() {
		// yaml.v3 has panicked on crafted input in the past; a curator's
		// typo must never take the bot down.
		if r := recover(); r != nil {
			l.add(name, 0, "cannot parse YAML")
			root = nil
		}
	}()
	if line := secondDocument(data); line > 0 {
		l.add(name, line, "more than one YAML document (---) in one file; split it into several files")
		return nil
	}
	// fastYAML builds the tree for files in the plain subset curators
	// write (most of the load time is parsing); for anything else, and
	// for every error message, yaml.Unmarshal decides. It parses from
	// memory, markedly faster than a Decoder reading through its buffer,
	// and reads only the first document, which is why secondDocument
	// looks for more.
	doc := fastYAML(data)
	if doc == nil {
		doc = new(yaml.Node)
		if err := yaml.Unmarshal(data, doc); err != nil {
			l.addYAMLError(name, err)
			return nil
		}
	}
	if doc.Kind == 0 {
		l.add(name, 0, "file has no content (only comments)")
		return nil
	}
	if !l.checkTree(name, doc) {
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		l.add(name, doc.Line, "file has no content")
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		l.add(name, top.Line, "expected a mapping with keys city, topics, glossary, entries, routing; found "+nodeKind(top))
		return nil
	}
	return top
}

func (l *loader) addYAMLError(name string, err error) {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		l.add(name, line, "YAML syntax: "+m[2])
		return
	}
	l.add(name, 0, "YAML syntax: "+strings.TrimPrefix(msg, "yaml: "))
}

// readCapped reads a file, refusing files over MaxFileSize without
// reading them whole.
func readCapped(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot open: %s", describeFSError(err))
	}
	defer f.Close()
	size := int64(512)
	if st, err := f.Stat(); err == nil {
		if st.Size() > MaxFileSize {
			return nil, fmt.Errorf("file is too large (%d bytes; at most %d allowed)", st.Size(), MaxFileSize)
		}
		size = st.Size() + 1 // one more byte lets Read report EOF without growing
	}
	// Read into a buffer of the known size, as os.ReadFile does: a
	// bytes.Buffer would double itself once the file fills it, as it
	// wants room for 512 more bytes before each read.
	data := make([]byte, 0, size)
	r := io.LimitReader(f, MaxFileSize+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // the file grew since Stat
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read: %s", describeFSError(err))
		}
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is too large (more than %d bytes)", MaxFileSize)
	}
	return data, nil
}

// secondDocument returns the line of a document marker ("---" or "..."
// at the start of a line) that follows content, or 0 if the file holds
// one document. Markers are only recognised at column 0, and block
// scalars under a top-level key are indented, so a line scan is exact
// for the files Load accepts.
func secondDocument(data []byte) int {
	content, ended := false, false
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		rest := bytes.TrimSpace(l)
		marker := (bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("..."))) &&
			(len(l) == 3 || l[3] == ' ' || l[3] == '\t')
		if marker {
			rest = bytes.TrimSpace(l[3:])
			if l[0] == '-' && (content || ended) {
				return line
			}
			if l[0] == '.' && content {
				ended = true
			}
		}
		if len(rest) > 0 && rest[0] != '#' && !(l[0] == '%' && !content) {
			if ended {
				return line
			}
			content = true
		}
	}
	return 0
}

// checkTree rejects YAML features curated files do not need and that
// would let a small file expand into a huge one (aliases, as in the
// "billion laughs" attack) or smuggle in binary data (custom tags).
func (l *loader) checkTree(name string, doc *yaml.Node) bool {
	ok := true
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.AliasNode:
			l.add(name, n.Line, "YAML aliases (*"+n.Value+") are not supported; write the value out")
			ok = false
			return
		case yaml.ScalarNode:
			switch n.Tag {
			case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "":
			default:
				l.add(name, n.Line, "YAML tag "+n.Tag+" is not supported")
				ok = false
			}
			if len(n.Value) > MaxTextSize {
				l.add(name, n.Line, fmt.Sprintf("value is too long (%d bytes; at most %d allowed)", len(n.Value), MaxTextSize))
				ok = false
			}
		case yaml.MappingNode, yaml.SequenceNode:
			if n.Tag != "!!map" && n.Tag != "!!seq" && n.Tag != "" {
				l.add(name, n.Line, "YAML tag "+n.Tag+" is not supported")
				ok = false
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	return ok
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(truncate(n.Value, 40))
	}
	return "nothing"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
