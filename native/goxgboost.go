package native

import (
	"context"
	"sync/atomic"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/native/goeval"
)

// GoXGBoost is an XGBoost booster evaluated in pure Go by goeval, bit for
// bit as libxgboost.so's CPU predictor. Safe for concurrent use.
type GoXGBoost struct {
	m       *goeval.XGBoost
	maxRows int
	closed  atomic.Bool
}

// LoadGoXGBoost decodes a memory snapshot (the pickled Booster's handle),
// refusing with model_not_servable what goeval would not evaluate exactly.
func LoadGoXGBoost(snapshot []byte, opts XGBOptions) (*GoXGBoost, error) {
	if len(snapshot) == 0 {
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "XGBoost snapshot is empty")
	}
	if opts.MaxBatchRows <= 0 {
		opts.MaxBatchRows = 8192
	}
	m, err := goeval.ParseXGBoost(snapshot)
	if err != nil {
		return nil, goevalError(err)
	}
	return &GoXGBoost{m: m, maxRows: opts.MaxBatchRows}, nil
}

// NumFeatures is the number of input columns.
func (g *GoXGBoost) NumFeatures() int { return g.m.NumFeatures() }

// FeatureNames is the column order the model was fit on (the sklearn
// wrapper's DataFrame columns), or nil when the snapshot has none.
func (g *GoXGBoost) FeatureNames() []string { return g.m.FeatureNames() }

// NumOutputs is 1 for binary and regression, the class count for softprob.
func (g *GoXGBoost) NumOutputs() int { return g.m.NumOutputs() }

func (g *GoXGBoost) check(ctx context.Context, raw bool) error {
	if raw {
		return inference.Errorf(inference.CodeModelNotServable, "raw scores are not offered for XGBoost members")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if g.closed.Load() {
		return errClosed()
	}
	return nil
}

// Predict scores one row.
func (g *GoXGBoost) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	if err := checkRow(row, g.m.NumFeatures()); err != nil {
		return nil, err
	}
	if err := g.check(ctx, raw); err != nil {
		return nil, err
	}
	res := make([]float32, g.m.NumOutputs())
	g.m.Predict(row, res)
	return widen(res), nil
}

// widen returns XGBoost's float32 outputs as float64, exactly.
func widen(res []float32) []float64 {
	out := make([]float64, len(res))
	for i, v := range res {
		out[i] = float64(v)
	}
	return out
}

// PredictBatch scores row-major rows over up to GOMAXPROCS goroutines.
func (g *GoXGBoost) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	nf, no := g.m.NumFeatures(), g.m.NumOutputs()
	n, err := checkBatch(rows, nf)
	if err != nil {
		return nil, err
	}
	if err := g.check(ctx, raw); err != nil {
		return nil, err
	}
	res := make([]float32, n*no)
	err = parallelRows(ctx, n, g.maxRows, func(i int) {
		g.m.Predict(rows[i*nf:(i+1)*nf], res[i*no:(i+1)*no])
	})
	if err != nil {
		return nil, err
	}
	return widen(res), nil
}

// Close marks the model closed; idempotent.
func (g *GoXGBoost) Close() error {
	g.closed.Store(true)
	return nil
}

var _ inference.Model = (*GoXGBoost)(nil)

// errNoGoXGBoostSHAP is the pure-Go evaluator's refusal to explain XGBoost
// models: XGBoost's TreeSHAP works in float32 in an order goeval does not
// reproduce, so it gives no contributions rather than different ones.
func errNoGoXGBoostSHAP() error {
	return inference.Errorf(inference.CodeExplanationNotSupported,
		"the pure-Go evaluator does not compute XGBoost contributions: only libxgboost's own TreeSHAP gives Python's bits").
		WithHint("explain this model with the cgo build (INFERENCE_EVALUATOR=native)")
}

// Contributions is refused: see errNoGoXGBoostSHAP.
func (g *GoXGBoost) Contributions(context.Context, []float64) ([]float64, error) {
	return nil, errNoGoXGBoostSHAP()
}

// Margins is refused with Contributions.
func (g *GoXGBoost) Margins(context.Context, []float64) ([]float64, error) {
	return nil, errNoGoXGBoostSHAP()
}
