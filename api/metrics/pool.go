package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is a snapshot of the database connection pool.
type PoolStats struct {
	Acquired, Idle, Total, Max int32
	AcquireCount               int64
	AcquireWaitCount           int64 // acquisitions that had to wait
	AcquireWait                time.Duration
}

// poolCollector reads the pool's statistics on every scrape.
type poolCollector struct{ stat func() PoolStats }

var (
	poolAcquired    = poolDesc("db_pool_acquired_connections", "Connections in use.")
	poolIdle        = poolDesc("db_pool_idle_connections", "Idle connections.")
	poolTotal       = poolDesc("db_pool_total_connections", "Open connections.")
	poolMax         = poolDesc("db_pool_max_connections", "The pool's maximum size (INFERENCE_DB_MAX_POOL).")
	poolAcquires    = poolDesc("db_pool_acquires_total", "Successful acquisitions.")
	poolWaits       = poolDesc("db_pool_acquire_waits_total", "Acquisitions that waited for a connection.")
	poolWaitSeconds = poolDesc("db_pool_acquire_wait_seconds_total", "Time spent waiting to acquire a connection.")
)

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, nil)
}

// Describe sends the pool's descriptors.
func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaits, poolWaitSeconds} {
		ch <- d
	}
}

// Collect reads the pool once.
func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.Acquired))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.Total))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.Max))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.AcquireWaitCount))
	ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.AcquireWait.Seconds())
}
