package goeval

import (
	"strconv"
	"strings"
)

// xgbTree is one regression tree as XGBoost's model JSON stores it.
type xgbTree struct {
	left, right, feature, defaultLeft, splitType []int64
	cond                                         []float32 // a leaf's value for leaves
}

func asMap(v any, what string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, corrupt("XGBoost snapshot: %s is not an object", what)
	}
	return m, nil
}

func asString(v any, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", corrupt("XGBoost snapshot: %s is not a string", what)
	}
	return s, nil
}

// asInts reads an array of integers (typed or not) of length n, or of any
// length when n < 0.
func asInts(v any, n int, what string) ([]int64, error) {
	a, ok := v.([]int64)
	if list, isList := v.([]any); isList { // an untyped array of integers
		a, ok = make([]int64, len(list)), true
		for i, x := range list {
			if a[i], ok = x.(int64); !ok {
				break
			}
		}
	}
	if !ok || (n >= 0 && len(a) != n) {
		return nil, corrupt("XGBoost snapshot: %s is not an array of %d integers", what, n)
	}
	return a, nil
}

// path walks nested objects.
func path(v any, keys ...string) (any, error) {
	for i, k := range keys {
		m, err := asMap(v, strings.Join(keys[:i], "."))
		if err != nil {
			return nil, err
		}
		if v = m[k]; v == nil {
			return nil, corrupt("XGBoost snapshot: %s is missing", strings.Join(keys[:i+1], "."))
		}
	}
	return v, nil
}

// parseFloat32List reads XGBoost's "[a,b,c]" (or bare "a") float text;
// XGBoost writes the shortest text that reads back to the same float.
func parseFloat32List(s string) ([]float32, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []float32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil {
			return nil, corrupt("XGBoost base_score %q", s)
		}
		out = append(out, float32(v))
	}
	return out, nil
}

func parseXGBTree(v any, nFeatures int) (*xgbTree, error) {
	m, err := asMap(v, "tree")
	if err != nil {
		return nil, err
	}
	if p, _ := path(m, "tree_param", "size_leaf_vector"); p != nil && p != "1" && p != "0" {
		return nil, notExact("multi-target XGBoost trees are not evaluated")
	}
	cond, ok := m["split_conditions"].([]float32)
	if !ok || len(cond) == 0 {
		return nil, corrupt("XGBoost snapshot: tree split_conditions")
	}
	n := len(cond)
	t := &xgbTree{cond: cond}
	for _, f := range []struct {
		dst  *[]int64
		name string
	}{{&t.left, "left_children"}, {&t.right, "right_children"}, {&t.feature, "split_indices"}, {&t.defaultLeft, "default_left"}, {&t.splitType, "split_type"}} {
		if *f.dst, err = asInts(m[f.name], n, f.name); err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		if t.left[i] == -1 {
			continue
		}
		if t.splitType[i] != 0 {
			return nil, notExact("categorical XGBoost splits are not evaluated")
		}
		// Children follow their parent, so every walk ends.
		if t.left[i] <= int64(i) || t.right[i] <= int64(i) || t.left[i] >= int64(n) || t.right[i] >= int64(n) ||
			t.feature[i] < 0 || t.feature[i] >= int64(nFeatures) {
			return nil, corrupt("XGBoost snapshot: tree node %d", i)
		}
	}
	return t, nil
}
