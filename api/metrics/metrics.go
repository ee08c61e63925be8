package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rfkih/blackheart-inference/inference"
)

const ns = "blackheart_inference"

// BuildInfo labels blackheart_inference_build_info.
type BuildInfo struct {
	Version, Flavour, LightGBM, XGBoost string
}

// Metrics holds every series. Safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	flavour string

	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	predictSeconds *prometheus.HistogramVec
	predictedRows  *prometheus.CounterVec
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	cacheEvictions prometheus.Counter
	cacheModels    prometheus.Gauge
	cacheState     cacheSeries
	loadSeconds    prometheus.Histogram
	artifactErrors *prometheus.CounterVec
	backfillRows   *prometheus.CounterVec
	signalRows     *prometheus.CounterVec
	vintageRows    *prometheus.CounterVec
	refusals       *prometheus.CounterVec
	mismatches     prometheus.Counter
	refusedConns   prometheus.Counter
	drift          *driftCollector
	performance    *performanceCollector
	stream         streamSeries
}

var (
	_ inference.Observer = (*Metrics)(nil)
	// latency buckets from 100 µs to ~100 s
	secondsBuckets = prometheus.ExponentialBuckets(0.0001, 4, 11)
)

// New registers every series, the Go and process collectors, build_info
// and, when pool is not nil, the database pool collector.
func New(b BuildInfo, pool func() PoolStats) *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Metrics{
		reg: reg, flavour: b.Flavour,
		requests: f.counterVec("requests_total", "HTTP requests by route template, method, status and error_code (empty on success).",
			"route", "method", "status", "error_code"),
		requestSeconds: f.histogramVec("request_duration_seconds", "HTTP request latency by route template.", "route"),
		predictSeconds: f.histogramVec("prediction_duration_seconds", "One prediction call, by model kind and build flavour.", "kind", "flavour"),
		predictedRows:  f.counterVec("predicted_rows_total", "Rows predicted, by model kind.", "kind"),
		cacheHits:      f.counter("model_cache_hits_total", "Model cache lookups served by a loaded model."),
		cacheMisses:    f.counter("model_cache_misses_total", "Model cache lookups that loaded the artifact."),
		cacheEvictions: f.counter("model_cache_evictions_total", "Models evicted from the cache (least recently used first, never one of the working set)."),
		cacheModels:    f.gauge("model_cache_models", "Models the cache holds."),
		cacheState:     newCacheSeries(f),
		loadSeconds:    f.histogram("model_load_duration_seconds", "Reading, verifying and loading one artifact."),
		artifactErrors: f.counterVec("artifact_errors_total", "Artifact loads that failed, by error_code.", "error_code"),
		backfillRows:   f.counterVec("backfill_rows_total", "Backfill bars, written or skipped for missing inputs.", "result"),
		signalRows:     f.counterVec("signal_rows_written_total", "signal_history rows upserted, by source.", "source"),
		vintageRows: f.counterVec("signal_rows_vintage_total",
			"signal_history rows upserted, by meta.vintage (out_of_sample, oof, in_sample, embargo, future_vintage, unknown).", "vintage"),
		refusals:     f.counterVec("lookahead_refusals_total", "Replays refused with lookahead_refused, by route.", "route"),
		mismatches:   f.counter("evaluator_mismatches_total", "INFERENCE_EVALUATOR=cross-check: calls refused because the native and pure-Go evaluators differed."),
		refusedConns: f.counter("connections_refused_total", "INFERENCE_NETWORK_MODE=container: connections from outside INFERENCE_ALLOWED_CLIENTS, reset before a byte was read."),
		stream:       newStreamSeries(f),
		drift:        &driftCollector{},
		performance:  &performanceCollector{},
	}
	reg.MustRegister(m.drift, m.performance)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := f.gaugeVec("build_info", "Always 1; the labels say what runs.", "version", "flavour", "go", "lightgbm", "xgboost")
	info.WithLabelValues(b.Version, b.Flavour, runtime.Version(), b.LightGBM, b.XGBoost).Set(1)
	if pool != nil {
		reg.MustRegister(poolCollector{pool})
	}
	return m
}

// SetReadiness exports blackheart_inference_ready: 1 when ready() (the
// /readyz checks, run at scrape time) holds, else 0. Call it once.
func (m *Metrics) SetReadiness(ready func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "ready",
		Help: "1 when /readyz would answer 200 (database and artifact directory), else 0."}, func() float64 {
		if ready() {
			return 1
		}
		return 0
	}))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one HTTP request (api.RequestObserver).
func (m *Metrics) ObserveRequest(route, method string, status int, code inference.Code, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status), string(code)).Inc()
	m.requestSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// Predicted records one prediction call.
func (m *Metrics) Predicted(kind string, rows int, d time.Duration) {
	m.predictSeconds.WithLabelValues(kind, m.flavour).Observe(d.Seconds())
	m.predictedRows.WithLabelValues(kind).Add(float64(rows))
}

// CacheHit counts a model-cache hit.
func (m *Metrics) CacheHit() { m.cacheHits.Inc() }

// CacheMiss counts a model-cache miss.
func (m *Metrics) CacheMiss() { m.cacheMisses.Inc() }

// CacheEvicted counts an eviction.
func (m *Metrics) CacheEvicted() { m.cacheEvictions.Inc() }

// CacheState sets the model cache's gauges.
func (m *Metrics) CacheState(st inference.CacheStats) {
	m.cacheModels.Set(float64(st.Models))
	m.cacheState.set(st)
}

// ModelLoaded records one artifact load and counts its failure by code.
func (m *Metrics) ModelLoaded(d time.Duration, err error) {
	m.loadSeconds.Observe(d.Seconds())
	if err != nil {
		m.artifactErrors.WithLabelValues(string(inference.ErrorCode(err))).Inc()
	}
}

// EvaluatorMismatch counts one call refused by cross-check.
func (m *Metrics) EvaluatorMismatch() { m.mismatches.Inc() }

// DriftPass exports one scheduled drift pass (replacing the last).
func (m *Metrics) DriftPass(reports []*inference.SignalDriftReport, failed int, d time.Duration) {
	m.drift.pass(reports, failed, d)
}

// PerformancePass exports one scheduled realized-performance pass (replacing the last).
func (m *Metrics) PerformancePass(reports []*inference.PerformanceReport, failed int, _ time.Duration) {
	m.performance.pass(reports, failed)
}

// ConnectionRefused counts one connection the client allowlist turned away.
func (m *Metrics) ConnectionRefused() { m.refusedConns.Inc() }

// BackfillRows counts one chunk's bars.
func (m *Metrics) BackfillRows(written, skipped int) {
	m.backfillRows.WithLabelValues("written").Add(float64(written))
	m.backfillRows.WithLabelValues("skipped").Add(float64(skipped))
}

// VintageRows counts upserted rows by meta.vintage.
func (m *Metrics) VintageRows(rows map[inference.VintageClass]int) {
	for c, n := range rows {
		if n > 0 {
			m.vintageRows.WithLabelValues(string(c)).Add(float64(n))
		}
	}
}

// LookaheadRefused counts a replay refused for look-ahead.
func (m *Metrics) LookaheadRefused(route string) { m.refusals.WithLabelValues(route).Inc() }

// SignalRowsWritten counts upserted rows by source.
func (m *Metrics) SignalRowsWritten(source inference.Source, n int) {
	m.signalRows.WithLabelValues(string(source)).Add(float64(n))
}

// StreamIteration records a worker pass and replaces the per-target series.
func (m *Metrics) StreamIteration(d time.Duration, targets []inference.TargetStatus, now time.Time) {
	m.stream.iteration(d, targets, now)
}

// factory registers series under the blackheart_inference_ prefix.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: secondsBuckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: secondsBuckets}, labels)
	f.reg.MustRegister(h)
	return h
}
