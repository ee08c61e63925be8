package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/native"
)

// scrape reads /metrics and returns every sample as "name{labels}" → value,
// labels sorted as the exposition writes them.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsMoveWithTraffic scrapes /metrics around real requests against
// PostgreSQL.
func TestMetricsMoveWithTraffic(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	before := scrape(t, e.srv.URL)
	assert.Equal(t, 1.0, before["blackheart_inference_build_info{flavour="+native.Flavor+",go="+runtime.Version()+",lightgbm="+buildInfo().LightGBM+",version=dev,xgboost="+buildInfo().XGBoost+"}"])
	assert.Contains(t, before, "blackheart_inference_db_pool_max_connections{}")
	assert.Contains(t, before, "go_goroutines{}")
	assert.Equal(t, 1.0, before["blackheart_inference_ready{}"], "the /readyz checks hold")

	refused := s.runBody(0)
	refused["ts"] = s.start.Add(-5 * time.Hour).Format(time.RFC3339)
	wantError(t, e.post("/inference/run", refused), 409, "feature_value_missing")
	require.Equal(t, http.StatusOK, e.post("/inference/run", s.runBody(0)).status) // loads the model: a miss
	require.Equal(t, http.StatusOK, e.post("/inference/run", s.runBody(1)).status) // a hit
	r := e.post("/inference/backfill", s.backfillBody(s.bars[0], s.bars[3].Add(time.Hour), "historical_replay"))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	e.do(http.MethodGet, "/no/such/path", nil, nil)

	after := scrape(t, e.srv.URL)
	delta := func(key string) float64 { return after[key] - before[key] }
	assert.Equal(t, 1.0, delta("blackheart_inference_requests_total{error_code=feature_value_missing,method=POST,route=/inference/run,status=409}"))
	assert.Equal(t, 2.0, delta("blackheart_inference_requests_total{error_code=,method=POST,route=/inference/run,status=200}"))
	assert.Equal(t, 1.0, delta("blackheart_inference_requests_total{error_code=not_found,method=GET,route=unmatched,status=404}"),
		"an unknown path is one bounded label, never the raw path")
	assert.Equal(t, 3.0, delta("blackheart_inference_request_duration_seconds{route=/inference/run}_count"))
	assert.GreaterOrEqual(t, delta("blackheart_inference_model_cache_misses_total{}"), 1.0)
	assert.GreaterOrEqual(t, delta("blackheart_inference_model_cache_hits_total{}"), 1.0, "a hit after the miss")
	assert.Equal(t, 1.0, after["blackheart_inference_model_cache_models{}"])
	assert.Equal(t, 4.0, delta("blackheart_inference_backfill_rows_total{result=written}"))
	assert.Equal(t, 2.0, delta("blackheart_inference_signal_rows_written_total{source=stream}"))
	assert.Equal(t, 4.0, delta("blackheart_inference_signal_rows_written_total{source=historical_replay}"))
	assert.Equal(t, 6.0, delta("blackheart_inference_predicted_rows_total{kind=booster}"))
	assert.Equal(t, 3.0, delta("blackheart_inference_prediction_duration_seconds{flavour="+native.Flavor+",kind=booster}_count"))
	for k := range after {
		assert.NotContains(t, k, "/no/such/path", "raw paths never become label values")
	}
}

// TestStreamingLagFallsWhenTheBarIsWritten: the lag gauge of a target is
// now minus the close of its newest written bar.
func TestStreamingLagFallsWhenTheBarIsWritten(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	clock := &testClock{}
	clock.Set(s.bars[5].Add(30 * time.Minute))
	held := "CREATE TABLE held AS SELECT * FROM feature_values WHERE ts >= $1; DELETE FROM feature_values WHERE ts >= $1"
	for _, q := range strings.Split(held, "; ") {
		e.seed.Exec(q, s.bars[4])
	}
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	srv := newHandlerServer(t, a)
	ctx := context.Background()
	a.worker.RunOnce(ctx) // bars 0..3 written; 4 and 5 wait for their inputs
	key := "blackheart_inference_streaming_lag_seconds{interval=1h,signal_id=" + s.signalID + ",symbol=" + s.symbol + "}"
	lag := scrape(t, srv)[key]
	assert.Equal(t, (90 * time.Minute).Seconds(), lag, "now (bar 5 + 30 min) − close of bar 3")
	assert.Equal(t, 1.0, scrape(t, srv)["blackheart_inference_streaming_target_state{interval=1h,signal_id="+s.signalID+",state=written,symbol="+s.symbol+"}"])
	assert.Equal(t, 0.0, scrape(t, srv)["blackheart_inference_streaming_target_state{interval=1h,signal_id="+s.signalID+",state=error,symbol="+s.symbol+"}"])

	e.seed.Exec(`INSERT INTO feature_values SELECT * FROM held`)
	a.worker.RunOnce(ctx)
	after := scrape(t, srv)
	assert.Equal(t, 0.0, after[key], "bar 5 is written and still open")
	assert.Equal(t, 1.0, after["blackheart_inference_streaming_target_state{interval=1h,signal_id="+s.signalID+",state=written,symbol="+s.symbol+"}"])
	assert.Equal(t, 2.0, after["blackheart_inference_streaming_iterations_total{}"])
}

// wantEvaluators is what each build must say evaluates its models, written
// out here rather than read from the code under test.
func wantEvaluators() (lightgbm, xgboost string) {
	if native.Flavor == "cgo" {
		return "lib_lightgbm 4.7.0", "libxgboost 3.2.0"
	}
	return "goeval 4.7.0-exact", "goeval 3.2.0-exact"
}

// TestBuildLabels: --version, the start-up line and build_info name what
// really evaluates the models in this build (both builds run this test).
func TestBuildLabels(t *testing.T) {
	lgb, xgb := wantEvaluators()
	out, err := runCmd(t, "", "--version")
	require.NoError(t, err)
	assert.Equal(t, "blackheart-inference dev ("+native.Flavor+" build; lightgbm: "+lgb+", xgboost: "+xgb+"; "+runtime.Version()+")\n", out)
	assert.NotContains(t, out, "leaves")

	addr, logs, stop := startServeLogged(t, serveEnv(t, nil))
	defer stop()
	m := scrape(t, "http://"+addr)
	assert.Equal(t, 1.0, m["blackheart_inference_build_info{flavour="+native.Flavor+",go="+runtime.Version()+",lightgbm="+lgb+",version=dev,xgboost="+xgb+"}"], "%v", m)
	started := false
	for _, rec := range logs() {
		if rec["msg"] == "starting" {
			started = true
			assert.Equal(t, lgb, rec["lightgbm"])
			assert.Equal(t, xgb, rec["xgboost"])
			assert.Equal(t, native.Flavor, rec["flavor"])
		}
	}
	assert.True(t, started, "the start-up line was logged")
}

func TestVersionAndPprof(t *testing.T) {

	_, logs, stop := startServeLogged(t, serveEnv(t, map[string]string{"INFERENCE_PPROF_ADDR": "127.0.0.1:0"}))
	var addr string
	for _, rec := range logs() {
		if rec["msg"] == "pprof listening" {
			addr, _ = rec["addr"].(string)
		}
		if rec["msg"] == "starting" {
			assert.Equal(t, buildInfo().LightGBM, rec["lightgbm"], "the start line names the native libraries")
		}
	}
	require.NotEmpty(t, addr, "pprof listens on its own loopback listener")
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine")
	require.NoError(t, stop())
}

func newHandlerServer(t *testing.T, a *app) string {
	t.Helper()
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestOpenAPIIsServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	paths, _ := r.body["paths"].(map[string]any)
	for _, p := range []string{"/healthz", "/readyz", "/inference/run", "/inference/backfill", "/inference/batch-predict",
		"/streaming/status", "/openapi.json", "/metrics"} {
		assert.Contains(t, paths, p)
	}
	wantError(t, e.do(http.MethodGet, "/openapi.json", nil, map[string]string{"X-Inference-Token": ""}), 401, "auth_missing_token")
}
