package inference_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

type refCase struct {
	Kind string    `json:"kind"`
	P    []float64 `json:"p"`
	Y    []float64 `json:"y"`
	what string
}

type refBand struct {
	N         int     `json:"n"`
	LabelRate *string `json:"label_rate"`
}

type refBin struct {
	Bin      int    `json:"bin"`
	Count    int    `json:"count"`
	MeanPred string `json:"mean_pred"`
	Actual   string `json:"actual"`
	Gap      string `json:"gap"`
}

type refMetrics struct {
	N           int      `json:"n"`
	Positives   int      `json:"positives"`
	LabelRate   *string  `json:"label_rate"`
	PredMean    *string  `json:"pred_mean"`
	PredStd     *string  `json:"pred_std"`
	Brier       *string  `json:"brier"`
	LogLoss     *string  `json:"log_loss"`
	Accuracy    *string  `json:"accuracy"`
	AUC         *string  `json:"auc"`
	ECE         *string  `json:"ece"`
	Calibration []refBin `json:"calibration"`
	MacroAUC    *string  `json:"macro_auc"`
	RMSE        *string  `json:"rmse"`
	MAE         *string  `json:"mae"`
	Pearson     *string  `json:"pearson"`
	Above       refBand  `json:"above"`
	Below       refBand  `json:"below"`
}

// realizedCases are randomized windows with the shapes that break
// metrics: ties, one class, all-equal predictions, predictions at exactly
// 0 and 1, values on the calibration edges, empty bins, a multiclass window
// missing a class, constant labels for Pearson.
func realizedCases() []refCase {
	r := rand.New(rand.NewPCG(27, 1))
	var out []refCase
	binary := func(what string, n int, pred func(i int) float64, label func(i int, p float64) float64) {
		c := refCase{Kind: "binary", what: what}
		for i := range n {
			p := pred(i)
			c.P, c.Y = append(c.P, p), append(c.Y, label(i, p))
		}
		out = append(out, c)
	}
	noisy := func(_ int, p float64) float64 { return float64(b2i(r.Float64() < p)) }
	for k := range 6 {
		binary(fmt.Sprintf("random %d", k), 50+r.IntN(400), func(int) float64 { return r.Float64() }, noisy)
	}
	binary("ties", 300, func(int) float64 { return float64(r.IntN(21)) / 20 }, noisy)
	binary("one class", 80, func(int) float64 { return r.Float64() }, func(int, float64) float64 { return 0 })
	binary("all equal", 60, func(int) float64 { return 0.42 }, noisy)
	binary("0 and 1 exactly", 90, func(int) float64 { return float64(r.IntN(2)) }, noisy)
	binary("bin edges", 220, func(int) float64 { return float64(r.IntN(11)) * 0.1 }, noisy)
	binary("empty bins", 120, func(int) float64 { return 0.4 + 0.2*r.Float64() }, noisy)
	binary("gate bands", 200, func(int) float64 { return []float64{0.3, 0.7, 0.29999999, 0.70000001, 0.5}[r.IntN(5)] }, noisy)
	binary("a quarter of 1h bars", 2160, func(int) float64 { return r.Float64() }, noisy)
	binary("all equal, many", 9001, func(int) float64 { return 0.37 }, noisy)
	binary("one bar", 1, func(int) float64 { return 0.9 }, func(int, float64) float64 { return 1 })
	binary("empty", 0, nil, nil)
	for _, missing := range []int{-2, 0} {
		c := refCase{Kind: "multiclass", what: fmt.Sprintf("multiclass missing %d", missing)}
		for range 150 {
			a, b, d := r.Float64(), r.Float64(), r.Float64()
			s := a + b + d
			c.P = append(c.P, a/s, b/s, d/s)
			l := r.IntN(3) - 1
			if l == missing {
				l = 1
			}
			c.Y = append(c.Y, float64(l))
		}
		out = append(out, c)
	}
	for _, what := range []string{"regression", "constant label"} {
		c := refCase{Kind: "regression", what: what}
		for range 140 {
			p := r.NormFloat64()
			y := p*0.3 + r.NormFloat64()
			if what == "constant label" {
				y = 0.25
			}
			c.P, c.Y = append(c.P, p), append(c.Y, y)
		}
		out = append(out, c)
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRealizedMetricsAgreeWithTheTrainer: every count and bin equal to the
// Python restatement's, every metric within 1e-12 relative, and undefined
// exactly where it is undefined.
func TestRealizedMetricsAgreeWithTheTrainer(t *testing.T) {
	cases := realizedCases()
	var ref struct {
		Cases []refMetrics `json:"cases"`
	}
	inferencetest.PerformanceReference(t, map[string]any{"cases": cases}, &ref)
	require.Len(t, ref.Cases, len(cases))
	for i, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			want := ref.Cases[i]
			var got inference.Metrics
			switch c.Kind {
			case "binary":
				got = inference.BinaryMetrics(c.P, c.Y)
			case "multiclass":
				got = inference.MulticlassMetrics(c.P, c.Y)
			default:
				got = inference.RegressionMetrics(c.P, c.Y)
			}
			assert.Equal(t, want.N, got.N)
			assert.Equal(t, want.Positives, got.Positives)
			for _, m := range []struct {
				name string
				want *string
				got  *float64
			}{{"label_rate", want.LabelRate, got.LabelRate}, {"pred_mean", want.PredMean, got.PredMean},
				{"pred_std", want.PredStd, got.PredStd}, {"brier", want.Brier, got.Brier}, {"log_loss", want.LogLoss, got.LogLoss},
				{"accuracy", want.Accuracy, got.Accuracy}, {"auc", want.AUC, got.AUC}, {"ece", want.ECE, got.ECE},
				{"macro_auc", want.MacroAUC, got.MacroAUC}, {"rmse", want.RMSE, got.RMSE}, {"mae", want.MAE, got.MAE},
				{"pearson", want.Pearson, got.Pearson}} {
				agree(t, m.name, m.want, m.got)
			}
			require.Len(t, got.Calibration, len(want.Calibration), "non-empty bins")
			for k, b := range want.Calibration {
				g := got.Calibration[k]
				assert.Equal(t, b.Bin, g.Bin)
				assert.Equal(t, b.Count, g.Count, "bin %d count", b.Bin)
				agree(t, "mean_pred", &b.MeanPred, &g.MeanPred)
				agree(t, "actual", &b.Actual, &g.Actual)
				agree(t, "gap", &b.Gap, &g.Gap)
			}
			for _, band := range []struct {
				want refBand
				got  inference.Band
			}{{want.Above, got.Above}, {want.Below, got.Below}} {
				assert.Equal(t, band.want.N, band.got.N, "band count")
				agree(t, "band label rate", band.want.LabelRate, band.got.LabelRate)
			}
		})
	}
}

// agree: both undefined, or within 1e-12 relative.
func agree(t *testing.T, name string, want *string, got *float64) {
	t.Helper()
	if want == nil {
		assert.Nil(t, got, "%s is undefined in the reference", name)
		return
	}
	require.NotNil(t, got, "%s is defined in the reference (%s)", name, *want)
	w, err := strconv.ParseFloat(*want, 64)
	require.NoError(t, err)
	tol := 1e-12 * math.Max(math.Abs(w), math.Abs(*got))
	assert.LessOrEqual(t, math.Abs(w-*got), math.Max(tol, 1e-300), "%s: reference %v, ours %v", name, w, *got)
}
