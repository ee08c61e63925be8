package inference

import "context"

// Model predicts from a feature matrix. Implementations live in native/
// (LightGBM through cgo, or the pure-Go twin); both say in their docs that
// they are safe for concurrent use.
type Model interface {
	// NumFeatures is the number of input columns.
	NumFeatures() int
	// NumOutputs is the number of values per row: 1 for binary and
	// regression, the class count for multiclass.
	NumOutputs() int
	// Predict scores one row. raw selects raw scores instead of the
	// objective's transformed output (Booster.predict(raw_score=True)).
	Predict(ctx context.Context, row []float64, raw bool) ([]float64, error)
	// PredictBatch scores len(rows)/NumFeatures() rows given row-major and
	// returns NumOutputs() values per row, row-major.
	PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error)
	// Close releases the model; it waits for in-flight predictions and may
	// be called more than once.
	Close() error
}
