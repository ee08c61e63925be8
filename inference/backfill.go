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
	// Lookahead is the request's policy: "" (the service's), "refuse" or
	// "allow"; Mode is "" (the service's), "model" or "point_in_time".
	Lookahead, Mode string
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
	// Mode is the mode the backfill ran in; HonestFrom the model's first
	// out-of-sample bar (zero: unknown).
	Mode       string
	HonestFrom time.Time
	// RowsByVintage counts the rows written by meta.vintage; RowsKeptOOF
	// the bars left as the trainer's oof_backfill wrote them;
	// RowsSkippedNoPIT the bars before honest_from that point-in-time mode
	// had no out-of-fold value for.
	RowsByVintage    map[VintageClass]int
	RowsKeptOOF      int
	RowsSkippedNoPIT int
	ModelID          string
	ArtifactSHA256   string
	SpecName         string
	CompletedAt      time.Time
	// Where the time went: feature queries, prediction, signal_history writes.
	// Reads overlap the previous chunk's prediction and write, so the three
	// can add up to more than the wall time.
	FetchTime, PredictTime, WriteTime time.Duration
	ExplainTime                       time.Duration // INFERENCE_EXPLAIN_TOP_K's share
}

// Backfill predicts every bar in [Start, End) in chunks: one pair of
// set-based feature queries, one batch prediction and one transaction per
// chunk, the next chunk's read overlapping this one's write. Bars with
// missing inputs are skipped and counted.
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
		RowsInWindow: req.Interval.BarCount(req.Start, req.End), Mode: req.Mode, RowsByVintage: map[VintageClass]int{},
	}
	if res.Mode == "" {
		res.Mode = s.cfg.BackfillMode
	}
	if r.vintage.Known() {
		res.HonestFrom = r.vintage.HonestFrom
	}
	first, step := req.Interval.GridStart(req.Start), req.Interval.Duration()
	oofBars := 0 // the window's first bars, written from the artifact's OOF predictions
	if res.Mode == ModePointInTime {
		oofBars = barsBefore(r.vintage, first, step, res.RowsInWindow)
	} else if err := s.checkLookahead(r, replayWindow{route: "backfill", first: first, step: step, bars: res.RowsInWindow,
		start: req.Start, end: req.End}, req.Lookahead); err != nil {
		return nil, err
	}
	if err := s.writePointInTime(ctx, r, req, first, oofBars, res); err != nil {
		return nil, withRowsWritten(err, res.RowsWritten)
	}
	if err := s.backfillChunks(ctx, r, req, first.Add(time.Duration(oofBars)*step), res.RowsInWindow-oofBars, res); err != nil {
		return nil, withRowsWritten(err, res.RowsWritten)
	}
	res.CompletedAt = s.now().UTC()
	s.log.Info("backfill done", "signal_id", res.SignalID, "mode", res.Mode, "bars", res.RowsInWindow, "rows_written", res.RowsWritten,
		"rows_by_vintage", res.RowsByVintage, "rows_kept_oof", res.RowsKeptOOF, "rows_skipped_no_point_in_time", res.RowsSkippedNoPIT,
		"rows_skipped_missing_features", res.RowsSkippedMissing, "fetch_ms", res.FetchTime.Milliseconds(),
		"predict_ms", res.PredictTime.Milliseconds(), "write_ms", res.WriteTime.Milliseconds(),
		"explain_ms", res.ExplainTime.Milliseconds())
	return res, nil
}

// chunkRead is one chunk's feature read.
type chunkRead struct {
	bars []time.Time
	a    *assembled
	took time.Duration
	err  error
}

// backfillChunks predicts and writes the window chunk by chunk, reading the
// next chunk's features while the current one predicts and writes: the read
// and the write are each one PostgreSQL round trip of similar length, and on
// separate connections they overlap. At most two chunks are in memory. Each
// chunk is still written in its own transaction, in window order, and no read
// outlives the call.
func (s *Service) backfillChunks(ctx context.Context, r *resolved, req BackfillRequest, first time.Time, n int, res *BackfillResult) error {
	if n <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	step := req.Interval.Duration()
	read := func(done int) <-chan chunkRead {
		bars := make([]time.Time, min(s.cfg.BackfillChunkBars, n-done))
		for i := range bars {
			bars[i] = first.Add(time.Duration(done+i) * step)
		}
		out := make(chan chunkRead, 1)
		go func() {
			t0 := time.Now()
			a, err := r.plan.assemble(ctx, s.store, req.Symbol, req.Interval, bars)
			out <- chunkRead{bars: bars, a: a, took: time.Since(t0), err: err}
		}()
		return out
	}
	next := read(0)
	defer func() {
		if next != nil {
			cancel()
			<-next
		}
	}()
	for done := 0; done < n; {
		c := <-next
		next = nil
		if c.err != nil {
			return c.err
		}
		if done += len(c.bars); done < n {
			next = read(done)
		}
		res.FetchTime += c.took
		if err := s.backfillChunk(ctx, r, req, c, res); err != nil {
			return err
		}
	}
	return nil
}

// backfillChunk predicts and writes one chunk atomically, adding its counts
// to res.
func (s *Service) backfillChunk(ctx context.Context, r *resolved, req BackfillRequest, c chunkRead, res *BackfillResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ready := make([]int, 0, len(c.bars))
	for i := range c.bars {
		if c.a.ready(i) {
			ready = append(ready, i)
		}
	}
	w, err := s.writeBars(ctx, r, req.Symbol, c.a.batch(r.plan, c.bars, ready, req.Source), nil, req.Agent)
	if err != nil {
		return err
	}
	res.RowsSkippedMissing += len(c.bars) - len(ready)
	s.obs.BackfillRows(len(w.rows)-w.kept, len(c.bars)-len(ready))
	res.PredictTime += w.predictTime
	res.WriteTime += w.putTime
	res.ExplainTime += w.explainTime
	res.add(w)
	return nil
}

// add counts a written chunk.
func (res *BackfillResult) add(w written) {
	res.RowsWritten += len(w.rows) - w.kept
	res.RowsKeptOOF += w.kept
	for c, n := range w.byVintage {
		res.RowsByVintage[c] += n
	}
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
