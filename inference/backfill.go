package inference

import (
	"context"
	"errors"
	"time"
)

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
	release, err := s.admit.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	r, err := s.resolve(ctx, req.SignalID, req.Symbol, req.Interval)
	if err != nil {
		return nil, err
	}
	defer r.release()

	p := r.lm.Artifact.Payload
	res := &BackfillResult{
		SignalID: r.signal.ID, Symbol: req.Symbol, Interval: req.Interval, Source: req.Source,
		Start: req.Start.UTC(), End: req.End.UTC(), ModelID: r.model.ID, ArtifactSHA256: r.lm.Artifact.SHA, SpecName: p.Spec.Name,
		RowsInWindow: req.Interval.BarCount(req.Start, req.End),
	}
	first, step := req.Interval.GridStart(req.Start), req.Interval.Duration()
	for done := 0; done < res.RowsInWindow; {
		n := min(s.cfg.BackfillChunkBars, res.RowsInWindow-done)
		bars := make([]time.Time, n)
		for i := range bars {
			bars[i] = first.Add(time.Duration(done+i) * step)
		}
		if err := s.backfillChunk(ctx, r, req, bars, res); err != nil {
			return nil, withRowsWritten(err, res.RowsWritten)
		}
		done += n
	}
	res.CompletedAt = s.now().UTC()
	s.log.Info("backfill done", "signal_id", res.SignalID, "bars", res.RowsInWindow, "rows_written", res.RowsWritten,
		"rows_skipped_missing_features", res.RowsSkippedMissing, "fetch_ms", res.FetchTime.Milliseconds(),
		"predict_ms", res.PredictTime.Milliseconds(), "write_ms", res.WriteTime.Milliseconds())
	return res, nil
}

// backfillChunk reads, predicts and writes one chunk of bars atomically,
// adding its counts to res.
func (s *Service) backfillChunk(ctx context.Context, r *resolved, req BackfillRequest, bars []time.Time, res *BackfillResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t0 := time.Now()
	a, err := r.plan.assemble(ctx, s.store, req.Symbol, req.Interval, bars)
	if err != nil {
		return err
	}
	res.FetchTime += time.Since(t0)
	ready := make([]int, 0, len(bars))
	for i := range bars {
		if a.ready(i) {
			ready = append(ready, i)
		}
	}
	w, err := s.writeBars(ctx, r, req.Symbol, a.batch(r.plan, bars, ready, req.Source), nil, req.Agent)
	if err != nil {
		return err
	}
	res.RowsSkippedMissing += len(bars) - len(ready)
	s.obs.BackfillRows(len(w.rows), len(bars)-len(ready))
	res.PredictTime += w.predictTime
	res.WriteTime += w.putTime
	res.RowsWritten += len(w.rows)
	return nil
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
