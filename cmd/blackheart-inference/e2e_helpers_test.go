package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// cluster is this package's throwaway PostgreSQL (see TestMain).
var cluster *storagetest.Cluster

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m, &cluster)) }

const testToken = "e2e-token-0123456789abcdef0123456789"

// fixedNow is the injected clock: produced_at and completed_at come from it.
var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// testEnv is one service over one fresh database, served by httptest.
type testEnv struct {
	t    testing.TB
	seed *storagetest.Seed
	srv  *httptest.Server
	app  *app
	cfg  config
	logs *logBuffer // nil when the env's logs are not kept
}

func newTestEnv(t testing.TB, dsn string, mods ...func(*config)) *testEnv {
	t.Helper()
	cfg, err := parseConfig(map[string]string{})
	require.NoError(t, err)
	cfg.Storage.DSN = dsn
	cfg.Storage.ConnectTimeout = 2 * time.Second
	cfg.Inference.ArtifactDir = inferencetest.ArtifactDir()
	cfg.API.AuthToken = testToken
	for _, m := range mods {
		m(&cfg)
	}
	logs := &logBuffer{}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)), func() time.Time { return fixedNow })
	require.NoError(t, err)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() { srv.Close(); a.close() })
	return &testEnv{t: t, seed: storagetest.NewSeed(t, dsn), srv: srv, app: a, cfg: cfg, logs: logs}
}

// logBuffer keeps a service's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the log lines whose msg is msg.
func (b *logBuffer) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func newEnv(t *testing.T, mods ...func(*config)) *testEnv {
	return newTestEnv(t, cluster.NewDatabase(t), mods...)
}

type response struct {
	status int
	body   map[string]any
	raw    []byte
}

func (e *testEnv) do(method, path string, body any, headers map[string]string) response {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(e.t, err)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(raw))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Inference-Token", testToken)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	if _, bench := e.t.(*testing.B); !bench { // benchmarks measure the service, not the validator
		checkContract(e.t, req, raw, resp.StatusCode, resp.Header, got)
	}
	out := response{status: resp.StatusCode, raw: got}
	if len(got) > 0 && resp.Header.Get("Content-Type") == "application/json" {
		require.NoError(e.t, json.Unmarshal(got, &out.body), string(got))
	}
	return out
}

func (e *testEnv) post(path string, body any) response { return e.do(http.MethodPost, path, body, nil) }

// scenario is a golden model served as a signal, with the model's decimal
// golden rows stored as features at consecutive bars from start.
type scenario struct {
	c        inferencetest.Case
	art      *inference.Artifact
	signalID string
	modelID  string
	symbol   string
	interval inference.Interval
	start    time.Time
	bars     []time.Time // bar i holds golden row c.DecimalRows[i]
	versions map[string]int
}

type scenarioOpts struct {
	symbol, interval string
	start            time.Time
	global           map[string]int // feature -> max_ffill_age_hours (0 = NULL: 168 h)
	globalLag        time.Duration  // global values sit this long before each bar
	decoyVersion     bool           // also register version+1 with different values
	skipFeature      string         // never register this feature
	modelStatus      string
	signalStatus     string
}

func (e *testEnv) scenario(name string, o scenarioOpts) *scenario {
	e.t.Helper()
	c := inferencetest.CaseNamed(e.t, name)
	store := inferencetest.Store()
	art, err := store.Load(context.Background(), c.SHA)
	require.NoError(e.t, err)
	if o.symbol == "" {
		o.symbol = art.Payload.Spec.Symbol
	}
	if o.interval == "" {
		o.interval = art.Payload.Spec.Interval
	}
	if o.start.IsZero() {
		o.start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.modelStatus == "" {
		o.modelStatus = "live"
	}
	if o.signalStatus == "" {
		o.signalStatus = "active"
	}
	iv, err := inference.ParseInterval(o.interval)
	require.NoError(e.t, err)
	s := &scenario{c: c, art: art, symbol: o.symbol, interval: iv, start: o.start, versions: map[string]int{}}
	s.modelID = e.seed.Model(storagetest.Model{Symbol: o.symbol, Interval: o.interval, Status: o.modelStatus, SHA: c.SHA})
	s.signalID = e.seed.Signal(name+"_signal", s.modelID, o.signalStatus)
	for i := range c.DecimalRows {
		s.bars = append(s.bars, o.start.Add(time.Duration(i)*iv.Duration()))
	}
	for col, f := range art.InputFeatures {
		if f == "interval_indicator" && len(art.Payload.Spec.TrainingIntervals) > 1 {
			continue
		}
		if f == o.skipFeature {
			continue
		}
		v := 1
		if pinned, ok := art.Payload.FeatureVersions[f]; ok {
			v = pinned
		}
		s.versions[f] = v
		vals := make([]float64, len(c.DecimalRows))
		for i, r := range c.DecimalRows {
			vals[i] = c.Inputs[r][col]
		}
		maxAge, global := o.global[f]
		e.seed.Feature(storagetest.Feature{Name: f, Version: v, PerBar: !global, Ffill: map[bool]string{true: "last_value"}[global], MaxAgeHours: maxAge})
		if global {
			ts := make([]time.Time, len(s.bars))
			for i, b := range s.bars {
				ts[i] = b.Add(-o.globalLag)
			}
			e.seed.Values(f, v, "", "", ts, vals)
		} else {
			e.seed.Values(f, v, o.symbol, o.interval, s.bars, vals)
		}
		if o.decoyVersion {
			decoy := make([]float64, len(vals))
			for i := range decoy {
				decoy[i] = 1000 + float64(i)
			}
			e.seed.Feature(storagetest.Feature{Name: f, Version: v + 1, PerBar: true})
			e.seed.Values(f, v+1, o.symbol, o.interval, s.bars, decoy)
		}
	}
	return s
}

func (s *scenario) runBody(bar int) map[string]any {
	return map[string]any{
		"signal_id": s.signalID, "symbol": s.symbol, "ts": s.bars[bar].Format(time.RFC3339),
		"interval_name": string(s.interval), "source": "stream",
	}
}

// backfillBody replays [start, end). The golden models were trained on
// 2024-12-01 .. 2026-05-31, which holds a scenario's default bars: these
// suites test values, not honesty, so they say they mean a look-ahead
// replay ("lookahead": "allow"; vintage_e2e_test.go tests the refusal).
func (s *scenario) backfillBody(start, end time.Time, source string) map[string]any {
	return map[string]any{
		"signal_id": s.signalID, "symbol": s.symbol, "interval_name": string(s.interval),
		"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339), "source": source, "lookahead": "allow",
	}
}

// want is Python's prediction for bar i.
func (s *scenario) want(bar int) []float64 { return s.c.Predict[s.c.DecimalRows[bar]] }
