package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rfkih/blackheart-inference/inference"
)

// allStates are exported on every target, 1 for its state and 0 otherwise,
// so an alert can match state="error" without knowing the others.
var allStates = []inference.TargetState{inference.StateUpToDate, inference.StateWritten, inference.StateWaiting,
	inference.StateGapTooLarge, inference.StateLocked, inference.StateError}

// streamSeries are the worker's series; per-target ones are replaced
// whole after each pass, so a retired signal's series disappear.
type streamSeries struct {
	mu         sync.Mutex
	lag        *prometheus.GaugeVec
	stalled    *prometheus.GaugeVec
	state      *prometheus.GaugeVec
	iterations prometheus.Counter
	seconds    prometheus.Histogram
}

func newStreamSeries(f factory) streamSeries {
	target := []string{"signal_id", "symbol", "interval"}
	return streamSeries{
		lag: f.gaugeVec("streaming_lag_seconds",
			"Now minus the close of the newest written bar (0 while that bar is still open).", target...),
		stalled:    f.gaugeVec("streaming_stalled_bars", "Stalled bars reported for the target (bounded).", target...),
		state:      f.gaugeVec("streaming_target_state", "1 for the target's state after the last pass.", append(target, "state")...),
		iterations: f.counter("streaming_iterations_total", "Streaming worker passes."),
		seconds:    f.histogram("streaming_iteration_duration_seconds", "One streaming worker pass over every target."),
	}
}

func (s *streamSeries) iteration(d time.Duration, targets []inference.TargetStatus, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iterations.Inc()
	s.seconds.Observe(d.Seconds())
	s.lag.Reset()
	s.stalled.Reset()
	s.state.Reset()
	for _, t := range targets {
		labels := []string{t.SignalID, t.Symbol, string(t.Interval)}
		if t.LastWritten != nil && t.Interval.Valid() {
			lag := now.Sub(t.LastWritten.Add(t.Interval.Duration())).Seconds()
			s.lag.WithLabelValues(labels...).Set(max(lag, 0))
		}
		s.stalled.WithLabelValues(labels...).Set(float64(len(t.Stalled)))
		for _, st := range allStates {
			v := 0.0
			if st == t.State {
				v = 1
			}
			s.state.WithLabelValues(append(labels, string(st))...).Set(v)
		}
	}
}
