package inference

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrossCheckedGivesNoValueOnMismatch: agreement passes the native value
// through; one bit of difference returns no value, evaluator_mismatch, and
// one report naming the artifact, the row and its inputs.
func TestCrossCheckedGivesNoValueOnMismatch(t *testing.T) {
	ctx := context.Background()
	var reports []Mismatch
	open := func(goOut float64) Model {
		return &crossChecked{native: &echoModel{out: []float64{0.25}}, goModel: &echoModel{out: []float64{goOut}},
			sha: "abc", report: func(m Mismatch) { reports = append(reports, m) }}
	}
	same := open(0.25)
	out, err := same.PredictBatch(ctx, []float64{1, 2}, false)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.25, 0.25}, out)

	off := open(math.Nextafter(0.25, 1))
	out, err = off.PredictBatch(ctx, []float64{1, 2}, false)
	assert.Nil(t, out)
	assert.Equal(t, CodeEvaluatorMismatch, ErrorCode(err))
	out, err = off.Predict(ctx, []float64{7}, false)
	assert.Nil(t, out)
	assert.Equal(t, CodeEvaluatorMismatch, ErrorCode(err))
	require.Len(t, reports, 2)
	assert.Equal(t, Mismatch{ArtifactSHA: "abc", Row: 0, Output: 0, Inputs: []float64{1}, Native: 0.25, Go: math.Nextafter(0.25, 1)}, reports[0])
	assert.Equal(t, []float64{7}, reports[1].Inputs)
}
