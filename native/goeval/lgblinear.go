package goeval

import "math"

// lgbLinear holds the linear models of a model with linear trees
// (linear_tree=true): per leaf, a constant and coefficients over some
// features.
type lgbLinear struct {
	isLinear []bool    // per tree
	konst    []float64 // per leaf, model-wide
	from, to []int32   // per leaf: its terms are feat[from:to], coef[from:to]
	feat     []int32
	coef     []float64
}

// addLinear records tree t's linear models (a constant tree is recorded as
// not linear once the model has any linear tree). Trees 0..t-1 are added.
func (m *LightGBM) addLinear(t int, kv map[string]string, nLeaves int) error {
	linear := kv["is_linear"] == "1"
	if !linear && m.lin == nil {
		return nil
	}
	if m.lin == nil {
		m.lin = &lgbLinear{isLinear: make([]bool, t), konst: make([]float64, len(m.leaves)),
			from: make([]int32, len(m.leaves)), to: make([]int32, len(m.leaves))}
	}
	l := m.lin
	l.isLinear = append(l.isLinear, linear)
	if !linear {
		for i := 0; i < nLeaves; i++ {
			l.konst, l.from, l.to = append(l.konst, 0), append(l.from, 0), append(l.to, 0)
		}
		return nil
	}
	konst, err := parseFloats(kv["leaf_const"], nLeaves, "leaf_const")
	if err != nil {
		return corrupt("tree %d: %v", t, err)
	}
	counts, err := parseInts(kv["num_features"], nLeaves, "num_features")
	if err != nil {
		return corrupt("tree %d: %v", t, err)
	}
	total := 0
	for _, c := range counts {
		if c < 0 || c > m.h.nFeatures {
			return corrupt("tree %d: num_features %d", t, c)
		}
		total += c
	}
	feats, err := parseInts(kv["leaf_features"], total, "leaf_features")
	if err != nil {
		return corrupt("tree %d: %v", t, err)
	}
	coefs, err := parseFloats(kv["leaf_coeff"], total, "leaf_coeff")
	if err != nil {
		return corrupt("tree %d: %v", t, err)
	}
	at := 0
	for i, c := range counts {
		l.konst = append(l.konst, konst[i])
		l.from = append(l.from, int32(len(l.feat)))
		for j := at; j < at+c; j++ {
			if feats[j] < 0 || feats[j] >= m.h.nFeatures {
				return corrupt("tree %d: linear feature %d", t, feats[j])
			}
			l.feat, l.coef = append(l.feat, int32(feats[j])), append(l.coef, coefs[j])
		}
		l.to = append(l.to, int32(len(l.feat)))
		at += c
	}
	return nil
}

// output is LightGBM's Tree::Predict for leaf (model-wide index) of tree
// t: for a linear tree, the leaf's constant plus coefficient × input in
// stored order (the input as LightGBM's row reader sees it: |x| <= 1e-35f
// is 0), or the plain leaf value when any of those inputs is NaN.
func (l *lgbLinear) output(t int, leaf int32, leaves, row []float64) float64 {
	if !l.isLinear[t] {
		return leaves[leaf]
	}
	out := l.konst[leaf]
	for j := l.from[leaf]; j < l.to[leaf]; j++ {
		x := row[l.feat[j]]
		if x != x {
			return leaves[leaf]
		}
		if math.Abs(x) <= kZeroThreshold {
			x = 0
		}
		out += float64(l.coef[j] * x)
	}
	return out
}
