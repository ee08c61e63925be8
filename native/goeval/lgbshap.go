package goeval

// TreeSHAP for LightGBM models: what Booster.predict(X, pred_contrib=True)
// returns, bit for bit. It is LightGBM's own algorithm (Lundberg et al.'s
// path-dependent TreeSHAP as tree.cpp implements it) with every floating
// operation in LightGBM's order: the expected value summed over leaves in
// index order, the path weights extended, unwound and summed with the same
// grouping of products and quotients. Go does not fuse multiply-adds on
// amd64 and lib_lightgbm.so is built for baseline x86-64, so the same
// order gives the same bits.

// ExplainRefusal is why a model's contributions are not computed: LightGBM
// itself refuses the shape (its message, verbatim), or the model text lacks
// what the algorithm needs.
type ExplainRefusal struct{ Reason string }

func (e *ExplainRefusal) Error() string { return e.Reason }

// lgbLinearRefusal is LightGBM 4.7.0's own refusal, word for word.
const lgbLinearRefusal = "Predicting SHAP feature contributions is not implemented for linear trees."

// lgbCounts are the per-node data counts TreeSHAP weighs paths by, and each
// tree's leaf range and depth, parsed with the model.
type lgbCounts struct {
	node      []float64 // by model-wide node index: internal_count
	leaf      []float64 // by model-wide leaf index: leaf_count
	leafStart []int32   // tree t's leaves are leaf[leafStart[t]:leafStart[t+1]]
	depth     []int32   // tree t's deepest leaf (root at 0)
	missing   bool      // some tree has no counts
}

type pathElem struct {
	feature   int32
	zero, one float64
	weight    float64
}

// ContributionWidth is the number of values Contributions writes per row.
func (m *LightGBM) ContributionWidth() int { return m.h.perIteration * (m.h.nFeatures + 1) }

// ExplainRefused says why Contributions would refuse this model, or nil.
func (m *LightGBM) ExplainRefused() error {
	if m.lin != nil {
		return &ExplainRefusal{Reason: lgbLinearRefusal}
	}
	if m.counts.missing {
		return &ExplainRefusal{Reason: "the model text has no internal_count/leaf_count: TreeSHAP needs them"}
	}
	return nil
}

// Contributions writes one row's contributions into out
// (ContributionWidth values): per class, one value per feature then the
// bias, using the first numIteration iterations (<= 0: all). Callers check
// ExplainRefused first.
func (m *LightGBM) Contributions(row []float64, numIteration int, out []float64) {
	k, nf := m.h.perIteration, m.h.nFeatures
	trees := len(m.roots)
	if numIteration > 0 && numIteration*k < trees {
		trees = numIteration * k
	}
	out = out[:k*(nf+1)]
	for i := range out {
		out[i] = 0
	}
	var path []pathElem
	for t := 0; t < trees; t++ {
		phi := out[(t%k)*(nf+1) : (t%k+1)*(nf+1)]
		phi[nf] += m.expectedValue(t)
		root := m.roots[t]
		if root < 0 {
			continue // one leaf: the bias is all
		}
		depth := int(m.counts.depth[t]) + 1
		if need := depth * (depth + 1) / 2; cap(path) < need {
			path = make([]pathElem, need)
		}
		m.treeSHAP(row, phi, root, 0, path[:cap(path)], 1, 1, -1)
	}
}

// expectedValue is Tree::ExpectedValue: each leaf's share of the root's
// data times its value, summed in leaf order.
func (m *LightGBM) expectedValue(t int) float64 {
	from, to := m.counts.leafStart[t], m.counts.leafStart[t+1]
	if to-from == 1 {
		return m.leaves[from]
	}
	total := m.counts.node[m.roots[t]]
	v := 0.0
	for l := from; l < to; l++ {
		v += (m.counts.leaf[l] / total) * m.leaves[l]
	}
	return v
}

func (m *LightGBM) dataCount(n int32) float64 {
	if n >= 0 {
		return m.counts.node[n]
	}
	return m.counts.leaf[^n]
}

// treeSHAP is Tree::TreeSHAP: parent holds the path so far (d elements);
// this call's path starts d elements further on.
func (m *LightGBM) treeSHAP(row, phi []float64, n int32, d int, parent []pathElem, zero, one float64, feature int32) {
	path := parent[d:]
	copy(path[:d], parent[:d])
	extendPath(path, d, zero, one, feature)
	if n < 0 {
		leaf := m.leaves[^n]
		for i := 1; i <= d; i++ {
			w := unwoundPathSum(path, d, i)
			el := &path[i]
			phi[el.feature] += w * (el.one - el.zero) * leaf
		}
		return
	}
	nd := &m.nodes[n]
	hot := m.next(nd, row[nd.feature])
	cold := nd.children[0]
	if hot == cold {
		cold = nd.children[1]
	}
	w := m.dataCount(n)
	hotZero, coldZero := m.dataCount(hot)/w, m.dataCount(cold)/w
	inZero, inOne := 1.0, 1.0
	// A feature already on the path is unwound and split again here.
	k := 0
	for ; k <= d; k++ {
		if path[k].feature == nd.feature {
			break
		}
	}
	if k != d+1 {
		inZero, inOne = path[k].zero, path[k].one
		unwindPath(path, d, k)
		d--
	}
	m.treeSHAP(row, phi, hot, d+1, path, hotZero*inZero, inOne, nd.feature)
	m.treeSHAP(row, phi, cold, d+1, path, coldZero*inZero, 0, nd.feature)
}

func extendPath(p []pathElem, d int, zero, one float64, feature int32) {
	p[d] = pathElem{feature: feature, zero: zero, one: one}
	if d == 0 {
		p[d].weight = 1
	}
	for i := d - 1; i >= 0; i-- {
		p[i+1].weight += one * p[i].weight * float64(i+1) / float64(d+1)
		p[i].weight = zero * p[i].weight * float64(d-i) / float64(d+1)
	}
}

func unwindPath(p []pathElem, d, idx int) {
	one, zero := p[idx].one, p[idx].zero
	next := p[d].weight
	for i := d - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].weight
			p[i].weight = next * float64(d+1) / (float64(i+1) * one)
			next = tmp - p[i].weight*zero*float64(d-i)/float64(d+1)
		} else {
			p[i].weight = p[i].weight * float64(d+1) / (zero * float64(d-i))
		}
	}
	for i := idx; i < d; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
}

func unwoundPathSum(p []pathElem, d, idx int) float64 {
	one, zero := p[idx].one, p[idx].zero
	next := p[d].weight
	total := 0.0
	for i := d - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * float64(d+1) / (float64(i+1) * one)
			total += tmp
			next = p[i].weight - tmp*zero*(float64(d-i)/float64(d+1))
		} else {
			total += (p[i].weight / zero) / (float64(d-i) / float64(d+1))
		}
	}
	return total
}

// addCounts records tree t's leaf range and parses its counts; a tree
// without counts (prediction does not need them) marks the model as one
// TreeSHAP cannot explain.
func (c *lgbCounts) add(kv map[string]string, nLeaves int, leafBase int32) error {
	if len(c.leafStart) == 0 {
		c.leafStart = append(c.leafStart, leafBase)
	}
	c.leafStart = append(c.leafStart, leafBase+int32(nLeaves))
	ic, lc := kv["internal_count"], kv["leaf_count"]
	if lc == "" || (nLeaves > 1 && ic == "") {
		c.missing = true
	}
	if c.missing {
		return nil
	}
	leaf, err := parseFloats(lc, nLeaves, "leaf_count")
	if err != nil {
		return err
	}
	c.leaf = append(c.leaf, leaf...)
	if nLeaves > 1 {
		node, err := parseFloats(ic, nLeaves-1, "internal_count")
		if err != nil {
			return err
		}
		c.node = append(c.node, node...)
	}
	return nil
}

// depths records each tree's deepest leaf, as Tree::RecomputeMaxDepth.
func (m *LightGBM) depths() {
	type visit struct{ n, depth int32 }
	m.counts.depth = make([]int32, len(m.roots))
	var stack []visit
	for t, root := range m.roots {
		if root < 0 {
			continue
		}
		deepest := int32(0)
		stack = append(stack[:0], visit{root, 0})
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, c := range m.nodes[v.n].children {
				if c < 0 {
					deepest = max(deepest, v.depth+1)
				} else {
					stack = append(stack, visit{c, v.depth + 1})
				}
			}
		}
		m.counts.depth[t] = deepest
	}
}
