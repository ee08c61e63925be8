package main

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

func bitsEqual(t *testing.T, want, got float64, msg string) {
	t.Helper()
	assert.Equal(t, math.Float64bits(want), math.Float64bits(got), "%s: want %v got %v", msg, want, got)
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, ok := v.(float64)
	require.True(t, ok, "not a number: %#v", v)
	return f
}

// TestRunWritesPythonsValue: every decimal golden bar, served through HTTP,
// PostgreSQL feature rows and the native model, writes Python's value (bit
// for bit in both builds), with the global feature read as-of and pinned
// feature versions honoured over newer decoys.
func TestRunWritesPythonsValue(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{
		global:       map[string]int{"btc_ret_05": 24},
		globalLag:    30 * time.Minute,
		decoyVersion: true,
	})
	for i := range s.bars {
		r := e.do(http.MethodPost, "/inference/run", s.runBody(i), map[string]string{"X-Agent-Name": "research-bot"})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		got := num(t, r.body["value"])
		bitsEqual(t, s.want(i)[0], got, "bar "+s.bars[i].String())
		assert.Nil(t, r.body["confidence"])
		assert.Equal(t, s.bars[i].Format(time.RFC3339), r.body["ts"])
		assert.Equal(t, s.modelID, r.body["model_id"])
		assert.Equal(t, s.c.SHA, r.body["artifact_sha256"])
		assert.Equal(t, "golden_binary_ü", r.body["spec_name"])
		assert.Equal(t, "binary", r.body["objective"])
		assert.Equal(t, "stream", r.body["source"])
	}
	rows := e.seed.History(s.signalID)
	require.Len(t, rows, len(s.bars))
	for i, row := range rows {
		assert.True(t, row.TS.Equal(s.bars[i]))
		bitsEqual(t, s.want(i)[0], row.Value, "stored value")
		assert.Equal(t, "stream", row.Source)
		assert.Equal(t, "research-bot", row.CreatedBy)
		assert.Equal(t, "research-bot", row.UpdatedBy)
		assert.True(t, row.ProducedAt.Equal(fixedNow))
		assert.Equal(t, map[string]any{
			"model_id": s.modelID, "artifact_sha256": s.c.SHA, "spec_name": "golden_binary_ü",
			"objective": "binary", "model_status_at_inference": "live", "vintage": "in_sample",
		}, row.Meta)
	}
}

func TestRunIsIdempotentAndStampsAgents(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	r := e.do(http.MethodPost, "/inference/run", s.runBody(0), map[string]string{"X-Agent-Name": "first-agent"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	before := e.seed.History(s.signalID)
	require.Len(t, before, 1)

	body := s.runBody(0)
	body["source"] = "historical_replay"
	body["lookahead"] = "allow" // the golden model's training window holds the bar
	r = e.do(http.MethodPost, "/inference/run", body, map[string]string{"X-Agent-Name": "second.agent:2"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	after := e.seed.History(s.signalID)
	require.Len(t, after, 1, "a re-run upserts, never duplicates")
	assert.Equal(t, math.Float64bits(before[0].Value), math.Float64bits(after[0].Value))
	assert.Equal(t, "first-agent", after[0].CreatedBy, "created_by is kept")
	assert.Equal(t, "second.agent:2", after[0].UpdatedBy, "updated_by moves")
	assert.Equal(t, "historical_replay", after[0].Source)
	assert.False(t, after[0].UpdatedTime.Before(before[0].UpdatedTime))
	assert.True(t, after[0].CreatedTime.Equal(before[0].CreatedTime))

	body = s.runBody(1)
	delete(body, "source")
	r = e.do(http.MethodPost, "/inference/run", body, map[string]string{"X-Agent-Name": ""})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, "stream", r.body["source"], "source defaults to stream")
	last := e.seed.History(s.signalID)[1]
	assert.Equal(t, "anonymous", last.CreatedBy)
}

// TestTimestampsAreUTC covers D13: naive timestamps are UTC, offsets are
// converted, responses use Z.
func TestTimestampsAreUTC(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	for _, ts := range []string{"2026-03-01T02:00:00", "2026-03-01 02:00:00", "2026-03-01T09:00:00+07:00", "2026-03-01T02:00:00.000Z"} {
		body := s.runBody(0)
		body["ts"] = ts
		r := e.post("/inference/run", body)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", ts, r.raw)
		assert.Equal(t, "2026-03-01T02:00:00Z", r.body["ts"], ts)
	}
}

func TestBackfillCountsGapsAndStampsSource(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	// The window holds the 8 golden bars, then 3 bars with no features.
	end := s.bars[len(s.bars)-1].Add(4 * time.Hour)
	r := e.do(http.MethodPost, "/inference/backfill", s.backfillBody(s.start.Add(-30*time.Minute), end, "catchup_scan"),
		map[string]string{"X-Agent-Name": "orchestrator"})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, 11, r.body["rows_in_window"], "bars are the grid points in [start, end)")
	assert.EqualValues(t, 8, r.body["rows_written"])
	assert.EqualValues(t, 3, r.body["rows_skipped_missing_features"])
	assert.Equal(t, "catchup_scan", r.body["source"])
	assert.Equal(t, fixedNow.Format(time.RFC3339), r.body["completed_at"])
	assert.Equal(t, s.modelID, r.body["model_id"])

	rows := e.seed.History(s.signalID)
	require.Len(t, rows, 8)
	for i, row := range rows {
		assert.Equal(t, "catchup_scan", row.Source)
		assert.Equal(t, "orchestrator", row.CreatedBy)
		bitsEqual(t, s.want(i)[0], row.Value, "backfilled bar")
	}

	body := s.backfillBody(s.start, end, "")
	delete(body, "source")
	r = e.post("/inference/backfill", body)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, "historical_replay", r.body["source"], "backfill source defaults to historical_replay")
	assert.Len(t, e.seed.History(s.signalID), 8, "re-backfilling upserts")
}

// TestBackfillChunksAreIndependentTransactions makes the second chunk fail
// (its bars have no signal_history partition) and checks the first chunk
// was committed whole and the second not at all.
func TestBackfillChunksAreIndependentTransactions(t *testing.T) {
	e := newEnv(t, func(c *config) { c.Inference.BackfillChunkBars = 4 })
	s := e.scenario("binary", scenarioOpts{start: time.Date(2027, 12, 31, 20, 0, 0, 0, time.UTC)})
	r := e.post("/inference/backfill", s.backfillBody(s.bars[0], s.bars[7].Add(time.Hour), "historical_replay"))
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	assert.Equal(t, "signal_history_partition_missing", r.body["error_code"])
	details := r.body["details"].(map[string]any)
	assert.EqualValues(t, 4, details["rows_written_before_error"])
	rows := e.seed.History(s.signalID)
	require.Len(t, rows, 4, "the 2027 chunk landed, the 2028 chunk did not land at all")
	assert.True(t, rows[3].TS.Equal(time.Date(2027, 12, 31, 23, 0, 0, 0, time.UTC)))
}

// TestBackfillTellsWhatItCommittedWhenTheDatabaseFails: the database fails
// (admin_shutdown, as a restart would) on the second chunk; the caller gets
// 503 db_unavailable with the rows the first chunk committed, and so does
// the access log.
func TestBackfillTellsWhatItCommittedWhenTheDatabaseFails(t *testing.T) {
	e := newEnv(t, func(c *config) { c.Inference.BackfillChunkBars = 4 })
	s := e.scenario("binary", scenarioOpts{})
	e.seed.Exec(`CREATE FUNCTION fail_second_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.ts >= '` + s.bars[4].Format(time.RFC3339) + `' THEN
				RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = 'admin_shutdown';
			END IF;
			RETURN NEW;
		END $$`)
	e.seed.Exec(`CREATE TRIGGER fail BEFORE INSERT ON signal_history FOR EACH ROW EXECUTE FUNCTION fail_second_chunk()`)
	r := e.post("/inference/backfill", s.backfillBody(s.bars[0], s.bars[7].Add(time.Hour), "historical_replay"))
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	assert.Equal(t, "db_unavailable", r.body["error_code"])
	assert.Equal(t, true, r.body["retryable"])
	details := r.body["details"].(map[string]any)
	assert.EqualValues(t, 4, details["rows_written_before_error"], "the caller learns what was committed")
	assert.Len(t, e.seed.History(s.signalID), 4)
	lines := e.logs.records(t, "request")
	require.NotEmpty(t, lines)
	assert.EqualValues(t, 4, lines[len(lines)-1]["rows_written"], "the access log counts the committed chunk")
}

// TestAsOfCapIsInclusive: a global value exactly max_ffill_age_hours old is
// used; one second older is stale.
func TestAsOfCapIsInclusive(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{global: map[string]int{"btc_ret_05": 6}})
	e.seed.Exec(`DELETE FROM feature_values WHERE feature_name = 'btc_ret_05'`)
	col := len(s.c.FeatureNames) - 1
	v := s.c.Inputs[s.c.DecimalRows[0]][col]

	e.seed.Values("btc_ret_05", s.versions["btc_ret_05"], "", "", []time.Time{s.bars[0].Add(-6 * time.Hour)}, []float64{v})
	r := e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusOK, r.status, "exactly at the cap: %s", r.raw)
	bitsEqual(t, s.want(0)[0], num(t, r.body["value"]), "as-of value")

	e.seed.Exec(`DELETE FROM feature_values WHERE feature_name = 'btc_ret_05'`)
	e.seed.Values("btc_ret_05", s.versions["btc_ret_05"], "", "", []time.Time{s.bars[0].Add(-6*time.Hour - time.Second)}, []float64{v})
	r = e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusConflict, r.status, string(r.raw))
	assert.Equal(t, "feature_value_missing", r.body["error_code"])
	assert.Equal(t, true, r.body["retryable"])
	f := r.body["details"].(map[string]any)["features"].([]any)
	require.Len(t, f, 1)
	assert.Equal(t, "btc_ret_05", f[0].(map[string]any)["feature"])
	assert.Equal(t, "stale", f[0].(map[string]any)["reason"])
	assert.InDelta(t, 6.0+1.0/3600, f[0].(map[string]any)["age_hours"], 1e-9)
	assert.Len(t, e.seed.History(s.signalID), 1, "a refused bar writes nothing")
}

// TestVersionFallbackToMaxRegistered: a v1 payload has no feature_versions,
// so the highest registered version is used (D2).
func TestVersionFallbackToMaxRegistered(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("v1_binary", scenarioOpts{symbol: "BTCUSDT", interval: "1h"})
	for f := range s.versions {
		// Version 2 carries the golden values; version 1 becomes garbage.
		e.seed.Feature(struct2(f))
		e.seed.Exec(`INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
			SELECT feature_name, 2, symbol, interval, ts, value, compute_run_id FROM feature_values WHERE feature_name = $1 AND version = 1`, f)
		e.seed.Exec(`UPDATE feature_values SET value = 999 WHERE feature_name = $1 AND version = 1`, f)
	}
	r := e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	bitsEqual(t, s.want(0)[0], num(t, r.body["value"]), "value from the newest registered version")
}

// TestMulticlassSignalValues covers D8 for a multiclass booster.
func TestMulticlassSignalValues(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("multiclass", scenarioOpts{})
	r := e.post("/inference/run", s.runBody(2))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	p := s.want(2)
	best := 0
	for k := range p {
		if p[k] > p[best] {
			best = k
		}
	}
	bitsEqual(t, p[2]-p[0], num(t, r.body["value"]), "P(+1) - P(-1)")
	bitsEqual(t, p[best], num(t, r.body["confidence"]), "max class probability")
	row := e.seed.History(s.signalID)[0]
	assert.EqualValues(t, best-1, row.Meta["argmax_class"])
	require.Len(t, row.Meta["proba"], 3)
	require.NotNil(t, row.Confidence)
}

// TestStackedModelGetsIntervalIndicator: the synthetic last column is the
// spec interval's code, never read from feature_values.
func TestStackedModelGetsIntervalIndicator(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("stacked", scenarioOpts{})
	for i := range s.bars {
		r := e.post("/inference/run", s.runBody(i))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		bitsEqual(t, s.want(i)[0], num(t, r.body["value"]), "stacked bar")
	}
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/readyz", nil, map[string]string{"X-Inference-Token": ""})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, map[string]any{"status": "ok", "db": "ok", "artifact_dir": "ok"}, r.body)
	r = e.do(http.MethodGet, "/healthz", nil, map[string]string{"X-Inference-Token": ""})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "ok", r.body["status"])

	e2 := newEnv(t, func(c *config) { c.Inference.ArtifactDir = t.TempDir() + "/absent" })
	r = e2.do(http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, map[string]any{"status": "degraded", "db": "ok", "artifact_dir": "unavailable"}, r.body)
}

// TestDatabaseOutageAndRecovery stops PostgreSQL under a running service:
// requests get 503 db_unavailable (retryable), /readyz 503; when it comes
// back the service recovers without a restart.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	own, err := newOwnCluster()
	require.NoError(t, err)
	defer own.Close()
	e := newTestEnv(t, own.NewDatabase(t), func(c *config) { c.Storage.QueryTimeout = 3 * time.Second })
	s := e.scenario("binary", scenarioOpts{})
	r := e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	require.NoError(t, own.Stop())
	r = e.post("/inference/run", s.runBody(1))
	assert.Equal(t, http.StatusServiceUnavailable, r.status, string(r.raw))
	assert.Equal(t, "db_unavailable", r.body["error_code"])
	assert.Equal(t, true, r.body["retryable"])
	assert.Equal(t, map[string]any{"kind": "retry", "wait_s": 5.0}, r.body["next_action"])
	r = e.do(http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "unavailable", r.body["db"])
	assert.Equal(t, "degraded", r.body["status"])

	require.NoError(t, own.Start())
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = e.post("/inference/run", s.runBody(1))
		if r.status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, http.StatusOK, r.status, "recovered: %s", r.raw)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/readyz", nil, nil).status)
}

func TestErrorBodiesNeverLeakInternals(t *testing.T) {
	e := newEnv(t)
	r := e.post("/inference/run", `{"signal_id": "not-json`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.NotContains(t, strings.ToLower(string(r.raw)), "json:")
	assert.NotContains(t, string(r.raw), "pgx")
}

// TestRunSeesRegistryChangesImmediately: the one-round-trip path reuses a
// signal's last plan only when that request's own reads confirm it, so any
// registry change applies to the very next request.
func TestRunSeesRegistryChangesImmediately(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{global: map[string]int{"btc_ret_05": 24}, globalLag: 30 * time.Minute})
	ok := func(bar int) {
		t.Helper()
		r := e.post("/inference/run", s.runBody(bar))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		bitsEqual(t, s.want(bar)[0], num(t, r.body["value"]), "value")
	}
	ok(0)
	ok(1) // served from the hint

	e.seed.Exec(`UPDATE model_registry SET status = 'retired' WHERE id = $1`, s.modelID)
	wantError(t, e.post("/inference/run", s.runBody(2)), 409, "model_lifecycle_refused")
	e.seed.Exec(`UPDATE model_registry SET status = 'live' WHERE id = $1`, s.modelID)
	ok(2)

	e.seed.Exec(`UPDATE signal_definition SET status = 'retired' WHERE signal_id = $1`, s.signalID)
	wantError(t, e.post("/inference/run", s.runBody(3)), 409, "signal_retired")
	e.seed.Exec(`UPDATE signal_definition SET status = 'active' WHERE signal_id = $1`, s.signalID)
	ok(3)

	e.seed.Exec(`UPDATE feature_registry SET status = 'deprecated' WHERE feature_name = 'btc_ret_02' AND version = $1`, s.versions["btc_ret_02"])
	wantError(t, e.post("/inference/run", s.runBody(4)), 409, "feature_not_registered")
	e.seed.Exec(`UPDATE feature_registry SET status = 'registered' WHERE feature_name = 'btc_ret_02'`)
	ok(4)

	// The as-of cap shrinks below the 30-minute lag: the global input is stale now.
	e.seed.Exec(`UPDATE feature_registry SET max_ffill_age_hours = NULL, ffill_policy = NULL WHERE feature_name = 'btc_ret_05'`)
	r := e.post("/inference/run", s.runBody(5))
	wantError(t, r, 409, "feature_value_missing")
	e.seed.Exec(`UPDATE feature_registry SET ffill_policy = 'last_value', max_ffill_age_hours = 24 WHERE feature_name = 'btc_ret_05'`)
	ok(5)

	e.seed.Exec(`UPDATE model_registry SET artifact_sha256 = $2 WHERE id = $1`, s.modelID, strings.Repeat("e", 64))
	wantError(t, e.post("/inference/run", s.runBody(6)), 502, "artifact_file_missing")
	e.seed.Exec(`UPDATE model_registry SET artifact_sha256 = $2 WHERE id = $1`, s.modelID, s.c.SHA)
	ok(6)
}

// TestEnsembleSignals: a v2 ensemble (LightGBM + XGBoost + logistic) and an
// XGBoost-only artifact served end to end (D9), with D8's multiclass values.
// Both builds serve both, the pure-Go one through goeval.
func TestEnsembleSignals(t *testing.T) {
	e := newEnv(t)
	ens := e.scenario("ensemble", scenarioOpts{})
	xb := e.scenario("xgb_binary", scenarioOpts{symbol: "ETHUSDT"})
	for i := range ens.bars {
		r := e.post("/inference/run", ens.runBody(i))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		p := ens.want(i)
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		// The logistic member is within a few ulp of sklearn (see README), so
		// the ensemble's P(+1) − P(−1) is compared with a matching tolerance.
		assert.InDelta(t, p[2]-p[0], num(t, r.body["value"]), 1e-14, "bar %d", i)
		assert.InDelta(t, p[best], num(t, r.body["confidence"]), 1e-14)
		assert.Equal(t, "multiclass", r.body["objective"])
	}
	rows := e.seed.History(ens.signalID)
	require.Len(t, rows, len(ens.bars))
	for _, row := range rows {
		require.NotNil(t, row.Confidence)
		assert.Len(t, row.Meta["proba"], 3)
		assert.Contains(t, []any{-1.0, 0.0, 1.0}, row.Meta["argmax_class"])
	}

	r := e.post("/inference/backfill", xb.backfillBody(xb.bars[0], xb.bars[len(xb.bars)-1].Add(time.Hour), "historical_replay"))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, len(xb.bars), r.body["rows_written"])
	for i, row := range e.seed.History(xb.signalID) {
		bitsEqual(t, xb.want(i)[1], row.Value, "XGBoost P(class 1), bit for bit")
		assert.Nil(t, row.Confidence)
	}
}

// TestStreamingStatusWhenOff: the README's fields are there with the
// settings the worker would run with (poll clamped to at least 1 s).
func TestStreamingStatusWhenOff(t *testing.T) {
	e := newEnv(t, func(c *config) { c.Inference.Stream.PollSeconds, c.Inference.Stream.MaxGapHours = 0, 36 })
	r := e.do(http.MethodGet, "/streaming/status", nil, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, false, r.body["enabled"])
	assert.EqualValues(t, 1, r.body["poll_seconds"])
	assert.EqualValues(t, 36, r.body["max_gap_hours"])
	assert.EqualValues(t, 0, r.body["iterations"])
	assert.Equal(t, []any{}, r.body["targets"])
}

// TestTrainerWalkForwardShapes serves the shapes blackheart-train writes
// that we used to refuse: a feature-selected, stacked, walk-forward
// ensemble (members fit on the selection's order, interval_indicator first)
// and a walk-forward booster whose final fold was skipped; plus a stacked
// ensemble. Run and backfill write Python's values: boosters bit for bit in
// both builds, ensemble means within the stated bound (members are exact;
// see TestEnsembleParity).
func TestTrainerWalkForwardShapes(t *testing.T) {
	for _, name := range []string{"wf_skipped_last_fold", "wf_selected_ensemble", "stacked_ensemble"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			s := e.scenario(name, scenarioOpts{})
			limit := predictLimit(s.c)
			value := func(p []float64) float64 {
				if len(p) == 3 {
					return p[2] - p[0] // D8
				}
				return p[len(p)-1]
			}
			for i := range s.bars {
				r := e.post("/inference/run", s.runBody(i))
				require.Equal(t, http.StatusOK, r.status, string(r.raw))
				if s.c.Ensemble() {
					// P(+1) − P(−1) of a mean within `limit` ulp: compare the
					// probabilities the row stores.
					rows := e.seed.History(s.signalID)
					proba := rows[len(rows)-1].Meta["proba"].([]any)
					for k, want := range s.want(i) {
						assert.LessOrEqual(t, inferencetest.ULPDistance(num(t, proba[k]), want), limit, "bar %d class %d", i, k)
					}
					continue
				}
				assert.LessOrEqual(t, inferencetest.ULPDistance(num(t, r.body["value"]), value(s.want(i))), limit, "bar %d", i)
			}
			e.seed.Exec(`DELETE FROM signal_history`)
			r := e.post("/inference/backfill", s.backfillBody(s.bars[0], s.bars[len(s.bars)-1].Add(s.interval.Duration()), "historical_replay"))
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			assert.EqualValues(t, len(s.bars), r.body["rows_written"])
			for i, row := range e.seed.History(s.signalID) {
				if !s.c.Ensemble() {
					assert.LessOrEqual(t, inferencetest.ULPDistance(row.Value, value(s.want(i))), limit, "backfilled bar %d", i)
				}
			}
		})
	}
}

// TestBackfillAdmission: one backfill runs, one waits, the next is 429
// backfill_busy; when the first finishes the waiting one runs.
func TestBackfillAdmission(t *testing.T) {
	e := newEnv(t, func(c *config) { c.Inference.MaxConcurrentBackfills, c.Inference.BackfillQueue = 1, 1 })
	s := e.scenario("binary", scenarioOpts{})
	e.seed.Exec(`CREATE TABLE gate (open bool)`)
	e.seed.Exec(`INSERT INTO gate VALUES (false)`)
	// Writes wait until the test opens the gate: the first backfill holds its slot.
	e.seed.Exec(`CREATE FUNCTION wait_gate() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			WHILE NOT (SELECT open FROM gate) LOOP PERFORM pg_sleep(0.01); END LOOP;
			RETURN NEW;
		END $$`)
	e.seed.Exec(`CREATE TRIGGER gate BEFORE INSERT ON signal_history FOR EACH ROW EXECUTE FUNCTION wait_gate()`)
	body := s.backfillBody(s.bars[0], s.bars[len(s.bars)-1].Add(time.Hour), "historical_replay")
	results := make(chan int, 2)
	go func() { results <- e.post("/inference/backfill", body).status }()
	require.Eventually(t, func() bool { r, _ := e.app.service.BackfillLoad(); return r == 1 }, 10*time.Second, 5*time.Millisecond)
	go func() { results <- e.post("/inference/backfill", body).status }()
	require.Eventually(t, func() bool { _, w := e.app.service.BackfillLoad(); return w == 1 }, 10*time.Second, 5*time.Millisecond)

	r := e.post("/inference/backfill", body)
	wantError(t, r, 429, "backfill_busy")
	assert.Equal(t, true, r.body["retryable"])
	assert.Equal(t, map[string]any{"kind": "retry", "wait_s": 5.0}, r.body["next_action"])

	e.seed.Exec(`UPDATE gate SET open = true`)
	assert.Equal(t, http.StatusOK, <-results)
	assert.Equal(t, http.StatusOK, <-results, "the queued backfill ran")
	assert.Len(t, e.seed.History(s.signalID), len(s.bars))
}
