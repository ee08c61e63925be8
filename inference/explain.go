package inference

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// Explainer is a native booster that attributes its raw output to its
// inputs with the library's own TreeSHAP.
type Explainer interface {
	// Contributions returns, for row-major rows, per row and output, one
	// contribution per input column then the bias (the expected value), in
	// the space of the model's raw score: what Python's
	// predict(pred_contrib=True) / predict(pred_contribs=True) returns.
	Contributions(ctx context.Context, rows []float64) ([]float64, error)
	// Margins returns the raw scores, per row and output, that a row's
	// contributions plus bias add up to.
	Margins(ctx context.Context, rows []float64) ([]float64, error)
}

// The spaces contributions live in.
const (
	// SpaceRawMargin is a booster's raw score: the input of its sigmoid or
	// softmax (or the prediction itself for regression).
	SpaceRawMargin = "raw_margin"
	// SpaceLogit is the logistic member's decision function.
	SpaceLogit = "logit"
)

// ContributionSet attributes one output of a model (or of one ensemble
// member) for one row: Bias + Σ Values = Raw in Space, up to floating-point
// rounding (AdditivityError() <= Tolerance).
type ContributionSet struct {
	Member string  // the ensemble member's kind; "" for a single booster
	Weight float64 // the member's weight in the ensemble's mean; 1 for a single booster
	Class  int     // the output (class) explained; -1 for a single-output model
	Space  string
	Bias   float64
	Raw    float64   // the raw score (margin or logit); NaN when the caller did not ask for it
	Values []float64 // one per input column, in the model's input order
	// Tolerance bounds AdditivityError: AdditivityTolerance, or
	// Float32AdditivityTolerance for XGBoost, which computes in float32.
	Tolerance float64
}

// AdditivityTolerance bounds |Bias + Σ Values − Raw| relative to
// max(1, |Raw|) for contributions computed in float64 (LightGBM, the
// logistic member): TreeSHAP's values are exact to their own arithmetic,
// but their sum rounds differently from the trees' own sum.
const AdditivityTolerance = 1e-9

// Float32AdditivityTolerance is the same bound for XGBoost, whose
// contributions and margins are float32 sums.
const Float32AdditivityTolerance = 1e-5

// AdditivityError is |Bias + Σ Values − Raw| / max(1, |Raw|), the sum taken
// in input order.
func (c ContributionSet) AdditivityError() float64 {
	s := c.Bias
	for _, v := range c.Values {
		s += v
	}
	return math.Abs(s-c.Raw) / math.Max(1, math.Abs(c.Raw))
}

// Ranked returns the input columns ordered by |contribution|, largest
// first; ties keep input order.
func (c ContributionSet) Ranked() []int {
	idx := make([]int, len(c.Values))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return math.Abs(c.Values[idx[a]]) > math.Abs(c.Values[idx[b]]) })
	return idx
}

// explainable is a Model that can explain itself (ensembles, cross-check).
// withRaw asks for each set's Raw; without it Raw is NaN and the margins
// are not computed (the write path's top-K needs only the values).
type explainable interface {
	explain(ctx context.Context, rows []float64, withRaw bool) ([][]ContributionSet, error)
}

// Explain attributes m's output for each row-major row: one slice of
// contribution sets per row. Boosters give one set per output in their raw
// margin; ensembles give each member's own sets, in stored order, each
// carrying its weight in the mean (there is no additive decomposition of a
// mean of probabilities, and none is invented). A model or row the library
// itself cannot explain is refused with explanation_not_supported.
func Explain(ctx context.Context, m Model, rows []float64) ([][]ContributionSet, error) {
	return explainRows(ctx, m, rows, true)
}

func explainRows(ctx context.Context, m Model, rows []float64, withRaw bool) ([][]ContributionSet, error) {
	switch x := m.(type) {
	case explainable:
		return x.explain(ctx, rows, withRaw)
	case Explainer:
		return boosterSets(ctx, x, rows, m.NumFeatures(), m.NumOutputs(), nil, "", 1, false, AdditivityTolerance, withRaw)
	}
	return nil, Errorf(CodeExplanationNotSupported, "this model gives no contributions")
}

// boosterSets explains a native booster. cols maps its own column order onto
// the model's inputs (nil: the same); a binary classifier member's single
// margin explains class 1 of the ensemble's [P(0), P(1)].
func boosterSets(ctx context.Context, x Explainer, rows []float64, nf, no int, cols []int, member string, weight float64,
	binaryMember bool, tol float64, withRaw bool) ([][]ContributionSet, error) {
	contrib, err := x.Contributions(ctx, rows)
	if err != nil {
		return nil, err
	}
	n := len(rows) / nf
	margins := make([]float64, n*no)
	if withRaw {
		if margins, err = x.Margins(ctx, rows); err != nil {
			return nil, err
		}
	} else {
		for i := range margins {
			margins[i] = math.NaN()
		}
	}
	if len(contrib) != n*no*(nf+1) || len(margins) != n*no {
		return nil, Errorf(CodeInternal, "contributions: %d values and %d margins for %d rows of %d outputs", len(contrib), len(margins), n, no)
	}
	out := make([][]ContributionSet, n)
	for i := range out {
		out[i] = make([]ContributionSet, no)
		for k := 0; k < no; k++ {
			block := contrib[(i*no+k)*(nf+1) : (i*no+k+1)*(nf+1)]
			set := ContributionSet{Member: member, Weight: weight, Class: k, Space: SpaceRawMargin,
				Bias: block[nf], Raw: margins[i*no+k], Values: make([]float64, nf), Tolerance: tol}
			switch {
			case binaryMember:
				set.Class = 1
			case no == 1:
				set.Class = -1
			}
			for j := 0; j < nf; j++ {
				at := j
				if cols != nil {
					at = cols[j]
				}
				set.Values[at] = block[j]
			}
			out[i][k] = set
		}
	}
	return out, nil
}

// explain gives each member's sets in stored order.
func (e *EnsembleModel) explain(ctx context.Context, rows []float64, withRaw bool) ([][]ContributionSet, error) {
	if e.nFeatures == 0 || len(rows)%e.nFeatures != 0 {
		return nil, Errorf(CodeInternal, "batch of %d values is not a whole number of %d-feature rows", len(rows), e.nFeatures)
	}
	n, nf := len(rows)/e.nFeatures, e.nFeatures
	weight := 1 / float64(len(e.members))
	out := make([][]ContributionSet, n)
	for _, m := range e.members {
		var sets [][]ContributionSet
		var err error
		if m.logistic != nil {
			sets, err = m.logistic.explain(rows, n, nf, weight, withRaw)
		} else {
			x, ok := m.model.(Explainer)
			if !ok {
				return nil, Errorf(CodeExplanationNotSupported, "the ensemble's %s member gives no contributions", m.kind)
			}
			tol := AdditivityTolerance
			if m.kind == KindXGBoost {
				tol = Float32AdditivityTolerance
			}
			sets, err = boosterSets(ctx, x, m.ownRows(rows, n, nf), nf, m.model.NumOutputs(), m.cols, m.kind, weight,
				m.classifier && m.model.NumOutputs() == 1, tol, withRaw)
		}
		if err != nil {
			return nil, fmt.Errorf("ensemble member %s: %w", m.kind, err)
		}
		for i := range out {
			out[i] = append(out[i], sets[i]...)
		}
	}
	return out, nil
}

// ownRows reorders row-major rows into the member's own column order.
func (m ensembleMember) ownRows(rows []float64, n, nf int) []float64 {
	if m.cols == nil {
		return rows
	}
	own := make([]float64, len(rows))
	for i := 0; i < n; i++ {
		for j, c := range m.cols {
			own[i*nf+j] = rows[i*nf+c]
		}
	}
	return own
}

// explain is the logistic member in logit space: per class k and input j,
// coef[k][j] · (x[j] − mean[j]) / scale[j] — StandardScaler.transform's two
// roundings, then one product, as sklearn computes each term — with the
// intercept as the bias and the decision function PredictProba computes as
// the raw score.
func (l *Logistic) explain(rows []float64, n, nf int, weight float64, withRaw bool) ([][]ContributionSet, error) {
	c := len(l.Intercept)
	out := make([][]ContributionSet, n)
	xs := make([]float64, nf)
	for i := 0; i < n; i++ {
		if err := l.scale(rows[i*nf:(i+1)*nf], i, xs); err != nil {
			return nil, err
		}
		out[i] = make([]ContributionSet, c)
		for k := 0; k < c; k++ {
			set := ContributionSet{Member: KindLogReg, Weight: weight, Class: k, Space: SpaceLogit,
				Bias: l.Intercept[k], Raw: math.NaN(), Values: make([]float64, nf), Tolerance: AdditivityTolerance}
			if withRaw {
				set.Raw = l.decision(xs, k)
			}
			if c == 1 {
				set.Class = 1 // a binary logistic's one logit is class 1's
			}
			for j, w := range l.Coef[k] {
				set.Values[j] = w * xs[j]
			}
			out[i][k] = set
		}
	}
	return out, nil
}

// crossChecked explains with the native library and, where the pure-Go
// evaluator explains the model too, refuses any difference in bits. Where
// the pure-Go build refuses (XGBoost), the native sets are returned alone.
func (c *crossChecked) explain(ctx context.Context, rows []float64, withRaw bool) ([][]ContributionSet, error) {
	a, err := explainRows(ctx, c.native, rows, withRaw)
	if err != nil {
		return nil, err
	}
	b, err := explainRows(ctx, c.goModel, rows, withRaw)
	if ErrorCode(err) == CodeExplanationNotSupported {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	var flatA, flatB []float64
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return nil, Errorf(CodeEvaluatorMismatch, "cross-check: %d native contribution sets, %d pure-Go", len(a[i]), len(b[i]))
		}
		for k := range a[i] {
			flatA = append(append(flatA, a[i][k].Values...), a[i][k].Bias, a[i][k].Raw)
			flatB = append(append(flatB, b[i][k].Values...), b[i][k].Bias, b[i][k].Raw)
		}
	}
	if len(flatA) != len(flatB) {
		return nil, Errorf(CodeEvaluatorMismatch, "cross-check: the evaluators' explanations differ in shape")
	}
	for j := range flatA {
		if math.Float64bits(flatA[j]) != math.Float64bits(flatB[j]) {
			return nil, Errorf(CodeEvaluatorMismatch, "cross-check: the native and pure-Go contributions differ (%v vs %v)", flatA[j], flatB[j]).
				WithDetails(map[string]any{"artifact_sha256": c.sha, "native_bits": fmt.Sprintf("%016x", math.Float64bits(flatA[j])),
					"go_bits": fmt.Sprintf("%016x", math.Float64bits(flatB[j]))})
		}
	}
	return a, nil
}

// ExplainResult is one bar's explanation: the prediction run would give and
// write (nothing is written), the input vector by name, and the
// contribution sets.
type ExplainResult struct {
	Prediction RunResult
	Inputs     []string
	Values     []float64 // the input vector, in Inputs' order
	Sets       []ContributionSet
}

// Explain resolves a run's signal, model and feature vector exactly as Run
// does, with every refusal Run makes, predicts as Run would, explains the
// prediction and writes nothing.
func (s *Service) Explain(ctx context.Context, req RunRequest) (*ExplainResult, error) {
	r, a, ts, err := s.runBar(ctx, req)
	if err != nil {
		return nil, err
	}
	defer r.release()
	b := a.batch(r.plan, []time.Time{ts}, []int{0}, req.Source)
	rows, err := s.predictRows(ctx, r, req.Symbol, b)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	sets, err := Explain(ctx, r.lm.Model, b.rows)
	if err != nil {
		return nil, err
	}
	s.obs.Predicted(KindExplain, 1, time.Since(t0))
	return &ExplainResult{Prediction: *s.runResult(r, req, ts, rows[0]), Inputs: r.plan.columns, Values: b.rows, Sets: sets[0]}, nil
}

// KindExplain is the model kind explanations are timed under in the
// prediction metrics.
const KindExplain = "explain"

// TopContribution is one entry of meta.top_contributions' lists.
type TopContribution struct {
	Feature      string  `json:"feature"`
	Contribution float64 `json:"contribution"`
}

// TopSet is one contribution set's k largest, as written to
// meta.top_contributions: member and class only where they apply.
type TopSet struct {
	Member string            `json:"member,omitempty"`
	Class  *int              `json:"class,omitempty"`
	Space  string            `json:"space"`
	Top    []TopContribution `json:"top"`
}

// topSets keeps each set's k largest contributions by magnitude.
func topSets(sets []ContributionSet, names []string, k int) []TopSet {
	out := make([]TopSet, len(sets))
	for i, set := range sets {
		ts := TopSet{Member: set.Member, Space: set.Space}
		if set.Class >= 0 {
			c := set.Class
			ts.Class = &c
		}
		for _, j := range set.Ranked()[:min(k, len(set.Values))] {
			ts.Top = append(ts.Top, TopContribution{Feature: names[j], Contribution: set.Values[j]})
		}
		out[i] = ts
	}
	return out
}

// addTopContributions sets meta.top_contributions on each row
// (INFERENCE_EXPLAIN_TOP_K). An explanation the library refuses never
// stops a row from being written: the row carries
// meta.top_contributions_refused (the code and message) instead, row by
// row when the refusal is a row's (XGBoost's ±inf). Any other failure
// fails the write, as a failed prediction does.
func (s *Service) addTopContributions(ctx context.Context, r *resolved, rows []float64, out []SignalRow) error {
	k, names := s.cfg.ExplainTopK, r.plan.columns
	sets, err := explainRows(ctx, r.lm.Model, rows, false) // the margins are not written
	if err == nil {
		for i := range out {
			out[i].Meta["top_contributions"] = topSets(sets[i], names, k)
		}
		return nil
	}
	if ErrorCode(err) != CodeExplanationNotSupported {
		return err
	}
	nf := len(names)
	for i := range out {
		one, err := explainRows(ctx, r.lm.Model, rows[i*nf:(i+1)*nf], false)
		switch {
		case err == nil:
			out[i].Meta["top_contributions"] = topSets(one[0], names, k)
		case ErrorCode(err) == CodeExplanationNotSupported:
			out[i].Meta["top_contributions_refused"] = string(ErrorCode(err)) + ": " + SafeMessage(err)
		default:
			return err
		}
	}
	return nil
}
