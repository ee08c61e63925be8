package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Loaders build the native members of a model.
type Loaders struct {
	// LightGBM loads model text; numIteration is the pickled best_iteration.
	LightGBM func(modelText string, numIteration int) (Model, error)
	// XGBoost loads a memory snapshot.
	XGBoost func(snapshot []byte) (Model, error)
	// CrossCheck, when set, opens each model a second time with the pure-Go
	// evaluator and refuses any prediction on which the two differ.
	CrossCheck *CrossCheck
}

// EnsembleModel predicts like the trainer's predict_proba_ensemble: each
// member's (n, C) output — the logistic member on (x − mean_) / scale_ —
// then their unweighted mean in stored order. It is safe for concurrent use
// when its members are.
type EnsembleModel struct {
	members   []ensembleMember
	nFeatures int
	nOutputs  int
}

type ensembleMember struct {
	kind       string
	classifier bool
	model      Model // lightgbm or xgboost
	logistic   *Logistic
	// cols maps the member's own column order onto the ensemble's inputs:
	// member column j is input column cols[j]. nil when the orders agree.
	cols []int
}

// namedModel is a native member that knows the columns it was fit on.
type namedModel interface{ FeatureNames() []string }

// memberColumns maps a member fit on names onto the ensemble's inputs. The
// names must be the inputs in some order; no names means input order.
func memberColumns(i int, kind string, names, inputs []string) ([]int, error) {
	if len(names) == 0 || slices.Equal(names, inputs) {
		return nil, nil
	}
	pos := make(map[string]int, len(inputs))
	for j, f := range inputs {
		pos[f] = j
	}
	cols := make([]int, len(names))
	seen := make(map[string]bool, len(names))
	for j, f := range names {
		at, ok := pos[f]
		if !ok || seen[f] || len(names) != len(inputs) {
			return nil, Errorf(CodeArtifactCorrupt, "ensemble member %d (%s) was fit on features that are not the artifact's inputs", i, kind).
				WithDetails(map[string]any{"member_feature_names": names, "input_features": inputs})
		}
		seen[f], cols[j] = true, at
	}
	return cols, nil
}

var _ Model = (*EnsembleModel)(nil)

// NewEnsembleModel loads every member. inputs is the artifact's input
// column order; each LightGBM or XGBoost member reads its columns in the
// order it was fit on (its own feature names), the logistic member in
// input order.
func NewEnsembleModel(e *EnsembleState, inputs []string, load Loaders) (*EnsembleModel, error) {
	nFeatures := len(inputs)
	em := &EnsembleModel{nFeatures: nFeatures, nOutputs: -1}
	fail := func(err error) (*EnsembleModel, error) {
		em.Close()
		return nil, err
	}
	for i, m := range e.Members {
		mm := ensembleMember{kind: m.Kind, classifier: m.Classifier, logistic: m.Logistic}
		var err error
		width := 0
		switch m.Kind {
		case KindLightGBM:
			var mt *ModelText
			if mt, err = ParseModelText(m.LightGBM.ModelText); err != nil {
				return fail(Wrap(err, CodeArtifactCorrupt, "ensemble member %d model text: %v", i, err))
			}
			if mm.cols, err = memberColumns(i, m.Kind, mt.FeatureNames, inputs); err != nil {
				return fail(err)
			}
			mm.model, err = load.LightGBM(m.LightGBM.ModelText, m.LightGBM.BestIteration)
		case KindXGBoost:
			mm.model, err = load.XGBoost(m.XGBoost)
			if named, ok := mm.model.(namedModel); ok && err == nil {
				mm.cols, err = memberColumns(i, m.Kind, named.FeatureNames(), inputs)
				if err != nil {
					mm.model.Close()
				}
			}
		case KindLogReg:
			if len(m.Logistic.Mean) != nFeatures {
				return fail(Errorf(CodeArtifactCorrupt, "ensemble member %d (logreg_l1) has %d features, the payload %d", i, len(m.Logistic.Mean), nFeatures))
			}
			width = len(m.Logistic.Intercept)
		}
		if err != nil {
			return fail(err)
		}
		if mm.model != nil {
			em.members = append(em.members, mm)
			if mm.model.NumFeatures() != nFeatures {
				return fail(Errorf(CodeArtifactCorrupt, "ensemble member %d (%s) has %d features, the payload %d", i, m.Kind, mm.model.NumFeatures(), nFeatures))
			}
			width = mm.model.NumOutputs()
			if mm.classifier && width == 1 {
				width = 2 // binary predict_proba: [1 − p, p]
			}
		} else {
			em.members = append(em.members, mm)
		}
		if em.nOutputs >= 0 && width != em.nOutputs {
			return fail(Errorf(CodeArtifactCorrupt, "ensemble members disagree on the output width (%d vs %d)", em.nOutputs, width))
		}
		em.nOutputs = width
	}
	return em, nil
}

// NumFeatures is the number of input columns.
func (e *EnsembleModel) NumFeatures() int { return e.nFeatures }

// NumOutputs is the number of class probabilities (1 for regressors).
func (e *EnsembleModel) NumOutputs() int { return e.nOutputs }

// Predict scores one row.
func (e *EnsembleModel) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	return e.PredictBatch(ctx, row, raw)
}

// MemberOutputs returns each member's own (n × NumOutputs) output, in
// stored order: what the trainer's _predict_one computes per base model.
func (e *EnsembleModel) MemberOutputs(ctx context.Context, rows []float64) ([][]float64, error) {
	if e.nFeatures == 0 || len(rows)%e.nFeatures != 0 {
		return nil, Errorf(CodeInternal, "batch of %d values is not a whole number of %d-feature rows", len(rows), e.nFeatures)
	}
	n := len(rows) / e.nFeatures
	outs := make([][]float64, len(e.members))
	for i, m := range e.members {
		out, err := m.predict(ctx, rows, n, e.nFeatures)
		if err != nil {
			return nil, err
		}
		outs[i] = out
	}
	return outs, nil
}

// PredictBatch scores row-major rows: the members' outputs summed in stored
// order, as numpy's mean over a stacked axis sums them (sequentially), then
// divided by the member count.
func (e *EnsembleModel) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	if raw {
		return nil, Errorf(CodeModelNotServable, "ensembles have no raw scores")
	}
	outs, err := e.MemberOutputs(ctx, rows)
	if err != nil {
		return nil, err
	}
	sum := append([]float64(nil), outs[0]...)
	for _, out := range outs[1:] {
		for j := range sum {
			sum[j] += out[j]
		}
	}
	k := float64(len(outs))
	for j := range sum {
		sum[j] /= k
	}
	return sum, nil
}

func (m ensembleMember) predict(ctx context.Context, rows []float64, n, nf int) ([]float64, error) {
	rows = m.ownRows(rows, n, nf)
	if m.logistic != nil {
		return m.logistic.PredictProba(rows, n, nf)
	}
	predict := m.model.PredictBatch
	if n == 1 { // one row: the members' single-row paths (LightGBM's FastConfig)
		predict = m.model.Predict
	}
	out, err := predict(ctx, rows, false)
	if err != nil {
		return nil, err
	}
	if !m.classifier || m.model.NumOutputs() != 1 {
		return out, nil
	}
	proba := make([]float64, 2*n) // predict_proba of a binary classifier
	for i, p := range out {
		if m.kind == KindXGBoost {
			proba[2*i] = float64(float32(1) - float32(p)) // numpy float32 arithmetic
		} else {
			proba[2*i] = 1.0 - p
		}
		proba[2*i+1] = p
	}
	return proba, nil
}

// PredictProba is sklearn's multinomial predict_proba on scaled inputs:
// softmax(xs·coefᵀ + intercept) with the row maximum subtracted first.
func (l *Logistic) PredictProba(rows []float64, n, nf int) ([]float64, error) {
	c := len(l.Intercept)
	out := make([]float64, n*c)
	xs := make([]float64, nf)
	for i := 0; i < n; i++ {
		if err := l.scale(rows[i*nf:(i+1)*nf], i, xs); err != nil {
			return nil, err
		}
		o := out[i*c : (i+1)*c]
		for k := range o {
			o[k] = l.decision(xs, k)
		}
		mx := o[0]
		for _, v := range o[1:] {
			mx = math.Max(mx, v)
		}
		sum := 0.0
		for k := range o {
			o[k] = math.Exp(o[k] - mx)
			sum += o[k]
		}
		for k := range o {
			o[k] /= sum
		}
	}
	return out, nil
}

// scale is StandardScaler.transform of row i into xs: (x − mean) / scale.
// sklearn's scaler refuses a non-finite input (ValueError): so do we, with
// a coded refusal of the input, never a 500.
func (l *Logistic) scale(row []float64, i int, xs []float64) error {
	for j, x := range row {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Errorf(CodeValidationFailed, "the ensemble's logistic member cannot score a non-finite input (row %d, column %d)", i, j).
				WithDetails(map[string]any{"errors": []map[string]any{{"field": fmt.Sprintf("column %d", j), "reason": "must be finite for an ensemble with a logistic member"}}})
		}
		xs[j] = (x - l.Mean[j]) / l.Scale[j]
	}
	return nil
}

// decision is class k's decision function on scaled inputs xs: fused
// multiply-adds in feature order, as OpenBLAS's dgemm kernel accumulates
// numpy's X @ coef.T on FMA CPUs, then the intercept.
func (l *Logistic) decision(xs []float64, k int) float64 {
	s := 0.0
	for j, w := range l.Coef[k] {
		s = math.FMA(xs[j], w, s)
	}
	return s + l.Intercept[k]
}

// Close closes every native member.
func (e *EnsembleModel) Close() error {
	var errs []error
	for _, m := range e.members {
		if m.model != nil {
			errs = append(errs, m.model.Close())
		}
	}
	return errors.Join(errs...)
}

// ResidentBytes is what every member holds, its column map and logistic
// weights included.
func (e *EnsembleModel) ResidentBytes() int64 {
	var n int64
	for _, m := range e.members {
		n += int64(unsafe.Sizeof(m)) + goBytes(m.logistic) + goBytes(m.cols)
		if m.model != nil {
			n += modelBytes(m.model)
		}
	}
	return n
}
