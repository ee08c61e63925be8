//go:build !cgo || purego

package native

import (
	"bufio"
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/dmitryikh/leaves"

	"github.com/rfkih/blackheart-inference/inference"
)

// Flavor names the build: "purego" here, "cgo" in the twin.
const Flavor = "purego"

// LightGBM is a LightGBM model evaluated in pure Go by leaves, after
// checkModel has established that leaves computes its raw scores exactly.
// It is safe for concurrent use.
type LightGBM struct {
	opts      Options
	ens       *leaves.Ensemble
	plan      *evalPlan
	nFeatures int
	nOutputs  int

	mu     sync.RWMutex
	closed bool
}

// LoadLightGBM parses model text, refusing with model_not_servable what the
// pure-Go evaluator cannot predict exactly.
func LoadLightGBM(modelText string, opts Options) (*LightGBM, error) {
	opts = opts.withDefaults()
	plan, err := checkModel(modelText)
	if err != nil {
		return nil, err
	}
	// leaves reads format v2/v3 only; v4 added linear trees (refused above)
	// and is otherwise the same text.
	text := strings.Replace(modelText, "\nversion=v4\n", "\nversion=v3\n", 1)
	ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(strings.NewReader(text)), false)
	if err != nil {
		return nil, inference.Wrap(err, inference.CodeModelNotServable, "the pure-Go evaluator cannot read this model: %v", err)
	}
	if ens.NFeatures() > plan.nFeatures || ens.NRawOutputGroups() != plan.nOutputs {
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "model text header disagrees with its trees")
	}
	return &LightGBM{opts: opts, ens: ens, plan: plan, nFeatures: plan.nFeatures, nOutputs: plan.nOutputs}, nil
}

// NumFeatures is the number of input columns.
func (m *LightGBM) NumFeatures() int { return m.nFeatures }

// NumOutputs is the number of values per row.
func (m *LightGBM) NumOutputs() int { return m.nOutputs }

// Predict scores one row.
func (m *LightGBM) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	if err := checkRow(row, m.nFeatures); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed()
	}
	out := make([]float64, m.nOutputs)
	buf := make([]float64, m.nFeatures)
	if err := m.predictInto(row, buf, out, raw); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictBatch scores row-major rows, spread over up to GOMAXPROCS
// goroutines (the cgo twin uses LightGBM's OpenMP threads the same way).
func (m *LightGBM) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	n, err := checkBatch(rows, m.nFeatures)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n*m.nOutputs)
	err = chunks(ctx, n, m.opts.MaxBatchRows, func(lo, hi int) error {
		m.mu.RLock()
		defer m.mu.RUnlock()
		if m.closed {
			return errClosed()
		}
		workers := min(runtime.GOMAXPROCS(0), (hi-lo+minRowsPerWorker-1)/minRowsPerWorker)
		per := (hi - lo + workers - 1) / workers
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wlo, whi := lo+w*per, min(lo+(w+1)*per, hi)
			wg.Add(1)
			go func(w, wlo, whi int) {
				defer wg.Done()
				buf := make([]float64, m.nFeatures)
				for i := wlo; i < whi; i++ {
					row := rows[i*m.nFeatures : (i+1)*m.nFeatures]
					if err := m.predictInto(row, buf, out[i*m.nOutputs:(i+1)*m.nOutputs], raw); err != nil {
						errs[w] = err
						return
					}
				}
			}(w, wlo, whi)
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// minRowsPerWorker keeps small batches on one goroutine.
const minRowsPerWorker = 256

func (m *LightGBM) predictInto(row, buf, out []float64, raw bool) error {
	m.plan.prepare(row, buf)
	if err := m.ens.Predict(buf, m.opts.NumIteration, out); err != nil {
		return inference.Wrap(err, inference.CodeInternal, "pure-Go prediction failed")
	}
	if !raw {
		m.plan.transform(out)
	}
	return nil
}

// Close marks the model closed after in-flight calls finish; idempotent.
func (m *LightGBM) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// kZeroThreshold is LightGBM's zero threshold: the float 1e-35f, widened.
var kZeroThreshold = float64(float32(1e-35))

// prepare copies row into buf the way LightGBM's dense-row reader and tree
// walk see it: |x| <= kZeroThreshold becomes 0 (LightGBM drops such values
// from the row), and categorical inputs that LightGBM sends right are
// mapped to -1, which leaves also sends right.
func (p *evalPlan) prepare(row, buf []float64) {
	for j, x := range row {
		if math.Abs(x) <= kZeroThreshold {
			x = 0
		}
		// LightGBM 4's CategoricalDecision sends NaN right whatever the
		// split's missing type, and static_cast<int> of a value beyond int
		// range yields INT_MIN on x86, which also goes right. -1 goes right
		// in leaves without relying on Go's float-to-int conversion of NaN.
		if p.categorical[j] && (math.IsNaN(x) || x >= 2147483648 || x <= -2147483649) {
			x = -1
		}
		buf[j] = x
	}
}

// transform applies LightGBM's output conversion with its operation order.
func (p *evalPlan) transform(out []float64) {
	switch p.transformKind {
	case transformSigmoid:
		out[0] = 1.0 / (1.0 + math.Exp(-p.sigmoid*out[0]))
	case transformSoftmax:
		wmax := out[0]
		for _, v := range out[1:] {
			if wmax < v { // std::max(v, wmax)
				wmax = v
			}
		}
		wsum := 0.0
		for i, v := range out {
			out[i] = math.Exp(v - wmax)
			wsum += out[i]
		}
		for i := range out {
			out[i] /= wsum
		}
	}
}
