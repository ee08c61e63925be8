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

type contributor interface {
	inference.Model
	inference.Explainer
}

// TestGoldenContributions holds every golden booster's contributions to
// Python's pred_contrib bits, through lib_lightgbm (cgo build) and through
// goeval's TreeSHAP (both builds), and LightGBM's refusal where Python
// refuses, word for word.
func TestGoldenContributions(t *testing.T) {
	ctx := context.Background()
	loads := map[string]func(text string, it int) (contributor, error){
		native.Flavor: func(text string, it int) (contributor, error) {
			return native.LoadLightGBM(text, native.Options{NumIteration: it})
		},
		"goeval": func(text string, it int) (contributor, error) {
			return native.LoadGoLightGBM(text, native.Options{NumIteration: it})
		},
	}
	for _, c := range inferencetest.Cases(t) {
		if c.Ensemble() {
			continue // TestGoldenEnsembleContributions
		}
		art, err := inferencetest.Store().Load(ctx, c.SHA)
		require.NoError(t, err)
		for evaluator, load := range loads {
			t.Run(c.Name+"/"+evaluator, func(t *testing.T) {
				m, err := load(art.Payload.Booster.ModelText, art.Payload.Booster.BestIteration)
				require.NoError(t, err)
				defer m.Close()
				rows := inferencetest.Flatten(c.Inputs)
				got, err := m.Contributions(ctx, rows)
				if c.ContribRefused != "" {
					require.Error(t, err, "Python refuses: %s", c.ContribRefused)
					assert.Equal(t, inference.CodeExplanationNotSupported, inference.ErrorCode(err))
					assert.Contains(t, inference.SafeMessage(err), c.ContribRefused)
					return
				}
				require.NoError(t, err)
				want := inferencetest.Flatten(c.Contrib)
				require.Len(t, got, len(want))
				for j := range want {
					require.Equal(t, math.Float64bits(want[j]), math.Float64bits(got[j]),
						"value %d (row %d): got %v want %v", j, j/len(c.Contrib[0]), got[j], want[j])
				}
				assertAdditive(t, ctx, m, rows)
			})
		}
	}
}

// assertAdditive checks that each row's contributions plus bias add up to
// its raw score, class by class.
func assertAdditive(t *testing.T, ctx context.Context, m inference.Model, rows []float64) {
	t.Helper()
	sets, err := inference.Explain(ctx, m, rows)
	require.NoError(t, err)
	worst := 0.0
	for i := range sets {
		for _, s := range sets[i] {
			worst = math.Max(worst, s.AdditivityError())
			require.Equal(t, inference.AdditivityTolerance, s.Tolerance)
		}
	}
	assert.LessOrEqual(t, worst, inference.AdditivityTolerance)
	t.Logf("rows=%d worst additivity error %.3g", len(sets), worst)
}

// TestGoldenEnsembleContributions holds each ensemble member's
// contributions to Python's: LightGBM and XGBoost members bit for bit
// against pred_contrib / pred_contribs, the logistic member's terms bit for
// bit against coef · scaler.transform(x). The pure-Go build refuses XGBoost
// members by name; a row a DMatrix refuses is refused as Python refuses it.
func TestGoldenEnsembleContributions(t *testing.T) {
	ctx := context.Background()
	for _, c := range inferencetest.Cases(t) {
		if !c.Ensemble() {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			art, err := inferencetest.Store().Load(ctx, c.SHA)
			require.NoError(t, err)
			model, err := inference.OpenModel(art, loaders)
			require.NoError(t, err)
			defer model.Close()
			var explained, refused [][]float64 // Python's explainable rows, and the others
			var wantRows []int
			for i, row := range c.Inputs {
				if math.IsNaN(firstMember(c)[i][0]) {
					refused = append(refused, row)
					continue
				}
				explained = append(explained, row)
				wantRows = append(wantRows, i)
			}
			sets, err := inference.Explain(ctx, model, inferencetest.Flatten(explained))
			hasXGB := c.MemberContrib[inference.KindXGBoost] != nil
			if hasXGB && native.Flavor == "purego" {
				require.Error(t, err)
				assert.Equal(t, inference.CodeExplanationNotSupported, inference.ErrorCode(err))
				assert.Contains(t, inference.SafeMessage(err), "XGBoost")
				return
			}
			require.NoError(t, err)
			nf := len(c.FeatureNames)
			worst := map[string]float64{}
			for r, i := range wantRows {
				offset := map[string]int{}
				for _, s := range sets[r] {
					block := c.MemberContrib[s.Member][i]
					k := offset[s.Member]
					offset[s.Member]++
					for j := 0; j < nf; j++ {
						require.Equal(t, math.Float64bits(block[k*(nf+1)+j]), math.Float64bits(s.Values[j]),
							"row %d member %s set %d input %d: got %v want %v", i, s.Member, k, j, s.Values[j], block[k*(nf+1)+j])
					}
					require.Equal(t, math.Float64bits(block[k*(nf+1)+nf]), math.Float64bits(s.Bias), "row %d member %s bias", i, s.Member)
					assert.LessOrEqual(t, s.AdditivityError(), s.Tolerance, "row %d member %s set %d", i, s.Member, k)
					worst[s.Member] = math.Max(worst[s.Member], s.AdditivityError())
					assert.InDelta(t, 1/float64(len(c.MemberContrib)), s.Weight, 0, "weight")
				}
				for kind, n := range offset {
					require.Equal(t, len(c.MemberContrib[kind][i])/(nf+1), n, "sets of member %s", kind)
				}
			}
			for _, row := range refused {
				_, err := inference.Explain(ctx, model, row)
				require.Error(t, err, "Python cannot explain %v", row)
				assert.Equal(t, inference.CodeExplanationNotSupported, inference.ErrorCode(err))
			}
			t.Logf("%s: %d rows explained bit for bit, %d refused as Python refuses them; worst additivity error by member %v",
				c.Name, len(wantRows), len(refused), worst)
		})
	}
}

// firstMember is the contributions of the case's XGBoost member, whose NaN
// rows are the rows Python could not explain, or of any member.
func firstMember(c inferencetest.Case) [][]float64 {
	if m, ok := c.MemberContrib[inference.KindXGBoost]; ok {
		return m
	}
	for _, m := range c.MemberContrib {
		return m
	}
	return nil
}
