package inference

import "slices"

// OpenModel builds the predictor for a loaded artifact: a LightGBM booster,
// or an ensemble of LightGBM, XGBoost and logistic members.
func OpenModel(art *Artifact, load Loaders) (Model, error) {
	p := art.Payload
	switch p.Objective {
	case ObjectiveBinary, ObjectiveRegression, ObjectiveMulticlass:
	default:
		return nil, Errorf(CodeModelNotServable, "objective %q is not served", p.Objective)
	}
	if p.Ensemble != nil {
		for i, m := range p.Ensemble.Members {
			if m.Kind != KindLightGBM {
				continue
			}
			mt, err := ParseModelText(m.LightGBM.ModelText)
			if err != nil {
				return nil, Wrap(err, CodeArtifactCorrupt, "ensemble member %d model text: %v", i, err)
			}
			if !slices.Equal(mt.FeatureNames, p.FeatureNames) {
				return nil, Errorf(CodeArtifactCorrupt, "ensemble member %d feature_names do not match the payload's", i)
			}
		}
		return NewEnsembleModel(p.Ensemble, len(p.FeatureNames), load)
	}
	m, err := load.LightGBM(p.Booster.ModelText, p.Booster.BestIteration)
	if err != nil {
		return nil, err
	}
	if m.NumFeatures() != len(art.InputFeatures) {
		m.Close()
		return nil, Errorf(CodeArtifactCorrupt, "model expects %d features, artifact lists %d", m.NumFeatures(), len(art.InputFeatures))
	}
	return m, nil
}
