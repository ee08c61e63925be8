package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

func struct2(name string) storagetest.Feature {
	return storagetest.Feature{Name: name, Version: 2, PerBar: true}
}

func newOwnCluster() (*storagetest.Cluster, error) { return storagetest.NewCluster() }

// wantError checks the envelope: code, status, retryable, and that the keys
// are exactly the contract's (null keys omitted).
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, "%s: %s", code, r.raw)
	assert.Equal(t, code, r.body["error_code"], string(r.raw))
	_, hasRetryable := r.body["retryable"].(bool)
	assert.True(t, hasRetryable)
	assert.NotEmpty(t, r.body["message"])
	for k, v := range r.body {
		assert.Contains(t, []string{"error_code", "message", "retryable", "hint", "next_action", "details"}, k)
		assert.NotNil(t, v, "null keys are omitted: %s", k)
	}
}

// TestEveryErrorCode drives each refusal of CONTRACT §7 through HTTP against
// the real database.
func TestEveryErrorCode(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	eth := e.scenario("regression", scenarioOpts{})
	run := func(mut func(map[string]any)) response {
		b := s.runBody(0)
		mut(b)
		return e.post("/inference/run", b)
	}

	t.Run("auth", func(t *testing.T) {
		r := e.do(http.MethodPost, "/inference/run", s.runBody(0), map[string]string{"X-Inference-Token": ""})
		wantError(t, r, 401, "auth_missing_token")
		r = e.do(http.MethodPost, "/inference/backfill", s.runBody(0), map[string]string{"X-Inference-Token": "wrong"})
		wantError(t, r, 401, "auth_bad_token")
	})
	t.Run("validation_failed", func(t *testing.T) {
		cases := map[string]func(map[string]any){
			"unknown field": func(b map[string]any) { b["extra"] = 1 },
			"wrong type":    func(b map[string]any) { b["symbol"] = 7 },
			"missing":       func(b map[string]any) { delete(b, "ts") },
			"bad uuid":      func(b map[string]any) { b["signal_id"] = "not-a-uuid" },
			"bad source":    func(b map[string]any) { b["source"] = "live" },
			"bad ts":        func(b map[string]any) { b["ts"] = "yesterday" },
		}
		for name, mut := range cases {
			r := run(mut)
			wantError(t, r, 422, "validation_failed")
			errs := r.body["details"].(map[string]any)["errors"].([]any)
			assert.NotEmpty(t, errs, name)
		}
		r := e.post("/inference/run", strings.Repeat(" ", 70000)+"{}")
		wantError(t, r, 422, "validation_failed")
		r = e.post("/inference/run", `{"signal_id":"x"} {"again":1}`)
		wantError(t, r, 422, "validation_failed")
		r = e.do(http.MethodPost, "/inference/run", s.runBody(0), map[string]string{"X-Agent-Name": "bad agent!"})
		wantError(t, r, 422, "validation_failed")
		b := s.backfillBody(s.start, s.start.Add(time.Hour), "stream")
		wantError(t, e.post("/inference/backfill", b), 422, "validation_failed")
	})
	t.Run("bad_interval", func(t *testing.T) {
		wantError(t, run(func(b map[string]any) { b["interval_name"] = "2h" }), 400, "bad_interval")
	})
	t.Run("bad_timestamp", func(t *testing.T) {
		wantError(t, run(func(b map[string]any) { b["ts"] = "2026-03-01T00:30:00Z" }), 400, "bad_timestamp")
	})
	t.Run("bad_window", func(t *testing.T) {
		wantError(t, e.post("/inference/backfill", s.backfillBody(s.start, s.start, "historical_replay")), 400, "bad_window")
	})
	t.Run("backfill_window_too_large", func(t *testing.T) {
		r := e.post("/inference/backfill", s.backfillBody(s.start, s.start.Add(50000*time.Hour), "historical_replay"))
		wantError(t, r, 413, "backfill_window_too_large")
		assert.EqualValues(t, 50001, r.body["details"].(map[string]any)["estimated_bars"])
		assert.EqualValues(t, 50000, r.body["details"].(map[string]any)["max_rows"])
	})
	t.Run("signal_not_found", func(t *testing.T) {
		wantError(t, run(func(b map[string]any) { b["signal_id"] = "00000000-0000-0000-0000-000000000000" }), 404, "signal_not_found")
	})
	t.Run("model_not_found", func(t *testing.T) {
		var id string
		tx, err := e.seed.Pool.Begin(t.Context())
		require.NoError(t, err)
		_, err = tx.Exec(t.Context(), `SET LOCAL session_replication_role = replica`) // skip the FK, as a dangling row would
		require.NoError(t, err)
		require.NoError(t, tx.QueryRow(t.Context(), `INSERT INTO signal_definition (name, model_id) VALUES ('orphan', gen_random_uuid()) RETURNING signal_id::text`).Scan(&id))
		require.NoError(t, tx.Commit(t.Context()))
		wantError(t, run(func(b map[string]any) { b["signal_id"] = id }), 404, "model_not_found")
	})
	t.Run("signal_retired", func(t *testing.T) {
		id := e.seed.Signal("retired_signal", s.modelID, "retired")
		wantError(t, run(func(b map[string]any) { b["signal_id"] = id }), 409, "signal_retired")
	})
	t.Run("model_lifecycle_refused", func(t *testing.T) {
		for _, status := range []string{"retired", "rejected_by_operator"} {
			m := e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: status, SHA: strings.Repeat("a", 60) + fmt.Sprintf("%04d", len(status))})
			id := e.seed.Signal("sig_"+status, m, "active")
			r := run(func(b map[string]any) { b["signal_id"] = id })
			wantError(t, r, 409, "model_lifecycle_refused")
			assert.Equal(t, status, r.body["details"].(map[string]any)["status"])
		}
	})
	t.Run("model_artifact_missing", func(t *testing.T) {
		m := e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"})
		id := e.seed.Signal("no_artifact", m, "active")
		wantError(t, run(func(b map[string]any) { b["signal_id"] = id }), 409, "model_artifact_missing")
	})
	t.Run("model_scope_mismatch", func(t *testing.T) {
		r := run(func(b map[string]any) { b["symbol"] = "ETHUSDT" })
		wantError(t, r, 409, "model_scope_mismatch")
		d := r.body["details"].(map[string]any)
		assert.Equal(t, "BTCUSDT", d["model_symbol"])
		assert.Equal(t, "ETHUSDT", d["request_symbol"])
		b := eth.runBody(0)
		b["interval_name"] = "1h"
		b["ts"] = eth.bars[0].Format(time.RFC3339)
		wantError(t, e.post("/inference/run", b), 409, "model_scope_mismatch")
	})
	t.Run("model_not_servable", func(t *testing.T) {
		d := e.scenario("derived", scenarioOpts{})
		r := e.post("/inference/run", d.runBody(0))
		wantError(t, r, 409, "model_not_servable")
		assert.Equal(t, []any{"btc_ret_x_vol"}, r.body["details"].(map[string]any)["derived_features"])
	})
	t.Run("feature_not_registered", func(t *testing.T) {
		u := e.scenario("missing_nan", scenarioOpts{symbol: "BTCUSDT", interval: "1h", skipFeature: "macro_02"})
		r := e.post("/inference/run", u.runBody(0))
		wantError(t, r, 409, "feature_not_registered")
		f := r.body["details"].(map[string]any)["features"].([]any)
		require.Len(t, f, 1)
		assert.Equal(t, "macro_02", f[0].(map[string]any)["feature"])
	})
	t.Run("feature_value_missing", func(t *testing.T) {
		b := s.runBody(0)
		b["ts"] = s.start.Add(-5 * time.Hour).Format(time.RFC3339)
		r := e.post("/inference/run", b)
		wantError(t, r, 409, "feature_value_missing")
		assert.Equal(t, true, r.body["retryable"])
		assert.NotEmpty(t, r.body["hint"])
		assert.Len(t, r.body["details"].(map[string]any)["features"], len(s.c.FeatureNames))
	})
	t.Run("signal_history_partition_missing", func(t *testing.T) {
		p := e.scenario("sklearn_classifier", scenarioOpts{start: time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC)})
		r := e.post("/inference/run", p.runBody(0))
		wantError(t, r, 409, "signal_history_partition_missing")
	})
	t.Run("artifact_file_missing", func(t *testing.T) {
		m := e.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live", SHA: strings.Repeat("0", 64)})
		id := e.seed.Signal("file_missing", m, "active")
		wantError(t, run(func(b map[string]any) { b["signal_id"] = id }), 502, "artifact_file_missing")
		b := s.backfillBody(s.start, s.start.Add(2*time.Hour), "historical_replay")
		b["signal_id"] = id
		wantError(t, e.post("/inference/backfill", b), 502, "artifact_file_missing")
	})
	t.Run("artifact_corrupt", func(t *testing.T) {
		// A malicious pickle placed under a sha the registry points at.
		hostile, err := filepath.Glob(filepath.Join(inferencetest.HostileDir(), "*", "*.pkl"))
		require.NoError(t, err)
		sha := strings.TrimSuffix(filepath.Base(hostile[0]), ".pkl")
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sha[:2]), 0o755))
		data, err := os.ReadFile(hostile[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, sha[:2], sha+".pkl"), data, 0o644))
		e2 := newEnv(t, func(c *config) { c.Inference.ArtifactDir = dir })
		m := e2.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live", SHA: sha})
		id := e2.seed.Signal("corrupt", m, "active")
		for _, path := range []string{"/inference/run", "/inference/backfill"} {
			b := s.runBody(0)
			if path == "/inference/backfill" {
				b = s.backfillBody(s.start, s.start.Add(time.Hour), "historical_replay")
			}
			b["signal_id"] = id
			r := e2.post(path, b)
			wantError(t, r, 502, "artifact_corrupt")
			assert.Contains(t, r.body["message"], "not allowed")
		}
	})
	t.Run("artifact_corrupt for a FIFO, at once", func(t *testing.T) {
		// A FIFO at the artifact path would block open() and read() forever.
		sha := strings.Repeat("c", 64)
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sha[:2]), 0o755))
		require.NoError(t, syscall.Mkfifo(filepath.Join(dir, sha[:2], sha+".pkl"), 0o644))
		e2 := newEnv(t, func(c *config) { c.Inference.ArtifactDir = dir; c.API.RunTimeout = 5 * time.Second })
		m := e2.seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live", SHA: sha})
		b := s.runBody(0)
		b["signal_id"] = e2.seed.Signal("fifo", m, "active")
		r := e2.post("/inference/run", b) // before the fix this never returned: open() blocked
		wantError(t, r, 502, "artifact_corrupt")
		assert.Contains(t, r.body["message"], "not a regular file")
	})
	t.Run("not_found and method_not_allowed", func(t *testing.T) {
		wantError(t, e.post("/inference/nope", map[string]any{}), 404, "not_found")
		wantError(t, e.do(http.MethodGet, "/", nil, nil), 404, "not_found")
		for path, allow := range map[string]string{"/inference/run": "POST", "/inference/backfill": "POST",
			"/inference/batch-predict": "POST", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD", "/streaming/status": "GET, HEAD"} {
			method := http.MethodGet
			if strings.HasPrefix(allow, "GET") {
				method = http.MethodDelete
			}
			req, err := http.NewRequest(method, e.srv.URL+path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 405, resp.StatusCode, "%s %s", method, path)
			assert.Equal(t, allow, resp.Header.Get("Allow"), path)
			wantError(t, e.do(method, path, nil, nil), 405, "method_not_allowed")
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Head(e.srv.URL + path)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, "HEAD %s", path)
		}
	})
	t.Run("far years", func(t *testing.T) {
		// On the grid in years 1 and 9999 (UnixNano is undefined there):
		// never bad_timestamp; there are simply no inputs.
		for _, ts := range []string{"0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z"} {
			r := run(func(b map[string]any) { b["ts"] = ts })
			wantError(t, r, 409, "feature_value_missing")
		}
		// The whole representable range: the exact bar count, not a
		// saturated duration's.
		b := s.backfillBody(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "historical_replay")
		r := e.post("/inference/backfill", b)
		wantError(t, r, 413, "backfill_window_too_large")
		assert.EqualValues(t, 3652058*24+1, r.body["details"].(map[string]any)["estimated_bars"])
		assert.Contains(t, r.body["message"], "87649393 bars")
	})
}
