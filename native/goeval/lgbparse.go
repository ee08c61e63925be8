package goeval

import (
	"fmt"
	"strconv"
	"strings"
)

// NotExactError says why a model is refused: the pure-Go evaluator would
// not reproduce the C library's bits for it.
type NotExactError struct{ Reason string }

func (e *NotExactError) Error() string { return e.Reason }

func notExact(format string, args ...any) error {
	return &NotExactError{Reason: fmt.Sprintf(format, args...)}
}

// CorruptError says the model text or snapshot is malformed.
type CorruptError struct{ Reason string }

func (e *CorruptError) Error() string { return e.Reason }

func corrupt(format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}

// keyValues reads "key=value" lines up to the first blank line.
func keyValues(block string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		} else {
			out[line] = ""
		}
	}
	return out
}

func parseInts(s string, n int, what string) ([]int, error) {
	f := strings.Fields(s)
	if len(f) != n {
		return nil, corrupt("%s: %d values, want %d", what, len(f), n)
	}
	out := make([]int, n)
	for i, v := range f {
		x, err := strconv.Atoi(v)
		if err != nil {
			return nil, corrupt("%s: %q is not an integer", what, v)
		}
		out[i] = x
	}
	return out, nil
}

// parseFloats reads %.17g doubles; strconv.ParseFloat rounds correctly, as
// LightGBM's own reader does, so every value round-trips to its bits.
func parseFloats(s string, n int, what string) ([]float64, error) {
	f := strings.Fields(s)
	if len(f) != n {
		return nil, corrupt("%s: %d values, want %d", what, len(f), n)
	}
	out := make([]float64, n)
	for i, v := range f {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, corrupt("%s: %q is not a number", what, v)
		}
		out[i] = x
	}
	return out, nil
}

// lgbHeader is what the model text's header says about prediction.
type lgbHeader struct {
	nFeatures, numClass, perIteration int
	names                             []string
	transform                         lgbTransform
	sigmoid                           float64
}

type lgbTransform int

const (
	lgbIdentity lgbTransform = iota
	lgbSigmoid
	lgbSoftmax
	lgbSquare // regression with sqrt: the trainer fit sqrt(y), LightGBM squares back
)

func parseLGBHeader(head string) (*lgbHeader, error) {
	kv := keyValues(head)
	switch kv["version"] {
	case "v2", "v3", "v4":
	default:
		return nil, notExact("model text version %q is not supported", kv["version"])
	}
	if _, ok := kv["average_output"]; ok {
		return nil, notExact("random-forest averaging (average_output) is not evaluated")
	}
	h := &lgbHeader{}
	var err error
	if h.numClass, err = strconv.Atoi(kv["num_class"]); err != nil || h.numClass < 1 {
		return nil, corrupt("num_class %q", kv["num_class"])
	}
	if h.perIteration, err = strconv.Atoi(kv["num_tree_per_iteration"]); err != nil || h.perIteration != h.numClass {
		return nil, notExact("num_tree_per_iteration %q with num_class %d is not supported", kv["num_tree_per_iteration"], h.numClass)
	}
	maxIdx, err := strconv.Atoi(kv["max_feature_idx"])
	if err != nil || maxIdx < 0 {
		return nil, corrupt("max_feature_idx %q", kv["max_feature_idx"])
	}
	h.nFeatures = maxIdx + 1
	if names := kv["feature_names"]; names != "" {
		// A copy: substrings would pin the whole model text while loaded.
		if h.names = strings.Split(strings.Clone(names), " "); len(h.names) != h.nFeatures {
			return nil, corrupt("%d feature names for max_feature_idx %d", len(h.names), maxIdx)
		}
	}
	return h, h.setObjective(kv["objective"])
}

func (h *lgbHeader) setObjective(objective string) error {
	tokens := strings.Fields(objective)
	if len(tokens) == 0 {
		return notExact("the model has no objective")
	}
	params := map[string]string{}
	for _, tok := range tokens[1:] {
		k, v, _ := strings.Cut(tok, ":")
		params[k] = v
	}
	switch {
	case tokens[0] == "binary" && len(params) == 1 && params["sigmoid"] != "":
		s, err := strconv.ParseFloat(params["sigmoid"], 64)
		if err != nil {
			return corrupt("objective %q", objective)
		}
		h.transform, h.sigmoid = lgbSigmoid, s
	case tokens[0] == "multiclass" && len(params) == 1 && params["num_class"] == strconv.Itoa(h.numClass):
		h.transform = lgbSoftmax
	case (tokens[0] == "regression" || tokens[0] == "regression_l1") && len(params) == 0:
		h.transform = lgbIdentity
	case tokens[0] == "regression" && len(params) == 1 && hasKey(params, "sqrt"):
		h.transform = lgbSquare
	default:
		return notExact("objective %q is not evaluated", objective)
	}
	return nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
