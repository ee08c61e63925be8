package inference

import (
	"context"
	"time"
)

type targetResult struct {
	state       string
	lastWritten *time.Time
	next        time.Time
	written     int
	pending     int
	waitingOn   []MissingFeature
	stalled     []StalledBar
	gap         *GapReport
}

// streamTarget brings one target up to date under its advisory lock: the
// bars after its last signal_history row, up to the newest bar whose every
// input is available (CONTRACT §5), are written in one atomic upsert — the
// newest with source stream, older ones catchup_scan. A not-ready bar older
// than a ready one is stalled: skipped and reported, never re-requested.
func (s *Service) streamTarget(ctx context.Context, t Target, maxGap time.Duration, now time.Time) (*targetResult, error) {
	iv, err := ParseInterval(t.Interval)
	if err != nil {
		return nil, Errorf(CodeModelNotServable, "model serving interval %q is not served", t.Interval)
	}
	d := iv.Duration()
	nowBar := now.Truncate(d)
	if t.LastTS != nil && t.LastTS.Add(d).After(nowBar) {
		// Up to date as listed: an idle target costs no query of its own.
		l := *t.LastTS
		return &targetResult{state: StateUpToDate, lastWritten: &l, next: l.Add(d)}, nil
	}
	unlock, ok, err := s.store.TryLock(ctx, "stream:"+t.SignalID+":"+t.Symbol)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &targetResult{state: StateLocked}, nil
	}
	defer unlock()

	last, has, err := s.store.LastSignalTS(ctx, t.SignalID, t.Symbol)
	if err != nil {
		return nil, err
	}
	from := nowBar.Add(-maxGap).Truncate(d)
	res := &targetResult{}
	if has {
		from = last.Add(d)
		l := last
		res.lastWritten = &l
	}
	res.next = from
	if from.After(nowBar) {
		res.state = StateUpToDate
		return res, nil
	}
	if has && nowBar.Sub(from) > maxGap {
		end := nowBar.Add(d)
		res.state = StateGapTooLarge
		res.gap = &GapReport{From: from, To: end, Bars: iv.BarCount(from, end), Backfill: BackfillRequest{
			SignalID: t.SignalID, Symbol: t.Symbol, Interval: iv, Start: from, End: end, Source: SourceCatchupScan}}
		return res, nil
	}

	r, err := s.resolve(ctx, t.SignalID, t.Symbol, iv)
	if err != nil {
		return nil, err
	}
	defer r.release()
	bars := make([]time.Time, 0, iv.BarCount(from, nowBar.Add(d)))
	for b := from; !b.After(nowBar); b = b.Add(d) {
		bars = append(bars, b)
	}
	a, err := r.plan.assemble(ctx, s.store, t.Symbol, iv, bars)
	if err != nil {
		return nil, err
	}
	newest := -1
	for i := len(bars) - 1; i >= 0; i-- {
		if len(a.missing[i]) == 0 {
			newest = i
			break
		}
	}
	res.pending = len(bars) - 1 - newest
	if res.pending > 0 {
		res.waitingOn = a.missing[newest+1]
	}
	if newest < 0 {
		res.state = StateWaiting
		return res, nil
	}
	nc := len(r.plan.columns)
	var rows []float64
	var ready []int
	firstReady := 0
	if !has { // a new signal: bars before its first complete bar are not due
		for len(a.missing[firstReady]) > 0 {
			firstReady++
		}
	}
	for i := firstReady; i <= newest; i++ {
		if len(a.missing[i]) > 0 {
			res.stalled = append([]StalledBar{{TS: bars[i], Missing: a.missing[i]}}, res.stalled...)
			continue
		}
		rows = append(rows, a.rows[i*nc:(i+1)*nc]...)
		ready = append(ready, i)
	}
	out, err := r.lm.Model.PredictBatch(ctx, rows, false)
	if err != nil {
		return nil, err
	}
	width := r.lm.Model.NumOutputs()
	sig := make([]SignalRow, len(ready))
	for k, i := range ready {
		src := SourceCatchupScan
		if i == newest {
			src = SourceStream
		}
		if sig[k], err = s.signalRow(r, t.Symbol, bars[i], src, out[k*width:(k+1)*width]); err != nil {
			return nil, err
		}
	}
	if err := s.store.UpsertSignalRows(ctx, sig, "streaming-worker"); err != nil {
		return nil, err
	}
	lw := bars[newest]
	res.state, res.written, res.lastWritten, res.next = StateWritten, len(sig), &lw, lw.Add(d)
	return res, nil
}

// BatchRequest is the body of the batch-predict webhook.
type BatchRequest struct {
	ComputeRunID string
	Agent        string
}

// BatchResult reports a batch-predict call.
type BatchResult struct {
	Status           string // ok | partial | error
	SignalsProcessed int
	RowsWritten      int
	RowsFailed       []string // "<signal name>:<error code>"
	CompletedAt      time.Time
}

// BatchPredict predicts, for every active or shadow signal, its own newest
// ready bar within the last maxGap, with source stream and
// meta.compute_run_id. Each signal is written on its own: one failure never
// undoes another's row.
func (s *Service) BatchPredict(ctx context.Context, req BatchRequest) (*BatchResult, error) {
	maxGap := time.Duration(max(s.cfg.Stream.MaxGapHours, 1)) * time.Hour
	targets, err := s.store.StreamTargets(ctx)
	if err != nil {
		return nil, err
	}
	res := &BatchResult{RowsFailed: []string{}}
	for _, t := range targets {
		res.SignalsProcessed++
		if err := s.batchOne(ctx, t, req, maxGap); err != nil {
			res.RowsFailed = append(res.RowsFailed, t.Name+":"+string(ErrorCode(err)))
			continue
		}
		res.RowsWritten++
	}
	switch {
	case len(res.RowsFailed) == 0:
		res.Status = "ok"
	case res.RowsWritten > 0:
		res.Status = "partial"
	default:
		res.Status = "error"
	}
	if res.SignalsProcessed == 0 {
		res.Status = "ok"
	}
	res.CompletedAt = s.now().UTC()
	return res, nil
}

func (s *Service) batchOne(ctx context.Context, t Target, req BatchRequest, maxGap time.Duration) error {
	iv, err := ParseInterval(t.Interval)
	if err != nil {
		return Errorf(CodeModelNotServable, "model serving interval %q is not served", t.Interval)
	}
	unlock, err := s.waitLock(ctx, "stream:"+t.SignalID+":"+t.Symbol)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := s.resolve(ctx, t.SignalID, t.Symbol, iv)
	if err != nil {
		return err
	}
	defer r.release()
	d := iv.Duration()
	nowBar := s.now().UTC().Truncate(d)
	var bars []time.Time
	for b := nowBar.Add(-maxGap).Truncate(d); !b.After(nowBar); b = b.Add(d) {
		bars = append(bars, b)
	}
	a, err := r.plan.assemble(ctx, s.store, t.Symbol, iv, bars)
	if err != nil {
		return err
	}
	nc := len(r.plan.columns)
	for i := len(bars) - 1; i >= 0; i-- {
		if len(a.missing[i]) > 0 {
			continue
		}
		out, err := r.lm.Model.Predict(ctx, a.rows[i*nc:(i+1)*nc], false)
		if err != nil {
			return err
		}
		row, err := s.signalRow(r, t.Symbol, bars[i], SourceStream, out)
		if err != nil {
			return err
		}
		row.Meta["compute_run_id"] = req.ComputeRunID
		return s.store.UpsertSignalRows(ctx, []SignalRow{row}, req.Agent)
	}
	return Errorf(CodeFeatureValueMissing, "no bar of %s in the last %s has every input", t.Name, maxGap)
}

// waitLock takes a target's lock, waiting briefly for another replica.
func (s *Service) waitLock(ctx context.Context, key string) (func(), error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		unlock, ok, err := s.store.TryLock(ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			return unlock, nil
		}
		if time.Now().After(deadline) {
			return nil, Errorf(CodeDBUnavailable, "target %s is busy in another replica", key)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
