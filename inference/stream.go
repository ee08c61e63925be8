package inference

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// StreamConfig configures the streaming worker.
type StreamConfig struct {
	Enabled     bool `env:"INFERENCE_STREAMING_ENABLED" envDefault:"false"`
	PollSeconds int  `env:"INFERENCE_STREAMING_POLL_SECONDS" envDefault:"60"`
	MaxGapHours int  `env:"INFERENCE_STREAMING_MAX_GAP_HOURS" envDefault:"24"`
}

// Target states reported by the worker.
const (
	StateUpToDate    = "up_to_date"       // no bar is due after the last written one
	StateWritten     = "written"          // this iteration wrote bars
	StateWaiting     = "waiting"          // bars are due but none is ready yet
	StateGapTooLarge = "gap_too_large"    // the gap exceeds max_gap: not filled, reported
	StateLocked      = "locked_elsewhere" // another replica is working on it
	StateError       = "error"
)

// StalledBar is a bar skipped because an input never arrived while a newer
// bar became ready; it is reported, never re-requested.
type StalledBar struct {
	TS      time.Time
	Missing []MissingFeature
}

// GapReport is a gap the worker refuses to fill on its own.
type GapReport struct {
	From, To time.Time // bars in [From, To)
	Bars     int
	Backfill BackfillRequest // the call that would fill it
}

// TargetStatus is one target's state after the latest iteration.
type TargetStatus struct {
	Target
	State        string
	LastWritten  *time.Time
	NextExpected time.Time
	Written      int // rows written by the latest iteration
	Pending      int // due bars not ready yet
	WaitingOn    []MissingFeature
	Stalled      []StalledBar // most recent first, bounded
	Gap          *GapReport
	LastError    string
	LastErrorAt  *time.Time
}

// IterationCounts summarise one pass over every target.
type IterationCounts struct {
	StartedAt   time.Time
	Duration    time.Duration
	Targets     int
	UpToDate    int
	Written     int // rows
	Stalled     int // targets that skipped a stalled bar
	GapTooLarge int
	Waiting     int
	Locked      int
	Errors      int
}

// StreamStatus is what GET /streaming/status reports.
type StreamStatus struct {
	Enabled     bool
	PollSeconds int
	MaxGapHours int
	StartedAt   *time.Time
	Iterations  int
	Last        *IterationCounts
	Targets     []TargetStatus
	LastError   string
	LastErrorAt *time.Time
}

const maxStalledReported = 20

// Worker streams every target: after each poll, for each active or shadow
// signal, it writes the bars that became ready since its last row — the
// newest with source stream, older gap bars catchup_scan — in one atomic
// write. Replicas coordinate through a PostgreSQL advisory lock per target.
// Safe for concurrent use (Status may be called while it runs).
type Worker struct {
	svc *Service
	cfg StreamConfig
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	status  StreamStatus
	targets map[string]*TargetStatus
}

// NewWorker builds a worker with the service's stream settings; it does
// nothing until Run or RunOnce.
func NewWorker(svc *Service, now func() time.Time, log *slog.Logger) *Worker {
	cfg := svc.cfg.Stream.effective()
	return &Worker{svc: svc, cfg: cfg, now: now, log: log, targets: map[string]*TargetStatus{},
		status: cfg.Status()}
}

// effective clamps the settings to what the worker runs with: a poll of at
// least one second and a max gap of at least one hour.
func (c StreamConfig) effective() StreamConfig {
	c.PollSeconds, c.MaxGapHours = max(c.PollSeconds, 1), max(c.MaxGapHours, 1)
	return c
}

// Status is the status of a worker with these settings that has not run:
// what /streaming/status reports when streaming is off.
func (c StreamConfig) Status() StreamStatus {
	c = c.effective()
	return StreamStatus{Enabled: c.Enabled, PollSeconds: c.PollSeconds, MaxGapHours: c.MaxGapHours}
}

// Run polls until ctx is cancelled. The first iteration is the catch-up scan.
func (w *Worker) Run(ctx context.Context) {
	started := w.now().UTC()
	w.mu.Lock()
	w.status.StartedAt = &started
	w.mu.Unlock()
	w.log.Info("streaming worker started", "poll_seconds", w.cfg.PollSeconds, "max_gap_hours", w.cfg.MaxGapHours)
	for {
		w.RunOnce(ctx)
		select {
		case <-ctx.Done():
			w.log.Info("streaming worker stopped")
			return
		case <-time.After(time.Duration(w.cfg.PollSeconds) * time.Second):
		}
	}
}

// RunOnce makes one pass over every target and returns its counts.
func (w *Worker) RunOnce(ctx context.Context) IterationCounts {
	c := IterationCounts{StartedAt: w.now().UTC()}
	start := time.Now()
	targets, err := w.svc.store.StreamTargets(ctx)
	if err != nil {
		w.setError(err)
		c.Errors++
		w.finish(c, start)
		return c
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if ctx.Err() != nil {
			break
		}
		key := t.SignalID + "|" + t.Symbol
		seen[key] = true
		c.Targets++
		w.runTarget(ctx, key, t, &c)
	}
	w.mu.Lock()
	for key := range w.targets { // retired signals leave the status
		if !seen[key] {
			delete(w.targets, key)
		}
	}
	w.mu.Unlock()
	w.finish(c, start)
	return c
}

func (w *Worker) finish(c IterationCounts, start time.Time) {
	c.Duration = time.Since(start)
	w.mu.Lock()
	w.status.Iterations++
	w.status.Last = &c
	w.mu.Unlock()
}

func (w *Worker) setError(err error) {
	now := w.now().UTC()
	w.mu.Lock()
	w.status.LastError, w.status.LastErrorAt = errorText(err), &now
	w.mu.Unlock()
	w.log.Warn("streaming iteration failed", "error", err.Error())
}

func errorText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return string(e.Code) + ": " + e.Message
	}
	return "internal_error"
}

func (w *Worker) runTarget(ctx context.Context, key string, t Target, c *IterationCounts) {
	w.mu.Lock()
	st, ok := w.targets[key]
	if !ok {
		st = &TargetStatus{Target: t}
		w.targets[key] = st
	}
	prev := *st
	w.mu.Unlock()

	res, err := w.svc.streamTarget(ctx, t, time.Duration(w.cfg.MaxGapHours)*time.Hour, w.now().UTC())
	now := w.now().UTC()
	w.mu.Lock()
	defer w.mu.Unlock()
	st.Target = t
	if err != nil {
		st.State, st.LastError, st.LastErrorAt = StateError, errorText(err), &now
		c.Errors++
		if prev.LastError != st.LastError {
			w.log.Warn("streaming target failed", "signal_id", t.SignalID, "symbol", t.Symbol, "error", err.Error())
		}
		return
	}
	st.State, st.Written, st.Pending, st.WaitingOn, st.Gap = res.state, res.written, res.pending, res.waitingOn, res.gap
	st.LastError, st.LastErrorAt = "", nil // recovered
	if res.lastWritten != nil {
		st.LastWritten = res.lastWritten
	}
	st.NextExpected = res.next
	if len(res.stalled) > 0 {
		st.Stalled = append(res.stalled, st.Stalled...)
		if len(st.Stalled) > maxStalledReported {
			st.Stalled = st.Stalled[:maxStalledReported]
		}
		c.Stalled++
		for _, b := range res.stalled {
			w.log.Warn("streaming bar stalled", "signal_id", t.SignalID, "symbol", t.Symbol, "ts", b.TS.Format(time.RFC3339),
				"missing", featureNames(b.Missing))
		}
	}
	c.Written += res.written
	switch res.state {
	case StateUpToDate:
		c.UpToDate++
	case StateWaiting:
		c.Waiting++
	case StateLocked:
		c.Locked++
	case StateGapTooLarge:
		c.GapTooLarge++
		if prev.State != StateGapTooLarge {
			w.log.Warn("streaming gap too large: not filled", "signal_id", t.SignalID, "symbol", t.Symbol,
				"from", res.gap.From.Format(time.RFC3339), "to", res.gap.To.Format(time.RFC3339), "bars", res.gap.Bars,
				"fill_with", "POST /inference/backfill")
		}
	}
}

func featureNames(m []MissingFeature) []string {
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = f.Feature
	}
	return out
}

// Status returns a copy of the worker's state.
func (w *Worker) Status() StreamStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	if s.Last != nil {
		last := *s.Last
		s.Last = &last
	}
	s.Targets = make([]TargetStatus, 0, len(w.targets))
	for _, t := range w.targets {
		cp := *t
		cp.Stalled = append([]StalledBar(nil), t.Stalled...)
		s.Targets = append(s.Targets, cp)
	}
	sortTargets(s.Targets)
	return s
}

func sortTargets(ts []TargetStatus) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Name != ts[j].Name {
			return ts[i].Name < ts[j].Name
		}
		return ts[i].Symbol < ts[j].Symbol
	})
}
