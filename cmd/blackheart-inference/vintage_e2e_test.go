package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// wfScenario is a golden model the generator trained walk-forward on a
// calendar (issue 26), served as a signal, with its point-in-time window's
// inputs stored as per-bar features.
type wfScenario struct {
	c        inferencetest.Case
	vintage  *inference.Vintage
	signalID string
	modelID  string
	byTS     map[time.Time]inferencetest.PITBar
}

func (e *testEnv) wfScenario(name string) *wfScenario {
	e.t.Helper()
	c := inferencetest.CaseNamed(e.t, name)
	art, err := inferencetest.Store().Load(context.Background(), c.SHA)
	require.NoError(e.t, err)
	w := &wfScenario{c: c, vintage: art.Vintage, byTS: map[time.Time]inferencetest.PITBar{}}
	w.modelID = e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live", SHA: c.SHA})
	w.signalID = e.seed.Signal(name+"_signal", w.modelID, "active")
	ts := make([]time.Time, len(c.PIT))
	for i, b := range c.PIT {
		ts[i] = b.TS
		w.byTS[b.TS] = b
	}
	for col, f := range art.InputFeatures {
		vals := make([]float64, len(c.PIT))
		for i, b := range c.PIT {
			vals[i] = b.Inputs[col]
		}
		e.seed.Feature(storagetest.Feature{Name: f, Version: 1, PerBar: true})
		e.seed.Values(f, 1, "BTCUSDT", "1h", ts, vals)
	}
	return w
}

// window is the point-in-time window: 48 (wf_demo) bars before honest_from, then the model's.
func (w *wfScenario) window() (time.Time, time.Time) {
	return w.c.PIT[0].TS, w.c.PIT[len(w.c.PIT)-1].TS.Add(time.Hour)
}

// orchestratorBackfill is the research orchestrator's exact body: every
// field filled, UTC with Z, nothing else.
func (w *wfScenario) orchestratorBackfill(start, end time.Time) map[string]any {
	return map[string]any{"signal_id": w.signalID, "symbol": "BTCUSDT", "interval_name": "1h",
		"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339), "source": "historical_replay"}
}

var orchestratorHeaders = map[string]string{"X-Agent-Name": "research-orchestrator"}

// checkHonestRows holds every row to the generator's value for its bar —
// the artifact's OOF prediction before honest_from, the saved model's own
// from it — bit for bit, through D8, and to its meta.vintage.
func (w *wfScenario) checkHonestRows(t *testing.T, rows []storagetest.HistoryRow) {
	t.Helper()
	for _, row := range rows {
		b, ok := w.byTS[row.TS.UTC()]
		require.True(t, ok, "a row at %s, outside the window", row.TS)
		value, conf := b.Expected[0], (*float64)(nil)
		if len(b.Expected) == 3 {
			value = b.Expected[2] - b.Expected[0]
			m := math.Max(b.Expected[0], math.Max(b.Expected[1], b.Expected[2]))
			conf = &m
			proba := row.Meta["proba"].([]any)
			for k := range 3 {
				bitsEqual(t, b.Expected[k], proba[k].(float64), fmt.Sprintf("meta.proba at %s", row.TS))
			}
		}
		bitsEqual(t, value, row.Value, fmt.Sprintf("%s value at %s", b.Kind, row.TS))
		if conf == nil {
			assert.Nil(t, row.Confidence, "binary confidence is NULL (D8)")
		} else {
			require.NotNil(t, row.Confidence)
			bitsEqual(t, *conf, *row.Confidence, fmt.Sprintf("confidence at %s", row.TS))
		}
		if b.Kind == "oof" {
			assert.Equal(t, "oof", row.Meta["vintage"], row.TS)
			assert.EqualValues(t, b.Fold, row.Meta["oof_fold"].(map[string]any)["fold"], row.TS)
		} else {
			assert.Equal(t, "out_of_sample", row.Meta["vintage"], row.TS)
			assert.Equal(t, true, row.Meta["vintage_validated"], "in the saved fold's test window: %s", row.TS)
		}
	}
}

// TestLookaheadReplayIsRefusedAndPointInTimeIsHonest: the orchestrator's
// exact body over a window that reaches into the model's training data is
// refused with nothing written; the same window in point-in-time mode
// writes the artifact's OOF values bit for bit before honest_from and the
// served model's (Python's) from it.
func TestLookaheadReplayIsRefusedAndPointInTimeIsHonest(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	start, end := w.window()
	honest := w.vintage.HonestFrom
	require.True(t, honest.After(start) && honest.Before(end), "the window straddles honest_from")

	r := e.do(http.MethodPost, "/inference/backfill", w.orchestratorBackfill(start, end), orchestratorHeaders)
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	assert.Equal(t, "lookahead_refused", r.body["error_code"])
	assert.Equal(t, false, r.body["retryable"])
	assert.Contains(t, r.body["message"], "Nothing was written")
	assert.Contains(t, r.body["message"], honest.Format(time.RFC3339))
	d := r.body["details"].(map[string]any)
	assert.Equal(t, honest.Format(time.RFC3339), d["honest_from"])
	assert.EqualValues(t, 72, d["bars_in_window"])
	assert.Equal(t, map[string]any{"embargo": 48.0, "out_of_sample": 24.0}, d["bars_by_vintage"])
	assert.EqualValues(t, 48, d["bars_with_point_in_time_value"])
	v := d["vintage"].(map[string]any)
	assert.Equal(t, "walk_forward", v["rule"])
	assert.EqualValues(t, *w.c.Vintage.Fold, v["fold"])
	na := r.body["next_action"].(map[string]any)
	assert.Equal(t, "call", na["kind"])
	assert.Equal(t, "/inference/backfill", na["path"])
	assert.Contains(t, na["hint"], "point_in_time")
	assert.Empty(t, e.seed.History(w.signalID), "a refused replay writes nothing")

	body := w.orchestratorBackfill(start, end)
	body["mode"] = "point_in_time"
	r = e.do(http.MethodPost, "/inference/backfill", body, orchestratorHeaders)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, 72, r.body["rows_written"])
	assert.Equal(t, "point_in_time", r.body["mode"])
	assert.Equal(t, honest.Format(time.RFC3339), r.body["honest_from"])
	assert.Equal(t, map[string]any{"oof": 48.0, "out_of_sample": 24.0}, r.body["rows_by_vintage"])
	assert.EqualValues(t, 0, r.body["rows_skipped_no_point_in_time"])
	rows := e.seed.History(w.signalID)
	require.Len(t, rows, 72)
	w.checkHonestRows(t, rows)

	// Before the first fold's test window nothing honest exists: skipped, counted.
	first := w.vintage.Folds[0].TestStart
	r = e.post("/inference/backfill", map[string]any{"signal_id": w.signalID, "symbol": "BTCUSDT", "interval_name": "1h",
		"start": first.Add(-48 * time.Hour).Format(time.RFC3339), "end": first.Format(time.RFC3339), "mode": "point_in_time"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, 0, r.body["rows_written"])
	assert.EqualValues(t, 48, r.body["rows_skipped_no_point_in_time"])

	// From honest_from on, the served model needs no permission.
	r = e.do(http.MethodPost, "/inference/backfill", w.orchestratorBackfill(honest, end), orchestratorHeaders)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, map[string]any{"out_of_sample": 24.0}, r.body["rows_by_vintage"])
	w.checkHonestRows(t, e.seed.History(w.signalID))
}

// TestPointInTimeMulticlassThroughD8: a multiclass walk-forward whose final
// fold was skipped: honest_from is the fold before it, and its OOF
// probability vectors are written like any multiclass row.
func TestPointInTimeMulticlassThroughD8(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_multiclass_skipped")
	assert.Equal(t, len(w.vintage.Folds)-2, w.vintage.Fold, "the skipped final fold is passed over")
	start, end := w.window()
	body := w.orchestratorBackfill(start, end)
	r := e.post("/inference/backfill", body)
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	body["mode"] = "point_in_time"
	r = e.post("/inference/backfill", body)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, map[string]any{"oof": 6.0, "out_of_sample": 6.0}, r.body["rows_by_vintage"])
	rows := e.seed.History(w.signalID)
	require.Len(t, rows, 12)
	w.checkHonestRows(t, rows)
}

// TestTrainerOOFRowsAreKept: a row the trainer's oof_backfill wrote
// survives every write path over it, and is counted.
func TestTrainerOOFRowsAreKept(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	start, end := w.window()
	bar := w.c.PIT[10].TS
	e.seed.Exec(`INSERT INTO signal_history (signal_id, symbol, ts, value, confidence, produced_at, source, meta, created_by, updated_by)
		VALUES ($1::uuid, 'BTCUSDT', $2, 0.125, 0.125, now(), 'historical_replay',
		        jsonb_build_object('fold', 4, 'source_run', 'oof_backfill', 'artifact_content_sha256', $3::text),
		        'blackheart-train:oof_backfill', 'blackheart-train:oof_backfill')`, w.signalID, bar, w.c.SHA)
	kept := func(what string) {
		t.Helper()
		for _, row := range e.seed.History(w.signalID) {
			if row.TS.Equal(bar) {
				assert.Equal(t, 0.125, row.Value, what)
				assert.Equal(t, "blackheart-train:oof_backfill", row.UpdatedBy, what)
				assert.Equal(t, "oof_backfill", row.Meta["source_run"], what)
				return
			}
		}
		t.Fatalf("%s: the trainer's row is gone", what)
	}

	pit := w.orchestratorBackfill(start, end)
	pit["mode"] = "point_in_time"
	r := e.post("/inference/backfill", pit)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, 1, r.body["rows_kept_oof"])
	assert.EqualValues(t, 71, r.body["rows_written"])
	assert.Equal(t, map[string]any{"oof": 47.0, "out_of_sample": 24.0}, r.body["rows_by_vintage"])
	kept("point-in-time backfill")

	allow := w.orchestratorBackfill(start, end)
	allow["lookahead"] = "allow"
	r = e.post("/inference/backfill", allow)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, 1, r.body["rows_kept_oof"])
	assert.Equal(t, map[string]any{"embargo": 47.0, "out_of_sample": 24.0}, r.body["rows_by_vintage"])
	kept("look-ahead backfill, allowed")

	for _, src := range []string{"historical_replay", "stream"} {
		r = e.post("/inference/run", map[string]any{"signal_id": w.signalID, "symbol": "BTCUSDT", "interval_name": "1h",
			"ts": bar.Format(time.RFC3339), "source": src, "lookahead": "allow"})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		assert.Equal(t, true, r.body["kept_oof"], src)
		kept("run " + src)
	}
}

// TestEveryWritePathClassesItsRows: run, backfill, the streaming worker and
// batch-predict all write meta.vintage; a historical_replay run over a
// look-ahead bar is refused, a live one is written and marked.
func TestEveryWritePathClassesItsRows(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	embargoBar, last := w.c.PIT[0].TS, w.c.PIT[len(w.c.PIT)-1].TS
	vintageAt := func(ts time.Time) any {
		for _, row := range e.seed.History(w.signalID) {
			if row.TS.Equal(ts) {
				return row.Meta["vintage"]
			}
		}
		return nil
	}
	run := func(ts time.Time, source string) response {
		return e.post("/inference/run", map[string]any{"signal_id": w.signalID, "symbol": "BTCUSDT", "interval_name": "1h",
			"ts": ts.Format(time.RFC3339), "source": source})
	}
	r := run(embargoBar, "historical_replay")
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	assert.Equal(t, "lookahead_refused", r.body["error_code"])
	assert.Contains(t, r.body["message"], "is embargo")
	r = run(embargoBar, "stream")
	require.Equal(t, http.StatusOK, r.status, "a live run is never refused: %s", r.raw)
	assert.Equal(t, "embargo", r.body["vintage"])
	assert.Equal(t, "embargo", vintageAt(embargoBar), "run")

	e.seed.Exec(`DELETE FROM signal_history WHERE signal_id = $1`, w.signalID) // a new signal: the worker starts max_gap back
	clock := &testClock{}
	clock.Set(last.Add(90 * time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 6)
	require.Positive(t, a.worker.RunOnce(context.Background()).Written)
	assert.Equal(t, "out_of_sample", vintageAt(last), "streaming")

	e.seed.Exec(`DELETE FROM signal_history WHERE signal_id = $1`, w.signalID)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	featureServiceCall(t, srv.URL)
	assert.Equal(t, "out_of_sample", vintageAt(last), "batch-predict")
	w.checkHonestRows(t, e.seed.History(w.signalID))
}

// TestDriftComparesWithTheOutOfFoldPredictions: a walk-forward model's
// prediction baseline is its own OOF predictions, as the rows would be
// written, and the report says it is out of sample.
func TestDriftComparesWithTheOutOfFoldPredictions(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	r := e.do(http.MethodGet, "/monitoring/drift?signal_id="+w.signalID+"&live_days=7", nil, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	pred := r.body["prediction_baseline_window"].(map[string]any)
	assert.Equal(t, inference.WindowOOF, pred["source"])
	assert.EqualValues(t, w.c.OOFRows, pred["bars"])
	assert.Equal(t, w.vintage.Folds[0].TestStart.Format(time.RFC3339), pred["start"])
	assert.Equal(t, false, r.body["prediction_baseline_in_sample"])
	assert.EqualValues(t, w.c.OOFRows, r.body["prediction"].(map[string]any)["baseline_n"])
}

// TestVintageCLI: the timeline and a window's classes from the artifact
// alone; and the audit of rows already written — look-ahead rows an earlier
// backfill left, the trainer's kept row, and which bars a point-in-time
// backfill cannot repair — which reads and never writes.
func TestVintageCLI(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"vintage", "--dir", inferencetest.ArtifactDir(), "--sha", w.c.SHA,
		"--window", "2026-03-21T00:00:00Z", "2026-03-24T00:00:00Z"}, nil, nil, &out, io.Discard))
	for _, want := range []string{`rule +walk_forward`, `honest_from +2026-03-23T00:00:00Z`, `\n  5 +2025-03-16T00:00 → 2026-03-16T00:00 +2026-03-23T00:00 → 2026-04-13T00:00 +- +504`,
		`embargo +48\n`, `out_of_sample +24\n`, `point-in-time \(OOF\) value: 48 of 48`} {
		assert.Regexp(t, want, out.String())
	}

	start, end := w.window()
	allow := w.orchestratorBackfill(start.Add(-24*time.Hour), end) // 24 bars before the window: no inputs there
	allow["lookahead"] = "allow"
	require.Equal(t, http.StatusOK, e.post("/inference/backfill", allow).status)
	bar := w.c.PIT[0].TS
	e.seed.Exec(`UPDATE signal_history SET meta = '{"source_run": "oof_backfill", "artifact_content_sha256": "`+w.c.SHA+`"}'
		WHERE signal_id = $1 AND ts = $2`, w.signalID, bar)
	e.seed.Exec(`INSERT INTO signal_history (signal_id, symbol, ts, value, produced_at, source, meta, created_by, updated_by)
		VALUES ($1, 'BTCUSDT', '2025-06-01T00:00:00Z', 0.5, now(), 'historical_replay', '{"artifact_sha256": "`+strings.Repeat("ab", 32)+`"}', 'x', 'x')`, w.signalID)
	before := e.seed.History(w.signalID)
	environ := map[string]string{"INFERENCE_DB_DSN": e.cfg.Storage.DSN, "INFERENCE_ARTIFACT_DIR": inferencetest.ArtifactDir()}
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"vintage", "--signal", w.signalID}, environ, nil, &out, io.Discard))
	text := out.String()
	for _, want := range []string{`artifact ` + w.c.SHA + ` \(current\): 72 rows`, `embargo +47\n`, `out_of_sample +24\n`,
		`trainer oof_backfill +1 `, `look-ahead rows 47: a point-in-time backfill repairs 47, cannot repair 0`,
		`artifact ` + strings.Repeat("ab", 32) + `: 1 rows`, `unreadable \(artifact_file_missing`, `cannot repair \[2025-06-01T00:00:00Z, 2025-06-01T01:00:00Z\): 1 bars`} {
		assert.Regexp(t, want, text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var js map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &js), "the last line is JSON")
	assert.Len(t, js["artifacts"], 2)
	assert.Equal(t, before, e.seed.History(w.signalID), "the audit writes nothing")
	err := run(context.Background(), []string{"vintage", "--signal", w.signalID, "--sha", w.c.SHA}, environ, nil, io.Discard, io.Discard)
	assert.ErrorAs(t, err, new(usageError))
}

// TestRegistryWindowsTightenTheVintage: a model_registry training window
// that ends after the artifact's saved fold moves honest_from later (the
// stricter side); the refusal and the log say where the two disagree.
func TestRegistryWindowsTightenTheVintage(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	_, end := w.window()
	honest := w.vintage.HonestFrom
	r := e.post("/inference/backfill", w.orchestratorBackfill(honest, end))
	require.Equal(t, http.StatusOK, r.status, "the artifact alone: honest from its fold's test_start: %s", r.raw)

	e.seed.Exec(`UPDATE model_registry SET training_window = tstzrange($2, $3) WHERE id = $1::uuid`,
		w.modelID, w.vintage.Trained.From, honest.Add(12*time.Hour))
	r = e.post("/inference/backfill", w.orchestratorBackfill(honest, end))
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	d := r.body["details"].(map[string]any)
	stricter := honest.Add(12*time.Hour + 7*24*time.Hour) // the registry's end plus the fold's own 7-day embargo
	assert.Equal(t, stricter.Format(time.RFC3339), d["honest_from"])
	assert.Equal(t, map[string]any{"in_sample": 12.0, "embargo": 12.0}, d["bars_by_vintage"])
	notes := d["vintage"].(map[string]any)["notes"].([]any)
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "registry training_window ends at")
	logged := e.logs.records(t, "model vintage")
	require.Len(t, logged, 1, "the disagreement is logged once per sha and windows")
	assert.Equal(t, w.c.SHA, logged[0]["artifact_sha256"])
}

// TestLookaheadPolicy: every backfill is a replay, whatever its source;
// INFERENCE_LOOKAHEAD=mark writes what refuse would refuse, each row
// marked; a request can still ask to be refused.
func TestLookaheadPolicy(t *testing.T) {
	e := newEnv(t)
	w := e.wfScenario("wf_demo")
	start, end := w.window()
	catchup := w.orchestratorBackfill(start, end)
	catchup["source"] = "catchup_scan"
	r := e.post("/inference/backfill", catchup)
	require.Equal(t, http.StatusConflict, r.status, "a catchup_scan backfill is a replay too: %s", r.raw)

	m := newTestEnv(t, e.cfg.Storage.DSN, func(c *config) { c.Inference.Lookahead = inference.LookaheadMark })
	r = m.post("/inference/backfill", w.orchestratorBackfill(start, end))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, map[string]any{"embargo": 48.0, "out_of_sample": 24.0}, r.body["rows_by_vintage"])
	w.checkMarked(t, e.seed.History(w.signalID))
	refuse := w.orchestratorBackfill(start, end)
	refuse["lookahead"] = "refuse"
	r = m.post("/inference/backfill", refuse)
	require.Equal(t, http.StatusConflict, r.status, "the request's own refuse wins: %s", r.raw)

	_, err := serveConfig(map[string]string{"INFERENCE_LOOKAHEAD": "ignore"})
	assert.ErrorContains(t, err, "INFERENCE_LOOKAHEAD")
	_, err = serveConfig(map[string]string{"INFERENCE_BACKFILL_MODE": "oof"})
	assert.ErrorContains(t, err, "INFERENCE_BACKFILL_MODE")
}

// checkMarked: the served model's value on every bar (Python's bits, which
// the generator records from honest_from on), each row classed.
func (w *wfScenario) checkMarked(t *testing.T, rows []storagetest.HistoryRow) {
	t.Helper()
	require.Len(t, rows, len(w.c.PIT))
	for _, row := range rows {
		b := w.byTS[row.TS.UTC()]
		want := "embargo"
		if b.Kind == "model" {
			want = "out_of_sample"
			bitsEqual(t, b.Expected[0], row.Value, fmt.Sprintf("model value at %s", row.TS))
		}
		assert.Equal(t, want, row.Meta["vintage"], row.TS)
	}
}
