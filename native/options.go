package native

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
)

// Options configure a loaded model.
type Options struct {
	// NumIteration is how many boosting iterations predict uses; <= 0 means
	// all. Pass the pickled best_iteration: that is what Python's
	// Booster.predict does by default.
	NumIteration int
	// MaxBatchRows bounds the rows handed to one native call, so that a
	// cancelled context is noticed between chunks. Default 8192.
	MaxBatchRows int
	// BatchThreads is LightGBM's OpenMP thread count for batches (cgo only).
	// Default: the number of CPUs.
	BatchThreads int
}

func (o Options) withDefaults() Options {
	if o.MaxBatchRows <= 0 {
		o.MaxBatchRows = 8192
	}
	if o.BatchThreads <= 0 {
		o.BatchThreads = runtime.NumCPU()
	}
	return o
}

var _ inference.Model = (*LightGBM)(nil)

// errClosed is returned by predictions on a closed model: a new value each
// time, since callers may add details to the errors they pass on.
func errClosed() error { return inference.Errorf(inference.CodeInternal, "model is closed") }

func checkRow(row []float64, nFeatures int) error {
	if len(row) != nFeatures {
		return inference.Errorf(inference.CodeInternal, "row has %d values, model expects %d features", len(row), nFeatures)
	}
	return nil
}

func checkBatch(rows []float64, nFeatures int) (int, error) {
	if nFeatures == 0 || len(rows)%nFeatures != 0 {
		return 0, inference.Errorf(inference.CodeInternal, "batch of %d values is not a whole number of %d-feature rows", len(rows), nFeatures)
	}
	return len(rows) / nFeatures, nil
}

// chunks calls fn for consecutive row ranges of at most max rows, checking
// ctx before each.
func chunks(ctx context.Context, n, max int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += max {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("prediction cancelled after %d of %d rows: %w", lo, n, err)
		}
		hi := min(lo+max, n)
		if err := fn(lo, hi); err != nil {
			return err
		}
	}
	return nil
}

var _ inference.Model = (*XGBoost)(nil)

// lightGBMExplainError is a failed contribution call: LightGBM's refusal
// of a shape it cannot explain keeps its own words under
// explanation_not_supported; anything else is internal.
func lightGBMExplainError(msg string) error {
	if strings.Contains(msg, "not implemented") {
		return inference.Errorf(inference.CodeExplanationNotSupported, "LightGBM: %s", msg)
	}
	return inference.Errorf(inference.CodeInternal, "LightGBM contribution prediction failed: %s", msg)
}

// xgboostError is a failed XGBoost call, in XGBoost's words without its
// stack trace: a row a DMatrix refuses (a value that is ±inf as a float32)
// is explanation_not_supported, as Python cannot explain it either.
func xgboostError(msg string) error {
	msg, _, _ = strings.Cut(msg, "\nStack trace:")
	msg = strings.TrimSpace(msg)
	if strings.Contains(msg, "contains `inf`") {
		return inference.Errorf(inference.CodeExplanationNotSupported, "XGBoost: %s", msg)
	}
	return inference.Errorf(inference.CodeInternal, "XGBoost prediction failed: %s", msg)
}
