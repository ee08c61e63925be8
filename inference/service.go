package inference

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Service resolves signals to models, builds feature vectors, predicts and
// writes signal_history rows. It is safe for concurrent use.
type Service struct {
	store Store
	cache *ModelCache
	cfg   Config
	now   func() time.Time
	log   *slog.Logger
	obs   Observer
	hints sync.Map // signal ID → *runHint: the plan of its last served sha
	noted sync.Map // vintage notes already logged, by sha and registry windows
	admit *admission
}

// closing marks a bar close under way until the returned func is called;
// the gate is the model cache's, which every service of the process shares
// (the drift watcher's has a store of its own).
func (s *Service) closing() (done func()) { return s.cache.closing() }

// barCloseGap waits until no bar close is under way and the start-up
// preload is done (or ctx ends): a monitoring pass goes after both.
func (s *Service) barCloseGap(ctx context.Context) { s.cache.barCloseGap(ctx) }

// runHint lets a request (run, or the worker's or batch-predict's pass over
// a target) read everything in one pipelined round trip: the plan the
// signal's last request used, to be confirmed by this request's fresh reads.
type runHint struct {
	sha  string
	plan *featurePlan
}

// NewService wires a service. now is the clock (time.Now in production).
func NewService(store Store, cache *ModelCache, cfg Config, now func() time.Time, log *slog.Logger) *Service {
	if cfg.BackfillChunkBars <= 0 {
		cfg.BackfillChunkBars = 5000
	}
	if cfg.Lookahead == "" {
		cfg.Lookahead = LookaheadRefuse
	}
	if cfg.BackfillMode == "" {
		cfg.BackfillMode = ModeModel
	}
	if cfg.MaxConcurrentBackfills <= 0 {
		cfg.MaxConcurrentBackfills = runtime.NumCPU()
	}
	return &Service{store: store, cache: cache, cfg: cfg, now: now, log: log, obs: NopObserver{},
		admit: newAdmission(cfg.MaxConcurrentBackfills, cfg.BackfillQueue)}
}

// SetObserver sets where the service reports predictions and written rows;
// call it before the service is used.
func (s *Service) SetObserver(o Observer) { s.obs = o }

// RunRequest asks for one bar.
type RunRequest struct {
	SignalID string
	Symbol   string
	TS       time.Time
	Interval Interval
	Source   Source
	Agent    string
	// Lookahead is the request's policy for a historical_replay run: ""
	// (the service's), "refuse" or "allow".
	Lookahead string
}

// RunResult is the written bar.
type RunResult struct {
	SignalID       string
	Symbol         string
	TS             time.Time
	Interval       Interval
	Value          float64
	Confidence     *float64
	Source         Source
	ModelID        string
	ArtifactSHA256 string
	SpecName       string
	Objective      string
	// Vintage is the bar's class against the model (meta.vintage).
	Vintage VintageClass
	// KeptOOF: the bar's row is the trainer's oof_backfill row, which was
	// kept; Value is what the model gives, not what the row holds.
	KeptOOF bool
}

// resolved is a signal ready to serve; release returns the model to the cache.
type resolved struct {
	signal  Signal
	model   ModelRecord
	lm      *LoadedModel
	plan    *featurePlan
	vintage *Vintage // the artifact's, checked against the registry row
	free    func()   // returns lm to the cache; nil while lm is not loaded
}

// release returns r's model to the cache, if it was loaded.
func (r *resolved) release() {
	if r.free != nil {
		r.free()
		r.free = nil
	}
}

// resolve walks signal → definition → model_registry → artifact (by sha,
// never artifact_uri) and checks lifecycle and scope.
func (s *Service) resolve(ctx context.Context, signalID, symbol string, interval Interval) (*resolved, error) {
	sig, model, err := s.store.Resolve(ctx, signalID)
	if err != nil {
		return nil, err
	}
	return s.resolveRecords(ctx, sig, model, symbol, interval)
}

// resolveRecords is resolve from already read signal and model rows.
func (s *Service) resolveRecords(ctx context.Context, sig Signal, model ModelRecord, symbol string, interval Interval) (*resolved, error) {
	if err := checkServable(sig, model, symbol, interval); err != nil {
		return nil, err
	}
	lm, release, err := s.cache.Acquire(ctx, model.ArtifactSHA256)
	if err != nil {
		return nil, err
	}
	plan, err := planFeatures(ctx, s.store, lm.Artifact, interval)
	if err != nil {
		release()
		return nil, err
	}
	return &resolved{signal: sig, model: model, lm: lm, plan: plan, vintage: s.vintageOf(lm.Artifact, model), free: release}, nil
}

// BackfillLoad reports the backfills running and waiting for a slot.
func (s *Service) BackfillLoad() (running, waiting int) { return s.admit.load() }

// streamTargets lists the streaming targets (the worker's view of the store).
func (s *Service) streamTargets(ctx context.Context) ([]Target, error) {
	return s.store.StreamTargets(ctx)
}

// replicas is the streaming replica's rank and the number alive.
func (s *Service) replicas(ctx context.Context) (int, int, error) { return s.store.Replicas(ctx) }

// leaveReplicas gives up the streaming replica's slot.
func (s *Service) leaveReplicas() { s.store.LeaveReplicas() }

// holdsModels reports whether the cache holds every model of ts.
func (s *Service) holdsModels(ts []Target) bool {
	for _, t := range ts {
		if !s.cache.Holds(t.ArtifactSHA) {
			return false
		}
	}
	return true
}

// keepModels makes shas the models the cache keeps loaded.
func (s *Service) keepModels(ctx context.Context, shas []string) { s.cache.KeepLoaded(ctx, shas) }

// KeepModelsLoaded is the model manager of a replica that does not stream:
// every poll it lists the active and shadow signals and keeps their models
// loaded (the streaming worker does this itself, for its share), until ctx
// ends.
func (s *Service) KeepModelsLoaded(ctx context.Context, poll time.Duration) {
	for {
		if targets, err := s.store.StreamTargets(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("model manager: cannot list the signals; the models loaded stay", "error", err.Error())
			}
		} else {
			s.keepModels(ctx, workingSetOf(targets))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// checkServable applies the lifecycle and scope refusals.
func checkServable(sig Signal, model ModelRecord, symbol string, interval Interval) error {
	if sig.Status == SignalRetired {
		return Errorf(CodeSignalRetired, "signal %s (%s) is retired", sig.Name, sig.ID).
			WithDetails(map[string]any{"signal_id": sig.ID, "status": sig.Status})
	}
	if model.Status.Refused() {
		return Errorf(CodeModelLifecycleRefused, "model %s has status %s", model.ID, model.Status).
			WithDetails(map[string]any{"model_id": model.ID, "status": model.Status})
	}
	if model.ArtifactSHA256 == "" {
		return Errorf(CodeModelArtifactMissing, "model %s has no artifact_sha256", model.ID).
			WithDetails(map[string]any{"model_id": model.ID})
	}
	if symbol != model.Symbol || interval != model.Serving() {
		return Errorf(CodeModelScopeMismatch, "signal %s serves %s %s, the request asked for %s %s",
			sig.Name, model.Symbol, model.Serving(), symbol, interval).
			WithDetails(map[string]any{
				"model_id": model.ID, "model_symbol": model.Symbol, "model_interval": string(model.Serving()),
				"request_symbol": symbol, "request_interval": string(interval),
			})
	}
	return nil
}

// Run predicts and writes one bar. A bar with a missing or stale input is
// refused with feature_value_missing and nothing is written.
func (s *Service) Run(ctx context.Context, req RunRequest) (*RunResult, error) {
	r, a, ts, err := s.runBar(ctx, req)
	if err != nil {
		return nil, err
	}
	defer r.release()
	if req.Source == SourceHistoricalReplay {
		step := req.Interval.Duration()
		if err := s.checkLookahead(r, replayWindow{route: "run", first: ts, step: step, bars: 1, start: ts, end: ts.Add(step)},
			req.Lookahead); err != nil {
			return nil, err
		}
	}
	w, err := s.writeBars(ctx, r, req.Symbol, a.batch(r.plan, []time.Time{ts}, []int{0}, req.Source), nil, req.Agent)
	if err != nil {
		return nil, err
	}
	res := s.runResult(r, req, ts, w.rows[0])
	res.KeptOOF = w.kept > 0
	return res, nil
}

func (s *Service) runResult(r *resolved, req RunRequest, ts time.Time, row SignalRow) *RunResult {
	p := r.lm.Artifact.Payload
	return &RunResult{
		SignalID: r.signal.ID, Symbol: req.Symbol, TS: ts, Interval: req.Interval, Value: row.Value,
		Confidence: row.Confidence, Source: req.Source, ModelID: r.model.ID, ArtifactSHA256: r.lm.Artifact.SHA,
		SpecName: p.Spec.Name, Objective: p.Objective, Vintage: r.vintage.Class(ts),
	}
}

// runBar resolves a run's signal and assembles its bar, with every refusal
// Run makes; the caller releases r.
func (s *Service) runBar(ctx context.Context, req RunRequest) (*resolved, *assembled, time.Time, error) {
	if err := req.Interval.CheckOnGrid(req.TS); err != nil {
		return nil, nil, time.Time{}, err
	}
	ts := req.TS.UTC()
	r, a, err := s.resolveBars(ctx, req.SignalID, req.Symbol, req.Interval, []time.Time{ts})
	if err != nil {
		return nil, nil, ts, err
	}
	if len(a.missing[0]) > 0 {
		r.release()
		return nil, nil, ts, Errorf(CodeFeatureValueMissing, "%d input(s) of %s are missing or stale at %s",
			len(a.missing[0]), r.signal.Name, ts.Format(time.RFC3339)).
			WithDetails(missingDetails(ts, a.missing[0])).
			WithHint("run a feature backfill for the listed features, then retry")
	}
	return r, a, ts, nil
}

// resolveBars resolves a signal and assembles consecutive bars of its
// grid: in one round trip when the signal's last plan still holds
// (resolveFast), else step by step, remembering a pinned plan for next
// time. Run, the streaming worker and batch-predict all come this way; the
// caller releases r.
func (s *Service) resolveBars(ctx context.Context, signalID, symbol string, interval Interval, bars []time.Time) (*resolved, *assembled, error) {
	return s.resolveBarsModel(ctx, signalID, symbol, interval, bars, true)
}

// resolveBarsModelLater is resolveBars for the streaming worker, which finds
// bars waiting on their inputs far more often than it predicts them: when
// the signal's last request left a hint, the bars are read without the
// model, and withModel loads it only once a bar is ready — a replica
// looking through another's share while its inputs are late loads nothing.
func (s *Service) resolveBarsModelLater(ctx context.Context, signalID, symbol string, interval Interval, bars []time.Time) (*resolved, *assembled, error) {
	return s.resolveBarsModel(ctx, signalID, symbol, interval, bars, false)
}

// withModel loads r's model if resolveBarsModelLater left it out.
func (s *Service) withModel(ctx context.Context, r *resolved) error {
	if r.lm != nil {
		return nil
	}
	lm, release, err := s.cache.Acquire(ctx, r.model.ArtifactSHA256)
	if err != nil {
		return err
	}
	r.lm, r.free, r.vintage = lm, release, s.vintageOf(lm.Artifact, r.model)
	return nil
}

func (s *Service) resolveBarsModel(ctx context.Context, signalID, symbol string, interval Interval, bars []time.Time, model bool) (*resolved, *assembled, error) {
	r, a, err := s.resolveFast(ctx, signalID, symbol, interval, bars, model)
	if err != nil || r != nil {
		return r, a, err
	}
	if r, err = s.resolve(ctx, signalID, symbol, interval); err != nil {
		return nil, nil, err
	}
	if a, err = r.plan.assemble(ctx, s.store, symbol, interval, bars); err != nil {
		r.release()
		return nil, nil, err
	}
	if r.plan.pinned {
		s.hints.Store(signalID, &runHint{sha: r.lm.Artifact.SHA, plan: r.plan})
	}
	return r, a, nil
}

// resolveFast reads signal, model, registry rows and the bars' values in
// one round trip, speculating that the signal still serves the sha and plan
// of its last request. The speculation is used only when the fresh reads
// confirm it (same sha, identical registry rows); otherwise it returns a nil
// *resolved and the caller takes the step-by-step path. Refusals found in
// the fresh reads are returned as they are.
func (s *Service) resolveFast(ctx context.Context, signalID, symbol string, interval Interval, bars []time.Time, model bool) (*resolved, *assembled, error) {
	v, ok := s.hints.Load(signalID)
	if !ok {
		return nil, nil, nil
	}
	h := v.(*runHint)
	c := h.plan.collect(symbol, interval, bars)
	sig, rec, defs, err := s.store.Snapshot(ctx, signalID, h.plan.lookup, c.q, c.perBar, c.global)
	if err != nil {
		return nil, nil, err
	}
	if err := checkServable(sig, rec, symbol, interval); err != nil {
		return nil, nil, err
	}
	if rec.ArtifactSHA256 != h.sha || !h.plan.sameDefs(defs) {
		s.hints.Delete(signalID)
		return nil, nil, nil
	}
	r := &resolved{signal: sig, model: rec, plan: h.plan}
	if model {
		if err := s.withModel(ctx, r); err != nil {
			return nil, nil, err
		}
	}
	a, err := c.finish(ctx, s.store)
	if err != nil {
		r.release()
		return nil, nil, err
	}
	return r, a, nil
}

// vintageOf is the artifact's vintage checked against the model's registry
// windows. What the check had to decide (disagreements, fallbacks) is
// logged once per sha and windows, not on every request.
func (s *Service) vintageOf(a *Artifact, m ModelRecord) *Vintage {
	v := a.Vintage.WithRegistry(m.Windows)
	if v == nil || len(v.Notes) == 0 {
		return v
	}
	key := fmt.Sprintf("%s %v %v %v", a.SHA, m.Windows.Training, m.Windows.Validation, m.Windows.Holdout)
	if _, seen := s.noted.LoadOrStore(key, true); !seen {
		s.log.Warn("model vintage", "model_id", m.ID, "artifact_sha256", a.SHA, "rule", v.Rule,
			"honest_from", v.HonestFrom, "notes", v.Notes)
	}
	return v
}
