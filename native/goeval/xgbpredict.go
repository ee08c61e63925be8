package goeval

import "strconv"

// NumFeatures is the number of input columns.
func (m *XGBoost) NumFeatures() int { return m.nFeatures }

// FeatureNames is the column order the model was fit on, or nil.
func (m *XGBoost) FeatureNames() []string { return m.names }

// NumOutputs is 1, or the class count for softprob.
func (m *XGBoost) NumOutputs() int { return m.nGroups }

// treeEnd is where prediction stops: up to best_iteration + 1 iterations
// when the snapshot has one (the sklearn wrapper's default), else all.
func (m *XGBoost) treeEnd() int {
	if m.best > 0 && m.best <= len(m.iterEnd) {
		return m.iterEnd[m.best-1]
	}
	return len(m.roots)
}

// Predict writes the transformed output of one row into out, as
// XGBoost's CPU predictor does: inputs narrowed to float32 (NaN is
// missing), x < split goes left, leaf values added in float32 to the margin
// in tree order, then the objective's float32 transform. It does not
// allocate.
func (m *XGBoost) Predict(row []float64, out []float32) {
	out = out[:m.nGroups]
	copy(out, m.margin)
	end := m.treeEnd()
	for t := 0; t < end; t++ {
		n := &m.nodes[m.roots[t]]
		for n.children[0] >= 0 {
			x := row[n.feature]
			var next int32
			switch {
			case x != x:
				next = n.children[1]
				if n.defaultLeft {
					next = n.children[0]
				}
			case float32(x) < n.cond:
				next = n.children[0]
			default:
				next = n.children[1]
			}
			n = &m.nodes[next]
		}
		out[m.group[t]] += n.cond
	}
	switch m.objective {
	case xgbLogistic:
		out[0] = sigmoidf(out[0])
	case xgbSoftprob:
		softmaxf(out)
	}
}

// sigmoidf is XGBoost's common::Sigmoid(float): -x capped at 88.7
// (std::min), 1 / (expf(-x) + 1 + 1e-16f).
func sigmoidf(x float32) float32 {
	const eps = float32(1e-16)
	x = -x
	if 88.7 < x {
		x = 88.7
	}
	return 1 / (Expf(x) + 1 + eps)
}

// softmaxf is XGBoost's common::Softmax: the max by fmaxf, expf(v - max)
// in float32, the sum widened to double, each value divided by the sum
// narrowed back to float32.
func softmaxf(out []float32) {
	wmax := out[0]
	for _, v := range out[1:] {
		wmax = fmaxf(v, wmax)
	}
	wsum := 0.0
	for i, v := range out {
		out[i] = Expf(v - wmax)
		wsum += float64(out[i])
	}
	for i := range out {
		out[i] /= float32(wsum)
	}
}

// fmaxf is C's fmaxf: the larger, ignoring a NaN operand. (Which zero
// it returns for ±0 cannot change the softmax: v - ±0 is the same
// nonzero v, and expf(±0) = 1.)
func fmaxf(a, b float32) float32 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	case a >= b:
		return a
	}
	return b
}

// SplitValues maps each feature name (or "f<i>" without names) to the
// thresholds the model splits it at.
func (m *XGBoost) SplitValues() map[string][]float64 {
	out := map[string][]float64{}
	for _, n := range m.nodes {
		if n.children[0] >= 0 {
			name := "f" + strconv.Itoa(int(n.feature))
			if m.names != nil {
				name = m.names[n.feature]
			}
			out[name] = append(out[name], float64(n.cond))
		}
	}
	return out
}
