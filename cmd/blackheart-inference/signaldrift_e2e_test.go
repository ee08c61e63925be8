package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// driftSignalWorld is the demo model (39 per-bar inputs and one global
// daily input, as-of under a 48 h cap) served as a signal, with its windows
// in model_registry and random inputs on every hourly bar: training
// [now−104d, now−44d), holdout [now−44d, now−30d), live the last 30 days.
// shift moves the live window's per-bar inputs. Some bars lack one input:
// no vector exists for them.
type driftSignalWorld struct {
	signalID, symbol string
	// values[f][bar] is the decimal text stored; "" where the row is absent.
	perBar  map[string][]string
	bars    []time.Time
	global  map[time.Time]string // the daily macro value, at 00:00
	trainLo int                  // bar indexes of the window bounds
	holdLo  int
	liveLo  int
}

const driftDays = 104

func seedDriftSignal(t *testing.T, e *testEnv, r *rand.Rand, symbol string, shift float64) *driftSignalWorld {
	t.Helper()
	c := inferencetest.CaseNamed(t, "demo")
	w := &driftSignalWorld{symbol: symbol, perBar: map[string][]string{}, global: map[time.Time]string{}}
	start := fixedNow.Add(-driftDays * 24 * time.Hour)
	for b := start; b.Before(fixedNow); b = b.Add(time.Hour) {
		w.bars = append(w.bars, b)
	}
	w.trainLo, w.holdLo, w.liveLo = 0, (driftDays-44)*24, (driftDays-30)*24
	model := e.seed.Model(storagetest.Model{Symbol: symbol, Interval: "1h", Status: "live", SHA: c.SHA})
	e.seed.Exec(`UPDATE model_registry SET training_window = tstzrange($2, $3, '[)'), holdout_window = tstzrange($3, $4, '[)')
		WHERE id = $1::uuid`, model, w.bars[w.trainLo], w.bars[w.holdLo], w.bars[w.liveLo])
	w.signalID = e.seed.Signal("drift_"+symbol, model, "active")
	for _, f := range c.FeatureNames {
		if f == "macro_dxy_1d" {
			continue
		}
		e.seed.Feature(storagetest.Feature{Name: f, Version: 1, PerBar: true})
		vals := make([]string, len(w.bars))
		var ts []time.Time
		var text []string
		for i, b := range w.bars {
			if r.IntN(400) == 0 { // a hole: this bar has no vector
				continue
			}
			v := r.NormFloat64()
			if i >= w.liveLo {
				v += shift
			}
			vals[i] = strconv.FormatFloat(v, 'f', 6, 64)
			ts, text = append(ts, b), append(text, vals[i])
		}
		w.perBar[f] = vals
		insertDriftValues(t, e.seed, f, 1, symbol, "1h", ts, text)
	}
	return w
}

// seedDriftGlobal stores the daily global input.
func seedDriftGlobal(t *testing.T, e *testEnv, r *rand.Rand, worlds ...*driftSignalWorld) {
	e.seed.Feature(storagetest.Feature{Name: "macro_dxy_1d", Version: 1, Ffill: "last_value", MaxAgeHours: 48})
	var ts []time.Time
	var text []string
	for d := fixedNow.Add(-(driftDays + 3) * 24 * time.Hour).Truncate(24 * time.Hour); d.Before(fixedNow); d = d.Add(24 * time.Hour) {
		if r.IntN(25) == 0 { // a missing day: the next day's bars reach back, up to the 48 h cap
			continue
		}
		// Ten levels in turn: a daily input has few distinct values, and any
		// month of them is distributed as any other.
		v := strconv.FormatFloat(100+float64(d.Unix()/86400%10)/10, 'f', 4, 64)
		ts, text = append(ts, d), append(text, v)
		for _, w := range worlds {
			w.global[d] = v
		}
	}
	insertDriftValues(t, e.seed, "macro_dxy_1d", 1, "", "", ts, text)
}

// vectors is, per input, the values the model receives at the ready bars of
// [lo, hi): bars where every per-bar input exists and the global's newest
// value is at most 48 h old (the training-time rule, restated here).
func (w *driftSignalWorld) vectors(names []string, lo, hi int) map[string][]string {
	out := map[string][]string{}
	for i := lo; i < hi; i++ {
		row := map[string]string{}
		ok := true
		for _, f := range names {
			if f == "macro_dxy_1d" { // the newest daily value at or before the bar, at most 48 h old (inclusive)
				v, found := "", false
				for day := w.bars[i].Truncate(24 * time.Hour); !found && w.bars[i].Sub(day) <= 48*time.Hour; day = day.Add(-24 * time.Hour) {
					v, found = w.global[day]
				}
				ok = ok && found
				row[f] = v
				continue
			}
			if row[f] = w.perBar[f][i]; row[f] == "" {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for _, f := range names {
			out[f] = append(out[f], row[f])
		}
	}
	return out
}

// TestSignalDrift: GET /monitoring/drift?signal_id=… on a signal whose live
// inputs were shifted (DRIFT, retrain recommended, its predictions drifted
// too) and on one left alone (OK); every input's PSI, verdict and counts are
// the reference's on the vectors the training rule gives.
func TestSignalDrift(t *testing.T) {
	names := inferencetest.CaseNamed(t, "demo").FeatureNames
	for _, tc := range []struct {
		symbol  string
		shift   float64
		verdict string
	}{{"BTCUSDT", 0, "OK"}, {"ETHUSDT", 3, "DRIFT"}} {
		t.Run(tc.verdict, func(t *testing.T) {
			e := newEnv(t) // artifact_sha256 is unique: one model per database
			r := rand.New(rand.NewPCG(19, uint64(tc.shift)))
			w := seedDriftSignal(t, e, r, tc.symbol, tc.shift)
			seedDriftGlobal(t, e, r, w)
			// The live window's rows, as the streaming worker would have written them.
			resp := e.post("/inference/backfill", map[string]any{"signal_id": w.signalID, "symbol": w.symbol, "interval_name": "1h",
				"start": w.bars[w.liveLo].Format(time.RFC3339), "end": fixedNow.Format(time.RFC3339), "source": "catchup_scan"})
			require.Equal(t, http.StatusOK, resp.status, string(resp.raw))
			written := len(e.seed.History(w.signalID))
			checkSignalDrift(t, e, w, names, tc.verdict, written)
			assert.Len(t, e.seed.History(w.signalID), written, "drift writes nothing")
		})
	}
}

func checkSignalDrift(t *testing.T, e *testEnv, w *driftSignalWorld, names []string, verdict string, written int) {
	resp := e.do(http.MethodGet, "/monitoring/drift?signal_id="+w.signalID+"&live_days=30", nil, nil)
	require.Equal(t, http.StatusOK, resp.status, string(resp.raw))
	b := resp.body
	assert.Equal(t, verdict, b["verdict"], w.symbol)
	assert.Equal(t, verdict == "DRIFT", b["retrain_recommended"], w.symbol)
	base, live := b["baseline_window"].(map[string]any), b["live_window"].(map[string]any)
	assert.Equal(t, "model_registry.training_window", base["source"])
	assert.Equal(t, w.bars[w.trainLo].Format(time.RFC3339), base["start"])
	assert.EqualValues(t, w.holdLo-w.trainLo, base["bars"])
	assert.EqualValues(t, 30*24, live["bars"])
	pred := b["prediction_baseline_window"].(map[string]any)
	assert.Equal(t, "model_registry.holdout_window", pred["source"])
	assert.Equal(t, true, b["prediction_baseline_in_sample"],
		"the demo model stores no OOF predictions, and the registry's holdout starts inside the embargo after its training window")
	assert.EqualValues(t, written, b["live_predictions"])

	baseVec, liveVec := w.vectors(names, w.trainLo, w.holdLo), w.vectors(names, w.liveLo, len(w.bars))
	feats := make([]driftRefFeature, 0, len(names))
	for _, f := range names {
		feats = append(feats, driftRefFeature{Feature: f, Baseline: baseVec[f], Live: liveVec[f]})
	}
	var ref struct {
		Reports []driftRefReport `json:"reports"`
	}
	inferencetest.DriftReference(t, map[string]any{"reports": []any{map[string]any{"features": feats}}}, &ref)
	want := ref.Reports[0]
	got := b["features"].([]any)
	require.Len(t, got, len(names), "every input, interval_indicator never")
	assert.EqualValues(t, len(baseVec["btc_f00"]), base["vectors"])
	assert.EqualValues(t, len(liveVec["btc_f00"]), live["vectors"])
	assert.EqualValues(t, len(liveVec["btc_f00"]), written, "the live rows are the live vectors")
	for i, wf := range want.Features {
		gf := got[i].(map[string]any)
		what := fmt.Sprintf("%s %s", w.symbol, wf.Feature)
		assert.Equal(t, wf.Feature, gf["feature"], "%s: order", what)
		assert.Equal(t, wf.Verdict, gf["verdict"], what)
		assert.EqualValues(t, wf.BaselineN, gf["baseline_n"], what)
		assert.EqualValues(t, wf.LiveN, gf["live_n"], what)
		closeTo(t, wf.PSI, gf["psi"], what)
	}
	p := b["prediction"].(map[string]any)
	assert.Equal(t, "prediction", p["feature"])
	assert.EqualValues(t, written, p["live_n"])
	assert.EqualValues(t, pred["vectors"], p["baseline_n"], "one prediction per holdout vector")
	assert.Equal(t, verdict, p["verdict"], "the predictions follow the inputs")
}

// backfilledDriftSignal seeds the ETHUSDT drift signal and its global
// inputs, and backfills its live window.
func backfilledDriftSignal(t *testing.T, e *testEnv) *driftSignalWorld {
	t.Helper()
	r := rand.New(rand.NewPCG(19, 3))
	w := seedDriftSignal(t, e, r, "ETHUSDT", 3)
	seedDriftGlobal(t, e, r, w)
	resp := e.post("/inference/backfill", map[string]any{"signal_id": w.signalID, "symbol": w.symbol, "interval_name": "1h",
		"start": w.bars[w.liveLo].Format(time.RFC3339), "end": fixedNow.Format(time.RFC3339), "source": "catchup_scan"})
	require.Equal(t, http.StatusOK, resp.status, string(resp.raw))
	return w
}

// TestDriftScheduleMetricsAndCLI: a scheduled pass exports each signal's
// input and prediction PSI and its verdict (the numbers the endpoint gives),
// replaces the last pass's series, and the CLI prints the table and JSON.
func TestDriftScheduleMetricsAndCLI(t *testing.T) {
	e := newEnv(t)
	require.NotNil(t, e.app.drift, "INFERENCE_DRIFT_INTERVAL defaults to 1h")
	w := backfilledDriftSignal(t, e)
	retired := e.seed.Signal("retired_one", e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"}), "retired")

	pass := e.app.drift.RunOnce(context.Background())
	require.Empty(t, pass.Failed)
	require.Len(t, pass.Reports, 1, "active and shadow signals only")
	live := e.do(http.MethodGet, "/monitoring/drift?signal_id="+w.signalID, nil, nil)
	require.Equal(t, http.StatusOK, live.status, string(live.raw))
	m := scrape(t, e.srv.URL)
	assert.Equal(t, 2.0, m["blackheart_inference_drift_verdict{signal_id="+w.signalID+"}"])
	assert.Equal(t, live.body["prediction"].(map[string]any)["psi"], m["blackheart_inference_prediction_psi{signal_id="+w.signalID+"}"])
	for _, f := range live.body["features"].([]any) {
		f := f.(map[string]any)
		assert.Equal(t, f["psi"], m["blackheart_inference_feature_psi{feature="+f["feature"].(string)+",signal_id="+w.signalID+"}"], f["feature"])
	}
	assert.Equal(t, 1.0, m["blackheart_inference_drift_passes_total{}"])
	assert.NotContains(t, m, "blackheart_inference_drift_verdict{signal_id="+retired+"}")
	warned := 0
	for _, rec := range e.logs.records(t, "drift: retrain recommended") {
		if rec["signal_id"] == w.signalID {
			warned++
		}
	}
	assert.Equal(t, 1, warned, "the pass logs the recommendation once")

	// Retire it: the next pass drops its series.
	e.seed.Exec(`UPDATE signal_definition SET status = 'retired' WHERE signal_id = $1::uuid`, w.signalID)
	e.app.drift.RunOnce(context.Background())
	m = scrape(t, e.srv.URL)
	assert.NotContains(t, m, "blackheart_inference_drift_verdict{signal_id="+w.signalID+"}")
	assert.Equal(t, 2.0, m["blackheart_inference_drift_passes_total{}"])
	e.seed.Exec(`UPDATE signal_definition SET status = 'active' WHERE signal_id = $1::uuid`, w.signalID)

	environ := map[string]string{"INFERENCE_DB_DSN": e.cfg.Storage.DSN, "INFERENCE_ARTIFACT_DIR": inferencetest.ArtifactDir()}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"drift", "--signal", w.signalID, "--live-days", "90"}, environ, nil, &out, io.Discard))
	for _, want := range []string{`signal drift_ETHUSDT \(` + w.signalID + `\)`, `inputs' baseline +model_registry.training_window`,
		`predictions' baseline +model_registry.holdout_window`, `\nprediction +[0-9.]+ +DRIFT`, `\nbtc_f00 +[0-9.]+ +DRIFT +`, `\nmacro_dxy_1d +[0-9.]+`} {
		assert.Regexp(t, want, out.String())
	}
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"drift", "--signal", w.signalID, "--json"}, environ, nil, &out, io.Discard))
	var body map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &body), out.String())
	assert.Equal(t, w.signalID, body["signal_id"])
	assert.Len(t, body["features"], 40)
	err := run(context.Background(), []string{"drift"}, environ, nil, io.Discard, io.Discard)
	assert.ErrorAs(t, err, new(usageError))
	err = run(context.Background(), []string{"drift", "--signal", "00000000-0000-0000-0000-000000000000"}, environ, nil, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "signal_not_found")
}

// TestDriftPassSharesAModelsComputation: signals on one model share the
// pass's model-side computation (one read of its windows, one set of input
// comparisons, one prediction baseline) and each still gets the report it
// gets alone from GET /monitoring/drift, its own live values included.
func TestDriftPassSharesAModelsComputation(t *testing.T) {
	e := newEnv(t)
	w := backfilledDriftSignal(t, e)
	var model string
	require.NoError(t, e.seed.Pool.QueryRow(context.Background(),
		`SELECT model_id::text FROM signal_definition WHERE signal_id = $1::uuid`, w.signalID).Scan(&model))
	twins := []string{e.seed.Signal("drift_twin_a", model, "active"), e.seed.Signal("drift_twin_b", model, "shadow")}

	pass := e.app.drift.RunOnce(context.Background())
	require.Empty(t, pass.Failed)
	require.Len(t, pass.Reports, 3)
	assert.Equal(t, 1, pass.ModelsComputed, "three signals, one model: one computation")
	for _, rep := range pass.Reports {
		alone, err := e.app.service.SignalDrift(context.Background(), inference.SignalDriftRequest{SignalID: rep.SignalID, LiveDays: e.cfg.Inference.Drift.LiveDays})
		require.NoError(t, err)
		assert.Equal(t, alone, rep, "the shared report is the one computed alone")
	}
	for _, id := range twins {
		for _, rep := range pass.Reports {
			if rep.SignalID == id {
				assert.Zero(t, rep.LivePredictions, "a twin's own live values: it has none")
			}
		}
	}
	passLogs := e.logs.records(t, "drift pass")
	require.NotEmpty(t, passLogs)
	assert.EqualValues(t, 1, passLogs[len(passLogs)-1]["models_computed"])
}

// TestDriftPassSplitsByReplica: two streaming replicas each compute the
// drift of the signals they own under the bars' split, so that between them
// every signal is computed once, not twice.
func TestDriftPassSplitsByReplica(t *testing.T) {
	e := newEnv(t)
	w := backfilledDriftSignal(t, e)
	var model string
	require.NoError(t, e.seed.Pool.QueryRow(context.Background(),
		`SELECT model_id::text FROM signal_definition WHERE signal_id = $1::uuid`, w.signalID).Scan(&model))
	all := map[string]bool{w.signalID: true}
	for i := range 7 {
		all[e.seed.Signal(fmt.Sprintf("drift_split_%d", i), model, "active")] = true
	}
	clock := &testClock{}
	clock.Set(fixedNow)
	a1 := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	a2 := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	require.NotNil(t, a1.drift)
	for _, a := range []*app{a1, a2} { // both slots taken before either pass
		_, _, err := a.store.Replicas(context.Background())
		require.NoError(t, err)
	}
	computed := map[string]int{}
	for _, a := range []*app{a1, a2} {
		pass := a.drift.RunOnce(context.Background())
		require.Empty(t, pass.Failed)
		for _, rep := range pass.Reports {
			computed[rep.SignalID]++
		}
	}
	assert.Len(t, computed, len(all), "every signal computed")
	for id, n := range computed {
		assert.True(t, all[id], id)
		assert.Equal(t, 1, n, "%s computed once between the replicas", id)
	}
	alone := e.app.drift.RunOnce(context.Background()) // a replica that does not stream computes every signal
	assert.Len(t, alone.Reports, len(all))
}

// TestDriftPassSharesAFeaturePlansInputs: distinct models on one feature
// plan (the fleet: one set of inputs, each signal's model its own artifact)
// share the pass's input side — one read of the windows, one comparison of
// every input — and each computes its own predictions' baseline, so that
// every report is still the one GET /monitoring/drift computes alone.
func TestDriftPassSharesAFeaturePlansInputs(t *testing.T) {
	ctx := context.Background()
	e := newFleetEnv(t, 3)
	e.exec(t, `UPDATE model_registry SET training_window = tstzrange($1, $2, '[)')`, e.f.Bars[0].TS, e.f.Bars[24].TS) // 24 bars: PSI needs 20
	e.app.worker.RunOnce(ctx)                                                                                         // every signal's rows: its own live values
	pass := e.app.drift.RunOnce(ctx)
	require.Empty(t, pass.Failed)
	require.Len(t, pass.Reports, 3)
	assert.Equal(t, 3, pass.ModelsComputed, "three artifacts: three predictions' baselines")
	assert.Equal(t, 1, pass.InputsComputed, "one feature plan: its windows read once")
	baselines := map[string]bool{}
	for _, rep := range pass.Reports {
		require.NotZero(t, rep.LivePredictions, rep.SignalID)
		alone, err := e.app.service.SignalDrift(ctx, inference.SignalDriftRequest{SignalID: rep.SignalID, LiveDays: 7}) // the pass's default
		require.NoError(t, err)
		assert.Equal(t, alone, rep, "the shared report is the one computed alone")
		baselines[fmt.Sprint(rep.Prediction.Detail)] = true
	}
	assert.Len(t, baselines, 3, "each model's own predictions' baseline")
}
