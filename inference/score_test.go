package inference

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func scoringService(st Store) *Service {
	return NewService(st, nil, Config{}, func() time.Time { return testNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func resolvedFor(objective string, m Model) *resolved {
	art := &Artifact{SHA: "abc", Payload: &Payload{Objective: objective, Spec: Spec{Name: "spec"}}, InputFeatures: []string{"x"}}
	return &resolved{
		signal: Signal{ID: "sig"}, model: ModelRecord{ID: "model", Status: ModelLive},
		lm: &LoadedModel{Artifact: art, Model: m}, plan: &featurePlan{columns: []string{"x"}},
	}
}

func TestWriteBarsIsOnePredictionAndOneUpsert(t *testing.T) {
	st := newMemStore()
	s := scoringService(st)
	m := &echoModel{out: []float64{0.2, 0.3, 0.5}}
	bars := []time.Time{testNow, testNow.Add(time.Hour)}
	b := barBatch{bars: bars, rows: []float64{1, 2}, sources: []Source{SourceCatchupScan, SourceStream}}
	w, err := s.writeBars(context.Background(), resolvedFor(ObjectiveMulticlass, m), "BTCUSDT", b, map[string]any{"compute_run_id": "c"}, "agent")
	require.NoError(t, err)
	assert.Equal(t, 1, m.batched, "several bars: one batch call")
	require.Len(t, st.upserted, 1, "one atomic upsert")
	rows := st.upserted[0]
	require.Len(t, rows, 2)
	assert.Equal(t, w.rows, rows)
	r := rows[1]
	assert.Equal(t, SourceStream, r.Source)
	assert.InDelta(t, 0.3, r.Value, 1e-15, "D8: P(+1) − P(−1)")
	assert.Equal(t, 0.5, *r.Confidence)
	assert.Equal(t, 1, r.Meta["argmax_class"])
	assert.Equal(t, "c", r.Meta["compute_run_id"])
	assert.Equal(t, "live", r.Meta["model_status_at_inference"])
	assert.Equal(t, testNow, r.ProducedAt)

	m1 := &echoModel{out: []float64{0.7}}
	_, err = s.writeBars(context.Background(), resolvedFor(ObjectiveBinary, m1), "BTCUSDT",
		barBatch{bars: bars[:1], rows: []float64{1}, sources: []Source{SourceStream}}, nil, "agent")
	require.NoError(t, err)
	assert.Equal(t, 1, m1.single, "one bar: the single-row path")
	assert.Equal(t, 0.7, st.upserted[1][0].Value)
}

func TestWriteBarsRefusesWhatItCannotWrite(t *testing.T) {
	s := scoringService(newMemStore())
	one := barBatch{bars: []time.Time{testNow}, rows: []float64{1}, sources: []Source{SourceStream}}
	_, err := s.writeBars(context.Background(), resolvedFor(ObjectiveBinary, &echoModel{out: []float64{nan}}), "BTCUSDT", one, nil, "a")
	assert.Equal(t, CodeInternal, ErrorCode(err), "a non-finite value is never written")
	_, err = s.writeBars(context.Background(), resolvedFor(ObjectiveMulticlass, &echoModel{out: []float64{0.5, 0.5}}), "BTCUSDT", one, nil, "a")
	assert.Equal(t, CodeModelNotServable, ErrorCode(err), "multiclass signals need three classes")
	w, err := s.writeBars(context.Background(), resolvedFor(ObjectiveBinary, &echoModel{out: []float64{1}}), "BTCUSDT", barBatch{}, nil, "a")
	require.NoError(t, err)
	assert.Empty(t, w.rows, "nothing ready: nothing written")
}
