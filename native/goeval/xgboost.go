package goeval

import "strconv"

type xgbObjective int

const (
	xgbIdentity xgbObjective = iota
	xgbLogistic
	xgbSoftprob
)

// xgbNode is one node, 16 bytes: a split (children >= 0) or a leaf
// (children[0] < 0, value in cond).
type xgbNode struct {
	cond     float32 // split: x < cond goes left; leaf: its value
	feature  int32
	children [2]int32 // [left, right] as model-wide node indexes
	// defaultLeft: where a missing (NaN) input goes.
	defaultLeft bool
}

// XGBoost is an XGBoost gbtree model laid out flat. Immutable; safe for
// concurrent use.
type XGBoost struct {
	nFeatures, nGroups int
	objective          xgbObjective
	margin             []float32 // per output group, in margin space
	nodes              []xgbNode
	roots              []int32 // per tree
	group              []int32 // per tree: its output group
	iterEnd            []int   // per iteration: trees [.., iterEnd[i])
	best               int     // best_iteration + 1, or 0
	names              []string
}

// ParseXGBoost decodes a memory snapshot (what the pickled Booster holds
// and XGBoosterUnserializeFromBuffer reads): UBJSON {Config, Model}.
func ParseXGBoost(snapshot []byte) (*XGBoost, error) {
	v, err := decodeUBJSON(snapshot)
	if err != nil {
		return nil, err
	}
	learner, err := path(v, "Model", "learner")
	if err != nil {
		return nil, err
	}
	m := &XGBoost{}
	if err := m.parseParams(learner); err != nil {
		return nil, err
	}
	if names, ok := learner.(map[string]any)["feature_names"].([]any); ok && len(names) > 0 {
		if len(names) != m.nFeatures {
			return nil, corrupt("XGBoost snapshot: %d feature names for %d features", len(names), m.nFeatures)
		}
		for _, n := range names {
			s, err := asString(n, "feature name")
			if err != nil {
				return nil, err
			}
			m.names = append(m.names, s)
		}
	}
	return m, m.parseTrees(learner)
}

func (m *XGBoost) parseParams(learner any) error {
	name, err := path(learner, "gradient_booster", "name")
	if err != nil {
		return err
	}
	if name != "gbtree" {
		return notExact("XGBoost booster %q is not evaluated", name)
	}
	p, err := path(learner, "learner_model_param")
	if err != nil {
		return err
	}
	pm, _ := asMap(p, "learner_model_param")
	nf, err1 := strconv.Atoi(strAt(pm, "num_feature"))
	nc, err2 := strconv.Atoi(strAt(pm, "num_class"))
	if err1 != nil || err2 != nil || nf <= 0 || nc < 0 {
		return corrupt("XGBoost snapshot: num_feature %q num_class %q", strAt(pm, "num_feature"), strAt(pm, "num_class"))
	}
	if t := strAt(pm, "num_target"); t != "" && t != "1" {
		return notExact("multi-target XGBoost models are not evaluated")
	}
	m.nFeatures, m.nGroups = nf, max(nc, 1)
	base, err := parseFloat32List(strAt(pm, "base_score"))
	if err != nil {
		return err
	}
	obj, err := path(learner, "objective", "name")
	if err != nil {
		return err
	}
	if err := m.setObjective(obj, base); err != nil {
		return err
	}
	if attrs, err := path(learner, "attributes"); err == nil {
		if b, ok := attrs.(map[string]any)["best_iteration"].(string); ok {
			it, err := strconv.Atoi(b)
			if err != nil || it < 0 {
				return corrupt("XGBoost best_iteration %q", b)
			}
			m.best = it + 1
		}
	}
	return nil
}

func strAt(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// setObjective fixes the output transform and the margin-space base score:
// squared error and softprob store it in margin space already; logistic
// stores a probability that XGBoost turns into -logf(1/b - 1) at load, with
// glibc's logf (reproduced by Logf).
func (m *XGBoost) setObjective(obj any, base []float32) error {
	switch obj {
	case "reg:squarederror":
		m.objective = xgbIdentity
	case "binary:logistic":
		m.objective = xgbLogistic
	case "multi:softprob":
		m.objective = xgbSoftprob
	default:
		return notExact("XGBoost objective %v is not evaluated", obj)
	}
	if len(base) == 1 && m.nGroups > 1 {
		for len(base) < m.nGroups {
			base = append(base, base[0])
		}
	}
	if len(base) != m.nGroups {
		return corrupt("XGBoost base_score has %d values for %d outputs", len(base), m.nGroups)
	}
	m.margin = base
	if m.objective == xgbLogistic {
		// ProbToMargin, in float as XGBoost computes it: -logf(1/b - 1).
		b := base[0]
		if !(b > 0 && b < 1) {
			return corrupt("XGBoost binary:logistic base_score %v is not in (0, 1)", b)
		}
		m.margin = []float32{-Logf(1/b - 1)}
	}
	return nil
}

func (m *XGBoost) parseTrees(learner any) error {
	model, err := path(learner, "gradient_booster", "model")
	if err != nil {
		return err
	}
	mm, _ := asMap(model, "model")
	trees, ok := mm["trees"].([]any)
	if !ok {
		return corrupt("XGBoost snapshot: trees")
	}
	info, err := asInts(mm["tree_info"], len(trees), "tree_info")
	if err != nil {
		return err
	}
	indptr, err := asInts(mm["iteration_indptr"], -1, "iteration_indptr")
	if err != nil || len(indptr) == 0 || indptr[0] != 0 || indptr[len(indptr)-1] != int64(len(trees)) {
		return corrupt("XGBoost snapshot: iteration_indptr")
	}
	for i := 1; i < len(indptr); i++ {
		if indptr[i] < indptr[i-1] {
			return corrupt("XGBoost snapshot: iteration_indptr")
		}
		m.iterEnd = append(m.iterEnd, int(indptr[i]))
	}
	for i, tv := range trees {
		t, err := parseXGBTree(tv, m.nFeatures)
		if err != nil {
			return err
		}
		if info[i] < 0 || info[i] >= int64(m.nGroups) {
			return corrupt("XGBoost snapshot: tree %d group %d", i, info[i])
		}
		m.addTree(t, int32(info[i]))
	}
	return nil
}

func (m *XGBoost) addTree(t *xgbTree, group int32) {
	base := int32(len(m.nodes))
	m.roots = append(m.roots, base)
	m.group = append(m.group, group)
	for i := range t.cond {
		n := xgbNode{cond: t.cond[i], children: [2]int32{-1, -1}}
		if t.left[i] != -1 {
			n.feature = int32(t.feature[i])
			n.children = [2]int32{base + int32(t.left[i]), base + int32(t.right[i])}
			n.defaultLeft = t.defaultLeft[i] != 0
		}
		m.nodes = append(m.nodes, n)
	}
}
