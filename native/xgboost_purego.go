//go:build !cgo || purego

package native

import (
	"context"

	"github.com/rfkih/blackheart-inference/inference"
)

// XGBoost is not evaluated by the pure-Go build: it refuses every XGBoost
// model (and so every ensemble with an XGBoost member) with
// model_not_servable rather than risk a number that differs from Python's.
type XGBoost struct{}

// XGBOptions configure a loaded XGBoost booster.
type XGBOptions struct {
	MaxBatchRows int
}

// LoadXGBoost refuses: XGBoost needs the cgo build.
func LoadXGBoost(snapshot []byte, opts XGBOptions) (*XGBoost, error) {
	return nil, inference.Errorf(inference.CodeModelNotServable, "pure-Go build: XGBoost models are not evaluated").
		WithHint("serve this model with the cgo build of blackheart-inference")
}

// NumFeatures is never reached: no XGBoost value exists in this build.
func (m *XGBoost) NumFeatures() int { return 0 }

// NumOutputs is never reached.
func (m *XGBoost) NumOutputs() int { return 0 }

// Predict refuses.
func (m *XGBoost) Predict(context.Context, []float64, bool) ([]float64, error) {
	return nil, inference.Errorf(inference.CodeModelNotServable, "pure-Go build: XGBoost models are not evaluated")
}

// PredictBatch refuses.
func (m *XGBoost) PredictBatch(context.Context, []float64, bool) ([]float64, error) {
	return nil, inference.Errorf(inference.CodeModelNotServable, "pure-Go build: XGBoost models are not evaluated")
}

// Close does nothing.
func (m *XGBoost) Close() error { return nil }
