package inference

import "time"

// Observer receives what the domain measures: an operability port that
// package api/metrics implements with Prometheus. Calls are made on the
// request path, so implementations must be cheap and safe for concurrent
// use. NopObserver is the default.
type Observer interface {
	// Predicted: one prediction call of a model of kind (ModelKind) over rows.
	Predicted(kind string, rows int, d time.Duration)
	// CacheHit, CacheMiss and CacheEvicted count model-cache events;
	// CacheState reports what it holds and its working set.
	CacheHit()
	CacheMiss()
	CacheEvicted()
	CacheState(CacheStats)
	// ModelLoaded: one artifact read and model build; err is why it failed.
	ModelLoaded(d time.Duration, err error)
	// BackfillRows: one backfill chunk's written and skipped bars.
	BackfillRows(written, skipped int)
	// SignalRowsWritten: rows upserted into signal_history with source.
	SignalRowsWritten(source Source, rows int)
	// VintageRows: rows upserted, by meta.vintage.
	VintageRows(rows map[VintageClass]int)
	// LookaheadRefused: a replay refused for look-ahead on route ("run" or
	// "backfill").
	LookaheadRefused(route string)
	// StreamIteration: one worker pass and every target's state after it.
	StreamIteration(d time.Duration, targets []TargetStatus, now time.Time)
	// DriftPass: one scheduled drift pass, every signal's report (the
	// whole current picture: a signal absent from it is no longer watched)
	// and how many signals failed.
	DriftPass(reports []*SignalDriftReport, failed int, d time.Duration)
	// PerformancePass: one scheduled realized-performance pass, every
	// measurable signal's report (the whole current picture) and how many
	// failed.
	PerformancePass(reports []*PerformanceReport, failed int, d time.Duration)
}

// NopObserver observes nothing.
type NopObserver struct{}

var _ Observer = NopObserver{}

func (NopObserver) Predicted(string, int, time.Duration)                     {}
func (NopObserver) CacheHit()                                                {}
func (NopObserver) CacheMiss()                                               {}
func (NopObserver) CacheEvicted()                                            {}
func (NopObserver) CacheState(CacheStats)                                    {}
func (NopObserver) ModelLoaded(time.Duration, error)                         {}
func (NopObserver) BackfillRows(int, int)                                    {}
func (NopObserver) SignalRowsWritten(Source, int)                            {}
func (NopObserver) VintageRows(map[VintageClass]int)                         {}
func (NopObserver) LookaheadRefused(string)                                  {}
func (NopObserver) StreamIteration(time.Duration, []TargetStatus, time.Time) {}
func (NopObserver) DriftPass([]*SignalDriftReport, int, time.Duration)       {}
func (NopObserver) PerformancePass([]*PerformanceReport, int, time.Duration) {}
