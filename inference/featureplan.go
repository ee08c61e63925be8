package inference

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// intervalIndicatorName is the synthetic last column of stacked training.
const intervalIndicatorName = "interval_indicator"

// defaultFfillCap is the as-of cap when max_ffill_age_hours is NULL or 0.
const defaultFfillCap = 168 * time.Hour

// staleLookback bounds how far before a window the newest global value is
// looked up to report a stale input's age; older data reports absent_at_ts.
const staleLookback = 90 * 24 * time.Hour

type colKind int

const (
	colPerBar colKind = iota
	colGlobalAsOf
	colGlobalExact
	colIndicator
)

// featurePlan says how to build one model's input rows (CONTRACT §5).
type featurePlan struct {
	columns   []string
	refs      []FeatureRef // per column; zero for the indicator
	kinds     []colKind
	caps      []time.Duration // per column, for colGlobalAsOf
	indicator float64

	perBarRefs []FeatureRef
	perBarCols []int
	globalRefs []FeatureRef
	globalCols []int
	maxCap     time.Duration

	// lookup and defs are the registry rows the plan was built from; pinned
	// means every version came from the artifact (none from "latest
	// registered"), so for one sha the plan changes only if those rows do.
	lookup []FeatureRef
	defs   map[FeatureRef]FeatureDef
	pinned bool
}

// sameDefs reports whether fresh registry rows (each ref at most once, as
// the registry's primary key makes them) are the ones the plan was built
// from.
func (plan *featurePlan) sameDefs(defs []FeatureDef) bool {
	if len(defs) != len(plan.defs) {
		return false
	}
	for _, d := range defs {
		if was, ok := plan.defs[d.FeatureRef]; !ok || was != d {
			return false
		}
	}
	return true
}

// signature names everything the plan's rows depend on besides the bars,
// the symbol and the interval: two models whose plans have one signature
// get the same rows at every bar, whatever their artifacts.
func (plan *featurePlan) signature() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%v|%v|%v|%v|", plan.columns, plan.refs, plan.kinds, plan.caps, math.Float64bits(plan.indicator))
	defs := make([]FeatureDef, 0, len(plan.defs))
	for _, d := range plan.defs {
		defs = append(defs, d)
	}
	slices.SortFunc(defs, func(a, b FeatureDef) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	fmt.Fprintf(&b, "%+v", defs)
	return b.String()
}

// MissingFeature says why one input is unavailable at one bar.
type MissingFeature struct {
	Feature  string
	Version  int
	Reason   string  // absent_at_ts | stale
	AgeHours float64 // for stale: bar ts − newest value ts
}

func (m MissingFeature) wire() map[string]any {
	out := map[string]any{"feature": m.Feature, "version": m.Version, "reason": m.Reason}
	if m.Reason == "stale" {
		out["age_hours"] = m.AgeHours
	}
	return out
}

// planFeatures resolves versions and registry rows for the model's inputs.
func planFeatures(ctx context.Context, store Store, art *Artifact, interval Interval) (*featurePlan, error) {
	p := art.Payload
	if len(p.Spec.DerivedFeatures) > 0 {
		return nil, Errorf(CodeModelNotServable, "model uses derived features that exist only at training time").
			WithDetails(map[string]any{"derived_features": p.Spec.DerivedFeatures})
	}
	n := len(art.InputFeatures)
	plan := &featurePlan{columns: art.InputFeatures, refs: make([]FeatureRef, n), kinds: make([]colKind, n), caps: make([]time.Duration, n)}
	if err := plan.resolveVersions(ctx, store, p); err != nil {
		return nil, err
	}
	for i, r := range plan.refs {
		if plan.kinds[i] != colIndicator && r.Version != 0 {
			plan.lookup = append(plan.lookup, r)
		}
	}
	defs, err := store.FeatureDefs(ctx, plan.lookup)
	if err != nil {
		return nil, err
	}
	plan.defs = defs
	if unregistered := plan.classify(defs); len(unregistered) > 0 {
		return nil, Errorf(CodeFeatureNotRegistered, "%d model input(s) are not registered features", len(unregistered)).
			WithDetails(map[string]any{"features": unregistered})
	}
	return plan, nil
}

// resolveVersions marks the interval_indicator column and pins every other
// column's version: payload.feature_versions, else the highest registered
// (D2; version 0 when none is).
func (plan *featurePlan) resolveVersions(ctx context.Context, store Store, p *Payload) error {
	// Stacked training appends interval_indicator as payload.feature_names'
	// last column; a feature-selected model may read it at any position.
	stacked := len(p.Spec.TrainingIntervals) > 1 && len(p.FeatureNames) > 0 &&
		p.FeatureNames[len(p.FeatureNames)-1] == intervalIndicatorName
	var needLatest []string
	for i, name := range plan.columns {
		if stacked && name == intervalIndicatorName {
			specInterval, err := ParseInterval(p.Spec.Interval)
			if err != nil {
				return Errorf(CodeArtifactCorrupt, "spec.interval %q is not a serving interval", p.Spec.Interval)
			}
			plan.kinds[i], plan.indicator = colIndicator, float64(specInterval.Indicator())
			continue
		}
		if v, ok := p.FeatureVersions[name]; ok {
			plan.refs[i] = FeatureRef{name, v}
		} else {
			needLatest = append(needLatest, name)
		}
	}
	plan.pinned = len(needLatest) == 0
	if plan.pinned {
		return nil
	}
	latest, err := store.LatestRegisteredVersions(ctx, needLatest)
	if err != nil {
		return err
	}
	for i, name := range plan.columns {
		if plan.kinds[i] != colIndicator && plan.refs[i].Name == "" {
			plan.refs[i] = FeatureRef{name, latest[name]}
		}
	}
	return nil
}

// classify sorts the columns into per-bar, as-of global and exact global
// inputs (CONTRACT §5.3–5.4) and lists every input that is not a
// registered feature version.
func (plan *featurePlan) classify(defs map[FeatureRef]FeatureDef) []map[string]any {
	var unregistered []map[string]any
	for i, r := range plan.refs {
		if plan.kinds[i] == colIndicator {
			continue
		}
		def, ok := defs[r]
		if !ok || def.Status != FeatureRegistered {
			unregistered = append(unregistered, unregisteredEntry(r, def, ok))
			continue
		}
		if def.PerBar {
			plan.kinds[i] = colPerBar
			plan.perBarRefs, plan.perBarCols = append(plan.perBarRefs, r), append(plan.perBarCols, i)
			continue
		}
		plan.kinds[i] = colGlobalExact
		if def.FfillPolicy == "last_value" {
			plan.kinds[i], plan.caps[i] = colGlobalAsOf, defaultFfillCap
			if def.MaxFfillAgeHours > 0 {
				plan.caps[i] = time.Duration(def.MaxFfillAgeHours) * time.Hour
			}
			plan.maxCap = max(plan.maxCap, plan.caps[i])
		}
		plan.globalRefs, plan.globalCols = append(plan.globalRefs, r), append(plan.globalCols, i)
	}
	return unregistered
}

func unregisteredEntry(r FeatureRef, def FeatureDef, inRegistry bool) map[string]any {
	entry := map[string]any{"feature": r.Name}
	switch {
	case r.Version == 0:
		entry["reason"] = "no_registered_version"
		return entry
	case !inRegistry:
		entry["reason"] = "not_in_registry"
	default:
		entry["reason"] = "status_" + string(def.Status)
	}
	entry["version"] = r.Version
	return entry
}
