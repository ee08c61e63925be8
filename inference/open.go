package inference

// BoosterLoader builds a Model from LightGBM model text; numIteration is the
// pickled best_iteration (<= 0: all iterations). native.LoadLightGBM is one.
type BoosterLoader func(modelText string, numIteration int) (Model, error)

// OpenModel builds the predictor for a loaded artifact.
func OpenModel(art *Artifact, load BoosterLoader) (Model, error) {
	p := art.Payload
	switch p.Objective {
	case ObjectiveBinary, ObjectiveRegression, ObjectiveMulticlass:
	default:
		return nil, Errorf(CodeModelNotServable, "objective %q is not served", p.Objective)
	}
	if p.Booster == nil {
		return nil, Errorf(CodeModelNotServable, "ensemble artifacts are not served by this build yet").
			WithDetails(map[string]any{"kind": p.Kind()})
	}
	m, err := load(p.Booster.ModelText, p.Booster.BestIteration)
	if err != nil {
		return nil, err
	}
	if m.NumFeatures() != len(art.InputFeatures) {
		m.Close()
		return nil, Errorf(CodeArtifactCorrupt, "model expects %d features, artifact lists %d", m.NumFeatures(), len(art.InputFeatures))
	}
	return m, nil
}
