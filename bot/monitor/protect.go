package monitor

import (
	"sort"
	"strings"
)

// This file implements the suppression of small counts.
//
// Every number a report can show is a cell of one grid, named by what it
// counts ("q|a=wohnen|d=nord" = questions about housing from Nordstadt).
// Cells are tied by additive lines: the parts of a line sum to its total
// (the districts' questions about housing sum to all questions about
// housing). A report for one district and a report for the whole city are
// cut from the same grid with the same suppression pattern, so what one
// hides the other cannot reveal, and differences of published totals
// only ever reveal sums of several hidden cells.
//
// protect applies two rules:
//
//  1. primary: a cell with 0 < n < threshold is hidden;
//  2. complementary: in every line, the hidden members (parts and total)
//     are either none or at least two, and if the total is shown the
//     hidden parts add up to at least the threshold. Otherwise the
//     smallest shown non-zero part is hidden too (or, if none is left, the
//     total), and all lines are checked again until nothing changes.
//
// A hidden cell therefore cannot be computed from one line (total minus
// the shown parts), and the sum such a subtraction yields is never a
// small count. This is the usual first-order protection of statistical
// offices' tables; it does not defend against solving many lines as a
// system of equations, which would need the whole grid, not single
// reports. Zeros are shown: a zero singles nobody out, and it cannot
// serve as a complement since it is known exactly.
type grid struct {
	threshold int64
	ids       map[string]int
	val       []int64
	hide      []bool
	lines     []gridLine
}

type gridLine struct {
	total int
	parts []int
}

func newGrid() *grid { return &grid{ids: map[string]int{}} }

// cell returns the id of the cell key, creating it with value v. Cubes
// sharing a cell compute the same quantity from the same data, so a
// second v is equal and ignored.
func (g *grid) cell(key string, v int64) int {
	if id, ok := g.ids[key]; ok {
		return id
	}
	g.ids[key] = len(g.val)
	g.val = append(g.val, v)
	g.hide = append(g.hide, false)
	return len(g.val) - 1
}

// get returns a cell's value and whether it is hidden; unknown cells are
// zero and shown.
func (g *grid) get(key string) Cell {
	id, ok := g.ids[key]
	if !ok {
		return Cell{}
	}
	return Cell{N: g.val[id], Hidden: g.hide[id], Secondary: g.hide[id] && g.val[id] >= g.threshold}
}

// protect hides cells by the rules above. Every round hides at least one
// more cell or ends, so it ends after at most len(cells) rounds.
func (g *grid) protect(threshold int64) {
	g.threshold = threshold
	for i, v := range g.val {
		g.hide[i] = v > 0 && v < threshold
	}
	for round := 0; round <= len(g.val); round++ {
		changed := false
		for _, l := range g.lines {
			for g.fixLine(l, threshold) {
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

// fixLine hides one more cell of l if l breaks the complementary rule and
// reports whether it did.
func (g *grid) fixLine(l gridLine, threshold int64) bool {
	hidden, sum := 0, int64(0)
	for _, p := range l.parts {
		if g.hide[p] {
			hidden++
			sum += g.val[p]
		}
	}
	totalHidden := g.hide[l.total]
	if totalHidden {
		hidden++
	}
	if hidden == 0 || (hidden >= 2 && (totalHidden || sum >= threshold)) {
		return false
	}
	pick := -1
	for _, p := range l.parts {
		if !g.hide[p] && g.val[p] > 0 && (pick < 0 || g.val[p] < g.val[pick]) {
			pick = p
		}
	}
	if pick < 0 && !totalHidden && g.val[l.total] > 0 {
		pick = l.total
	}
	if pick < 0 {
		return false
	}
	g.hide[pick] = true
	return true
}

// axis is one dimension of a cube: its name (short, used in cell keys)
// and its values in display order.
type axis struct {
	name   string
	values []string
}

// record is one count with a value for every axis of a cube.
type record struct {
	coord []string
	n     int64
}

// addCube adds the cells of a cube with all its margins to g, and its
// lines: for each axis and each position of the other axes (margins
// included), the cells along the axis sum to the margin. A value of a
// record that is not among its axis' values is a bug of the caller and
// counts in the margin only. Margins of several cubes of one measure are
// the same cells, since a key names only the axes fixed to a value.
func (g *grid) addCube(measure string, axes []axis, recs []record) {
	k := len(axes)
	// order sorts axes by name for the key, so cubes listing shared axes
	// in another order still share cells.
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return axes[order[a]].name < axes[order[b]].name })
	key := func(coord []string) string {
		var b strings.Builder
		b.WriteString(measure)
		for _, i := range order {
			if coord[i] != "" {
				b.WriteString("|" + axes[i].name + "=" + coord[i])
			}
		}
		return b.String()
	}
	// Sum records into every cell they belong to: 2^k cells each.
	vals := map[string]int64{}
	coord := make([]string, k)
	for _, r := range recs {
		for mask := 0; mask < 1<<k; mask++ {
			for i := range k {
				coord[i] = ""
				if mask&(1<<i) != 0 {
					coord[i] = r.coord[i]
				}
			}
			vals[key(coord)] += r.n
		}
	}
	// Enumerate every coordinate ("" = margin) and add lines.
	var walk func(i int)
	walk = func(i int) {
		if i == k {
			tot := g.cell(key(coord), vals[key(coord)])
			for a := range k {
				if coord[a] != "" {
					continue
				}
				parts := make([]int, 0, len(axes[a].values))
				for _, v := range axes[a].values {
					coord[a] = v
					parts = append(parts, g.cell(key(coord), vals[key(coord)]))
				}
				coord[a] = ""
				if len(parts) > 0 {
					g.lines = append(g.lines, gridLine{total: tot, parts: parts})
				}
			}
			return
		}
		coord[i] = ""
		walk(i + 1)
		for _, v := range axes[i].values {
			coord[i] = v
			walk(i + 1)
		}
		coord[i] = ""
	}
	walk(0)
}

// cellKey names the cell of measure with the given axis=value pairs,
// as addCube does (pairs with empty values are margins and left out).
func cellKey(measure string, pairs ...string) string {
	type kv struct{ k, v string }
	var kvs []kv
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			kvs = append(kvs, kv{pairs[i], pairs[i+1]})
		}
	}
	sort.Slice(kvs, func(a, b int) bool { return kvs[a].k < kvs[b].k })
	var b strings.Builder
	b.WriteString(measure)
	for _, p := range kvs {
		b.WriteString("|" + p.k + "=" + p.v)
	}
	return b.String()
}
