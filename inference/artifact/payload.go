package artifact

import (
	"fmt"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/rfkih/blackheart-inference/inference"
)

// Decoded is a payload as read from its pickle: the domain's view of it,
// plus the spec exactly as pickled, which the content sha covers.
type Decoded struct {
	*inference.Payload
	rawSpec any
}

// DecodePayload turns an unpickled value into a payload, refusing anything
// that is not shaped like a blackheart-train artifact with artifact_corrupt.
func DecodePayload(v any) (*Decoded, error) {
	root, ok := v.(*types.Dict)
	if !ok {
		return nil, corrupt("payload is a %s, not a dict", pyTypeName(v))
	}
	d := dictReader{root, "payload"}
	p := &Decoded{Payload: &inference.Payload{Version: 1}}
	var err error
	if d.has("payload_version") {
		if p.Version, err = d.int("payload_version"); err != nil {
			return nil, err
		}
		if p.Version != 1 && p.Version != 2 {
			return nil, corrupt("payload_version %d is not supported (1 or 2)", p.Version)
		}
	}
	if p.ContentSHA256, err = d.str("content_sha256"); err != nil {
		return nil, err
	}
	if !inference.ValidSHA(p.ContentSHA256) {
		return nil, corrupt("payload content_sha256 %q is not 64 lowercase hex digits", truncateForMessage(p.ContentSHA256))
	}
	if p.Objective, err = d.str("objective"); err != nil {
		return nil, err
	}
	if p.FeatureNames, err = d.strings("feature_names"); err != nil {
		return nil, err
	}
	if len(p.FeatureNames) == 0 {
		return nil, corrupt("payload feature_names is empty")
	}
	seen := map[string]bool{}
	for _, n := range p.FeatureNames {
		if seen[n] {
			return nil, corrupt("payload feature_names lists %q twice", n)
		}
		seen[n] = true
	}
	if d.hasValue("feature_versions") {
		if p.FeatureVersions, err = d.intMap("feature_versions"); err != nil {
			return nil, err
		}
	}
	if p.LabelFeature, err = d.str("label_feature"); err != nil {
		return nil, err
	}
	if p.LabelVersion, err = d.int("label_version"); err != nil {
		return nil, err
	}
	if err := decodeSpec(d, p); err != nil {
		return nil, err
	}
	if d.hasValue("deployment_readiness") {
		r, err := d.dict("deployment_readiness")
		if err != nil {
			return nil, err
		}
		p.Readiness.Ready, _ = r.optBool("deployment_ready")
		if r.hasValue("unregistered_input_features") {
			if p.Readiness.UnregisteredInputFeatures, err = r.strings("unregistered_input_features"); err != nil {
				return nil, err
			}
		}
		p.Readiness.UnregisteredLabel, _ = r.optStr("unregistered_label")
	}
	if err := decodeModel(d, p); err != nil {
		return nil, err
	}
	p.EvalKind, _ = d.optStr("eval_kind")
	p.LastFoldMetrics = d.optFloats("last_fold_metrics")
	if d.hasValue("walk_forward") {
		if p.LastFoldFeatures, err = lastFoldFeatures(d); err != nil {
			return nil, err
		}
		if p.WalkForward, err = decodeWalkForward(d); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func decodeSpec(d dictReader, p *Decoded) error {
	s, err := d.dict("spec")
	if err != nil {
		return err
	}
	p.rawSpec = s.d
	sp := &p.Spec
	if sp.Name, err = s.str("name"); err != nil {
		return err
	}
	if sp.Objective, err = s.str("objective"); err != nil {
		return err
	}
	if sp.Symbol, err = s.str("symbol"); err != nil {
		return err
	}
	if sp.Interval, err = s.str("interval"); err != nil {
		return err
	}
	sp.Purpose, _ = s.optStr("purpose")
	for key, dst := range map[string]*[]string{
		"derived_features": &sp.DerivedFeatures, "base_models": &sp.BaseModels, "training_intervals": &sp.TrainingIntervals,
	} {
		if s.hasValue(key) {
			if *dst, err = s.strings(key); err != nil {
				return err
			}
		}
	}
	sp.FeatureSelectionEnabled, _ = s.optBool("feature_selection_enabled")
	sp.MetaLabelEnabled, _ = s.optBool("meta_label_enabled")
	sp.TrainStart, sp.TrainEnd = s.optDatetime("train_start"), s.optDatetime("train_end")
	return nil
}

func decodeModel(d dictReader, p *Decoded) error {
	booster, _ := d.get("booster")
	ensemble, _ := d.get("ensemble")
	switch {
	case booster != nil && ensemble != nil:
		return corrupt("payload sets both booster and ensemble")
	case booster == nil && ensemble == nil:
		return corrupt("payload has neither booster nor ensemble")
	case ensemble != nil:
		obj, ok := ensemble.(*PyObject)
		if !ok || obj.Module+"."+obj.Name != "blackheart_train.ensemble.Ensemble" {
			return corrupt("payload ensemble is a %s, not blackheart_train.ensemble.Ensemble", pyTypeName(ensemble))
		}
		e, err := DecodeEnsemble(obj)
		if err != nil {
			return err
		}
		p.Ensemble = e
		return nil
	}
	state, err := DecodeLightGBMBooster(booster)
	if err != nil {
		return err
	}
	p.Booster = state
	return nil
}

// DecodeLightGBMBooster reads a pickled lightgbm.basic.Booster.
func DecodeLightGBMBooster(v any) (*inference.BoosterState, error) {
	obj, ok := v.(*PyObject)
	if !ok || obj.Module != "lightgbm.basic" || obj.Name != "Booster" {
		return nil, corrupt("booster is a %s, not lightgbm.basic.Booster", pyTypeName(v))
	}
	st := obj.StateDict()
	if st == nil {
		return nil, corrupt("lightgbm Booster has no state dict")
	}
	s := dictReader{st, "booster"}
	key := "_handle" // LightGBM >= 4.0
	if !s.hasValue(key) {
		key = "handle" // LightGBM 3.x
	}
	text, err := s.str(key)
	if err != nil {
		return nil, corrupt("lightgbm Booster state has no model text under _handle or handle")
	}
	best := 0
	if s.hasValue("best_iteration") {
		if best, err = s.int("best_iteration"); err != nil {
			return nil, err
		}
	}
	return &inference.BoosterState{ModelText: text, BestIteration: best}, nil
}

// lastFoldFeatures is the features_selected of the last walk-forward fold
// that ran: the trainer saves that fold's estimator (train_via_walk_forward
// takes valid_folds[-1]), so a final fold skipped at run time — stored with
// a skipped_reason and features_selected [] — is passed over.
func lastFoldFeatures(d dictReader) ([]string, error) {
	wf, err := d.dict("walk_forward")
	if err != nil {
		return nil, err
	}
	foldsV, ok := wf.get("folds")
	if !ok {
		return nil, nil
	}
	folds := sequence(foldsV)
	for i := len(folds) - 1; i >= 0; i-- {
		fold, ok := folds[i].(*types.Dict)
		if !ok {
			continue
		}
		fr := dictReader{fold, fmt.Sprintf("walk_forward.folds[%d]", i)}
		if fr.hasValue("skipped_reason") {
			continue
		}
		if !fr.hasValue("features_selected") {
			return nil, nil
		}
		return fr.strings("features_selected")
	}
	return nil, nil
}

func corrupt(format string, args ...any) *inference.Error {
	return inference.Errorf(inference.CodeArtifactCorrupt, format, args...)
}

func truncateForMessage(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
