package inference

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// DriftWatcher recomputes every active and shadow signal's drift on a
// schedule and reports each pass to its Observer (the metrics). A pass is
// bounded: one signal at a time, each window capped at maxDriftBars bars,
// on the service it is given — in production one with its own small
// connection pool, so serving never waits for it. It stops with its
// context. Not safe for concurrent RunOnce calls.
type DriftWatcher struct {
	svc *Service
	cfg DriftConfig
	log *slog.Logger
	obs Observer
	// split, when set, is the streaming service whose replica slots the
	// passes split the signals by (SplitByReplicas).
	split *Service
}

// NewDriftWatcher watches through svc with cfg's live window and interval.
func NewDriftWatcher(svc *Service, cfg DriftConfig, log *slog.Logger) *DriftWatcher {
	return &DriftWatcher{svc: svc, cfg: cfg, log: log, obs: NopObserver{}}
}

// SetObserver reports passes to o.
func (w *DriftWatcher) SetObserver(o Observer) { w.obs = o }

// SplitByReplicas makes each pass compute only the signals this replica
// owns among the streaming replicas, by the split their bar closes use
// (ownerOf over streaming's slots, held by streaming's service, not the
// watcher's own): N replicas each monitor about 1/N of the signals, with
// the models they hold, instead of all of them each. A signal changes
// hands with its bars when a replica comes or goes. Without it (a replica
// that does not stream), a pass computes every signal.
func (w *DriftWatcher) SplitByReplicas(streaming *Service) { w.split = streaming }

// DriftPassResult is what one pass did.
type DriftPassResult struct {
	Reports []*SignalDriftReport
	Failed  map[string]string // signal id → error code
	// Performance are the realized-performance reports of the signals whose
	// label feature_values holds (PerformanceDays > 0); PerformanceFailed
	// those that failed otherwise.
	Performance       []*PerformanceReport
	PerformanceFailed map[string]string
	// ModelsComputed is how many model-side drift computations the pass
	// made: signals sharing a model and windows share one.
	// ReferencesComputed is the same for the performance pass's OOF
	// references.
	ModelsComputed, ReferencesComputed int
	// InputsComputed is how many input sides (the windows' reads and the
	// inputs' comparisons) the pass computed: models on one feature plan
	// share one.
	InputsComputed int
	Took           time.Duration
}

// RunOnce computes every active and shadow signal's drift and realized
// performance once. A signal whose computation fails is logged and
// counted; the others still report. The models it loads that the working
// set does not name serve the pass and go (PassingThrough): a monitoring
// pass over every signal never makes a replica hold every model. Between
// signals it waits out any bar close under way here (streaming, webhook).
func (w *DriftWatcher) RunOnce(ctx context.Context) DriftPassResult {
	ctx = PassingThrough(ctx)
	t0 := time.Now()
	res := DriftPassResult{Failed: map[string]string{}, PerformanceFailed: map[string]string{}}
	targets, err := w.svc.streamTargets(ctx)
	if err != nil {
		w.log.Warn("drift pass: cannot list signals", "error_code", string(ErrorCode(err)), "error", SafeMessage(err))
		res.Failed[""] = string(ErrorCode(err))
	}
	targets = w.share(ctx, targets)
	// Model by model, so that the signals sharing one share its computation,
	// and symbol by symbol, so that models on one feature plan share theirs.
	slices.SortStableFunc(targets, func(a, b Target) int {
		return cmp.Or(strings.Compare(a.Symbol, b.Symbol), strings.Compare(string(a.Interval), string(b.Interval)),
			strings.Compare(a.ArtifactSHA, b.ArtifactSHA))
	})
	sh := newDriftShared(w.svc.now())
	for _, tg := range targets {
		w.svc.barCloseGap(ctx) // a bar close goes first
		if ctx.Err() != nil {
			break
		}
		w.drift(ctx, tg, sh, &res)
		w.performance(ctx, tg, sh, &res)
	}
	res.ModelsComputed, res.ReferencesComputed, res.InputsComputed = sh.model.built, sh.ref.built, sh.inputs.built
	res.Took = time.Since(t0)
	if ctx.Err() == nil { // a pass cut short by shutdown is not reported
		w.obs.DriftPass(res.Reports, len(res.Failed), res.Took)
		if w.cfg.PerformanceDays > 0 {
			w.obs.PerformancePass(res.Performance, len(res.PerformanceFailed), res.Took)
		}
		w.log.Info("drift pass", "signals", len(res.Reports), "failed", len(res.Failed), "models_computed", res.ModelsComputed,
			"inputs_computed", res.InputsComputed,
			"references_computed", res.ReferencesComputed, "took_ms", res.Took.Milliseconds())
	}
	return res
}

// share is what of targets this replica's pass computes: its own share
// when it splits by the replicas, else all; all too when the slots cannot
// be read (a pass repeated costs a core, a pass skipped loses a report).
func (w *DriftWatcher) share(ctx context.Context, targets []Target) []Target {
	if w.split == nil || len(targets) < 2 {
		return targets
	}
	rank, n, err := w.split.replicas(ctx)
	if err != nil {
		w.log.Warn("drift pass: cannot read the replica slots; computing every signal", "error", err.Error())
		return targets
	}
	mine, _ := splitTargets(targets, rank, n)
	return mine
}

// Run makes a pass at once and then every Interval until ctx ends.
func (w *DriftWatcher) Run(ctx context.Context) {
	if w.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		w.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// performance adds the target's realized-performance report to res: a
// signal whose label feature_values does not hold is not measurable and
// is left out quietly (GET /monitoring/performance says why).
func (w *DriftWatcher) performance(ctx context.Context, tg Target, sh *driftShared, res *DriftPassResult) {
	if w.cfg.PerformanceDays <= 0 {
		return
	}
	rep, err := w.svc.signalPerformance(ctx, PerformanceRequest{SignalID: tg.SignalID, WindowDays: w.cfg.PerformanceDays}, sh)
	switch {
	case err == nil:
		if rep.Verdict == PerfDegraded || rep.Verdict == PerfNoSkill {
			w.log.Warn("performance: "+string(rep.Verdict), "signal_id", rep.SignalID, "signal", rep.SignalName, "reason", rep.Reason)
		}
		res.Performance = append(res.Performance, rep)
	case ErrorCode(err) == CodeLabelNotAvailable || ctx.Err() != nil:
	default:
		w.log.Warn("performance: signal not computed", "signal_id", tg.SignalID, "error_code", string(ErrorCode(err)), "error", SafeMessage(err))
		res.PerformanceFailed[tg.SignalID] = string(ErrorCode(err))
	}
}

// drift adds the target's drift report to res, or its failure.
func (w *DriftWatcher) drift(ctx context.Context, tg Target, sh *driftShared, res *DriftPassResult) {
	rep, err := w.svc.signalDrift(ctx, SignalDriftRequest{SignalID: tg.SignalID, LiveDays: w.cfg.LiveDays}, sh)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("drift: signal not computed", "signal_id", tg.SignalID, "error_code", string(ErrorCode(err)), "error", SafeMessage(err))
			res.Failed[tg.SignalID] = string(ErrorCode(err))
		}
		return
	}
	if rep.RetrainRecommended {
		w.log.Warn("drift: retrain recommended", "signal_id", rep.SignalID, "signal", rep.SignalName, "note", rep.Note,
			"max_psi", rep.MaxPSI, "prediction_psi", rep.Prediction.PSI, "prediction_verdict", string(rep.Prediction.Verdict))
	}
	res.Reports = append(res.Reports, rep)
}
