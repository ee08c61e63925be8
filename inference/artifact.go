package inference

import (
	"context"
	"slices"
)

// ContentCheck is the outcome of recomputing content_sha256 (decision D6).
type ContentCheck string

// ContentCheck values.
const (
	ContentMatch         ContentCheck = "match"
	ContentMismatch      ContentCheck = "mismatch"
	ContentNotApplicable ContentCheck = "not_applicable" // ensembles: the XGBoost part cannot be re-serialised outside Python
)

// Artifact is a verified, loaded artifact.
type Artifact struct {
	SHA     string
	Path    string
	Size    int64
	Payload *Payload
	Content ContentCheck
	// InputFeatures is the model's input column order: the booster's own
	// feature_names, checked against the payload (CONTRACT §5.7).
	InputFeatures []string
	// ModelText is the parsed booster text (nil for ensembles).
	ModelText *ModelText
	// Vintage is what the model saw, read from the payload once at load
	// (nil: unknown).
	Vintage *Vintage
}

// ArtifactSource loads verified artifacts by content sha. The reader of
// pickled artifacts (package inference/artifact) implements it; the model
// cache depends only on this.
type ArtifactSource interface {
	// Load reads and verifies the artifact for sha; ctx bounds the read.
	// Failures are artifact_file_missing or artifact_corrupt.
	Load(ctx context.Context, sha string) (*Artifact, error)
}

// BoosterInputs returns the model's input column order: the booster's own
// feature_names line. It must equal payload.feature_names, or, for a
// walk-forward model trained with feature selection, the last fold's
// features_selected.
func BoosterInputs(p *Payload, mt *ModelText) ([]string, error) {
	if slices.Equal(mt.FeatureNames, p.FeatureNames) {
		return mt.FeatureNames, nil
	}
	if p.Spec.FeatureSelectionEnabled && len(p.LastFoldFeatures) > 0 && slices.Equal(mt.FeatureNames, p.LastFoldFeatures) {
		return mt.FeatureNames, nil
	}
	return nil, Errorf(CodeArtifactCorrupt,
		"booster feature_names (%d) do not match payload feature_names (%d)", len(mt.FeatureNames), len(p.FeatureNames)).
		WithDetails(map[string]any{"booster_feature_names": mt.FeatureNames, "payload_feature_names": p.FeatureNames})
}

// EnsembleInputs is an ensemble's input column order. A walk-forward
// ensemble trained with feature selection was fit, every member alike, on
// the last fold that ran's features_selected, in the selection's own order
// (with stacked intervals interval_indicator comes first there, last in
// payload.feature_names); any other ensemble on payload.feature_names. Each
// member's own names are checked against it when the model opens.
func EnsembleInputs(p *Payload) ([]string, error) {
	if !p.Spec.FeatureSelectionEnabled || len(p.LastFoldFeatures) == 0 {
		return p.FeatureNames, nil
	}
	for _, f := range p.LastFoldFeatures {
		if !slices.Contains(p.FeatureNames, f) {
			return nil, Errorf(CodeArtifactCorrupt, "walk-forward features_selected names %q, which payload feature_names lacks", f).
				WithDetails(map[string]any{"features_selected": p.LastFoldFeatures, "payload_feature_names": p.FeatureNames})
		}
	}
	return p.LastFoldFeatures, nil
}

// dropSources lets go of the model text and snapshots once the model is
// built from them: only building needs them, and they are as large as the
// model itself.
func (a *Artifact) dropSources() {
	if a.ModelText != nil {
		mt := *a.ModelText
		mt.Text = ""
		a.ModelText = &mt
	}
	p := a.Payload
	if p == nil {
		return
	}
	if p.Booster != nil {
		p.Booster = &BoosterState{BestIteration: p.Booster.BestIteration}
	}
	if p.Ensemble != nil {
		ens := *p.Ensemble
		ens.Members = make([]EnsembleMember, len(p.Ensemble.Members))
		for i, m := range p.Ensemble.Members {
			if m.LightGBM != nil {
				m.LightGBM = &BoosterState{BestIteration: m.LightGBM.BestIteration}
			}
			m.XGBoost = nil
			ens.Members[i] = m
		}
		p.Ensemble = &ens
	}
}
