//go:build !cgo || purego

package native

// XGBoost is the pure-Go build's XGBoost: goeval's exact evaluator.
type XGBoost = GoXGBoost

// XGBOptions configure a loaded XGBoost booster.
type XGBOptions struct {
	// MaxBatchRows bounds one chunk of a batch; default 8192.
	MaxBatchRows int
}

// LoadXGBoost decodes a memory snapshot (see LoadGoXGBoost).
func LoadXGBoost(snapshot []byte, opts XGBOptions) (*XGBoost, error) {
	return LoadGoXGBoost(snapshot, opts)
}
