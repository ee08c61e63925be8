package native_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native"
)

func loadGolden(t *testing.T, c inferencetest.Case) (*inference.Artifact, *native.LightGBM, error) {
	t.Helper()
	store := inferencetest.Store()
	art, err := store.Load(context.Background(), c.SHA)
	require.NoError(t, err)
	m, err := native.LoadLightGBM(art.Payload.Booster.ModelText, native.Options{NumIteration: art.Payload.Booster.BestIteration})
	return art, m, err
}

// TestGoldenParity runs the Python goldens against whichever twin this build
// selected, raw and transformed, bit for bit on both.
func TestGoldenParity(t *testing.T) {
	ctx := context.Background()
	for _, c := range inferencetest.Cases(t) {
		if c.Ensemble() {
			continue // TestEnsembleParity
		}
		t.Run(c.Name, func(t *testing.T) {
			_, m, err := loadGolden(t, c)
			require.NoError(t, err)
			defer m.Close()
			require.Equal(t, len(c.FeatureNames), m.NumFeatures())
			require.Equal(t, c.NumClass, m.NumOutputs())

			for _, raw := range []bool{false, true} {
				want := c.Predict
				if raw {
					want = c.Raw
				}
				maxULP := uint64(0)
				batch, err := m.PredictBatch(ctx, inferencetest.Flatten(c.Inputs), raw)
				require.NoError(t, err)
				worst := uint64(0)
				for i, row := range c.Inputs {
					single, err := m.Predict(ctx, row, raw)
					require.NoError(t, err)
					for k, w := range want[i] {
						got := batch[i*m.NumOutputs()+k]
						d := inferencetest.ULPDistance(got, w)
						worst = max(worst, d)
						assert.LessOrEqual(t, d, maxULP, "row %d out %d raw=%v batch: got %v (%016x) want %v (%016x)",
							i, k, raw, got, math.Float64bits(got), w, math.Float64bits(w))
						assert.Equal(t, math.Float64bits(got), math.Float64bits(single[k]), "row %d out %d raw=%v: single row differs from batch", i, k, raw)
					}
				}
				t.Logf("flavor=%s raw=%v rows=%d max_ulp=%d", native.Flavor, raw, len(c.Inputs), worst)
			}
		})
	}
}

var loaders = inference.Loaders{
	LightGBM: func(text string, it int) (inference.Model, error) {
		return native.LoadLightGBM(text, native.Options{NumIteration: it})
	},
	XGBoost: func(snapshot []byte) (inference.Model, error) {
		return native.LoadXGBoost(snapshot, native.XGBOptions{})
	},
}

// logRegMaxULP bounds the logistic member and the mean that includes it.
// We accumulate X·coefᵀ with FMA in feature order, as OpenBLAS's dgemm
// kernel does on this CPU (measured: 18 ulp without FMA, 1 with); what is
// left is Go's math.Exp against numpy's exp (measured: member 1 ulp, mean 2).
const logRegMaxULP = 4

// TestEnsembleParity checks every member against its own Python output —
// the LightGBM and XGBoost members bit for bit, the logistic member within
// logRegMaxULP — and reports the mean's distance, on both builds.
func TestEnsembleParity(t *testing.T) {
	ctx := context.Background()
	store := inferencetest.Store()
	for _, c := range inferencetest.Cases(t) {
		if !c.Ensemble() {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			art, err := store.Load(context.Background(), c.SHA)
			require.NoError(t, err)
			model, err := inference.OpenModel(art, loaders)
			require.NoError(t, err)
			defer model.Close()
			em := model.(*inference.EnsembleModel)
			rows := inferencetest.Flatten(c.Inputs)
			outs, err := em.MemberOutputs(ctx, rows)
			require.NoError(t, err)
			hasLogReg := false
			for i, mem := range art.Payload.Ensemble.Members {
				want := inferencetest.Flatten(c.Parts[mem.Kind])
				require.Len(t, outs[i], len(want), mem.Kind)
				limit := uint64(0)
				if mem.Kind == inference.KindLogReg {
					limit, hasLogReg = logRegMaxULP, true
				}
				worst := uint64(0)
				for j, w := range want {
					d := inferencetest.ULPDistance(outs[i][j], w)
					worst = max(worst, d)
					assert.LessOrEqual(t, d, limit, "%s value %d: got %v want %v", mem.Kind, j, outs[i][j], w)
				}
				t.Logf("%s member %s: max_ulp=%d", c.Name, mem.Kind, worst)
			}
			pred, err := model.PredictBatch(ctx, rows, false)
			require.NoError(t, err)
			want := inferencetest.Flatten(c.Predict)
			worst := uint64(0)
			for j, w := range want {
				worst = max(worst, inferencetest.ULPDistance(pred[j], w))
			}
			t.Logf("%s mean: max_ulp=%d over %d rows", c.Name, worst, len(c.Inputs))
			if !hasLogReg {
				assert.Zero(t, worst, "without a logistic member the mean is bit-exact")
			} else {
				assert.LessOrEqual(t, worst, uint64(logRegMaxULP))
			}
		})
	}
}
