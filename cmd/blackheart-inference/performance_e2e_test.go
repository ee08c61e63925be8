package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// perfWorld is the walk-forward demo model served as a signal, its label
// (label_up_4h) in feature_values at every OOF bar — drawn as Bernoulli of
// the OOF prediction, so the reference has the skill its folds measured —
// and 90 days of live rows whose labels a scenario draws.
type perfWorld struct {
	e        *testEnv
	c        inferencetest.Case
	signalID string
	oof      []float64
	r        *rand.Rand
}

const perfLabel = "label_up_4h"

func newPerfWorld(t *testing.T, withLabel bool) *perfWorld {
	return perfWorldOn(t, cluster.NewDatabase(t), withLabel)
}

// perfWorldOn is newPerfWorld on the database dsn (benchmarks bring their own).
func perfWorldOn(t testing.TB, dsn string, withLabel bool) *perfWorld {
	e := newTestEnv(t, dsn)
	c := inferencetest.CaseNamed(t, "wf_demo")
	art, err := inferencetest.Store().Load(context.Background(), c.SHA)
	require.NoError(t, err)
	w := &perfWorld{e: e, c: c, r: rand.New(rand.NewPCG(27, 27))}
	model := e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live", SHA: c.SHA})
	w.signalID = e.seed.Signal("perf_signal", model, "active")
	if !withLabel {
		return w
	}
	e.seed.Feature(storagetest.Feature{Name: perfLabel, Version: 1, PerBar: true})
	var ts []time.Time
	var ys []float64
	for _, f := range art.Vintage.Folds {
		for i, at := range f.OOFTimes {
			p := f.OOF[i]
			w.oof = append(w.oof, p)
			ts, ys = append(ts, at), append(ys, w.bernoulli(p))
		}
	}
	e.seed.Values(perfLabel, 1, "BTCUSDT", "1h", ts, ys)
	return w
}

func (w *perfWorld) bernoulli(p float64) float64 {
	if w.r.Float64() < p {
		return 1
	}
	return 0
}

// live writes n hourly rows ending at the clock's hour, as our backfill
// writes them (meta.vintage, the artifact's sha), values drawn like the
// OOF predictions; label gives each bar's label (nil: not matured).
func (w *perfWorld) live(n int, meta map[string]any, label func(p float64) *float64) {
	end := fixedNow.Truncate(time.Hour)
	var ts []time.Time
	var values []float64
	var lts []time.Time
	var labels []float64
	for i := range n {
		at := end.Add(-time.Duration(n-i) * time.Hour)
		p := w.oof[w.r.IntN(len(w.oof))]
		ts, values = append(ts, at), append(values, p)
		if y := label(p); y != nil {
			lts, labels = append(lts, at), append(labels, *y)
		}
	}
	w.e.seed.Exec(`INSERT INTO signal_history (signal_id, symbol, ts, value, produced_at, source, meta, created_by, updated_by)
		SELECT $1::uuid, 'BTCUSDT', t, v, now(), 'stream', $4::jsonb, 't', 't' FROM unnest($2::timestamptz[], $3::float8[]) AS u(t, v)`,
		w.signalID, ts, values, meta)
	w.e.seed.Values(perfLabel, 1, "BTCUSDT", "1h", lts, labels)
}

func (w *perfWorld) ours() map[string]any {
	return map[string]any{"artifact_sha256": w.c.SHA, "vintage": "out_of_sample"}
}

func (w *perfWorld) report(t testing.TB) map[string]any {
	t.Helper()
	r := w.e.do(http.MethodGet, "/monitoring/performance?signal_id="+w.signalID, nil, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	return r.body
}

func y(v float64) *float64 { return &v }

// TestRealizedPerformanceVerdicts: a signal whose live predictions track
// its label is OK, one whose predictions carry no information is NO_SKILL,
// one that lost part of its edge against its strong OOF reference is
// DEGRADED, one with too few matured labels is INSUFFICIENT; rows the
// current artifact did not write, or that are not out of sample for it,
// are never scored.
func TestRealizedPerformanceVerdicts(t *testing.T) {
	for _, tc := range []struct {
		verdict string
		n       int
		label   func(w *perfWorld, p float64) *float64
	}{
		{"OK", 2160, func(w *perfWorld, p float64) *float64 { return y(w.bernoulli(p)) }},
		{"NO_SKILL", 2160, func(w *perfWorld, _ float64) *float64 { return y(w.bernoulli(0.5)) }},
		{"DEGRADED", 2160, func(w *perfWorld, p float64) *float64 { return y(w.bernoulli(0.5 + 0.25*(p-0.5))) }},
		{"INSUFFICIENT", 2160, func(w *perfWorld, p float64) *float64 {
			if w.r.IntN(20) != 0 {
				return nil // about 100 matured of 2 160: worth ~27 independent bars
			}
			return y(w.bernoulli(p))
		}},
	} {
		t.Run(tc.verdict, func(t *testing.T) {
			w := newPerfWorld(t, true)
			w.live(tc.n, w.ours(), func(p float64) *float64 { return tc.label(w, p) })
			b := w.report(t)
			t.Logf("%s: %s (reference %v, band low %v)", b["verdict"], b["reason"], b["reference"].(map[string]any)["interval"], b["reference_band_low"])
			assert.Equal(t, tc.verdict, b["verdict"], b["reason"])
			ref := b["reference"].(map[string]any)
			assert.Equal(t, inference.WindowOOF, ref["source"])
			assert.EqualValues(t, len(w.oof), ref["metrics"].(map[string]any)["n"], "every OOF bar has its label")
			assert.Greater(t, ref["primary_value"], 0.7, "the folds' own skill")
			assert.Equal(t, "bootstrap interval of the OOF history", b["reference_band"], "3 024 OOF bars hold one 90-day chunk")
			assert.Equal(t, map[string]any{"auc": 0.6}, b["last_fold_metrics"], "the payload's own, beside them")
			rows := b["rows"].(map[string]any)
			assert.EqualValues(t, tc.n, rows["total"])
			assert.EqualValues(t, tc.n, rows["scored"].(float64)+rows["pending_label"].(float64))
			live := b["live"].(map[string]any)
			assert.EqualValues(t, rows["scored"], live["metrics"].(map[string]any)["n"])
			assert.InDelta(t, rows["scored"].(float64)/4, live["effective_n"], 1e-9, "n / horizon_bars")
		})
	}
}

// TestRealizedPerformanceCountsWhatItLeavesOut: rows of another artifact
// and look-ahead rows are counted, never scored; a model whose label is
// not in feature_values is refused, naming the label.
func TestRealizedPerformanceCountsWhatItLeavesOut(t *testing.T) {
	w := newPerfWorld(t, true)
	w.live(300, map[string]any{"artifact_sha256": "ab" + w.c.SHA[2:], "vintage": "out_of_sample"}, func(float64) *float64 { return y(1) })
	rows := w.report(t)["rows"].(map[string]any)
	assert.EqualValues(t, 300, rows["other_artifact"])
	assert.EqualValues(t, 0, rows["scored"])
	w.e.seed.Exec(`UPDATE signal_history SET meta = jsonb_build_object('artifact_sha256', $2::text, 'vintage', 'in_sample') WHERE signal_id = $1::uuid`,
		w.signalID, w.c.SHA)
	rows = w.report(t)["rows"].(map[string]any)
	assert.EqualValues(t, 300, rows["not_out_of_sample"])

	bad := w.e.do(http.MethodGet, "/monitoring/performance?signal_id="+w.signalID+"&window_days=3", nil, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, bad.status)
	assert.Equal(t, "window_days", bad.body["details"].(map[string]any)["errors"].([]any)[0].(map[string]any)["field"])
	unknown := w.e.do(http.MethodGet, "/monitoring/performance?signal_id=00000000-0000-0000-0000-000000000000", nil, nil)
	assert.Equal(t, "signal_not_found", unknown.body["error_code"])

	none := newPerfWorld(t, false)
	r := none.e.do(http.MethodGet, "/monitoring/performance?signal_id="+none.signalID, nil, nil)
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	assert.Equal(t, "label_not_available", r.body["error_code"])
	assert.Equal(t, perfLabel, r.body["details"].(map[string]any)["label_feature"])
}

// TestRealizedPerformanceIsWatched: the drift schedule's pass reports
// every measurable signal's verdict, primary metric and interval as
// gauges (the endpoint's numbers), logs a loss, and leaves a signal whose
// label is not in feature_values out quietly; the CLI prints the report.
func TestRealizedPerformanceIsWatched(t *testing.T) {
	w := newPerfWorld(t, true)
	w.live(2160, w.ours(), func(p float64) *float64 { return y(w.bernoulli(0.5 + 0.25*(p-0.5))) })
	unlabelled := w.e.seed.Signal("demo_unlabelled", w.e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live",
		SHA: inferencetest.CaseNamed(t, "multiclass").SHA}), "active") // its label, triple_barrier_4h, is not in feature_values
	pass := w.e.app.drift.RunOnce(context.Background())
	require.Len(t, pass.Performance, 1, "the unlabelled signal is not measurable")
	assert.Empty(t, pass.PerformanceFailed)
	b := w.report(t)
	m := scrape(t, w.e.srv.URL)
	id := "signal_id=" + w.signalID
	assert.Equal(t, 1.0, m["blackheart_inference_performance_verdict{"+id+"}"], "DEGRADED")
	assert.Equal(t, b["live"].(map[string]any)["primary_value"], m["blackheart_inference_performance_primary{metric=auc,"+id+"}"])
	iv := b["live"].(map[string]any)["interval"].(map[string]any)
	assert.Equal(t, iv["lo"], m["blackheart_inference_performance_interval_low{metric=auc,"+id+"}"])
	assert.Equal(t, iv["hi"], m["blackheart_inference_performance_interval_high{metric=auc,"+id+"}"])
	assert.Equal(t, 1.0, m["blackheart_inference_performance_passes_total{}"])
	assert.NotContains(t, m, "blackheart_inference_performance_verdict{signal_id="+unlabelled+"}")
	assert.Len(t, w.e.logs.records(t, "performance: DEGRADED"), 1)

	environ := map[string]string{"INFERENCE_DB_DSN": w.e.cfg.Storage.DSN, "INFERENCE_ARTIFACT_DIR": inferencetest.ArtifactDir()}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"performance", "--signal", w.signalID}, environ, nil, &out, io.Discard))
	for _, want := range []string{`verdict DEGRADED`, `\nauc +0\.[0-9]+ +0\.[0-9]+`, `\nbrier +`, `gate > 0\.70`, `calibration`, `last_fold_metrics +auc 0\.6`} {
		assert.Regexp(t, want, out.String())
	}
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"performance", "--signal", w.signalID, "--window-days", "30", "--json"}, environ, nil, &out, io.Discard))
	var body map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &body), out.String())
	assert.EqualValues(t, 30, body["window_days"])
	err := run(context.Background(), []string{"performance", "--window-days", "3", "--signal", w.signalID}, environ, nil, io.Discard, io.Discard)
	assert.ErrorAs(t, err, new(usageError))
}

// BenchmarkPerformanceReport: one report for a 1h signal over 90 days (2 160
// scored bars), its reference included (3 024 OOF bars and their labels),
// end to end over HTTP; BLACKHEART_BENCH_FSYNC=on for a durable cluster.
func BenchmarkPerformanceReport(b *testing.B) {
	w := perfWorldOn(b, benchCluster(b).NewDatabase(b), true)
	w.live(2160, w.ours(), func(p float64) *float64 { return y(w.bernoulli(p)) })
	w.e.seed.Exec(`VACUUM (ANALYZE) feature_values`)
	w.e.seed.Exec(`VACUUM (ANALYZE) signal_history`)
	var fsync string
	require.NoError(b, w.e.seed.Pool.QueryRow(context.Background(), "SHOW fsync").Scan(&fsync))
	b.Logf("PostgreSQL fsync=%s", fsync)
	w.report(b) // the model loads once, as in a running service
	b.ResetTimer()
	for range b.N {
		if v := w.report(b)["verdict"]; v != "OK" {
			b.Fatalf("verdict %v", v)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
}

// TestPerformancePassSharesAModelsReference: signals on one model share the
// pass's reference side (the label check, the OOF history joined to its
// labels, its metrics and bootstrap); each report is still the one the
// endpoint computes for that signal alone, its own live rows included.
func TestPerformancePassSharesAModelsReference(t *testing.T) {
	w := newPerfWorld(t, true)
	w.live(2160, w.ours(), func(p float64) *float64 { return y(w.bernoulli(0.5 + 0.25*(p-0.5))) })
	var model string
	require.NoError(t, w.e.seed.Pool.QueryRow(context.Background(),
		`SELECT model_id::text FROM signal_definition WHERE signal_id = $1::uuid`, w.signalID).Scan(&model))
	twin := w.e.seed.Signal("perf_twin", model, "shadow")
	pass := w.e.app.drift.RunOnce(context.Background())
	require.Len(t, pass.Performance, 2)
	assert.Equal(t, 1, pass.ReferencesComputed, "two signals, one model: one reference")
	for _, rep := range pass.Performance {
		alone, err := w.e.app.service.SignalPerformance(context.Background(),
			inference.PerformanceRequest{SignalID: rep.SignalID, WindowDays: w.e.cfg.Inference.Drift.PerformanceDays})
		require.NoError(t, err)
		assert.Equal(t, alone, rep, "the shared report is the one computed alone")
		if rep.SignalID == twin {
			assert.Zero(t, rep.Rows.Total, "the twin's own live rows: none")
		} else {
			assert.Equal(t, 2160, rep.Rows.Total)
		}
	}
}

// BenchmarkPerformancePass: the scheduled monitoring pass (drift and
// realized performance) over 1 000 active signals on the labelled walk-
// forward model, one with 90 days of its own live rows: the model's OOF
// reference is built once and shared, each signal then reads its own rows.
func BenchmarkPerformancePass(b *testing.B) {
	const n = 1000
	w := perfWorldOn(b, benchCluster(b).NewDatabase(b), true)
	w.live(2160, w.ours(), func(p float64) *float64 { return y(w.bernoulli(p)) })
	w.e.seed.Exec(`INSERT INTO signal_definition (name, model_id, status)
		SELECT 'perf_' || g, model_id, 'active' FROM signal_definition, generate_series(2, $1) g
		WHERE signal_id = $2::uuid`, n, w.signalID)
	w.e.seed.Exec(`VACUUM (ANALYZE) feature_values`)
	w.e.seed.Exec(`VACUUM (ANALYZE) signal_history`)
	var fsync string
	require.NoError(b, w.e.seed.Pool.QueryRow(context.Background(), "SHOW fsync").Scan(&fsync))
	b.Logf("PostgreSQL fsync=%s", fsync)
	b.ResetTimer()
	for range b.N {
		pass := w.e.app.drift.RunOnce(context.Background())
		if len(pass.Performance) != n || len(pass.PerformanceFailed) != 0 {
			b.Fatalf("%d performance reports, %v failed", len(pass.Performance), pass.PerformanceFailed)
		}
		b.ReportMetric(float64(pass.ReferencesComputed), "references-computed")
		b.ReportMetric(float64(pass.ModelsComputed), "drift-models-computed")
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/n, "ms/signal")
}
