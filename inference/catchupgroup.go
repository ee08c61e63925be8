package inference

import (
	"context"
	"slices"
	"time"
)

// groupKey is what targets caught up together share: the model (hence the
// artifact and its inputs), the symbol and interval, and the last row as
// listed (hence the bars due).
func (t Target) groupKey() string {
	last := "-"
	if t.LastTS != nil {
		last = t.LastTS.UTC().Format(time.RFC3339Nano)
	}
	return t.ModelID + "|" + t.Symbol + "|" + string(t.Interval) + "|" + last
}

// groupTargets splits targets, in order, into groups of at most maxGroup
// sharing a groupKey; a target without a model id is a group of its own.
// The default bound (INFERENCE_STREAMING_GROUP_SIZE, 25) is large enough
// that a bar close of a thousand signals costs a few hundred statements
// rather than thousands, small enough that replicas polling together split
// even a hundred signals of one model between them.
func groupTargets(targets []Target, maxGroup int) [][]Target {
	var groups [][]Target
	open := map[string]int{} // groupKey → index of its newest group
	for _, t := range targets {
		if t.ModelID == "" || maxGroup <= 1 {
			groups = append(groups, []Target{t})
			continue
		}
		k := t.groupKey()
		if i, ok := open[k]; ok && len(groups[i]) < maxGroup {
			groups[i] = append(groups[i], t)
			continue
		}
		open[k] = len(groups)
		groups = append(groups, []Target{t})
	}
	return groups
}

// catchUpGroup is catchUp for targets sharing a groupKey, done once for
// them all: their locks taken and their last rows re-read in one round
// trip, the bars read and predicted once, and every member's rows written
// in one atomic upsert — the same rows catchUp would write for each, since
// a model's value depends only on the model and its inputs. A member whose
// state moved since the listing (another replica wrote it, its model
// changed, it was retired or deleted) is caught up on its own afterwards
// with catchUp's every rule; so is every member when the group's read or
// write fails, so that one member's failure is never another's.
// results[i] and errs[i] are targets[i]'s.
func (s *Service) catchUpGroup(ctx context.Context, targets []Target, maxGap time.Duration, now time.Time) ([]*targetResult, []error) {
	results, errs := make([]*targetResult, len(targets)), make([]error, len(targets))
	for _, i := range s.catchUpTogether(ctx, targets, maxGap, now, results) {
		results[i], errs[i] = s.catchUp(ctx, targets[i], maxGap, now)
	}
	return results, errs
}

// catchUpTogether does the group's shared work, filling results, and
// returns the indexes of the targets left to catch up alone; it releases
// the group's locks before returning.
func (s *Service) catchUpTogether(ctx context.Context, targets []Target, maxGap time.Duration, now time.Time, results []*targetResult) []int {
	lead := targets[0]
	every := make([]int, len(targets))
	for i := range every {
		every[i] = i
	}
	if !lead.Interval.Valid() {
		return every // catchUp refuses each
	}
	d := lead.Interval.Duration()
	nowBar := now.Truncate(d)
	if writtenUpTo(lead.LastTS, d, nowBar) {
		return every // up to date as listed: catchUp says so without a query
	}
	keys, ids := make([]string, len(targets)), make([]string, len(targets))
	for i, t := range targets {
		keys[i], ids[i] = t.lockKey(), t.SignalID
	}
	held, states, unlock, err := s.store.LockGroup(ctx, keys, ids, lead.Symbol)
	if err != nil {
		return every
	}
	defer unlock()
	members, alone, locked, current := splitGroup(targets, held, states, nowBar)
	for _, i := range locked {
		results[i] = &targetResult{state: StateLocked}
	}
	for _, i := range current {
		l := *states[i].LastTS
		results[i] = &targetResult{state: StateUpToDate, lastWritten: &l, next: l.Add(d)}
	}
	if len(members) == 0 {
		return alone
	}
	var last time.Time
	has := lead.LastTS != nil
	if has {
		last = *lead.LastTS
	}
	first := targets[members[0]]
	res, from := dueFrom(first, last, has, maxGap, nowBar)
	if res.state != "" {
		for _, i := range members { // each with its own gap report
			results[i], _ = dueFrom(targets[i], last, has, maxGap, nowBar)
		}
		return alone
	}
	bars := gridBars(from, nowBar, d)
	r, a, err := s.resolveBars(ctx, first.SignalID, first.Symbol, first.Interval, bars)
	if err != nil {
		return append(alone, members...)
	}
	defer r.release()
	if ready := res.classify(a, bars, !has); len(ready) == 0 {
		res.state = StateWaiting
	} else {
		b := a.batch(r.plan, bars, ready, SourceCatchupScan)
		b.sources[len(ready)-1] = SourceStream // the newest ready bar is the live one
		signals := make([]string, len(members))
		for k, i := range members {
			signals[k] = targets[i].SignalID
		}
		if _, err := s.writeBarsFor(ctx, r, first.Symbol, b, nil, "streaming-worker", signals); err != nil {
			return append(alone, members...)
		}
		lw := b.bars[len(ready)-1]
		res.state, res.written, res.lastWritten, res.next = StateWritten, len(ready), &lw, lw.Add(d)
	}
	for _, i := range members {
		results[i] = res.clone()
	}
	return alone
}

// splitGroup sorts a group's targets by what their locks and re-read
// states allow: members are held and still as listed (same model, same last
// row, not retired); current are held and already written up to nowBar
// (by another replica since the listing): nothing to do; alone are held but
// moved otherwise, and are caught up on their own; locked are held by
// another replica.
func splitGroup(targets []Target, held []bool, states []MemberState, nowBar time.Time) (members, alone, locked, current []int) {
	lead := targets[0]
	d := lead.Interval.Duration()
	for i := range targets {
		st := states[i]
		servedAsListed := st.Found && st.Status != SignalRetired && st.ModelID == lead.ModelID
		switch {
		case !held[i]:
			locked = append(locked, i)
		case servedAsListed && writtenUpTo(st.LastTS, d, nowBar):
			current = append(current, i)
		case servedAsListed && sameTime(st.LastTS, lead.LastTS):
			members = append(members, i)
		default:
			alone = append(alone, i)
		}
	}
	return members, alone, locked, current
}

// clone copies res deeply enough that the worker may keep and extend each
// member's copy on its own.
func (res *targetResult) clone() *targetResult {
	c := *res
	c.waitingOn, c.stalled = slices.Clone(res.waitingOn), slices.Clone(res.stalled)
	if res.lastWritten != nil {
		l := *res.lastWritten
		c.lastWritten = &l
	}
	return &c
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
