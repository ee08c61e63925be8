package goeval

import (
	"math"
	"strconv"
	"strings"
)

// lgbNode is one split, 24 bytes. children[0] is taken when the row goes
// left; a child >= 0 is a node, < 0 is ^leaf, both indexes into the
// model-wide arrays.
type lgbNode struct {
	threshold float64 // numerical: x <= threshold goes left; categorical: unused
	children  [2]int32
	feature   int32
	// flags: bit 0 categorical, bit 1 NaN goes left, bit 2 zero goes left.
	// NaN and values with |x| <= 1e-35f (LightGBM drops those from a dense
	// row: they read as 0) take the fixed direction LightGBM's missing-value
	// rule gives them; everything else compares.
	flags   uint8
	catFrom uint32 // categorical: the bitset's words are cats[catFrom:catTo]
	catTo   uint32
}

const (
	flagCategorical = 1 << iota
	flagNaNLeft
	flagZeroLeft
)

// LightGBM is a LightGBM model laid out flat: every tree's splits in one
// array, every leaf in another. It is immutable and safe for concurrent use.
type LightGBM struct {
	h      lgbHeader
	nodes  []lgbNode
	leaves []float64
	cats   []uint32
	roots  []int32 // per tree: its root node, or ^leaf for a one-leaf tree
	lin    *lgbLinear
	fast   *lgbFast // nil unless every split is plain (see lgbFast)
	counts lgbCounts
}

// kZeroThreshold is LightGBM's kZeroThreshold, the float 1e-35f, widened.
var kZeroThreshold = float64(float32(1e-35))

// ParseLightGBM reads a LightGBM model text (Booster.model_to_string). It
// refuses with *NotExactError what it would not evaluate bit for bit like
// LightGBM (linear trees, random-forest averaging, other objectives) and
// with *CorruptError what is malformed.
func ParseLightGBM(text string) (*LightGBM, error) {
	if !strings.HasPrefix(text, "tree\n") {
		return nil, corrupt("model text does not start with \"tree\"")
	}
	body, _, _ := strings.Cut(text, "\nend of trees")
	blocks := strings.Split(body, "\nTree=")
	h, err := parseLGBHeader(blocks[0][len("tree\n"):])
	if err != nil {
		return nil, err
	}
	m := &LightGBM{h: *h}
	for i, b := range blocks[1:] {
		if err := m.addTree(i, b); err != nil {
			return nil, err
		}
	}
	if len(m.roots)%h.perIteration != 0 {
		return nil, corrupt("%d trees for %d trees per iteration", len(m.roots), h.perIteration)
	}
	m.fast = m.buildFast()
	m.depths()
	return m, nil
}

func (m *LightGBM) addTree(i int, block string) error {
	_, block, _ = strings.Cut(block, "\n")
	kv := keyValues(block)
	nLeaves, err := strconv.Atoi(kv["num_leaves"])
	if err != nil || nLeaves < 1 {
		return corrupt("tree %d: num_leaves %q", i, kv["num_leaves"])
	}
	leaves, err := parseFloats(kv["leaf_value"], nLeaves, "leaf_value")
	if err != nil {
		return err
	}
	leafBase, nodeBase := int32(len(m.leaves)), int32(len(m.nodes))
	if err := m.addLinear(i, kv, nLeaves); err != nil {
		return err
	}
	if err := m.counts.add(kv, nLeaves, leafBase); err != nil {
		return corrupt("tree %d: %v", i, err)
	}
	m.leaves = append(m.leaves, leaves...)
	if nLeaves == 1 {
		m.roots = append(m.roots, ^leafBase)
		return nil
	}
	t, err := parseSplits(kv, nLeaves-1)
	if err != nil {
		return corrupt("tree %d: %v", i, err)
	}
	catBase := uint32(len(m.cats))
	m.cats = append(m.cats, t.catWords...)
	for k := range t.feature {
		n, err := t.node(k, nLeaves, m.h.nFeatures, nodeBase, leafBase, catBase)
		if err != nil {
			return corrupt("tree %d node %d: %v", i, k, err)
		}
		m.nodes = append(m.nodes, n)
	}
	m.roots = append(m.roots, nodeBase)
	return nil
}

// NumFeatures is the number of input columns (max_feature_idx + 1).
func (m *LightGBM) NumFeatures() int { return m.h.nFeatures }

// FeatureNames is the model text's feature_names, or nil.
func (m *LightGBM) FeatureNames() []string { return m.h.names }

// NumOutputs is 1, or the class count.
func (m *LightGBM) NumOutputs() int { return m.h.numClass }

// NumIterations is the number of boosting iterations stored.
func (m *LightGBM) NumIterations() int { return len(m.roots) / m.h.perIteration }

// PredictRaw writes the raw scores of one row into out (NumOutputs values)
// using the first numIteration iterations (<= 0 or more than stored: all),
// summing each class's trees from 0.0 in tree order, as LightGBM does. It
// does not allocate.
func (m *LightGBM) PredictRaw(row []float64, numIteration int, out []float64) {
	k := m.h.perIteration
	trees := len(m.roots)
	if numIteration > 0 && numIteration*k < trees {
		trees = numIteration * k
	}
	out = out[:k]
	for c := range out {
		out[c] = 0
	}
	if m.fast != nil {
		m.fast.predictRaw(row, trees, out)
		return
	}
	if m.lin != nil {
		for t := 0; t < trees; t++ {
			out[t%k] += m.lin.output(t, ^m.leaf(m.roots[t], row), m.leaves, row)
		}
		return
	}
	for t := 0; t < trees; t++ {
		out[t%k] += m.leaves[^m.leaf(m.roots[t], row)]
	}
}

// leaf walks one tree from n and returns ^leaf.
func (m *LightGBM) leaf(n int32, row []float64) int32 {
	for n >= 0 {
		nd := &m.nodes[n]
		n = m.next(nd, row[nd.feature])
	}
	return n
}

// next is the child of nd that x goes to: LightGBM's Tree::Decision.
func (m *LightGBM) next(nd *lgbNode, x float64) int32 {
	var left bool
	switch {
	case nd.flags&flagCategorical != 0:
		left = m.catLeft(nd, x)
	case math.Abs(x) > kZeroThreshold:
		left = x <= nd.threshold
	case x != x:
		left = nd.flags&flagNaNLeft != 0
	default:
		left = nd.flags&flagZeroLeft != 0
	}
	if left {
		return nd.children[0]
	}
	return nd.children[1]
}

// catLeft is LightGBM 4's categorical decision: NaN, negatives and values
// whose int conversion overflows (INT_MIN on x86) go right; category c goes
// left when bit c of the split's bitset is set.
func (m *LightGBM) catLeft(nd *lgbNode, x float64) bool {
	if x != x || x >= 2147483648 || x <= -2147483649 {
		return false
	}
	c := int32(x) // truncation toward zero, as static_cast<int>
	if c < 0 {
		return false
	}
	w := nd.catFrom + uint32(c)/32
	return w < nd.catTo && m.cats[w]>>(uint32(c)%32)&1 == 1
}

// Transform applies the objective's output conversion in LightGBM's
// operation order, with glibc's exp.
func (m *LightGBM) Transform(out []float64) {
	switch m.h.transform {
	case lgbSigmoid:
		out[0] = 1.0 / (1.0 + Exp(-m.h.sigmoid*out[0]))
	case lgbSoftmax:
		softmax(out)
	case lgbSquare:
		x := out[0]
		sign := 0.0
		if x > 0 {
			sign = 1
		} else if x < 0 {
			sign = -1
		}
		out[0] = float64(sign*x) * x
	}
}

// softmax is LightGBM's Common::Softmax: max by std::max(v, max) (v unless
// v < max), exp(v - max),
// the sum in order, then each value divided by the sum.
func softmax(out []float64) {
	wmax := out[0]
	for _, v := range out[1:] {
		if !(v < wmax) {
			wmax = v
		}
	}
	wsum := 0.0
	for i, v := range out {
		out[i] = Exp(v - wmax)
		wsum += out[i]
	}
	for i := range out {
		out[i] /= wsum
	}
}

// SplitValues maps each feature index to the thresholds of its numerical
// splits and the categories of its categorical ones.
func (m *LightGBM) SplitValues() map[int][]float64 {
	out := map[int][]float64{}
	for _, n := range m.nodes {
		f := int(n.feature)
		if n.flags&flagCategorical == 0 {
			out[f] = append(out[f], n.threshold)
			continue
		}
		for w := n.catFrom; w < n.catTo; w++ {
			for b := 0; b < 32; b++ {
				if m.cats[w]>>b&1 == 1 {
					out[f] = append(out[f], float64(32*int(w-n.catFrom)+b))
				}
			}
		}
	}
	return out
}
