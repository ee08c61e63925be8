package inference

import (
	"context"
	"time"
)

// BatchRequest is the body of the batch-predict webhook.
type BatchRequest struct {
	ComputeRunID string
	Agent        string
}

// BatchStatus is batch-predict's overall outcome.
type BatchStatus string

// The batch-predict outcomes.
const (
	BatchOK      BatchStatus = "ok"      // nothing failed
	BatchPartial BatchStatus = "partial" // some signals failed, some were written
	BatchError   BatchStatus = "error"   // every signal failed
)

// BatchResult reports a batch-predict call.
type BatchResult struct {
	Status           BatchStatus
	SignalsProcessed int
	RowsWritten      int
	RowsFailed       []string // "<signal name>:<error code>"
	CompletedAt      time.Time
}

// BatchPredict predicts, for every active or shadow signal, its own newest
// ready bar within the last max_gap, with source stream and
// meta.compute_run_id. Each signal is written on its own: one failure never
// undoes another's row.
func (s *Service) BatchPredict(ctx context.Context, req BatchRequest) (*BatchResult, error) {
	maxGap := time.Duration(s.cfg.Stream.effective().MaxGapHours) * time.Hour
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
		res.Status = BatchOK
	case res.RowsWritten > 0:
		res.Status = BatchPartial
	default:
		res.Status = BatchError
	}
	res.CompletedAt = s.now().UTC()
	return res, nil
}

// batchOne writes target t's newest ready bar within maxGap.
func (s *Service) batchOne(ctx context.Context, t Target, req BatchRequest, maxGap time.Duration) error {
	if !t.Interval.Valid() {
		return Errorf(CodeModelNotServable, "model serving interval %q is not served", t.Interval)
	}
	unlock, err := s.waitLock(ctx, t.lockKey())
	if err != nil {
		return err
	}
	defer unlock()
	d := t.Interval.Duration()
	nowBar := s.now().UTC().Truncate(d)
	bars := gridBars(nowBar.Add(-maxGap).Truncate(d), nowBar, d)
	r, a, err := s.resolveBars(ctx, t.SignalID, t.Symbol, t.Interval, bars)
	if err != nil {
		return err
	}
	defer r.release()
	for i := len(bars) - 1; i >= 0; i-- {
		if a.ready(i) {
			_, err := s.writeBars(ctx, r, t.Symbol, a.batch(r.plan, bars, []int{i}, SourceStream),
				map[string]any{"compute_run_id": req.ComputeRunID}, req.Agent)
			return err
		}
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
