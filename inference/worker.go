package inference

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
)

// TargetState is a streaming target's state after an iteration.
type TargetState string

// The target states the worker reports.
const (
	StateUpToDate    TargetState = "up_to_date"       // no bar is due after the last written one
	StateWritten     TargetState = "written"          // this iteration wrote bars
	StateWaiting     TargetState = "waiting"          // bars are due but none is ready yet
	StateGapTooLarge TargetState = "gap_too_large"    // the gap exceeds max_gap: not filled, reported
	StateLocked      TargetState = "locked_elsewhere" // another replica is working on it
	StateError       TargetState = "error"
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
	State        TargetState
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

// targetSource is what the worker needs from the service: the targets,
// and one target brought up to date.
type targetSource interface {
	streamTargets(ctx context.Context) ([]Target, error)
	catchUp(ctx context.Context, t Target, maxGap time.Duration, now time.Time) (*targetResult, error)
	catchUpGroup(ctx context.Context, ts []Target, maxGap time.Duration, now time.Time) ([]*targetResult, []error)
	replicas(ctx context.Context) (rank, n int, err error)
	leaveReplicas()
	// keepModels makes shas the models kept loaded (ModelCache.KeepLoaded).
	keepModels(ctx context.Context, shas []string)
	// holdsModels reports whether every model of ts is loaded here.
	holdsModels(ts []Target) bool
	// closing marks a bar close under way until done is called.
	closing() (done func())
}

// Worker streams every target: after each poll, for each active or shadow
// signal, it writes the bars that became ready since its last row — the
// newest with source stream, older gap bars catchup_scan — in one atomic
// write. Replicas coordinate through a PostgreSQL advisory lock per target.
// Safe for concurrent use (Status may be called while it runs).
type Worker struct {
	src targetSource
	cfg StreamConfig
	now func() time.Time
	log *slog.Logger
	obs Observer

	mu      sync.Mutex
	status  StreamStatus
	targets map[string]*TargetStatus

	// stale is what the last pass left of the other replicas' targets
	// whose models this one does not hold: each target's last row then,
	// by targetKey, when that pass also found its own share's inputs in;
	// nil otherwise. RunOnce's own (passes never overlap).
	stale map[string]*time.Time
}

// NewWorker builds a worker over svc with cfg; it does nothing until Run or
// RunOnce.
func NewWorker(svc *Service, cfg StreamConfig, now func() time.Time, log *slog.Logger) *Worker {
	return newWorker(svc, cfg, now, log)
}

func newWorker(src targetSource, cfg StreamConfig, now func() time.Time, log *slog.Logger) *Worker {
	cfg = cfg.effective()
	return &Worker{src: src, cfg: cfg, now: now, log: log, obs: NopObserver{}, targets: map[string]*TargetStatus{}, status: cfg.Status()}
}

// SetObserver sets where the worker reports its passes and targets; call it
// before Run.
func (w *Worker) SetObserver(o Observer) { w.obs = o }

// Run polls until ctx is cancelled. The first iteration is the catch-up scan.
func (w *Worker) Run(ctx context.Context) {
	started := w.now().UTC()
	w.mu.Lock()
	w.status.StartedAt = &started
	w.mu.Unlock()
	w.log.Info("streaming worker started", "poll_seconds", w.cfg.PollSeconds, "max_gap_hours", w.cfg.MaxGapHours)
	// Take a replica slot now, so that the others count this replica from
	// their next bar close on, not from the first one it finds due.
	if _, _, err := w.src.replicas(ctx); err != nil {
		w.log.Warn("streaming: cannot take a replica slot yet", "error", err.Error())
	}
	for {
		w.RunOnce(ctx)
		select {
		case <-ctx.Done():
			w.src.leaveReplicas() // the others share the next bar close without this one
			w.log.Info("streaming worker stopped")
			return
		case <-time.After(untilNextPoll(time.Now(), time.Duration(w.cfg.PollSeconds)*time.Second)):
		}
	}
}

// RunOnce makes one pass over every target and returns its counts.
func (w *Worker) RunOnce(ctx context.Context) IterationCounts {
	c := IterationCounts{StartedAt: w.now().UTC()}
	start := time.Now()
	targets, err := w.src.streamTargets(ctx)
	if err != nil {
		w.setError(err)
		c.Errors++
		w.finish(c, start)
		return c
	}
	seen := map[string]bool{}
	// Targets sharing a model, symbol, interval and last row go as one group
	// (catchUpGroup: one lock statement, one read, one prediction, one
	// upsert for them all). Groups run Concurrency at a time: each holds its
	// advisory locks' connection and a query connection, and spends most of
	// its time waiting on PostgreSQL round trips and commits, which
	// concurrent groups overlap (and whose fsyncs PostgreSQL groups).
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	pass := func(ctx context.Context, groups [][]Target) {
		for _, g := range groups {
			if ctx.Err() != nil {
				break
			}
			for _, t := range g {
				seen[targetKey(t)] = true
			}
			w.mu.Lock()
			c.Targets += len(g)
			w.mu.Unlock()
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				w.runGroup(ctx, g, &c)
			}()
		}
		wg.Wait()
	}
	due := anyDue(targets, w.now().UTC())
	if due {
		defer w.src.closing()() // the monitoring passes wait
	}
	own, others, workingSet := w.share(ctx, targets, due)
	w.src.keepModels(ctx, workingSet)
	// The worker keeps only its working set's models: one its own groups
	// name outside it (the catch-up or an idle poll owning every group,
	// the replicas' count changing mid-pass) serves the pass and goes.
	ctx = PassingThrough(ctx)
	t0 := time.Now()
	pass(ctx, own)
	w.mu.Lock()
	wrote := c.Written > 0
	w.mu.Unlock()
	// The bar's inputs were in for this replica's share: it wrote some, or
	// it has nothing due (written by an earlier pass, or it owns nothing).
	inputsIn := wrote || !anyDue(slices.Concat(own...), w.now().UTC())
	if len(others) > 0 {
		// The other replicas' shares: after as long as this one's own took,
		// at least minShareGrace and at most half a poll, by when their
		// owners, polling at the same instant, have taken them — each then
		// costs one round trip and is left alone — unless an owner is stuck,
		// whose share is then done here.
		grace := min(max(time.Since(t0), minShareGrace), time.Duration(w.cfg.PollSeconds)*time.Second/2)
		w.passOthers(ctx, others, grace, inputsIn, pass)
	} else {
		w.stale = nil
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
	w.obs.StreamIteration(c.Duration, w.Status().Targets, w.now().UTC())
}

func (w *Worker) setError(err error) {
	now := w.now().UTC()
	w.mu.Lock()
	w.status.LastError, w.status.LastErrorAt = errorText(err), &now
	w.mu.Unlock()
	w.log.Warn("streaming iteration failed", "error", err.Error())
}

func errorText(err error) string { return string(ErrorCode(err)) + ": " + SafeMessage(err) }

func targetKey(t Target) string { return t.SignalID + "|" + t.Symbol }

// runGroup catches up one group of targets (one target: catchUp) and
// records each one's outcome.
func (w *Worker) runGroup(ctx context.Context, g []Target, c *IterationCounts) {
	sts, prevs := make([]*TargetStatus, len(g)), make([]TargetStatus, len(g))
	w.mu.Lock()
	for i, t := range g {
		st, ok := w.targets[targetKey(t)]
		if !ok {
			st = &TargetStatus{Target: t}
			w.targets[targetKey(t)] = st
		}
		sts[i], prevs[i] = st, *st
	}
	w.mu.Unlock()

	maxGap, now := time.Duration(w.cfg.MaxGapHours)*time.Hour, w.now().UTC()
	var results []*targetResult
	var errs []error
	if len(g) == 1 {
		res, err := w.src.catchUp(ctx, g[0], maxGap, now)
		results, errs = []*targetResult{res}, []error{err}
	} else {
		results, errs = w.src.catchUpGroup(ctx, g, maxGap, now)
	}
	for i, t := range g {
		w.record(t, sts[i], prevs[i], results[i], errs[i], c)
	}
}

// record sets a target's status from its catch-up and counts it.
func (w *Worker) record(t Target, st *TargetStatus, prev TargetStatus, res *targetResult, err error, c *IterationCounts) {
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
