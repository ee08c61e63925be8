package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rfkih/blackheart-inference/inference"
)

// driftCollector exports the last scheduled drift pass: the whole picture
// replaced at once, so a retired signal's series disappear with the pass
// that no longer sees it and a scrape never sees half a pass.
type driftCollector struct {
	mu      sync.Mutex
	reports []*inference.SignalDriftReport
	passes  float64
	failed  float64
	last    time.Time
	took    time.Duration
}

var (
	featurePSIDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "feature_psi"),
		"PSI of a signal's model input, live window against the model's training window (last scheduled pass).",
		[]string{"signal_id", "feature"}, nil)
	predictionPSIDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "prediction_psi"),
		"PSI of a signal's live signal_history values against the model's out-of-sample predictions (last scheduled pass).",
		[]string{"signal_id"}, nil)
	driftVerdictDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "drift_verdict"),
		"A signal's worst drift verdict over its inputs and prediction: 0 OK, 1 WARN, 2 DRIFT, -1 INSUFFICIENT (nothing could be judged).",
		[]string{"signal_id"}, nil)
	driftPassesDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "drift_passes_total"),
		"Scheduled drift passes completed.", nil, nil)
	driftFailedDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "drift_signals_failed_total"),
		"Signals whose scheduled drift computation failed (the log names the error_code).", nil, nil)
	driftLastDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "drift_last_pass_timestamp_seconds"),
		"When the last scheduled drift pass ended (Unix seconds).", nil, nil)
	driftTookDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "drift_last_pass_duration_seconds"),
		"How long the last scheduled drift pass took.", nil, nil)
)

// verdictLevel is drift_verdict's value.
func verdictLevel(v inference.Verdict) float64 {
	switch v {
	case inference.VerdictWarn:
		return 1
	case inference.VerdictDrift:
		return 2
	case inference.VerdictInsufficient:
		return -1
	}
	return 0
}

func (c *driftCollector) pass(reports []*inference.SignalDriftReport, failed int, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports, c.took, c.last = reports, took, time.Now()
	c.passes++
	c.failed += float64(failed)
}

// Describe sends the drift descriptors.
func (c *driftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{featurePSIDesc, predictionPSIDesc, driftVerdictDesc, driftPassesDesc, driftFailedDesc, driftLastDesc, driftTookDesc} {
		ch <- d
	}
}

// Collect emits the last pass.
func (c *driftCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reports {
		for _, f := range r.Features {
			ch <- prometheus.MustNewConstMetric(featurePSIDesc, prometheus.GaugeValue, f.PSI, r.SignalID, f.Feature)
		}
		ch <- prometheus.MustNewConstMetric(predictionPSIDesc, prometheus.GaugeValue, r.Prediction.PSI, r.SignalID)
		ch <- prometheus.MustNewConstMetric(driftVerdictDesc, prometheus.GaugeValue, verdictLevel(r.Worst()), r.SignalID)
	}
	ch <- prometheus.MustNewConstMetric(driftPassesDesc, prometheus.CounterValue, c.passes)
	ch <- prometheus.MustNewConstMetric(driftFailedDesc, prometheus.CounterValue, c.failed)
	if !c.last.IsZero() {
		ch <- prometheus.MustNewConstMetric(driftLastDesc, prometheus.GaugeValue, float64(c.last.UnixNano())/1e9)
		ch <- prometheus.MustNewConstMetric(driftTookDesc, prometheus.GaugeValue, c.took.Seconds())
	}
}
