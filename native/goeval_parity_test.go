//go:build cgo && !purego

package native_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native"
)

// TestGoEvalAgreesWithLightGBMOffGolden: goeval against lib_lightgbm.so on
// rows the goldens do not hold — drawn at every split threshold, its
// neighbouring floats and between thresholds, with zeros and NaN — for
// every golden booster, at several iteration counts (one that cuts the
// flat walk's 512-tree window included), raw and transformed, single rows
// and batches, and goeval's TreeSHAP against pred_contrib, bit for bit.
func TestGoEvalAgreesWithLightGBMOffGolden(t *testing.T) {
	ctx := context.Background()
	for _, c := range inferencetest.Cases(t) {
		if c.Ensemble() {
			continue
		}
		art, err := inferencetest.Store().Load(ctx, c.SHA)
		require.NoError(t, err)
		rows := native.SampleRows(art, 3000, 7)
		nf := len(art.InputFeatures)
		for _, it := range []int{0, 1, 7, art.Payload.Booster.BestIteration, 300} {
			opts := native.Options{NumIteration: it}
			cm, err := native.LoadLightGBM(art.Payload.Booster.ModelText, opts)
			require.NoError(t, err)
			gm, err := native.LoadGoLightGBM(art.Payload.Booster.ModelText, opts)
			require.NoError(t, err, c.Name)
			for _, raw := range []bool{true, false} {
				want, err := cm.PredictBatch(ctx, rows, raw)
				require.NoError(t, err)
				got, err := gm.PredictBatch(ctx, rows, raw)
				require.NoError(t, err)
				for i := range want {
					if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
						r := i / cm.NumOutputs()
						t.Fatalf("%s it=%d raw=%v row %d %v: lightgbm %v, goeval %v", c.Name, it, raw, r, rows[r*nf:(r+1)*nf], want[i], got[i])
					}
				}
				single, err := gm.Predict(ctx, rows[:nf], raw)
				require.NoError(t, err)
				require.Equal(t, math.Float64bits(want[0]), math.Float64bits(single[0]))
			}
			// goeval's TreeSHAP against LightGBM's pred_contrib: the first
			// 500 rows (TreeSHAP costs depth² per leaf; the race detector
			// multiplies it).
			shap := rows[:min(len(rows), 500*nf)]
			want, wantErr := cm.Contributions(ctx, shap)
			got, gotErr := gm.Contributions(ctx, shap)
			if wantErr != nil || gotErr != nil {
				require.Error(t, wantErr, "%s: goeval refused what LightGBM explains: %v", c.Name, gotErr)
				require.Error(t, gotErr, "%s: goeval explained what LightGBM refuses: %v", c.Name, wantErr)
				require.Equal(t, inference.SafeMessage(wantErr), inference.SafeMessage(gotErr))
			}
			for i := range want {
				if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
					w := len(want) / (len(shap) / nf)
					r := i / w
					t.Fatalf("%s it=%d contribution %d of row %d %v: lightgbm %v, goeval %v", c.Name, it, i%w, r, rows[r*nf:(r+1)*nf], want[i], got[i])
				}
			}
			cm.Close()
		}
	}
}

// TestGoEvalAgreesWithXGBoostOffGolden: the same for every golden artifact
// with an XGBoost member (XGBoost-only boosters and trainer ensembles),
// through inference.OpenModel with the cgo and the pure-Go loaders.
func TestGoEvalAgreesWithXGBoostOffGolden(t *testing.T) {
	ctx := context.Background()
	goLoaders := inference.Loaders{
		LightGBM: func(text string, it int) (inference.Model, error) {
			return native.LoadGoLightGBM(text, native.Options{NumIteration: it})
		},
		XGBoost: func(snapshot []byte) (inference.Model, error) {
			return native.LoadGoXGBoost(snapshot, native.XGBOptions{})
		},
	}
	for _, c := range inferencetest.Cases(t) {
		if !c.Ensemble() {
			continue
		}
		art, err := inferencetest.Store().Load(ctx, c.SHA)
		require.NoError(t, err)
		cm, err := inference.OpenModel(art, loaders)
		require.NoError(t, err)
		gm, err := inference.OpenModel(art, goLoaders)
		require.NoError(t, err, c.Name)
		rows := native.SampleRows(art, 3000, 11)
		want, err := cm.PredictBatch(ctx, rows, false)
		require.NoError(t, err)
		got, err := gm.PredictBatch(ctx, rows, false)
		require.NoError(t, err)
		for i := range want {
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "%s value %d: %v vs %v", c.Name, i, want[i], got[i])
		}
		cm.Close()
		gm.Close()
	}
}
