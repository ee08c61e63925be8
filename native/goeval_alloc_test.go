package native_test

import (
	"context"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native/goeval"
)

// TestGoEvalSingleRowDoesNotAllocate: goeval's single-row paths (LightGBM
// raw + transform, plain and NaN rows; XGBoost) allocate nothing.
func TestGoEvalSingleRowDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"trees500", "multiclass", "categorical", "linear_tree"} {
		c := inferencetest.CaseNamed(t, name)
		art, err := inferencetest.Store().Load(ctx, c.SHA)
		require.NoError(t, err)
		m, err := goeval.ParseLightGBM(art.Payload.Booster.ModelText)
		require.NoError(t, err)
		out := make([]float64, m.NumOutputs())
		for _, row := range c.Inputs {
			allocs := testing.AllocsPerRun(20, func() {
				m.PredictRaw(row, 0, out)
				m.Transform(out)
			})
			assert.Zero(t, allocs, "%s: %v", name, row)
		}
	}
	// The parity tests exercise both walks: the flat one and the general one.
	for name, flat := range map[string]bool{"trees500": true, "demo": true, "categorical": false, "linear_tree": false} {
		c := inferencetest.CaseNamed(t, name)
		art, err := inferencetest.Store().Load(ctx, c.SHA)
		require.NoError(t, err)
		m, err := goeval.ParseLightGBM(art.Payload.Booster.ModelText)
		require.NoError(t, err)
		assert.Equal(t, flat, m.FlatWalk(), name)
	}
	c := inferencetest.CaseNamed(t, "xgb_multiclass")
	art, err := inferencetest.Store().Load(ctx, c.SHA)
	require.NoError(t, err)
	x, err := goeval.ParseXGBoost(art.Payload.Ensemble.Members[0].XGBoost)
	require.NoError(t, err)
	res := make([]float32, x.NumOutputs())
	assert.Zero(t, testing.AllocsPerRun(100, func() { x.Predict(c.Inputs[0], res) }))
}

// TestGoEvalKeepsNoPartOfTheModelText: the feature names goeval keeps are
// copies, so that the model text (megabytes) is freed once the model is
// built; a substring would pin all of it, uncounted by the model cache.
func TestGoEvalKeepsNoPartOfTheModelText(t *testing.T) {
	art, err := inferencetest.Store().Load(context.Background(), inferencetest.CaseNamed(t, "trees500").SHA)
	require.NoError(t, err)
	text := art.Payload.Booster.ModelText
	m, err := goeval.ParseLightGBM(text)
	require.NoError(t, err)
	lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	require.NotEmpty(t, m.FeatureNames())
	for _, s := range m.FeatureNames() {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		assert.False(t, p >= lo && p < lo+uintptr(len(text)), "%q is a substring of the model text", s)
	}
}
