package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// A fleet: distinct models on the demo's inputs from testdata/fleet/fleet.py
// (real Python LightGBM), with their Booster.predict bits on its bars.
type fleet struct {
	Dir    string
	Inputs []string `json:"inputs"`
	Models []struct {
		Name    string   `json:"name"`
		SHA     string   `json:"sha"`
		Predict []string `json:"predict"`
	} `json:"models"`
	Bars []struct {
		TS     time.Time `json:"ts"`
		Values []float64 `json:"values"`
	} `json:"bars"`
}

var (
	fleetOnce sync.Once
	fleetOf   *fleet
	fleetErr  error
)

// fleetModels is 25 models of 20 trees over 8 inputs and 30 bars ending at
// fixedNow, generated once per test binary: more models than the old cache
// held (16), and one spare to replace a model with.
func fleetModels(t *testing.T) *fleet {
	t.Helper()
	fleetOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fleet")
		if err != nil {
			fleetErr = err
			return
		}
		root := filepath.Join(inferencetest.Dir(), "..", "..")
		py := filepath.Join(root, ".venv", "bin", "python")
		out, err := exec.Command(py, filepath.Join(root, "testdata", "fleet", "fleet.py"), dir,
			"--count", "25", "--bars", "30", "--last", fixedNow.Format(time.RFC3339)).CombinedOutput()
		if err != nil {
			fleetErr = fmt.Errorf("fleet.py (the pinned venv is part of make test's set-up): %v: %s", err, out)
			return
		}
		raw, err := os.ReadFile(filepath.Join(dir, "fleet.json"))
		if err == nil {
			fleetOf = &fleet{Dir: dir}
			err = json.Unmarshal(raw, fleetOf)
		}
		fleetErr = err
	})
	require.NoError(t, fleetErr)
	return fleetOf
}

// fleetEnv is a streaming service over the fleet's first n models, one
// active signal each, with the fleet's inputs up to and excluding the
// newest bar (the bar that closes in the test).
type fleetEnv struct {
	f       *fleet
	seed    *storagetest.Seed
	app     *app
	srv     *httptest.Server
	logs    *logBuffer
	clock   *testClock
	signals []string // signal ids, by model
}

func newFleetEnv(t *testing.T, n int, mods ...func(*config)) *fleetEnv {
	f := fleetModels(t)
	dsn := cluster.NewDatabase(t)
	e := &fleetEnv{f: f, seed: storagetest.NewSeed(t, dsn), logs: &logBuffer{}, clock: &testClock{}}
	e.clock.Set(fixedNow.Add(-30 * time.Minute)) // the bar before the last is the newest due
	for _, name := range f.Inputs {
		e.exec(t, `INSERT INTO feature_registry (feature_name, version, family, transformer_ref, inputs, symbols, intervals, pit_safe)
			VALUES ($1, 1, 'momentum', 'fleet', '{}', ARRAY['BTCUSDT'], ARRAY['1h'], true)`, name)
	}
	for k := range f.Bars[:len(f.Bars)-1] {
		e.landBar(t, k)
	}
	for i := 0; i < n; i++ {
		e.signals = append(e.signals, e.addModel(t, i, fmt.Sprintf("fleet_signal_%02d", i)))
	}
	cfg, err := parseConfig(map[string]string{})
	require.NoError(t, err)
	cfg.Storage.DSN = dsn
	cfg.Inference.ArtifactDir = filepath.Join(f.Dir, "artifacts")
	cfg.API.AuthToken = testToken
	cfg.Inference.Stream = inference.StreamConfig{Enabled: true, PollSeconds: 1, MaxGapHours: 48,
		Concurrency: cfg.Inference.Stream.Concurrency, GroupSize: cfg.Inference.Stream.GroupSize}
	for _, m := range mods {
		m(&cfg)
	}
	e.app, err = newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(e.logs, nil)), e.clock.Now)
	require.NoError(t, err)
	e.srv = httptest.NewServer(e.app.handler)
	t.Cleanup(func() { e.srv.Close(); e.app.close() })
	return e
}

func (e *fleetEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	_, err := e.seed.Pool.Exec(context.Background(), q, args...)
	require.NoError(t, err)
}

// addModel registers fleet model i and an active signal on it.
func (e *fleetEnv) addModel(t *testing.T, i int, signal string) string {
	t.Helper()
	var id string
	require.NoError(t, e.seed.Pool.QueryRow(context.Background(), `
		WITH m AS (INSERT INTO model_registry (family, purpose, symbol, interval, horizon_bars, feature_set, random_seed,
		                                       artifact_uri, artifact_sha256, status, version)
		           VALUES ('lightgbm', 'directional', 'BTCUSDT', '1h', 4, '{"names": []}', 7, 'file:///not/read', $1, 'live', $2)
		           RETURNING id)
		INSERT INTO signal_definition (name, model_id, status) SELECT $3, id, 'active' FROM m RETURNING signal_id::text`,
		e.f.Models[i].SHA, i+1, signal).Scan(&id))
	return id
}

// landBar writes every input of the fleet's bar k in one commit.
func (e *fleetEnv) landBar(t *testing.T, k int) {
	t.Helper()
	b := e.f.Bars[k]
	for j, name := range e.f.Inputs {
		e.exec(t, `INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
			VALUES ($1, 1, 'BTCUSDT', '1h', $2, $3::numeric, '33333333-3333-3333-3333-333333333333')`,
			name, b.TS, strconv.FormatFloat(b.Values[j], 'f', -1, 64))
	}
}

// loads is how many artifacts the service has loaded (model_load_duration_seconds' count).
func (e *fleetEnv) loads(t *testing.T) float64 {
	return scrape(t, e.srv.URL)["blackheart_inference_model_load_duration_seconds{}_count"]
}

// ready waits for /readyz to report the working set's state.
func (e *fleetEnv) ready(t *testing.T) map[string]any {
	t.Helper()
	var body map[string]any
	require.Eventually(t, func() bool {
		resp, err := http.Get(e.srv.URL + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		body = nil
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return body["model_working_set"] != nil && body["model_working_set"] != "loading"
	}, 30*time.Second, 20*time.Millisecond)
	return body
}

// rowAt checks that signal i's row at bar k holds model m's Python bits.
func (e *fleetEnv) rowAt(t *testing.T, i, m, k int) {
	t.Helper()
	ts := e.f.Bars[k].TS
	for _, r := range e.seed.History(e.signals[i]) {
		if r.TS.Equal(ts) {
			assert.Equal(t, e.f.Models[m].Predict[k], fmt.Sprintf("%016x", math.Float64bits(r.Value)),
				"signal %d at %s: Python's Booster.predict bits of its model", i, ts)
			assert.Equal(t, e.f.Models[m].SHA, r.Meta["artifact_sha256"])
			return
		}
	}
	t.Errorf("signal %d has no row at %s", i, ts)
}

// TestBarCloseOverManyModelsLoadsNothingAtTheClose: 24 signals, each on a
// model of its own (more than the old cache's 16): the models load once,
// before the bar is due, and the close writes every row with no load, each
// row Python's bits of its own model.
func TestBarCloseOverManyModelsLoadsNothingAtTheClose(t *testing.T) {
	e := newFleetEnv(t, 24)
	ctx := context.Background()
	e.app.worker.RunOnce(ctx) // the catch-up: 24 × 28 bars
	body := e.ready(t)
	assert.Equal(t, "loaded", body["model_working_set"])
	assert.Equal(t, "24 held of 24", body["model_working_set_models"])
	assert.EqualValues(t, 24, e.loads(t), "each model loaded once")
	m := scrape(t, e.srv.URL)
	assert.EqualValues(t, 24, m["blackheart_inference_model_working_set_held_models{}"])
	assert.Positive(t, m["blackheart_inference_model_cache_bytes{}"])
	assert.LessOrEqual(t, m["blackheart_inference_model_cache_bytes{}"], m["blackheart_inference_model_cache_budget_bytes{}"])

	last := len(e.f.Bars) - 1
	e.landBar(t, last)
	e.clock.Set(fixedNow.Add(30 * time.Minute))
	c := e.app.worker.RunOnce(ctx)
	assert.Equal(t, 24, c.Written)
	assert.EqualValues(t, 24, e.loads(t), "nothing loads at the bar close")
	for i := range e.signals {
		e.rowAt(t, i, i, last)
		e.rowAt(t, i, i, last-1)
	}
}

// TestWorkingSetOverBudgetSaysSoAndWritesEveryRow: a budget that holds
// about a third of the working set is reported (log, metric, /readyz) and
// every row is still written, with its own model's bits. How many models a
// budget holds depends on each one's measured size, which varies by the
// few kilobytes a concurrent prediction allocates meanwhile; what must hold
// whatever the count is asserted.
func TestWorkingSetOverBudgetSaysSoAndWritesEveryRow(t *testing.T) {
	probe := newFleetEnv(t, 1)
	probe.app.worker.RunOnce(context.Background())
	probe.ready(t)
	one := probe.app.cache.Stats().Bytes
	require.Positive(t, one)

	e := newFleetEnv(t, 24, func(c *config) { c.Inference.ModelCacheBytes = inference.ByteSize(8*one + one/2) })
	ctx := context.Background()
	e.app.worker.RunOnce(ctx)
	body := e.ready(t)
	assert.Equal(t, "over_budget", body["model_working_set"])
	assert.Equal(t, http.StatusOK, readyStatus(t, e.srv.URL), "served, and said")
	st := e.app.cache.Stats()
	assert.Positive(t, st.WorkingSetHeld, "the budget holds some")
	assert.Positive(t, st.OverBudget, "and not all")
	assert.Equal(t, 24, st.WorkingSetHeld+st.OverBudget, "each model of the working set is held or said to be over")
	assert.LessOrEqual(t, st.Bytes, st.Budget)
	assert.Equal(t, fmt.Sprintf("%d held of 24", st.WorkingSetHeld), body["model_working_set_models"])
	assert.EqualValues(t, st.OverBudget, scrape(t, e.srv.URL)["blackheart_inference_model_working_set_over_budget_models{}"])
	logged := e.logs.records(t, "model cache: the working set does not fit INFERENCE_MODEL_CACHE_BYTES; the models not held load at every use")
	require.NotEmpty(t, logged)
	assert.EqualValues(t, st.OverBudget, logged[len(logged)-1]["not_held"])

	last := len(e.f.Bars) - 1
	e.landBar(t, last)
	e.clock.Set(fixedNow.Add(30 * time.Minute))
	before := e.loads(t)
	c := e.app.worker.RunOnce(ctx)
	assert.Equal(t, 24, c.Written, "every row, over budget or not")
	assert.EqualValues(t, st.OverBudget, e.loads(t)-before, "the models not held load for their bar; those held do not")
	for i := range e.signals {
		e.rowAt(t, i, i, last)
	}
}

func readyStatus(t *testing.T, url string) int {
	resp, err := http.Get(url + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRetrainedModelTakesOverWithoutAMissingBar: a signal moved to a
// retrained model (a new artifact) is served by it from the next bar on:
// the new model loads at the poll that sees it, before the bar, and no bar
// is missing between the two models' rows.
func TestRetrainedModelTakesOverWithoutAMissingBar(t *testing.T) {
	e := newFleetEnv(t, 4)
	ctx := context.Background()
	last := len(e.f.Bars) - 1
	e.clock.Set(fixedNow.Add(-90 * time.Minute)) // two bars before the last are the newest due
	e.app.worker.RunOnce(ctx)
	e.ready(t)

	// The retrain: signal 0 moves to model 24 between two bars.
	var model string
	require.NoError(t, e.seed.Pool.QueryRow(ctx, `INSERT INTO model_registry (family, purpose, symbol, interval, horizon_bars,
		feature_set, random_seed, artifact_uri, artifact_sha256, status, version)
		VALUES ('lightgbm', 'directional', 'BTCUSDT', '1h', 4, '{"names": []}', 7, 'file:///not/read', $1, 'live', 100)
		RETURNING id::text`, e.f.Models[24].SHA).Scan(&model))
	e.exec(t, `UPDATE signal_definition SET model_id = $1 WHERE signal_id = $2`, model, e.signals[0])
	e.app.worker.RunOnce(ctx) // a poll between bars: nothing due, the new model loads
	require.Eventually(t, func() bool { return e.loads(t) == 5 }, 10*time.Second, 10*time.Millisecond, "the new model loads ahead of its bar")

	e.landBar(t, last)
	e.clock.Set(fixedNow.Add(30 * time.Minute))
	c := e.app.worker.RunOnce(ctx)
	assert.Equal(t, 8, c.Written, "two bars for each of four signals")
	assert.EqualValues(t, 5, e.loads(t), "nothing loads at the bar close")
	e.rowAt(t, 0, 0, last-2)  // the old model's last bar
	e.rowAt(t, 0, 24, last-1) // the new model's, with no bar between missing
	e.rowAt(t, 0, 24, last)
	for i := 1; i < 4; i++ {
		e.rowAt(t, i, i, last)
	}
}

// TestAGroupOfManyModelsWritesAroundOneThatFails: signals on different
// models are caught up as one group (one lock statement, one upsert); a
// member whose model cannot load is caught up alone, and refused, while
// every other member's rows are written with its own model's bits.
func TestAGroupOfManyModelsWritesAroundOneThatFails(t *testing.T) {
	e := newFleetEnv(t, 4)
	ctx := context.Background()
	var broken string
	require.NoError(t, e.seed.Pool.QueryRow(ctx, `
		WITH m AS (INSERT INTO model_registry (family, purpose, symbol, interval, horizon_bars, feature_set, random_seed,
		                                       artifact_uri, artifact_sha256, status, version)
		           VALUES ('lightgbm', 'directional', 'BTCUSDT', '1h', 4, '{"names": []}', 7, 'file:///not/read', $1, 'live', 99)
		           RETURNING id)
		INSERT INTO signal_definition (name, model_id, status) SELECT 'fleet_broken', id, 'active' FROM m RETURNING signal_id::text`,
		strings.Repeat("f", 64)).Scan(&broken))
	c := e.app.worker.RunOnce(ctx)
	assert.Equal(t, 1, c.Errors, "the member without its artifact")
	assert.Equal(t, 4*(len(e.f.Bars)-1), c.Written, "the others' bars: all but the last, not landed yet")
	for i := range e.signals {
		e.rowAt(t, i, i, len(e.f.Bars)-2)
		e.rowAt(t, i, i, 0)
	}
	assert.Empty(t, e.seed.History(broken))
	for _, st := range e.app.worker.Status().Targets {
		if st.SignalID == broken {
			assert.Equal(t, inference.StateError, st.State)
			assert.Contains(t, st.LastError, "artifact_file_missing")
		}
	}
}
