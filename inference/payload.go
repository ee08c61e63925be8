package inference

import (
	"math"
	"regexp"
	"slices"
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
	// EvalKind is payload["eval_kind"]: "walk_forward_aggregate",
	// "holdout_80_20", or empty when absent.
	EvalKind string
	// WalkForward is payload["walk_forward"]; nil when None or absent.
	WalkForward *WalkForward
	// LastFoldMetrics is payload["last_fold_metrics"], the saved fold's
	// own metrics, where they are numbers.
	LastFoldMetrics map[string]float64
}

// WalkForward is what the point-in-time rules read of a walk-forward
// payload: its folds in the order the trainer ran them.
type WalkForward struct {
	Folds []Fold
}

// Fold is one walk-forward fold: train on [TrainStart, TrainEnd), test on
// [TestStart, TestEnd) (naive UTC in the artifact, half-open). A time the
// artifact lacks or cannot be read is zero.
type Fold struct {
	Index                                    int
	TrainStart, TrainEnd, TestStart, TestEnd time.Time
	// Skipped is skipped_reason: empty when the fold was fit.
	Skipped string
	// OOFTimes are the test bars' ts, ascending; OOF holds OOFWidth values
	// per bar (1: binary P(1) or a regression value; 3: multiclass
	// probabilities), exactly as pickled. NaN marks a bar without one.
	OOFTimes []time.Time
	OOF      []float64
	OOFWidth int
}

// Fitted reports whether a model was fit on the fold.
func (f *Fold) Fitted() bool { return f.Skipped == "" }

// HasWindows reports whether the fold's four bounds are all known and ordered.
func (f *Fold) HasWindows() bool {
	return !f.TrainStart.IsZero() && f.TrainStart.Before(f.TrainEnd) && !f.TrainEnd.After(f.TestStart) &&
		f.TestStart.Before(f.TestEnd)
}

// OOFAt is the fold's out-of-fold output at ts, if it has one.
func (f *Fold) OOFAt(ts time.Time) ([]float64, bool) {
	i, ok := slices.BinarySearchFunc(f.OOFTimes, ts, func(a, b time.Time) int { return a.Compare(b) })
	if !ok {
		return nil, false
	}
	out := f.OOF[i*f.OOFWidth : (i+1)*f.OOFWidth]
	for _, x := range out {
		if math.IsNaN(x) {
			return nil, false
		}
	}
	return out, true
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
