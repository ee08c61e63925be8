package native

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/native/goeval"
)

// GoLightGBM is a LightGBM model evaluated in pure Go by goeval, bit for
// bit as lib_lightgbm.so on x86-64 glibc. It is the pure-Go build's
// LightGBM and, in the cgo build, INFERENCE_EVALUATOR=go's and the second
// opinion of cross-check. Safe for concurrent use; it holds no C memory.
type GoLightGBM struct {
	m            *goeval.LightGBM
	numIteration int
	maxRows      int
	closed       atomic.Bool
}

// LoadGoLightGBM parses model text, refusing with model_not_servable what
// goeval would not evaluate exactly and with artifact_corrupt what is
// malformed.
func LoadGoLightGBM(modelText string, opts Options) (*GoLightGBM, error) {
	opts = opts.withDefaults()
	m, err := goeval.ParseLightGBM(modelText)
	if err != nil {
		return nil, goevalError(err)
	}
	return &GoLightGBM{m: m, numIteration: opts.NumIteration, maxRows: opts.MaxBatchRows}, nil
}

// goevalError maps goeval's refusals onto the error codes.
func goevalError(err error) error {
	var ne *goeval.NotExactError
	if errors.As(err, &ne) {
		return inference.Errorf(inference.CodeModelNotServable, "pure-Go evaluator: %s", ne.Reason).
			WithHint("serve this model with the cgo build and INFERENCE_EVALUATOR=native")
	}
	return inference.Errorf(inference.CodeArtifactCorrupt, "model: %v", err)
}

// NumFeatures is the number of input columns.
func (g *GoLightGBM) NumFeatures() int { return g.m.NumFeatures() }

// NumOutputs is the number of values per row.
func (g *GoLightGBM) NumOutputs() int { return g.m.NumOutputs() }

// Predict scores one row.
func (g *GoLightGBM) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	if err := checkRow(row, g.m.NumFeatures()); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if g.closed.Load() {
		return nil, errClosed()
	}
	out := make([]float64, g.m.NumOutputs())
	g.predictInto(row, out, raw)
	return out, nil
}

func (g *GoLightGBM) predictInto(row, out []float64, raw bool) {
	g.m.PredictRaw(row, g.numIteration, out)
	if !raw {
		g.m.Transform(out)
	}
}

// PredictBatch scores row-major rows, spread over up to GOMAXPROCS
// goroutines (the cgo build uses LightGBM's OpenMP threads the same way).
func (g *GoLightGBM) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	nf, no := g.m.NumFeatures(), g.m.NumOutputs()
	n, err := checkBatch(rows, nf)
	if err != nil {
		return nil, err
	}
	if g.closed.Load() {
		return nil, errClosed()
	}
	out := make([]float64, n*no)
	err = parallelRows(ctx, n, g.maxRows, func(i int) {
		g.predictInto(rows[i*nf:(i+1)*nf], out[i*no:(i+1)*no], raw)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close marks the model closed; later calls fail. The model holds only Go
// memory, so calls in flight simply finish. Idempotent.
func (g *GoLightGBM) Close() error {
	g.closed.Store(true)
	return nil
}

// minRowsPerWorker keeps small batches on one goroutine.
const minRowsPerWorker = 256

// parallelRows calls fn for rows [0, n), chunk by chunk (ctx checked
// before each), each chunk spread over up to GOMAXPROCS goroutines.
func parallelRows(ctx context.Context, n, maxRows int, fn func(i int)) error {
	return chunks(ctx, n, maxRows, func(lo, hi int) error {
		workers := max(1, min(runtime.GOMAXPROCS(0), (hi-lo+minRowsPerWorker-1)/minRowsPerWorker))
		if workers == 1 { // a small batch: no goroutine
			for i := lo; i < hi; i++ {
				fn(i)
			}
			return nil
		}
		per := (hi - lo + workers - 1) / workers
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wlo, whi := lo+w*per, min(lo+(w+1)*per, hi)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := wlo; i < whi; i++ {
					fn(i)
				}
			}()
		}
		wg.Wait()
		return nil
	})
}

var _ inference.Model = (*GoLightGBM)(nil)

// Contributions computes goeval's TreeSHAP, bit for bit LightGBM's
// pred_contrib (see goeval's lgbshap.go), over up to GOMAXPROCS goroutines:
// per row, per output, NumFeatures() values then the bias, in raw-score
// space. What LightGBM refuses to explain is refused in LightGBM's words.
func (g *GoLightGBM) Contributions(ctx context.Context, rows []float64) ([]float64, error) {
	nf := g.m.NumFeatures()
	n, err := checkBatch(rows, nf)
	if err != nil {
		return nil, err
	}
	if g.closed.Load() {
		return nil, errClosed()
	}
	if err := g.m.ExplainRefused(); err != nil {
		return nil, inference.Errorf(inference.CodeExplanationNotSupported, "LightGBM: %s", err)
	}
	w := g.m.ContributionWidth()
	out := make([]float64, n*w)
	err = parallelRows(ctx, n, g.maxRows, func(i int) {
		g.m.Contributions(rows[i*nf:(i+1)*nf], g.numIteration, out[i*w:(i+1)*w])
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Margins returns the raw scores Contributions add up to.
func (g *GoLightGBM) Margins(ctx context.Context, rows []float64) ([]float64, error) {
	return g.PredictBatch(ctx, rows, true)
}
