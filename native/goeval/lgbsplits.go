package goeval

import (
	"fmt"
	"strconv"
)

// lgbSplits are one tree's split arrays as the model text stores them.
type lgbSplits struct {
	feature, decision, left, right []int
	threshold                      []float64
	catBounds                      []int
	catWords                       []uint32
}

func parseSplits(kv map[string]string, n int) (*lgbSplits, error) {
	t := &lgbSplits{}
	var err error
	for _, f := range []struct {
		dst  *[]int
		name string
	}{{&t.feature, "split_feature"}, {&t.decision, "decision_type"}, {&t.left, "left_child"}, {&t.right, "right_child"}} {
		if *f.dst, err = parseInts(kv[f.name], n, f.name); err != nil {
			return nil, err
		}
	}
	if t.threshold, err = parseFloats(kv["threshold"], n, "threshold"); err != nil {
		return nil, err
	}
	nCat := 0
	if v, ok := kv["num_cat"]; ok {
		if nCat, err = strconv.Atoi(v); err != nil || nCat < 0 {
			return nil, fmt.Errorf("num_cat %q", v)
		}
	}
	if nCat == 0 {
		return t, nil
	}
	if t.catBounds, err = parseInts(kv["cat_boundaries"], nCat+1, "cat_boundaries"); err != nil {
		return nil, err
	}
	words, err := parseInts(kv["cat_threshold"], t.catBounds[nCat], "cat_threshold")
	if err != nil {
		return nil, err
	}
	for i, b := range t.catBounds {
		if b < 0 || b > len(words) || (i > 0 && b < t.catBounds[i-1]) {
			return nil, fmt.Errorf("cat_boundaries out of order")
		}
	}
	t.catWords = make([]uint32, len(words))
	for i, w := range words {
		if w < 0 || w > 1<<32-1 {
			return nil, fmt.Errorf("cat_threshold word %d", w)
		}
		t.catWords[i] = uint32(w)
	}
	return t, nil
}

// node builds split k, rebasing children and bitsets to the model-wide
// arrays and folding LightGBM's missing-value rule into two flags.
func (t *lgbSplits) node(k, nLeaves, nFeatures int, nodeBase, leafBase int32, catBase uint32) (lgbNode, error) {
	f, d, thr := t.feature[k], t.decision[k], t.threshold[k]
	if f < 0 || f >= nFeatures {
		return lgbNode{}, fmt.Errorf("split feature %d", f)
	}
	n := lgbNode{threshold: thr, feature: int32(f)}
	for side, c := range [2]int{t.left[k], t.right[k]} {
		switch {
		case c >= 0 && c < nLeaves-1 && c > k: // children follow their parent
			n.children[side] = nodeBase + int32(c)
		case c < 0 && ^c < nLeaves:
			n.children[side] = ^(leafBase + int32(^c))
		default:
			return lgbNode{}, fmt.Errorf("child %d", c)
		}
	}
	defaultLeft := d&2 != 0
	if d&1 != 0 {
		idx := int(thr)
		if float64(idx) != thr || idx < 0 || idx+1 >= len(t.catBounds) {
			return lgbNode{}, fmt.Errorf("categorical split %v", thr)
		}
		n.flags = flagCategorical
		n.catFrom, n.catTo = catBase+uint32(t.catBounds[idx]), catBase+uint32(t.catBounds[idx+1])
		return n, nil
	}
	// Missing type (bits 2-3): None (NaN reads as 0, compared), Zero (NaN and
	// zero take the default side), NaN (NaN takes the default side).
	zeroCompared := 0 <= thr
	var nanLeft, zeroLeft bool
	switch (d >> 2) & 3 {
	case 0:
		nanLeft, zeroLeft = zeroCompared, zeroCompared
	case 1:
		nanLeft, zeroLeft = defaultLeft, defaultLeft
	case 2:
		nanLeft, zeroLeft = defaultLeft, zeroCompared
	default:
		return lgbNode{}, fmt.Errorf("missing type in decision_type %d", d)
	}
	if nanLeft {
		n.flags |= flagNaNLeft
	}
	if zeroLeft {
		n.flags |= flagZeroLeft
	}
	return n, nil
}
