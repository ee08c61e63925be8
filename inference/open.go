package inference

// OpenModel builds the predictor for a loaded artifact: a LightGBM booster,
// or an ensemble of LightGBM, XGBoost and logistic members.
func OpenModel(art *Artifact, load Loaders) (Model, error) {
	m, err := openModel(art, load)
	if err != nil || load.CrossCheck == nil {
		return m, err
	}
	return openCrossChecked(art, m, load.CrossCheck)
}

func openModel(art *Artifact, load Loaders) (Model, error) {
	p := art.Payload
	switch p.Objective {
	case ObjectiveBinary, ObjectiveRegression, ObjectiveMulticlass:
	default:
		return nil, Errorf(CodeModelNotServable, "objective %q is not served", p.Objective)
	}
	if p.Ensemble != nil {
		return NewEnsembleModel(p.Ensemble, art.InputFeatures, load)
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
