package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
)

type panicking struct{}

func (panicking) Run(context.Context, inference.RunRequest) (*inference.RunResult, error) {
	panic("boom: secret internals")
}

func (panicking) Explain(context.Context, inference.RunRequest) (*inference.ExplainResult, error) {
	panic("boom")
}

func (panicking) Backfill(context.Context, inference.BackfillRequest) (*inference.BackfillResult, error) {
	panic("boom")
}

func (panicking) BatchPredict(context.Context, inference.BatchRequest) (*inference.BatchResult, error) {
	panic("boom")
}

func (panicking) FeatureDrift(context.Context, inference.FeatureDriftRequest) (*inference.FeatureDriftReport, error) {
	panic("boom")
}

func (panicking) SignalPerformance(context.Context, inference.PerformanceRequest) (*inference.PerformanceReport, error) {
	panic("boom")
}

func (panicking) SignalDrift(context.Context, inference.SignalDriftRequest) (*inference.SignalDriftReport, error) {
	panic("boom")
}

type okPinger struct{}

func (okPinger) Ping(context.Context) error { return nil }

// TestPanicBecomesInternalError: a panicking handler answers the envelope,
// not a dropped connection, and the panic text stays in the logs.
func TestPanicBecomesInternalError(t *testing.T) {
	cfg := Config{AuthToken: "tok", BodyLimitBytes: 1 << 16, RunTimeout: 1e9, BackfillTimeout: 1e9}
	h := NewServer(panicking{}, okPinger{}, nil, t.TempDir(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil))).Handler()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/inference/run", strings.NewReader(
		`{"signal_id":"22222222-2222-2222-2222-222222222222","symbol":"BTCUSDT","ts":"2026-01-01T00:00:00Z","interval_name":"1h"}`))
	req.Header.Set("X-Inference-Token", "tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	var env map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	assert.Equal(t, "internal_error", env["error_code"])
	assert.Equal(t, "internal error", env["message"])
	assert.Equal(t, false, env["retryable"])
}
