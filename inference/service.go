package inference

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Config configures the inference service.
type Config struct {
	ArtifactDir       string `env:"INFERENCE_ARTIFACT_DIR" envDefault:"./artifacts"`
	MaxBackfillRows   int64  `env:"INFERENCE_MAX_BACKFILL_ROWS" envDefault:"50000"`
	ModelCacheSize    int    `env:"INFERENCE_MODEL_CACHE_SIZE" envDefault:"16"`
	BackfillChunkBars int    `env:"INFERENCE_BACKFILL_CHUNK_BARS" envDefault:"20000"`
	Stream            StreamConfig
}

// Service resolves signals to models, builds feature vectors, predicts and
// writes signal_history rows. It is safe for concurrent use.
type Service struct {
	store Store
	cache *ModelCache
	cfg   Config
	now   func() time.Time
	log   *slog.Logger
	hints sync.Map // signal ID → *runHint: the plan of its last served sha
}

// runHint lets Run read everything in one pipelined round trip: the plan a
// signal's last request used, to be confirmed by that request's fresh reads.
type runHint struct {
	sha  string
	plan *featurePlan
}

// NewService wires a service. now is the clock (time.Now in production).
func NewService(store Store, cache *ModelCache, cfg Config, now func() time.Time, log *slog.Logger) *Service {
	if cfg.BackfillChunkBars <= 0 {
		cfg.BackfillChunkBars = 20000
	}
	return &Service{store: store, cache: cache, cfg: cfg, now: now, log: log}
}

// RunRequest asks for one bar.
type RunRequest struct {
	SignalID string
	Symbol   string
	TS       time.Time
	Interval Interval
	Source   Source
	Agent    string
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
}

// BackfillRequest asks for every bar in [Start, End).
type BackfillRequest struct {
	SignalID string
	Symbol   string
	Interval Interval
	Start    time.Time
	End      time.Time
	Source   Source
	Agent    string
}

// BackfillResult counts what a backfill did.
type BackfillResult struct {
	SignalID           string
	Symbol             string
	Interval           Interval
	Source             Source
	Start, End         time.Time
	RowsInWindow       int
	RowsWritten        int
	RowsSkippedMissing int
	ModelID            string
	ArtifactSHA256     string
	SpecName           string
	CompletedAt        time.Time
	// Where the time went: feature queries, prediction, signal_history writes.
	FetchTime, PredictTime, WriteTime time.Duration
}

// resolved is a signal ready to serve; release returns the model to the cache.
type resolved struct {
	signal  Signal
	model   ModelRecord
	lm      *LoadedModel
	plan    *featurePlan
	release func()
}

// resolve walks signal → definition → model_registry → artifact (by sha,
// never artifact_uri) and checks lifecycle and scope.
func (s *Service) resolve(ctx context.Context, signalID, symbol string, interval Interval) (*resolved, error) {
	sig, model, err := s.store.Resolve(ctx, signalID)
	if err != nil {
		return nil, err
	}
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
	return &resolved{signal: sig, model: model, lm: lm, plan: plan, release: release}, nil
}

// checkServable applies the lifecycle and scope refusals.
func checkServable(sig Signal, model ModelRecord, symbol string, interval Interval) error {
	if sig.Status == "retired" {
		return Errorf(CodeSignalRetired, "signal %s (%s) is retired", sig.Name, sig.ID).
			WithDetails(map[string]any{"signal_id": sig.ID, "status": sig.Status})
	}
	if model.Status == "retired" || model.Status == "rejected_by_operator" {
		return Errorf(CodeModelLifecycleRefused, "model %s has status %s", model.ID, model.Status).
			WithDetails(map[string]any{"model_id": model.ID, "status": model.Status})
	}
	if model.ArtifactSHA256 == "" {
		return Errorf(CodeModelArtifactMissing, "model %s has no artifact_sha256", model.ID).
			WithDetails(map[string]any{"model_id": model.ID})
	}
	if symbol != model.Symbol || string(interval) != model.Serving() {
		return Errorf(CodeModelScopeMismatch, "signal %s serves %s %s, the request asked for %s %s",
			sig.Name, model.Symbol, model.Serving(), symbol, interval).
			WithDetails(map[string]any{
				"model_id": model.ID, "model_symbol": model.Symbol, "model_interval": model.Serving(),
				"request_symbol": symbol, "request_interval": string(interval),
			})
	}
	return nil
}

// Run predicts and writes one bar. A bar with a missing or stale input is
// refused with feature_value_missing and nothing is written.
func (s *Service) Run(ctx context.Context, req RunRequest) (*RunResult, error) {
	if err := req.Interval.CheckOnGrid(req.TS); err != nil {
		return nil, err
	}
	ts := req.TS.UTC()
	r, a, err := s.runFast(ctx, req, ts)
	if err != nil {
		return nil, err
	}
	if r == nil {
		if r, err = s.resolve(ctx, req.SignalID, req.Symbol, req.Interval); err != nil {
			return nil, err
		}
		if a, err = r.plan.assemble(ctx, s.store, req.Symbol, req.Interval, []time.Time{ts}); err != nil {
			r.release()
			return nil, err
		}
		if r.plan.pinned {
			s.hints.Store(req.SignalID, &runHint{sha: r.lm.Artifact.SHA, plan: r.plan})
		}
	}
	defer r.release()
	if len(a.missing[0]) > 0 {
		return nil, Errorf(CodeFeatureValueMissing, "%d input(s) of %s are missing or stale at %s",
			len(a.missing[0]), r.signal.Name, ts.Format(time.RFC3339)).
			WithDetails(missingDetails(ts, a.missing[0])).
			WithHint("run a feature backfill for the listed features, then retry")
	}
	out, err := r.lm.Model.Predict(ctx, a.rows, false)
	if err != nil {
		return nil, err
	}
	row, err := s.signalRow(r, req.Symbol, ts, req.Source, out)
	if err != nil {
		return nil, err
	}
	if err := s.store.UpsertSignalRows(ctx, []SignalRow{row}, req.Agent); err != nil {
		return nil, err
	}
	p := r.lm.Artifact.Payload
	return &RunResult{
		SignalID: r.signal.ID, Symbol: req.Symbol, TS: ts, Interval: req.Interval, Value: row.Value,
		Confidence: row.Confidence, Source: req.Source, ModelID: r.model.ID, ArtifactSHA256: r.lm.Artifact.SHA,
		SpecName: p.Spec.Name, Objective: p.Objective,
	}, nil
}

// runFast reads signal, model, registry rows and the bar's values in one
// round trip, speculating that the signal still serves the sha and plan of
// its last request. The speculation is used only when the fresh reads
// confirm it (same sha, identical registry rows); otherwise it returns a nil
// *resolved and Run takes the step-by-step path. Refusals found in the
// fresh reads are returned as they are.
func (s *Service) runFast(ctx context.Context, req RunRequest, ts time.Time) (*resolved, *assembled, error) {
	v, ok := s.hints.Load(req.SignalID)
	if !ok {
		return nil, nil, nil
	}
	h := v.(*runHint)
	c := h.plan.collect(req.Symbol, req.Interval, []time.Time{ts})
	sig, model, defs, err := s.store.Snapshot(ctx, req.SignalID, h.plan.lookup, c.q, c.perBar, c.global)
	if err != nil {
		return nil, nil, err
	}
	if err := checkServable(sig, model, req.Symbol, req.Interval); err != nil {
		return nil, nil, err
	}
	if model.ArtifactSHA256 != h.sha || !h.plan.sameDefs(defs) {
		s.hints.Delete(req.SignalID)
		return nil, nil, nil
	}
	lm, release, err := s.cache.Acquire(ctx, h.sha)
	if err != nil {
		return nil, nil, err
	}
	a, err := c.finish(ctx, s.store)
	if err != nil {
		release()
		return nil, nil, err
	}
	return &resolved{signal: sig, model: model, lm: lm, plan: h.plan, release: release}, a, nil
}

// Backfill predicts every bar in [Start, End) in chunks: one pair of
// set-based feature queries, one batch prediction and one transaction per
// chunk. Bars with missing inputs are skipped and counted.
func (s *Service) Backfill(ctx context.Context, req BackfillRequest) (*BackfillResult, error) {
	if !req.End.After(req.Start) {
		return nil, Errorf(CodeBadWindow, "end %s is not after start %s",
			req.End.UTC().Format(time.RFC3339), req.Start.UTC().Format(time.RFC3339))
	}
	if est := req.Interval.EstimatedBars(req.Start, req.End); est > s.cfg.MaxBackfillRows {
		return nil, Errorf(CodeBackfillWindowTooLarge, "the window holds about %d bars, more than the %d allowed", est, s.cfg.MaxBackfillRows).
			WithDetails(map[string]any{"estimated_bars": est, "max_rows": s.cfg.MaxBackfillRows}).
			WithHint("split the window into smaller backfills")
	}
	r, err := s.resolve(ctx, req.SignalID, req.Symbol, req.Interval)
	if err != nil {
		return nil, err
	}
	defer r.release()

	p := r.lm.Artifact.Payload
	res := &BackfillResult{
		SignalID: r.signal.ID, Symbol: req.Symbol, Interval: req.Interval, Source: req.Source,
		Start: req.Start.UTC(), End: req.End.UTC(), ModelID: r.model.ID, ArtifactSHA256: r.lm.Artifact.SHA, SpecName: p.Spec.Name,
	}
	step := req.Interval.Duration()
	first := req.Interval.GridStart(req.Start)
	res.RowsInWindow = req.Interval.BarCount(req.Start, req.End)
	nc := len(r.plan.columns)
	for done := 0; done < res.RowsInWindow; {
		if err := ctx.Err(); err != nil {
			return nil, s.partial(err, res)
		}
		n := min(s.cfg.BackfillChunkBars, res.RowsInWindow-done)
		bars := make([]time.Time, n)
		for i := range bars {
			bars[i] = first.Add(time.Duration(done+i) * step)
		}
		t0 := time.Now()
		a, err := r.plan.assemble(ctx, s.store, req.Symbol, req.Interval, bars)
		if err != nil {
			return nil, s.partial(err, res)
		}
		res.FetchTime += time.Since(t0)
		okRows := make([]float64, 0, n*nc)
		okBars := make([]time.Time, 0, n)
		for i, bar := range bars {
			if len(a.missing[i]) > 0 {
				res.RowsSkippedMissing++
				continue
			}
			okRows = append(okRows, a.rows[i*nc:(i+1)*nc]...)
			okBars = append(okBars, bar)
		}
		if len(okBars) > 0 {
			t1 := time.Now()
			out, err := r.lm.Model.PredictBatch(ctx, okRows, false)
			if err != nil {
				return nil, s.partial(err, res)
			}
			width := r.lm.Model.NumOutputs()
			rows := make([]SignalRow, len(okBars))
			for i, bar := range okBars {
				if rows[i], err = s.signalRow(r, req.Symbol, bar, req.Source, out[i*width:(i+1)*width]); err != nil {
					return nil, s.partial(err, res)
				}
			}
			t2 := time.Now()
			res.PredictTime += t2.Sub(t1)
			if err := s.store.UpsertSignalRows(ctx, rows, req.Agent); err != nil {
				return nil, s.partial(err, res)
			}
			res.WriteTime += time.Since(t2)
			res.RowsWritten += len(rows)
		}
		done += n
	}
	res.CompletedAt = s.now().UTC()
	s.log.Info("backfill done", "signal_id", res.SignalID, "bars", res.RowsInWindow, "rows_written", res.RowsWritten,
		"rows_skipped_missing_features", res.RowsSkippedMissing, "fetch_ms", res.FetchTime.Milliseconds(),
		"predict_ms", res.PredictTime.Milliseconds(), "write_ms", res.WriteTime.Milliseconds())
	return res, nil
}

// partial reports what a failed backfill had already committed.
func (s *Service) partial(err error, res *BackfillResult) error {
	return withRowsWritten(err, res.RowsWritten)
}

// withRowsWritten returns err with details.rows_written_before_error = n. It
// never modifies err, which may be shared between requests: a coded error
// is copied (details cloned); an uncoded one — a cancelled context, say — is
// wrapped as internal_error, so the count survives either way.
func withRowsWritten(err error, n int) error {
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Code: CodeInternal, Message: "the backfill stopped before it finished", Err: err,
			Details: map[string]any{"rows_written_before_error": n}}
	}
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details["rows_written_before_error"] = n
	return &c
}

// signalRow turns model output into a signal_history row (D8).
func (s *Service) signalRow(r *resolved, symbol string, ts time.Time, source Source, out []float64) (SignalRow, error) {
	p := r.lm.Artifact.Payload
	meta := map[string]any{
		"model_id": r.model.ID, "artifact_sha256": r.lm.Artifact.SHA, "spec_name": p.Spec.Name,
		"objective": p.Objective, "model_status_at_inference": r.model.Status,
	}
	row := SignalRow{SignalID: r.signal.ID, Symbol: symbol, TS: ts, Source: source, Meta: meta, ProducedAt: s.now().UTC()}
	switch p.Objective {
	case ObjectiveBinary, ObjectiveRegression:
		switch {
		case len(out) == 1:
			row.Value = out[0]
		case len(out) == 2 && p.Objective == ObjectiveBinary: // an ensemble's [P(0), P(1)]
			row.Value = out[1]
		default:
			return row, Errorf(CodeInternal, "%s model returned %d outputs", p.Objective, len(out))
		}
	case ObjectiveMulticlass:
		if len(out) != 3 {
			return row, Errorf(CodeModelNotServable, "multiclass model has %d classes; signals need exactly 3 (-1, 0, +1)", len(out))
		}
		best := 0
		for k := 1; k < 3; k++ {
			if out[k] > out[best] { // first maximum, as numpy.argmax
				best = k
			}
		}
		conf := out[best]
		row.Value, row.Confidence = out[2]-out[0], &conf
		meta["proba"] = []float64{out[0], out[1], out[2]}
		meta["argmax_class"] = best - 1
	default:
		return row, Errorf(CodeModelNotServable, "objective %q is not served", p.Objective)
	}
	if math.IsNaN(row.Value) || math.IsInf(row.Value, 0) {
		return row, Errorf(CodeInternal, "model produced a non-finite value")
	}
	return row, nil
}
