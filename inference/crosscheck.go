package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Mismatch is one output on which cross-check's two evaluators disagree.
type Mismatch struct {
	ArtifactSHA string
	Row         int       // within the call
	Output      int       // within the row
	Inputs      []float64 // the row's features, in model order
	Native, Go  float64
}

// CrossCheck configures INFERENCE_EVALUATOR=cross-check: every model is
// opened a second time with Go (the pure-Go evaluator), every prediction is
// made by both, and any difference in bits refuses the call.
type CrossCheck struct {
	Go Loaders
	// OnMismatch logs and counts a disagreement (called once per refused call).
	OnMismatch func(Mismatch)
}

// crossChecked predicts with both evaluators and returns the native result
// only when the two agree bit for bit.
type crossChecked struct {
	native, goModel Model
	sha             string
	report          func(Mismatch)
}

func openCrossChecked(art *Artifact, native Model, cc *CrossCheck) (Model, error) {
	goModel, err := OpenModel(art, cc.Go)
	if err != nil {
		native.Close()
		return nil, Errorf(CodeModelNotServable, "cross-check: the pure-Go evaluator cannot serve this model: %s", SafeMessage(err)).
			WithHint("serve it with INFERENCE_EVALUATOR=native, or check a model the pure-Go evaluator serves")
	}
	if goModel.NumFeatures() != native.NumFeatures() || goModel.NumOutputs() != native.NumOutputs() {
		native.Close()
		goModel.Close()
		return nil, Errorf(CodeEvaluatorMismatch, "cross-check: the evaluators disagree on the model's shape")
	}
	return &crossChecked{native: native, goModel: goModel, sha: art.SHA, report: cc.OnMismatch}, nil
}

func (c *crossChecked) NumFeatures() int { return c.native.NumFeatures() }
func (c *crossChecked) NumOutputs() int  { return c.native.NumOutputs() }

func (c *crossChecked) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	a, err := c.native.Predict(ctx, row, raw)
	if err != nil {
		return nil, err
	}
	b, err := c.goModel.Predict(ctx, row, raw)
	if err != nil {
		return nil, err
	}
	if err := c.compare(row, a, b); err != nil {
		return nil, err // no value leaves a disputed prediction
	}
	return a, nil
}

func (c *crossChecked) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	a, err := c.native.PredictBatch(ctx, rows, raw)
	if err != nil {
		return nil, err
	}
	b, err := c.goModel.PredictBatch(ctx, rows, raw)
	if err != nil {
		return nil, err
	}
	if err := c.compare(rows, a, b); err != nil {
		return nil, err
	}
	return a, nil
}

// compare refuses the call at the first output whose bits differ.
func (c *crossChecked) compare(rows, native, goOut []float64) error {
	if len(native) != len(goOut) {
		return Errorf(CodeEvaluatorMismatch, "cross-check: %d native outputs, %d pure-Go", len(native), len(goOut))
	}
	no, nf := c.native.NumOutputs(), c.native.NumFeatures()
	for i := range native {
		if math.Float64bits(native[i]) == math.Float64bits(goOut[i]) {
			continue
		}
		row, out := i/no, i%no
		m := Mismatch{ArtifactSHA: c.sha, Row: row, Output: out, Native: native[i], Go: goOut[i],
			Inputs: append([]float64(nil), rows[row*nf:(row+1)*nf]...)}
		if c.report != nil {
			c.report(m)
		}
		return Errorf(CodeEvaluatorMismatch, "cross-check: the native and pure-Go evaluators differ on row %d output %d (%v vs %v); nothing was written", row, out, m.Native, m.Go).
			WithDetails(map[string]any{"artifact_sha256": c.sha, "row": row, "output": out,
				"native_bits": fmt.Sprintf("%016x", math.Float64bits(m.Native)), "go_bits": fmt.Sprintf("%016x", math.Float64bits(m.Go))})
	}
	return nil
}

func (c *crossChecked) Close() error {
	return errors.Join(c.native.Close(), c.goModel.Close())
}

// ResidentBytes is both evaluators' models: cross-check holds each twice.
func (c *crossChecked) ResidentBytes() int64 {
	return modelBytes(c.native) + modelBytes(c.goModel)
}
