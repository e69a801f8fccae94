package knowledge

// Internal test: fastYAML's promise is that its tree equals yaml.v3's,
// which only the unexported parser can be asked about directly.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/lotse-bot/lotse/knowledge/internal/synth"
)

// fastSeeds are inputs at the edges of the subset, inside and outside.
var fastSeeds = []string{
	"a: 1\n",
	"# c\n\nentries:\n  - id: a\n    x: [b, \"c\"]\n",
	"\n\n  a: x\n  b: {c: d}\n",
	"a:\n- x\n- y: z\n  w: 2026-01-02\n",
	"a: x # c\nb: 'it''s'\n",
	"a: \"\\u00e4\\x41\\t\\\"q\\\" \\\\ \\N\\_\\L\\P\\0\\e\"\n",
	"a: \"\\ud800\"\n",
	"a: \"\\/\"\n",
	"a: [x, y,]\n",
	"a: [x, , y]\n",
	"a: {b: [1, {c: d}], e: 'f'}\n",
	"a: {b}\n",
	"a: {b: }\n",
	"a: [b: c]\n",
	"a: [b:c, d]\n",
	"a: [http://x.org/a, \"y\"]\n",
	"a: b: c\n",
	"a: b:c\n",
	"a:\n  - - x\n",
	"a:\n  -\n    b: c\n",
	"a:\n\nb: c\n",
	"a:\nb: c\n",
	"a: x\n  y\n",
	"a: x\n - y\n",
	"- a:\n  - x\n  b: y\n- c\n",
	"a:\n  b: 1\n c: 2\n",
	"a: &x 1\nb: *x\n",
	"a: !!binary aGk=\n",
	"a: |\n  text\n",
	"a: >\n  text\n",
	"a: \"x\"#c\n",
	"a: \"x\" #c\n",
	"a: \"x\": y\n",
	"\"a\": b\n",
	"a:   spaced    \n",
	"a: -1.5\nb: - x\n",
	"a: yes\nb: ~\nc: null\nd: .inf\ne: 0x1F\nf: 1e3\ng: 08:30\nh: <<\n",
	"<<: x\n",
	"a: x\n---\nb: y\n",
	"%YAML 1.2\n---\na: b\n",
	"a: b\r\n",
	"a: b\r\nc: [d, 'e']\r\n- f\r\n",
	"a:\r\n  - b # c\r\n\r\n  - c\r",
	"a: b\rc: d\n",
	"a: 1\na: 2\nb: {c: 1, c: 2}\n",
	"a: [😀, \"😀\", b]\nc: {😀: d, e: 😀}\n",
	"a: x  # c\nb: 'x' # c\n",
	"a : b\n",
	"  a: b\n b: c\n",
	"a:\n  - b: c\n    d:\n      - e\n      - f: [g]\n  - h\n",
	"a:\n- b:\n  - c\n  d: e\n",
	"a: {b: \"c, d\", e: 'f: g'}\n",
	"a: 'x # y'\nb: \"x # y\" # z\n",
	"a: x:y\nb: [x:y]\n",
	"a:\n  b: c\n\n\n  d: e\n",
	"a:   \n  b: c\n",
	"- a\n-  b\n",
	"a:\n  -   b: c\n      d: e\n",
	`a: ''''` + "\n" + `b: "\\"` + "\n",
	"a: [\"x\" , 'y' ,z ]\n",
	"a: {b: c , d: [e] }\n",
	"a:\n    - b\n    - c\nd: e\n",
	"a:\n  b:\n  - c\n  d: e\n",
	"a:\tb\n",
	"a: b\xc2\x85c\n",
	"a: b\xe2\x80\xa8c\n",
	"a: \xef\xbb\xbfb\n",
	"a: ب: c\n",
	"a: [ب, \"ج\", د]\nb: {x: ب, y: \"ج\"}\n",
	"a: {x: [1, 2], y: {z: w}}\n",
	"- x\n- y\n",
	"x\n",
	"a: [\n  b]\n",
	"a: 'x\n  y'\n",
	"a: [a?b]\n",
	"a: x #c: d\n",
	"a: x#y\n",
	"a#b: c\n",
	"a.b-c_d: e\n",
	"1: x\nnull: y\ntrue: z\n",
	"a: {\"k\": v}\n",
	"a: {\"k\":v}\n",
	"a:\n  b:\n    c: [d]\n  e: f\ng: h\n",
	"   \n# only\n",
	"a: b\n  # comment deeper\nc: d\n",
	"a:\n  # comment\n  b: c\n",
	"a: [b] # c\n",
	"a: [b]x\n",
	"a: {b: c} d\n",
	"a: ''\nb: \"\"\n",
	"a: [[], {}]\n",
	"a: -\n",
	"a: -x\n",
	"a: [-x, -1]\n",
	"a: [- x]\n",
	"? a\n: b\n",
	"a: 'x' 'y'\n",
	"a: \"x\\\n  y\"\n",
}

// FuzzFastYAML checks fastYAML against yaml.v3: whatever it accepts it
// must parse into the same tree, comments aside, and it must never panic
// except to bail out.
func FuzzFastYAML(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	for _, data := range mustCorpus(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastYAML(t, data)
	})
}

// TestFastYAMLAccepts makes sure the subset covers what curators and the
// benchmark write: otherwise Load silently falls back to the slow path.
func TestFastYAMLAccepts(t *testing.T) {
	corpus := mustCorpus(t)
	for name, data := range corpus {
		t.Run(name, func(t *testing.T) {
			if !checkFastYAML(t, data) {
				t.Error("fastYAML does not accept this file")
			}
		})
	}
}

// TestFastYAMLSeeds runs the differential check on the edge cases
// without fuzzing, so that go test covers them.
func TestFastYAMLSeeds(t *testing.T) {
	accepted := 0
	for i, s := range fastSeeds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if checkFastYAML(t, []byte(s)) {
				accepted++
			}
		})
	}
	if accepted == 0 || accepted == len(fastSeeds) {
		t.Errorf("%d of %d seeds accepted; the seeds should probe both sides of the subset", accepted, len(fastSeeds))
	}
}

// checkFastYAML compares fastYAML with yaml.v3 on data and reports
// whether fastYAML accepted it.
func checkFastYAML(t *testing.T, data []byte) bool {
	t.Helper()
	if !utf8.Valid(data) {
		return false // parseFile rejects these before parsing
	}
	got, bailed := func() (n *yaml.Node, bailed bool) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fastBailout); !ok {
					t.Fatalf("fastParse panicked: %v", r)
				}
				bailed = true
			}
		}()
		return fastParse(data), false
	}()
	if bailed || got == nil {
		return false // nil: no content, left to yaml.v3
	}
	var want yaml.Node
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatalf("fastYAML accepted input yaml.v3 rejects (%v):\n%s", err, data)
	}
	if diff := diffNodes(got, &want, "doc"); diff != "" {
		t.Fatalf("trees differ at %s\ninput:\n%s", diff, data)
	}
	return true
}

func diffNodes(a, b *yaml.Node, at string) string {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value ||
		a.Anchor != b.Anchor || a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: fast {K%d S%d %q %q %d:%d n%d}, yaml.v3 {K%d S%d %q %q %d:%d n%d}", at,
			a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, len(a.Content),
			b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if d := diffNodes(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); d != "" {
			return d
		}
	}
	return ""
}

// mustCorpus returns the sample base, the test bases and a small
// synthetic base, by name.
func mustCorpus(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for _, dir := range []string{"sample", "testdata/load/valid"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("no files in %s: %v", dir, err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				tb.Fatal(err)
			}
			out[name] = data
		}
	}
	out["sample/offices.yaml with CRLF"] = []byte(strings.ReplaceAll(string(out[filepath.Join("sample", "offices.yaml")]), "\n", "\r\n"))
	fsys := synth.FS(60) // every kind of entry, small enough to fuzz
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range names {
		out["synth/"+name] = fsys[name].Data
	}
	for name := range out {
		if strings.HasPrefix(name, "sample") {
			return out
		}
	}
	tb.Fatal("sample files missing")
	return nil
}

// TestPlainTag checks the shortcut in plainTag against yaml.v3 for every
// first byte and a few values each.
func TestPlainTag(t *testing.T) {
	p := &fastParser{}
	for c := 0x21; c < 0x7f; c++ {
		for _, rest := range []string{"", "1", "rue", "ull", ".5", "x:y", "0-01-01", "123456789012345678", "1.5", "2.", "1.2.3", "00000000000000000000.1", "1.5e3"} {
			v := string(rune(c)) + rest
			want := (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
			if got := p.plainTag(v); got != want {
				t.Errorf("plainTag(%q) = %s, yaml.v3 says %s", v, got, want)
			}
		}
	}
}

// FuzzQuickDate checks quickDate against time.ParseInLocation.
func FuzzQuickDate(f *testing.F) {
	for _, s := range []string{"2026-10-15", "2026-02-29", "2028-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
		"0000-01-01", "2026-1-015", "+026-10-15", "2026-10-15 08:30", "2026-10-15T23:59", "2026-10-15 24:00",
		"2026-10-15 8:300", "2026-10-15x08:30", "2026-03-29 02:30", "2026-10-25 02:30", "2026-10-15 08:60"} {
		f.Add(s)
	}
	loc := defaultLocation()
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := quickDate(s, loc)
		if !ok {
			return
		}
		layout := "2006-01-02"
		switch {
		case len(s) == 16 && s[10] == 'T':
			layout = "2006-01-02T15:04"
		case len(s) == 16:
			layout = "2006-01-02 15:04"
		}
		want, err := time.ParseInLocation(layout, s, loc)
		if err != nil || !got.Equal(want) || got.Location() != want.Location() || got.String() != want.String() {
			t.Fatalf("quickDate(%q) = %v, time.ParseInLocation = %v, %v", s, got, want, err)
		}
	})
}

// BenchmarkParseEntriesFile parses one synthetic file of 1,000 entries
// (about 2.3 MB) with fastYAML and with yaml.v3, the two ways parseFile
// can take.
func BenchmarkParseEntriesFile(b *testing.B) {
	data := synth.FS(synth.EntriesPerFile)["entries-000.yaml"].Data
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if fastYAML(data) == nil {
				b.Fatal("fastYAML does not accept the file")
			}
		}
	})
	b.Run("yaml.v3", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestScalarShortcuts checks the shortcuts of fdec.boolean and
// fdec.number against yaml.v3's decoding of the same nodes.
func TestScalarShortcuts(t *testing.T) {
	for _, v := range []string{"true", "True", "TRUE", "false", "False", "FALSE", "yes", "on",
		"51.5716", "6.7531", "0.0", "1.", ".5", "90", "-12.5", "1e3", "0000000000000000001.5", "99999999999999999999.9", ".nan", ".inf"} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+v+"\n"), &doc); err != nil {
			t.Fatal(err)
		}
		n := doc.Content[0].Content[1]
		d := &fdec{l: &loader{}, file: "f"}
		var wantB bool
		errB := n.Decode(&wantB)
		if got, ok := d.boolean(n, "v"); ok != (errB == nil && n.Tag == "!!bool") || ok && got != wantB {
			t.Errorf("boolean(%s) = %v, %v; yaml.v3 decodes %v, %v", v, got, ok, wantB, errB)
		}
		var wantF float64
		errF := n.Decode(&wantF)
		if got, ok := d.number(n, "v"); ok && (errF != nil || got != wantF) {
			t.Errorf("number(%s) = %v; yaml.v3 decodes %v, %v", v, got, wantF, errF)
		}
	}
}
