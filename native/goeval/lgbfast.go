package goeval

import (
	"math"
	"sort"
)

// lgbFast is the layout models whose splits are all numerical and "plain"
// — zero goes where comparing 0 sends it — are evaluated in. The row is
// copied with |x| <= 1e-35f set to 0 (LightGBM's row reader drops those),
// so that LightGBM's missing-value rule reduces to x <= threshold for every
// value but NaN; where NaN goes is one bit per split (bit 8 of feature),
// used only for rows that hold a NaN (serving never sends one: a missing
// input refuses the bar). Each tree is renumbered breadth first so that the two
// children of a node are adjacent (left = right - 1), which makes a node 16
// bytes, and every leaf becomes a node that loops to itself (threshold NaN:
// x <= NaN is false, so it always "goes right", to itself). Trees are then
// walked eight at a time, eight of equal depth, for exactly that many steps,
// with no branch on the data: eight independent chains of loads keep the
// CPU busy where one tree at a time waits on each load and each
// mispredicted branch. Leaf values are added in tree order afterwards, so
// the sum is bit for bit LightGBM's.
type lgbFast struct {
	nodes []fastNode
	value []float64 // per node: the leaf value (leaves only)
	roots []int32
	depth []int32 // per tree: the deepest leaf's depth
	order []int32 // per window of fastWindow trees: its trees by depth
}

type fastNode struct {
	threshold float64 // NaN for a leaf
	feature   int32   // bits 0-7: the feature; bit 8: NaN goes left
	right     int32   // left child is right - 1; a leaf's right is itself
}

// plain reports whether n can be decided by x <= threshold for any x but
// NaN, once values LightGBM reads as 0 are 0.
func (n *lgbNode) plain() bool {
	return n.flags&flagCategorical == 0 && (n.flags&flagZeroLeft != 0) == (0 <= n.threshold)
}

// buildFast lays the model out as lgbFast, or returns nil when a split is
// not plain or the model has linear trees.
func (m *LightGBM) buildFast() *lgbFast {
	if m.lin != nil || m.h.nFeatures > fastMaxFeatures {
		return nil
	}
	for i := range m.nodes {
		if !m.nodes[i].plain() {
			return nil
		}
	}
	f := &lgbFast{}
	for _, root := range m.roots {
		f.addTree(m, root)
	}
	for w := 0; w < len(f.roots); w += fastWindow {
		ord := make([]int32, 0, fastWindow)
		for t := w; t < min(w+fastWindow, len(f.roots)); t++ {
			ord = append(ord, int32(t))
		}
		sort.SliceStable(ord, func(a, b int) bool { return f.depth[ord[a]] < f.depth[ord[b]] })
		f.order = append(f.order, ord...)
	}
	return f
}

func (f *lgbFast) addTree(m *LightGBM, root int32) {
	type item struct {
		src   int32 // node index, or ^leaf
		depth int32
	}
	base := int32(len(f.nodes))
	f.roots = append(f.roots, base)
	queue := []item{{root, 0}}
	f.nodes, f.value = append(f.nodes, fastNode{}), append(f.value, 0)
	maxDepth := int32(0)
	for q := 0; q < len(queue); q++ {
		it, at := queue[q], base+int32(q)
		maxDepth = max(maxDepth, it.depth)
		if it.src < 0 { // a leaf loops to itself
			f.nodes[at] = fastNode{threshold: math.NaN(), right: at}
			f.value[at] = m.leaves[^it.src]
			continue
		}
		n := &m.nodes[it.src]
		// Children are appended in queue order, two at a time: adjacent.
		right := base + int32(len(queue)) + 1
		feature := n.feature
		if n.flags&flagNaNLeft != 0 {
			feature |= 1 << 8
		}
		f.nodes[at] = fastNode{threshold: n.threshold, feature: feature, right: right}
		queue = append(queue, item{n.children[0], it.depth + 1}, item{n.children[1], it.depth + 1})
		f.nodes, f.value = append(f.nodes, fastNode{}, fastNode{}), append(f.value, 0, 0)
	}
	f.depth = append(f.depth, maxDepth)
}

// fastWindow is how many consecutive trees are walked as one batch: their
// walk order is by depth (eight trees of equal depth at a time), their sum
// is in tree order. 512 leaf indexes fit on the stack.
const fastWindow = 512

// fastMaxFeatures bounds the row copy on the stack; wider models take the
// general walk.
const fastMaxFeatures = 256

// step moves one level down (or stays on a leaf) for a row without NaN. x
// is indexed by a uint8, so the compiler needs no bounds check there.
func step(nodes []fastNode, i int32, x *[fastMaxFeatures]float64) int32 {
	n := &nodes[i]
	d := int32(0)
	if x[uint8(n.feature)] <= n.threshold {
		d = 1
	}
	return n.right - d
}

// stepNaN is step for a row with NaN: x <= t is false for NaN and
// !(x > t) true, and they agree on everything else, so the split's bit
// picks between them.
func stepNaN(nodes []fastNode, i int32, x *[fastMaxFeatures]float64) int32 {
	n := &nodes[i]
	v := x[uint8(n.feature)]
	le, notGT := int32(0), int32(0)
	if v <= n.threshold {
		le = 1
	}
	if !(v > n.threshold) {
		notGT = 1
	}
	return n.right - (le | notGT&(n.feature>>8))
}

// predictRaw sums trees [0, trees) into out (len = trees per iteration).
func (f *lgbFast) predictRaw(row []float64, trees int, out []float64) {
	var x [fastMaxFeatures]float64
	nan := false
	for j, v := range row {
		switch {
		case math.Abs(v) > kZeroThreshold:
			x[j] = v
		case v != v:
			x[j], nan = v, true
		} // else 0: LightGBM reads |x| <= 1e-35f as 0
	}
	var leaf [fastWindow]int32
	k := len(out)
	for w := 0; w < trees; w += fastWindow {
		end := min(w+fastWindow, len(f.roots))
		if end > trees { // a window cut by numIteration: walk it in order
			for t := w; t < trees; t++ {
				leaf[t-w] = f.walk(t, &x, nan)
			}
			end = trees
		} else {
			f.walkWindow(w, end, &x, nan, &leaf)
		}
		for t := w; t < end; t++ {
			out[t%k] += f.value[leaf[t-w]]
		}
	}
}

func (f *lgbFast) walk(t int, x *[fastMaxFeatures]float64, nan bool) int32 {
	i := f.roots[t]
	for d := f.depth[t]; d > 0; d-- {
		if nan {
			i = stepNaN(f.nodes, i, x)
		} else {
			i = step(f.nodes, i, x)
		}
	}
	return i
}

// walkWindow walks trees [w, end) eight at a time in depth order, leaving
// each tree's leaf in leaf[t-w].
func (f *lgbFast) walkWindow(w, end int, x *[fastMaxFeatures]float64, nan bool, leaf *[fastWindow]int32) {
	nodes, ord := f.nodes, f.order[w:end]
	g := 0
	for ; g+8 <= len(ord); g += 8 {
		o := ord[g : g+8 : g+8]
		i0, i1, i2, i3 := f.roots[o[0]], f.roots[o[1]], f.roots[o[2]], f.roots[o[3]]
		i4, i5, i6, i7 := f.roots[o[4]], f.roots[o[5]], f.roots[o[6]], f.roots[o[7]]
		// Sorted by depth: the last is the deepest.
		for d := f.depth[o[7]]; d > 0 && !nan; d-- {
			i0, i1, i2, i3 = step(nodes, i0, x), step(nodes, i1, x), step(nodes, i2, x), step(nodes, i3, x)
			i4, i5, i6, i7 = step(nodes, i4, x), step(nodes, i5, x), step(nodes, i6, x), step(nodes, i7, x)
		}
		for d := f.depth[o[7]]; d > 0 && nan; d-- {
			i0, i1, i2, i3 = stepNaN(nodes, i0, x), stepNaN(nodes, i1, x), stepNaN(nodes, i2, x), stepNaN(nodes, i3, x)
			i4, i5, i6, i7 = stepNaN(nodes, i4, x), stepNaN(nodes, i5, x), stepNaN(nodes, i6, x), stepNaN(nodes, i7, x)
		}
		leaf[int(o[0])-w], leaf[int(o[1])-w], leaf[int(o[2])-w], leaf[int(o[3])-w] = i0, i1, i2, i3
		leaf[int(o[4])-w], leaf[int(o[5])-w], leaf[int(o[6])-w], leaf[int(o[7])-w] = i4, i5, i6, i7
	}
	for ; g < len(ord); g++ {
		leaf[int(ord[g])-w] = f.walk(int(ord[g]), x, nan)
	}
}

// FlatWalk reports whether the model is evaluated by the flat walk (every
// split numerical, at most 256 features, no linear trees).
func (m *LightGBM) FlatWalk() bool { return m.fast != nil }
