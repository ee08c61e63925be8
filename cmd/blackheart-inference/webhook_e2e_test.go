package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// featureServiceCall is exactly what Blackheart's feature service sends after
// every bar-close compute (CONTRACT §8): the literal body, the token header,
// the Content-Type its HTTP client sets for a JSON body and nothing else (no
// X-Agent-Name), a 30 s timeout, and any non-2xx answer is a failure.
func featureServiceCall(t *testing.T, baseURL string) response {
	t.Helper()
	const body = `{"compute_run_id": "bar_event"}`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/inference/batch-predict", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Inference-Token", testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err, "the feature service's call must be answered within its 30 s timeout")
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkContract(t, req, []byte(body), resp.StatusCode, resp.Header, got)
	require.True(t, resp.StatusCode >= 200 && resp.StatusCode < 300, "the feature service treats %d as failure: %s", resp.StatusCode, got)
	return response{status: resp.StatusCode, raw: got}
}

// batchScenario is the golden binary model served as a signal, and a
// service whose clock stands after its bars, as batch-predict needs.
func batchScenario(t *testing.T) (*scenario, *testEnv) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	return s, streamServer(t, e, time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC))
}

// streamServer serves e's database with a streaming-enabled service at now.
func streamServer(t *testing.T, e *testEnv, now time.Time) *testEnv {
	clock := &testClock{}
	clock.Set(now)
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, srv: srv, seed: e.seed}
}

// TestBatchPredictFeatureServiceWebhook: the bar-close webhook as the feature
// service really sends it is accepted, and "bar_event" lands verbatim in
// meta.compute_run_id with the default agent.
func TestBatchPredictFeatureServiceWebhook(t *testing.T) {
	s, e := batchScenario(t)

	featureServiceCall(t, e.srv.URL)
	rows := e.seed.History(s.signalID)
	require.Len(t, rows, 1)
	assert.True(t, rows[0].TS.Equal(s.bars[len(s.bars)-1]), "the newest ready bar")
	assert.Equal(t, "stream", rows[0].Source)
	assert.Equal(t, "bar_event", rows[0].Meta["compute_run_id"])
	assert.Equal(t, "anonymous", rows[0].CreatedBy)
	bitsEqual(t, s.want(len(s.bars) - 1)[0], rows[0].Value, s.c.Name)
}

// TestBatchPredictComputeRunID: compute_run_id is an opaque label of 1-128
// printable ASCII characters, stored exactly as given; anything else is
// validation_failed naming the field, and nothing is written.
func TestBatchPredictComputeRunID(t *testing.T) {
	s, e := batchScenario(t)

	for _, bad := range []any{"", strings.Repeat("x", 129), "bar\nevent", "bar\x00event", "bär_event", "\x7f", 42, nil} {
		r := e.post("/inference/batch-predict", map[string]any{"compute_run_id": bad})
		wantError(t, r, http.StatusUnprocessableEntity, "validation_failed")
		errs, _ := r.body["details"].(map[string]any)["errors"].([]any)
		require.Len(t, errs, 1, "%q: %s", bad, r.raw)
		assert.Equal(t, "compute_run_id", errs[0].(map[string]any)["field"], "%q", bad)
	}
	assert.Empty(t, e.seed.History(s.signalID), "a refused call writes nothing")

	for _, good := range []string{"bar_event", " padded label ", "44444444-4444-4444-4444-444444444444", strings.Repeat("~", 128)} {
		r := e.post("/inference/batch-predict", map[string]any{"compute_run_id": good})
		require.Equal(t, http.StatusOK, r.status, "%q: %s", good, r.raw)
		rows := e.seed.History(s.signalID)
		require.Len(t, rows, 1)
		assert.Equal(t, good, rows[0].Meta["compute_run_id"], "stored exactly as given")
	}
}
