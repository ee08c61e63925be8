//go:build cgo && !purego

package main

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// TestCrossCheckWritesWhenBothAgree: with INFERENCE_EVALUATOR=cross-check a
// booster's run and a trainer ensemble's backfill write Python's bits; both
// evaluators predicted every row and agreed.
func TestCrossCheckWritesWhenBothAgree(t *testing.T) {
	e := newEnv(t, func(c *config) { c.Evaluator = "cross-check" })
	s := e.scenario("binary", scenarioOpts{})
	for i := range s.bars {
		r := e.post("/inference/run", s.runBody(i))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		bitsEqual(t, s.want(i)[0], num(t, r.body["value"]), "cross-checked run")
	}
	ens := e.scenario("ensemble", scenarioOpts{})
	r := e.post("/inference/backfill", ens.backfillBody(ens.bars[0], ens.bars[len(ens.bars)-1].Add(time.Hour), "historical_replay"))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, len(ens.bars), r.body["rows_written"])
	assert.Len(t, e.seed.History(ens.signalID), len(ens.bars))
	n, ok := scrape(t, e.srv.URL)["blackheart_inference_evaluator_mismatches_total{}"]
	require.True(t, ok, "the mismatch counter is exported")
	assert.Zero(t, n)
}

// TestCrossCheckRefusesWhatDiffers: a pure-Go evaluator off by one ulp on
// every output makes cross-check refuse the run (500 evaluator_mismatch with
// the artifact and the row) and the backfill chunk; nothing is written, the
// mismatch is logged with the sha and inputs and counted.
func TestCrossCheckRefusesWhatDiffers(t *testing.T) {
	saved := goLoaders
	t.Cleanup(func() { goLoaders = saved })
	goLoaders = inference.Loaders{
		LightGBM: func(text string, it int) (inference.Model, error) {
			m, err := saved.LightGBM(text, it)
			return offByOneULP{m}, err
		},
		XGBoost: saved.XGBoost,
	}
	e := newEnv(t, func(c *config) { c.Evaluator = "cross-check" })
	s := e.scenario("binary", scenarioOpts{})
	r := e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusInternalServerError, r.status, string(r.raw))
	assert.Equal(t, "evaluator_mismatch", r.body["error_code"])
	assert.Equal(t, false, r.body["retryable"])
	details := r.body["details"].(map[string]any)
	assert.Equal(t, s.c.SHA, details["artifact_sha256"])
	assert.EqualValues(t, 0, details["row"])

	r = e.post("/inference/backfill", s.backfillBody(s.bars[0], s.bars[len(s.bars)-1].Add(time.Hour), "historical_replay"))
	require.Equal(t, http.StatusInternalServerError, r.status, string(r.raw))
	assert.Equal(t, "evaluator_mismatch", r.body["error_code"])
	assert.EqualValues(t, 0, r.body["details"].(map[string]any)["rows_written_before_error"])

	assert.Empty(t, e.seed.History(s.signalID), "no row is written from a disputed prediction")
	assert.EqualValues(t, 2, scrape(t, e.srv.URL)["blackheart_inference_evaluator_mismatches_total{}"])
	logged := e.logs.records(t, "evaluator mismatch: call refused, nothing written")
	require.Len(t, logged, 2)
	assert.Equal(t, s.c.SHA, logged[0]["artifact_sha256"])
	assert.NotEmpty(t, logged[0]["inputs"])
}

// TestEvaluatorSetting: the three values and a wrong one.
func TestEvaluatorSetting(t *testing.T) {
	for _, v := range []string{"", "native", "go", "cross-check"} {
		_, err := loadersFor(v)
		assert.NoError(t, err, v)
	}
	_, err := loadersFor("fast")
	assert.ErrorContains(t, err, "want native, go or cross-check")
}

// TestVerifyCrossCheck: artifact verify --cross-check predicts sample rows
// drawn at the split thresholds with both evaluators (a booster, a trainer
// ensemble, linear trees) and reports the rows it compared.
func TestVerifyCrossCheck(t *testing.T) {
	var out bytes.Buffer
	shas := []string{inferencetest.CaseNamed(t, "trees500").SHA, inferencetest.CaseNamed(t, "ensemble").SHA,
		inferencetest.CaseNamed(t, "linear_tree").SHA}
	err := runVerify(context.Background(), append([]string{"--dir", inferencetest.ArtifactDir(), "--cross-check", "--cross-check-rows", "2000"}, shas...), &out)
	require.NoError(t, err, out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		assert.Contains(t, l, `"ok":true`)
		assert.Contains(t, l, `"cross_checked_rows":2000`)
	}
}

// offByOneULP is a pure-Go model that is wrong in the last bit.
type offByOneULP struct{ inference.Model }

func (m offByOneULP) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	out, err := m.Model.Predict(ctx, row, raw)
	return bump(out), err
}

func (m offByOneULP) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	out, err := m.Model.PredictBatch(ctx, rows, raw)
	return bump(out), err
}

func bump(out []float64) []float64 {
	for i, v := range out {
		out[i] = math.Float64frombits(math.Float64bits(v) + 1)
	}
	return out
}

// shapOffByOneULP predicts like its model but explains one ulp off.
type shapOffByOneULP struct{ inference.Model }

func (m shapOffByOneULP) Contributions(ctx context.Context, rows []float64) ([]float64, error) {
	out, err := m.Model.(inference.Explainer).Contributions(ctx, rows)
	return bump(out), err
}

func (m shapOffByOneULP) Margins(ctx context.Context, rows []float64) ([]float64, error) {
	return m.Model.(inference.Explainer).Margins(ctx, rows)
}

// TestCrossCheckExplains: under cross-check an explanation is computed by
// both evaluators and answered only when their bits agree; XGBoost, which
// the pure-Go build does not explain, is answered from libxgboost alone; a
// pure-Go TreeSHAP one ulp off is refused with evaluator_mismatch.
func TestCrossCheckExplains(t *testing.T) {
	e := newEnv(t, func(c *config) { c.Evaluator = "cross-check" })
	s := e.scenario("binary", scenarioOpts{})
	xb := e.scenario("xgb_binary", scenarioOpts{symbol: "ETHUSDT"})
	for _, sc := range []*scenario{s, xb} {
		r := e.post("/inference/explain", sc.runBody(0))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
	}

	saved := goLoaders
	t.Cleanup(func() { goLoaders = saved })
	goLoaders = inference.Loaders{
		LightGBM: func(text string, it int) (inference.Model, error) {
			m, err := saved.LightGBM(text, it)
			return shapOffByOneULP{m}, err
		},
		XGBoost: saved.XGBoost,
	}
	e = newEnv(t, func(c *config) { c.Evaluator = "cross-check" })
	s = e.scenario("binary", scenarioOpts{})
	r := e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusOK, r.status, "predictions still agree: %s", r.raw)
	r = e.post("/inference/explain", s.runBody(0))
	require.Equal(t, http.StatusInternalServerError, r.status, string(r.raw))
	assert.Equal(t, "evaluator_mismatch", r.body["error_code"])
}
