//go:build !cgo || purego

package native

import (
	"strconv"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
)

type transformKind int

const (
	transformIdentity transformKind = iota
	transformSigmoid
	transformSoftmax
)

// evalPlan is what the pure-Go twin needs beyond leaves' trees: the output
// transform and the input mapping that make leaves agree with LightGBM.
type evalPlan struct {
	nFeatures     int
	nOutputs      int
	transformKind transformKind
	sigmoid       float64
	categorical   map[int]bool // features used in categorical splits
}

func notServable(format string, args ...any) error {
	return inference.Errorf(inference.CodeModelNotServable, "pure-Go build: "+format, args...).
		WithHint("serve this model with the cgo build of blackheart-inference")
}

// checkModel reads the model text and refuses what leaves would evaluate
// differently from LightGBM: a wrong number is never acceptable.
func checkModel(text string) (*evalPlan, error) {
	mt, err := inference.ParseModelText(text)
	if err != nil {
		return nil, inference.Wrap(err, inference.CodeArtifactCorrupt, "model text: %v", err)
	}
	switch mt.Version {
	case "v2", "v3", "v4":
	default:
		return nil, notServable("model text version %q is not supported", mt.Version)
	}
	if mt.NumClass != mt.NumTreePerIteration {
		return nil, notServable("num_class %d != num_tree_per_iteration %d", mt.NumClass, mt.NumTreePerIteration)
	}
	if strings.Contains(headerOf(text), "\naverage_output\n") {
		return nil, notServable("random-forest averaging is not evaluated exactly")
	}
	plan := &evalPlan{nFeatures: len(mt.FeatureNames), nOutputs: mt.NumClass, categorical: map[int]bool{}}
	if err := plan.setObjective(mt.Objective, mt.NumClass); err != nil {
		return nil, err
	}
	if err := plan.scanTrees(text); err != nil {
		return nil, err
	}
	return plan, nil
}

func headerOf(text string) string {
	head, _, _ := strings.Cut(text, "\nTree=")
	return head + "\n"
}

func (p *evalPlan) setObjective(objective string, numClass int) error {
	tokens := strings.Fields(objective)
	if len(tokens) == 0 {
		return notServable("model has no objective")
	}
	params := map[string]string{}
	for _, tok := range tokens[1:] {
		k, v, ok := strings.Cut(tok, ":")
		if !ok {
			params[tok] = ""
			continue
		}
		params[k] = v
	}
	switch tokens[0] {
	case "binary":
		s, err := strconv.ParseFloat(params["sigmoid"], 64)
		if err != nil || len(params) != 1 {
			return notServable("binary objective %q is not supported", objective)
		}
		p.transformKind, p.sigmoid = transformSigmoid, s
	case "multiclass":
		if params["num_class"] != strconv.Itoa(numClass) || len(params) != 1 {
			return notServable("multiclass objective %q is not supported", objective)
		}
		p.transformKind = transformSoftmax
	case "regression", "regression_l1":
		if len(params) != 0 { // "sqrt" squares the output
			return notServable("objective %q is not supported", objective)
		}
		p.transformKind = transformIdentity
	default:
		return notServable("objective %q is not supported", tokens[0])
	}
	return nil
}

// scanTrees refuses linear trees and records which features are split
// categorically; a feature split both ways is refused.
func (p *evalPlan) scanTrees(text string) error {
	numerical := map[int]bool{}
	blocks := strings.Split(text, "\nTree=")[1:]
	for i, block := range blocks {
		fields := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				fields[k] = v
			}
		}
		if fields["is_linear"] == "1" {
			return notServable("tree %d is a linear tree", i)
		}
		if fields["split_feature"] == "" {
			continue // a single-leaf tree
		}
		features := strings.Fields(fields["split_feature"])
		decisions := strings.Fields(fields["decision_type"])
		if len(features) != len(decisions) {
			return inference.Errorf(inference.CodeArtifactCorrupt, "tree %d: %d split features, %d decision types", i, len(features), len(decisions))
		}
		for k := range features {
			f, err1 := strconv.Atoi(features[k])
			d, err2 := strconv.Atoi(decisions[k])
			if err1 != nil || err2 != nil || f < 0 || f >= p.nFeatures {
				return inference.Errorf(inference.CodeArtifactCorrupt, "tree %d: bad split %q/%q", i, features[k], decisions[k])
			}
			if d&1 == 0 {
				numerical[f] = true
				continue
			}
			p.categorical[f] = true
		}
	}
	for f := range p.categorical {
		if numerical[f] {
			return notServable("feature %d has both categorical and numerical splits", f)
		}
	}
	return nil
}
