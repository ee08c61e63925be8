package inference

import (
	"context"
	"time"
)

// targetResult is what one catch-up of one target did.
type targetResult struct {
	state       TargetState
	lastWritten *time.Time
	next        time.Time
	written     int
	pending     int
	waitingOn   []MissingFeature
	stalled     []StalledBar
	gap         *GapReport
}

// catchUp brings one target up to date under its advisory lock: the bars
// after its last signal_history row, up to the newest bar whose every input
// is available (CONTRACT §5), are written in one atomic upsert — the newest
// with source stream, older ones catchup_scan. A not-ready bar older than a
// ready one is stalled: skipped and reported, never re-requested.
func (s *Service) catchUp(ctx context.Context, t Target, maxGap time.Duration, now time.Time) (*targetResult, error) {
	if !t.Interval.Valid() {
		return nil, Errorf(CodeModelNotServable, "model serving interval %q is not served", t.Interval)
	}
	d := t.Interval.Duration()
	nowBar := now.Truncate(d)
	if writtenUpTo(t.LastTS, d, nowBar) {
		// Up to date as listed: an idle target costs no query of its own.
		l := *t.LastTS
		return &targetResult{state: StateUpToDate, lastWritten: &l, next: l.Add(d)}, nil
	}
	unlock, ok, err := s.store.TryLock(ctx, t.lockKey())
	if err != nil {
		return nil, err
	}
	if !ok {
		return &targetResult{state: StateLocked}, nil
	}
	defer unlock()

	res, from, err := s.dueWindow(ctx, t, maxGap, nowBar)
	if err != nil || res.state != "" {
		return res, err
	}
	bars := gridBars(from, nowBar, d)
	r, a, err := s.resolveBarsModelLater(ctx, t.SignalID, t.Symbol, t.Interval, bars)
	if err != nil {
		return nil, err
	}
	defer r.release()
	ready := res.classify(a, bars, res.lastWritten == nil)
	if len(ready) == 0 {
		res.state = StateWaiting
		return res, nil
	}
	if err := s.withModel(ctx, r); err != nil {
		return nil, err
	}
	b := a.batch(r.plan, bars, ready, SourceCatchupScan)
	b.sources[len(ready)-1] = SourceStream // the newest ready bar is the live one
	w, err := s.writeBars(ctx, r, t.Symbol, b, nil, "streaming-worker")
	if err != nil {
		return nil, err
	}
	lw := b.bars[len(ready)-1]
	res.state, res.written, res.lastWritten, res.next = StateWritten, len(w.rows)-w.kept, &lw, lw.Add(d)
	return res, nil
}

// writtenUpTo reports whether a target whose last row is last (nil: none)
// already has the bar nowBar of its interval d: nothing is due.
func writtenUpTo(last *time.Time, d time.Duration, nowBar time.Time) bool {
	return last != nil && last.Add(d).After(nowBar)
}

// dueWindow re-reads the target's last row under its lock and returns the
// first due bar; a set state means there is nothing to read (up to date,
// or a gap too large to fill on its own).
func (s *Service) dueWindow(ctx context.Context, t Target, maxGap time.Duration, nowBar time.Time) (*targetResult, time.Time, error) {
	last, has, err := s.store.LastSignalTS(ctx, t.SignalID, t.Symbol)
	if err != nil {
		return nil, time.Time{}, err
	}
	res, from := dueFrom(t, last, has, maxGap, nowBar)
	return res, from, nil
}

// dueFrom is dueWindow on a last row already read under the lock.
func dueFrom(t Target, last time.Time, has bool, maxGap time.Duration, nowBar time.Time) (*targetResult, time.Time) {
	d := t.Interval.Duration()
	res := &targetResult{}
	from := nowBar.Add(-maxGap).Truncate(d) // a new signal starts max_gap back
	if has {
		from = last.Add(d)
		l := last
		res.lastWritten = &l
	}
	res.next = from
	switch {
	case from.After(nowBar):
		res.state = StateUpToDate
	case has && nowBar.Sub(from) > maxGap:
		end := nowBar.Add(d)
		res.state = StateGapTooLarge
		res.gap = &GapReport{From: from, To: end, Bars: t.Interval.BarCount(from, end), Backfill: BackfillRequest{
			SignalID: t.SignalID, Symbol: t.Symbol, Interval: t.Interval, Start: from, End: end, Source: SourceCatchupScan}}
	}
	return res, from
}

// classify returns the bars to write — the ready ones up to the newest
// ready bar — and records the stalled bars before it and the pending ones
// after it. For a new signal, bars before its first complete bar are not
// due at all.
func (res *targetResult) classify(a *assembled, bars []time.Time, newSignal bool) []int {
	newest := -1
	for i := len(bars) - 1; i >= 0 && newest < 0; i-- {
		if a.ready(i) {
			newest = i
		}
	}
	res.pending = len(bars) - 1 - newest
	if res.pending > 0 {
		res.waitingOn = a.missing[newest+1]
	}
	first := 0
	for newSignal && first < newest && !a.ready(first) {
		first++
	}
	var ready []int
	for i := first; i <= newest; i++ {
		if a.ready(i) {
			ready = append(ready, i)
		} else {
			res.stalled = append([]StalledBar{{TS: bars[i], Missing: a.missing[i]}}, res.stalled...)
		}
	}
	return ready
}

// gridBars lists the bars from, from+d, … up to and including last.
func gridBars(from, last time.Time, d time.Duration) []time.Time {
	var bars []time.Time
	for b := from; !b.After(last); b = b.Add(d) {
		bars = append(bars, b)
	}
	return bars
}
