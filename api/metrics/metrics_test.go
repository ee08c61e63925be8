package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rfkih/blackheart-inference/inference"
)

func scrapeText(m *Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// Per-target series are replaced whole each pass: a retired target's
// series disappear instead of freezing at their last value.
func TestStreamSeriesFollowTheTargets(t *testing.T) {
	m := New(BuildInfo{Version: "v", Flavour: "cgo"}, func() PoolStats { return PoolStats{Max: 8} })
	now := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	last := now.Add(-3 * time.Hour)
	m.StreamIteration(time.Millisecond, []inference.TargetStatus{{
		Target: inference.Target{SignalID: "s1", Symbol: "BTCUSDT", Interval: inference.Interval1h},
		State:  inference.StateWaiting, LastWritten: &last, Stalled: make([]inference.StalledBar, 2),
	}}, now)
	text := scrapeText(m)
	assert.Contains(t, text, `blackheart_inference_streaming_lag_seconds{interval="1h",signal_id="s1",symbol="BTCUSDT"} 7200`)
	assert.Contains(t, text, `blackheart_inference_streaming_stalled_bars{interval="1h",signal_id="s1",symbol="BTCUSDT"} 2`)
	assert.Contains(t, text, `state="waiting",symbol="BTCUSDT"} 1`)
	assert.Contains(t, text, `state="error",symbol="BTCUSDT"} 0`)
	assert.Contains(t, text, "blackheart_inference_db_pool_max_connections 8")

	m.StreamIteration(time.Millisecond, nil, now)
	text = scrapeText(m)
	assert.NotContains(t, text, `signal_id="s1"`, "the retired target's series are gone")
	assert.Contains(t, text, "blackheart_inference_streaming_iterations_total 2")
}

func TestModelLoadErrorsCountByCode(t *testing.T) {
	m := New(BuildInfo{}, nil)
	m.ModelLoaded(time.Millisecond, inference.Errorf(inference.CodeArtifactCorrupt, "x"))
	m.ModelLoaded(time.Millisecond, nil)
	text := scrapeText(m)
	assert.Contains(t, text, `blackheart_inference_artifact_errors_total{error_code="artifact_corrupt"} 1`)
	assert.Contains(t, text, "blackheart_inference_model_load_duration_seconds_count 2")
	assert.False(t, strings.Contains(text, "db_pool"), "no pool collector without a pool")
}
