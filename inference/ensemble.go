package inference

// Ensemble member kinds, in the trainer's fixed order (CONTRACT §3).
const (
	KindLightGBM = "lightgbm"
	KindXGBoost  = "xgboost"
	KindLogReg   = "logreg_l1"
)

// EnsembleState is a decoded blackheart_train.ensemble.Ensemble.
type EnsembleState struct {
	Members []EnsembleMember
}

// EnsembleMember is one FittedBaseModel.
type EnsembleMember struct {
	Kind string
	// Classifier is true for LGBMClassifier / XGBClassifier, whose
	// predict_proba the trainer averages; false for regressors.
	Classifier bool
	LightGBM   *BoosterState // kind lightgbm: the wrapper's _Booster
	XGBoost    []byte        // kind xgboost: the _Booster's memory snapshot
	Logistic   *Logistic     // kind logreg_l1
}

// Logistic is a multinomial LogisticRegressionCV with its StandardScaler.
type Logistic struct {
	Coef      [][]float64 // classes × features
	Intercept []float64
	Mean      []float64
	Scale     []float64
}
