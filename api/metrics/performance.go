package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rfkih/blackheart-inference/inference"
)

// performanceCollector exports the last scheduled realized-performance
// pass, replaced whole like the drift pass.
type performanceCollector struct {
	mu      sync.Mutex
	reports []*inference.PerformanceReport
	passes  float64
	failed  float64
}

var (
	perfPrimaryDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_primary"),
		"A signal's primary realized metric (auc, macro_auc or pearson) over its out-of-sample rows with matured labels (last scheduled pass).",
		[]string{"signal_id", "metric"}, nil)
	perfLowDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_interval_low"),
		"Lower end of the primary metric's moving-block bootstrap interval.", []string{"signal_id", "metric"}, nil)
	perfHighDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_interval_high"),
		"Upper end of the primary metric's moving-block bootstrap interval.", []string{"signal_id", "metric"}, nil)
	perfEffectiveDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_effective_n"),
		"Scored bars over the label's horizon: about how many independent bars the metric rests on.", []string{"signal_id"}, nil)
	perfVerdictDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_verdict"),
		"A signal's realized-performance verdict: 0 OK, 1 DEGRADED, 2 NO_SKILL, -1 INSUFFICIENT.", []string{"signal_id"}, nil)
	perfPassesDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_passes_total"),
		"Scheduled realized-performance passes completed.", nil, nil)
	perfFailedDesc = prometheus.NewDesc(prometheus.BuildFQName(ns, "", "performance_signals_failed_total"),
		"Signals whose scheduled realized-performance report failed (the log names the error_code).", nil, nil)
)

// perfLevel is performance_verdict's value.
func perfLevel(v inference.PerformanceVerdict) float64 {
	switch v {
	case inference.PerfDegraded:
		return 1
	case inference.PerfNoSkill:
		return 2
	case inference.PerfInsufficient:
		return -1
	}
	return 0
}

func (c *performanceCollector) pass(reports []*inference.PerformanceReport, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = reports
	c.passes++
	c.failed += float64(failed)
}

// Describe sends the performance descriptors.
func (c *performanceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{perfPrimaryDesc, perfLowDesc, perfHighDesc, perfEffectiveDesc, perfVerdictDesc, perfPassesDesc, perfFailedDesc} {
		ch <- d
	}
}

// Collect emits the last pass.
func (c *performanceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reports {
		l := r.Live
		if l.PrimaryValue != nil {
			ch <- prometheus.MustNewConstMetric(perfPrimaryDesc, prometheus.GaugeValue, *l.PrimaryValue, r.SignalID, l.Primary)
		}
		if l.Interval != nil {
			ch <- prometheus.MustNewConstMetric(perfLowDesc, prometheus.GaugeValue, l.Interval.Lo, r.SignalID, l.Primary)
			ch <- prometheus.MustNewConstMetric(perfHighDesc, prometheus.GaugeValue, l.Interval.Hi, r.SignalID, l.Primary)
		}
		ch <- prometheus.MustNewConstMetric(perfEffectiveDesc, prometheus.GaugeValue, l.EffectiveN, r.SignalID)
		ch <- prometheus.MustNewConstMetric(perfVerdictDesc, prometheus.GaugeValue, perfLevel(r.Verdict), r.SignalID)
	}
	ch <- prometheus.MustNewConstMetric(perfPassesDesc, prometheus.CounterValue, c.passes)
	ch <- prometheus.MustNewConstMetric(perfFailedDesc, prometheus.CounterValue, c.failed)
}
