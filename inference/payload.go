package inference

import (
	"regexp"
	"time"
)

// Objectives the trainer writes.
const (
	ObjectiveBinary     = "binary"
	ObjectiveRegression = "regression"
	ObjectiveMulticlass = "multiclass"
)

// Payload is what inference needs from an unpickled blackheart-train
// artifact (CONTRACT §1.1). Metadata the service never reads stays behind.
type Payload struct {
	Version         int
	ContentSHA256   string
	Objective       string
	FeatureNames    []string
	FeatureVersions map[string]int // nil for artifacts older than 2026-06-12
	Spec            Spec
	LabelFeature    string
	LabelVersion    int
	Readiness       DeploymentReadiness
	Booster         *BoosterState  // set for single-model payloads
	Ensemble        *EnsembleState // set for ensemble payloads
	// LastFoldFeatures is the features_selected of the last walk-forward
	// fold that ran (skipped folds are passed over), when present.
	LastFoldFeatures []string
}

// Kind is "booster" or "ensemble".
func (p *Payload) Kind() string {
	if p.Ensemble != nil {
		return "ensemble"
	}
	return "booster"
}

// ModelKind is the metrics' model kind: "booster" (a LightGBM booster),
// "xgboost" (an ensemble of one XGBoost model) or "ensemble".
func (p *Payload) ModelKind() string {
	switch {
	case p.Ensemble == nil:
		return "booster"
	case len(p.Ensemble.Members) == 1 && p.Ensemble.Members[0].Kind == KindXGBoost:
		return "xgboost"
	}
	return "ensemble"
}

// Spec is the trainer's ModelSpec as stored by dataclasses.asdict (§1.2).
type Spec struct {
	Name                    string
	Purpose                 string
	Objective               string
	Symbol                  string
	Interval                string
	DerivedFeatures         []string
	BaseModels              []string
	TrainingIntervals       []string
	FeatureSelectionEnabled bool
	MetaLabelEnabled        bool
	// TrainStart and TrainEnd are the spec's training window (naive UTC);
	// zero when the spec has none.
	TrainStart, TrainEnd time.Time
}

// DeploymentReadiness mirrors payload["deployment_readiness"].
type DeploymentReadiness struct {
	Ready                     bool
	UnregisteredInputFeatures []string
	UnregisteredLabel         string
}

// BoosterState is the pickled lightgbm.basic.Booster: its full model text
// (all trees, as __getstate__ stores it) and the iteration Python's
// Booster.predict uses by default.
type BoosterState struct {
	ModelText     string
	BestIteration int
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA reports whether s is a content sha: 64 lowercase hex digits.
func ValidSHA(s string) bool { return shaPattern.MatchString(s) }
