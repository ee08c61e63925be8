package inference

import (
	"context"
	"slices"
	"strings"
	"time"
)

// groupKey is what targets caught up together share: the symbol and
// interval, and the last row as listed (hence the bars due). Their models
// may differ: each model's members share one read and one prediction, and
// the whole group one lock statement and one upsert.
func (t Target) groupKey() string {
	last := "-"
	if t.LastTS != nil {
		last = t.LastTS.UTC().Format(time.RFC3339Nano)
	}
	return t.Symbol + "|" + string(t.Interval) + "|" + last
}

// groupTargets splits targets into groups of at most maxGroup sharing a
// groupKey, in the order each key is first listed, a key's targets ordered
// by model (so that signals sharing a model share a group, and its read
// and prediction); a target without a model id is a group of its own. The
// default bound (INFERENCE_STREAMING_GROUP_SIZE, 25) is large enough that
// a bar close of a thousand signals costs a few hundred statements and
// forty commits rather than thousands, whether they share one model or
// each has its own, and small enough that replicas polling together split
// even a hundred signals between them.
func groupTargets(targets []Target, maxGroup int) [][]Target {
	var groups [][]Target
	var keys []string
	byKey := map[string][]Target{}
	for _, t := range targets {
		if t.ModelID == "" || maxGroup <= 1 {
			keys = append(keys, "")
			byKey[""] = append(byKey[""], t)
			continue
		}
		k := t.groupKey()
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], t)
	}
	alone := 0
	for _, k := range keys {
		if k == "" { // one key entry per target alone, in order
			groups = append(groups, []Target{byKey[""][alone]})
			alone++
			continue
		}
		ts := byKey[k]
		slices.SortStableFunc(ts, func(a, b Target) int { return strings.Compare(a.ModelID, b.ModelID) })
		for len(ts) > 0 {
			n := min(maxGroup, len(ts))
			groups = append(groups, ts[:n:n])
			ts = ts[n:]
		}
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
	due, from := dueFrom(targets[members[0]], last, has, maxGap, nowBar)
	if due.state != "" {
		for _, i := range members { // each with its own gap report
			results[i], _ = dueFrom(targets[i], last, has, maxGap, nowBar)
		}
		return alone
	}
	bars := gridBars(from, nowBar, d)
	return append(alone, s.writeMembers(ctx, targets, members, bars, due, !has, results)...)
}

// writeMembers reads, predicts and writes a locked group's due bars: one
// read and one prediction per model, one atomic upsert for every member's
// rows. It fills results and returns the members left to catch up alone:
// a model's members when their read or prediction fails (the others are
// still written), every member when the upsert fails.
func (s *Service) writeMembers(ctx context.Context, targets []Target, members []int, bars []time.Time, due *targetResult,
	newSignal bool, results []*targetResult) (alone []int) {
	type part struct {
		members []int
		res     *targetResult
	}
	var parts []part
	var rows []SignalRow
	for _, ms := range byModel(targets, members) {
		first := targets[ms[0]]
		res := due.clone()
		r, a, err := s.resolveBarsModelLater(ctx, first.SignalID, first.Symbol, first.Interval, bars)
		if err != nil {
			alone = append(alone, ms...)
			continue
		}
		defer r.release() // held until the group's rows are written
		ready := res.classify(a, bars, newSignal)
		if len(ready) == 0 {
			res.state = StateWaiting
			parts = append(parts, part{ms, res})
			continue
		}
		if err := s.withModel(ctx, r); err != nil {
			alone = append(alone, ms...)
			continue
		}
		b := a.batch(r.plan, bars, ready, SourceCatchupScan)
		b.sources[len(ready)-1] = SourceStream // the newest ready bar is the live one
		signals := make([]string, len(ms))
		for k, i := range ms {
			signals[k] = targets[i].SignalID
		}
		_, mine, err := s.scoreFor(ctx, r, first.Symbol, b, nil, signals)
		if err != nil {
			alone = append(alone, ms...)
			continue
		}
		rows = append(rows, mine...)
		lw := b.bars[len(ready)-1]
		res.state, res.written, res.lastWritten, res.next = StateWritten, len(ready), &lw, lw.Add(first.Interval.Duration())
		parts = append(parts, part{ms, res})
	}
	if len(rows) > 0 {
		var w written
		if err := s.put(ctx, &w, rows, "streaming-worker"); err != nil {
			for _, p := range parts {
				alone = append(alone, p.members...)
			}
			return alone
		}
	}
	for _, p := range parts {
		for _, i := range p.members {
			results[i] = p.res.clone()
		}
	}
	return alone
}

// byModel splits a group's members by model, in order of first appearance.
func byModel(targets []Target, members []int) [][]int {
	var out [][]int
	at := map[string]int{}
	for _, i := range members {
		m := targets[i].ModelID
		k, ok := at[m]
		if !ok {
			k = len(out)
			at[m] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], i)
	}
	return out
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
		servedAsListed := st.Found && st.Status != SignalRetired && st.ModelID == targets[i].ModelID
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
