package inference

import (
	"context"
	"errors"
	"sync"
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
	// Deferred are the signals not reached within the call's budget
	// (INFERENCE_BATCH_BUDGET): nothing was written for them here, and the
	// streaming worker writes their bar as for any signal.
	Deferred    []string
	CompletedAt time.Time
}

// BatchPredict predicts, for every active or shadow signal, its own newest
// ready bar within the last max_gap, with source stream and
// meta.compute_run_id. Each signal is written on its own: one failure never
// undoes another's row. Signals run Stream.Concurrency at a time; once
// INFERENCE_BATCH_BUDGET has passed no further signal is started, and the
// answer lists those left (Deferred) instead of keeping the feature service
// waiting past its timeout.
func (s *Service) BatchPredict(ctx context.Context, req BatchRequest) (*BatchResult, error) {
	defer s.closing()()
	start := time.Now()
	maxGap := time.Duration(s.cfg.Stream.effective().MaxGapHours) * time.Hour
	targets, err := s.store.StreamTargets(ctx)
	if err != nil {
		return nil, err
	}
	budget := s.cfg.BatchBudget
	if budget <= 0 {
		budget = 4 * time.Second
	}
	startBy := start.Add(budget)
	res := &BatchResult{RowsFailed: []string{}, Deferred: []string{}}
	outcome := make([]error, len(targets))
	started := make([]bool, len(targets))
	sem := make(chan struct{}, max(s.cfg.Stream.effective().Concurrency, 1))
	var wg sync.WaitGroup
	for i, t := range targets {
		sem <- struct{}{}
		if time.Now().After(startBy) || ctx.Err() != nil {
			<-sem
			break
		}
		started[i] = true
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			outcome[i] = s.batchOne(ctx, t, req, maxGap, startBy)
		}()
	}
	wg.Wait()
	for i, t := range targets {
		switch {
		case !started[i], errors.Is(outcome[i], errBatchDeferred):
			res.Deferred = append(res.Deferred, t.Name)
		case outcome[i] != nil:
			res.SignalsProcessed++
			res.RowsFailed = append(res.RowsFailed, t.Name+":"+string(ErrorCode(outcome[i])))
		default:
			res.SignalsProcessed++
			res.RowsWritten++
		}
	}
	switch {
	case len(res.RowsFailed) == 0 && len(res.Deferred) == 0:
		res.Status = BatchOK
	case res.RowsWritten > 0 || len(res.Deferred) > 0:
		res.Status = BatchPartial
	default:
		res.Status = BatchError
	}
	if n := len(res.Deferred); n > 0 {
		s.log.Warn("batch-predict: budget spent; the signals left are the streaming worker's", "deferred", n,
			"written", res.RowsWritten, "budget", budget.String(), "compute_run_id", req.ComputeRunID)
	}
	res.CompletedAt = s.now().UTC()
	return res, nil
}

// errBatchDeferred: a target whose lock stayed held past the call's budget
// (another replica's worker is writing it) is left to the worker.
var errBatchDeferred = errors.New("deferred to the streaming worker")

// batchOne writes target t's newest ready bar within maxGap.
func (s *Service) batchOne(ctx context.Context, t Target, req BatchRequest, maxGap time.Duration, startBy time.Time) error {
	if !t.Interval.Valid() {
		return Errorf(CodeModelNotServable, "model serving interval %q is not served", t.Interval)
	}
	unlock, err := s.waitLock(ctx, t.lockKey(), startBy)
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

// waitLock takes a target's lock, waiting for another replica until
// startBy: past it the target is deferred.
func (s *Service) waitLock(ctx context.Context, key string, startBy time.Time) (func(), error) {
	for {
		unlock, ok, err := s.store.TryLock(ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			return unlock, nil
		}
		if time.Now().After(startBy) {
			return nil, errBatchDeferred
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
