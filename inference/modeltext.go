package inference

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ModelText is a LightGBM model text (what Booster.model_to_string writes)
// with the header fields inference needs.
type ModelText struct {
	Text                string
	Version             string
	NumClass            int
	NumTreePerIteration int
	Objective           string
	FeatureNames        []string
	TreeSizes           []int
}

// ParseModelText reads the header of a LightGBM model text.
func ParseModelText(text string) (*ModelText, error) {
	if !strings.HasPrefix(text, "tree\n") {
		return nil, fmt.Errorf("model text does not start with \"tree\"")
	}
	head, _, ok := strings.Cut(text, "\nTree=")
	if !ok {
		head, _, _ = strings.Cut(text, "\nend of trees")
	}
	fields := map[string]string{}
	for _, line := range strings.Split(head, "\n")[1:] {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			fields[k] = v
		}
	}
	// The fields kept are copies: a substring would pin the whole text,
	// megabytes, for as long as the model is loaded (dropSources lets the
	// text go once the model is built).
	m := &ModelText{Text: text, Version: strings.Clone(fields["version"]), Objective: strings.Clone(fields["objective"])}
	var err error
	if m.NumClass, err = strconv.Atoi(fields["num_class"]); err != nil {
		return nil, fmt.Errorf("model text num_class: %w", err)
	}
	if m.NumTreePerIteration, err = strconv.Atoi(fields["num_tree_per_iteration"]); err != nil {
		return nil, fmt.Errorf("model text num_tree_per_iteration: %w", err)
	}
	if m.NumClass < 1 || m.NumTreePerIteration < 1 {
		return nil, fmt.Errorf("model text: num_class=%d num_tree_per_iteration=%d", m.NumClass, m.NumTreePerIteration)
	}
	if names := fields["feature_names"]; names != "" {
		m.FeatureNames = strings.Split(strings.Clone(names), " ")
	}
	if sizes := fields["tree_sizes"]; sizes != "" {
		for _, s := range strings.Split(sizes, " ") {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("model text tree_sizes: bad entry %q", s)
			}
			m.TreeSizes = append(m.TreeSizes, n)
		}
	}
	return m, nil
}

// NumIterations is the number of boosting iterations in the text.
func (m *ModelText) NumIterations() int { return len(m.TreeSizes) / m.NumTreePerIteration }

// Truncated returns the text LightGBM's model_to_string(num_iteration=n)
// writes for the same booster: the first n iterations' trees, tree_sizes
// cut to match, and split-count feature importances recomputed over the kept
// trees. blackheart-train hashed that text (model_to_string() honours
// best_iteration) while the pickle keeps every tree, so recomputing the
// content sha of an early-stopped model needs it.
func (m *ModelText) Truncated(n int) (string, error) {
	if n <= 0 || n >= m.NumIterations() {
		return m.Text, nil
	}
	keep := n * m.NumTreePerIteration
	start := strings.Index(m.Text, "\nTree=0\n")
	if start < 0 {
		return "", fmt.Errorf("model text: no Tree=0")
	}
	start++
	total := 0
	for _, s := range m.TreeSizes {
		total += s
	}
	if start+total > len(m.Text) || !strings.HasPrefix(m.Text[start+total:], "end of trees\n") {
		return "", fmt.Errorf("model text: tree_sizes do not match the tree blocks")
	}
	kept := 0
	for _, s := range m.TreeSizes[:keep] {
		kept += s
	}
	counts := make([]int, len(m.FeatureNames))
	for off, i := start, 0; i < keep; i++ {
		if err := countSplits(m.Text[off:off+m.TreeSizes[i]], counts); err != nil {
			return "", fmt.Errorf("model text tree %d: %w", i, err)
		}
		off += m.TreeSizes[i]
	}

	rest := m.Text[start+total:]
	impStart := strings.Index(rest, "\nfeature_importances:\n")
	if impStart < 0 {
		return "", fmt.Errorf("model text: no feature_importances section")
	}
	afterImp := rest[impStart+len("\nfeature_importances:\n"):]
	tail := afterImp
	for tail != "" && tail[0] != '\n' { // skip the old "name=count" lines
		nl := strings.IndexByte(tail, '\n')
		if nl < 0 {
			return "", fmt.Errorf("model text: unterminated feature_importances")
		}
		tail = tail[nl+1:]
	}

	sizes := make([]string, keep)
	for i, s := range m.TreeSizes[:keep] {
		sizes[i] = strconv.Itoa(s)
	}
	oldSizes := "\ntree_sizes=" + joinInts(m.TreeSizes) + "\n"
	head := m.Text[:start]
	if !strings.Contains(head, oldSizes) {
		return "", fmt.Errorf("model text: tree_sizes line not found")
	}
	var b strings.Builder
	b.WriteString(strings.Replace(head, oldSizes, "\ntree_sizes="+strings.Join(sizes, " ")+"\n", 1))
	b.WriteString(m.Text[start : start+kept])
	b.WriteString(rest[:impStart])
	b.WriteString("\nfeature_importances:\n")
	b.WriteString(importanceLines(m.FeatureNames, counts))
	b.WriteString(tail)
	return b.String(), nil
}

// countSplits adds one per split with positive gain, as LightGBM's split
// importance does.
func countSplits(block string, counts []int) error {
	var features, gains []string
	for _, line := range strings.Split(block, "\n") {
		if v, ok := strings.CutPrefix(line, "split_feature="); ok {
			features = strings.Fields(v)
		} else if v, ok := strings.CutPrefix(line, "split_gain="); ok {
			gains = strings.Fields(v)
		}
	}
	if len(features) != len(gains) {
		return fmt.Errorf("%d split features but %d gains", len(features), len(gains))
	}
	for i, f := range features {
		idx, err := strconv.Atoi(f)
		if err != nil || idx < 0 || idx >= len(counts) {
			return fmt.Errorf("bad split feature %q", f)
		}
		g, err := strconv.ParseFloat(gains[i], 64)
		if err != nil {
			return fmt.Errorf("bad split gain %q", gains[i])
		}
		if g > 0 {
			counts[idx]++
		}
	}
	return nil
}

// importanceLines lists features with a non-zero count, highest first,
// ties in feature order (LightGBM's stable sort).
func importanceLines(names []string, counts []int) string {
	idx := make([]int, 0, len(counts))
	for i, c := range counts {
		if c > 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return counts[idx[a]] > counts[idx[b]] })
	var b strings.Builder
	for _, i := range idx {
		fmt.Fprintf(&b, "%s=%d\n", names[i], counts[i])
	}
	return b.String()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}
