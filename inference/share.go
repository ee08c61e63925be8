package inference

import (
	"context"
	"hash/fnv"
	"slices"
	"time"
)

// Streaming replicas share each bar close: they poll at the same instants
// and split the targets by the slots they hold (Store.Replicas).

// untilNextPoll is how long to wait from now for the next multiple of poll
// on the wall clock. Replicas (whose clocks agree to well under a poll)
// thereby poll at the same instants, so a bar close finds them all awake
// at once and they share its groups, instead of whichever happens to poll
// first taking them all; a replica's own latency is unchanged, at most one
// poll.
func untilNextPoll(now time.Time, poll time.Duration) time.Duration {
	return now.Truncate(poll).Add(poll).Sub(now)
}

// minShareGrace is the least a replica waits before it takes other
// replicas' groups: a share of a few groups takes tens of milliseconds, less
// than the scheduling noise between replicas on a busy host.
const minShareGrace = 100 * time.Millisecond

// share splits the pass's targets between the replicas alive and groups
// each side (groupTargets). Replicas list the same targets; with n of them,
// each target has one owner (ownerOf), whatever its last row, so that a
// replica's share — and the models it keeps loaded — stays the same from
// poll to poll while the replicas do. own is this replica's groups, which it
// takes first; others the rest, from the last one back, which it takes only
// after a grace (RunOnce). A replica that dies loses its slot with its
// session, and the next pass shares among those left. When nothing is due
// (an idle poll), or the slots cannot be read, it owns every group, at no
// cost. workingSet is the models of the targets it owns under the split,
// due or not: what it keeps loaded (so N replicas each hold about 1/N of
// the models). A replica that takes another's share (its owner stuck or
// gone) loads those models for that pass only; once the slots show the
// owner gone, the split gives its targets to the replicas left.
func (w *Worker) share(ctx context.Context, targets []Target, due bool) (own, others [][]Target, workingSet []string) {
	rank, n := 0, 1
	if len(targets) > 1 {
		var err error
		if rank, n, err = w.src.replicas(ctx); err != nil {
			w.log.Warn("streaming: cannot read the replica slots; taking every group", "error", err.Error())
			rank, n = 0, 1
		}
	}
	mine, theirs := splitTargets(targets, rank, n)
	workingSet = workingSetOf(mine)
	if !due {
		mine, theirs = targets, nil
	}
	others = groupTargets(theirs, w.cfg.GroupSize)
	slices.Reverse(others)
	return groupTargets(mine, w.cfg.GroupSize), others, workingSet
}

// splitTargets splits targets, in order, into those the replica of rank
// owns among n and the rest.
func splitTargets(targets []Target, rank, n int) (mine, theirs []Target) {
	for _, t := range targets {
		if ownerOf(t, n) == rank {
			mine = append(mine, t)
		} else {
			theirs = append(theirs, t)
		}
	}
	return mine, theirs
}

// ownerOf is the rank, of n, that owns t: the rank whose hash with t's key
// is highest (rendezvous hashing). It depends on the signal and symbol
// alone — not on the last row, which moves as a bar close is written, nor
// on which other targets are listed — and when n changes, only the targets
// whose owner came or went change hands, about 1/n of them.
func ownerOf(t Target, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(targetKey(t)))
	key := h.Sum64()
	best, top := 0, uint64(0)
	for r := 0; r < n; r++ {
		if v := mix64(key ^ uint64(r+1)*0x9e3779b97f4a7c15); r == 0 || v > top {
			best, top = r, v
		}
	}
	return best
}

// mix64 is SplitMix64's finalizer: every input bit flips each output bit
// with probability about 1/2, so that the ranks' hashes of one key are
// independent draws.
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// anyDue reports whether some target may have a bar due: not up to date as
// listed.
func anyDue(targets []Target, now time.Time) bool {
	for _, t := range targets {
		if d := t.Interval.Duration(); !t.Interval.Valid() || !writtenUpTo(t.LastTS, d, now.Truncate(d)) {
			return true
		}
	}
	return false
}

// passOthers goes through the other replicas' groups after grace, those
// whose models this replica holds first (each costs a round trip if its
// owner wrote it). Those it would have to load are taken only when their
// owner is stuck: still unwritten, at the same last row, a whole poll
// after a pass of this replica that found its own share's inputs in — so
// a live owner that is merely slower than grace (the first close after a
// start, a busy host) is never raced by a replica loading hundreds of
// models it does not keep, which starved both of cores; a stuck owner's
// share is written one poll later. It keeps none of the models it loads
// for them (the pass's ctx is PassingThrough).
func (w *Worker) passOthers(ctx context.Context, others [][]Target, grace time.Duration, inputsIn bool, pass func(context.Context, [][]Target)) {
	var loaded, stuck [][]Target
	stale := map[string]*time.Time{}
	for _, g := range others {
		if w.src.holdsModels(g) {
			loaded = append(loaded, g)
			continue
		}
		var late []Target
		for _, t := range g {
			if last, ok := w.stale[targetKey(t)]; ok && sameTime(last, t.LastTS) {
				late = append(late, t)
			}
			if inputsIn {
				stale[targetKey(t)] = t.LastTS
			}
		}
		if len(late) > 0 {
			stuck = append(stuck, late)
		}
	}
	w.stale = stale
	for _, ks := range [][][]Target{loaded, stuck} {
		if len(ks) == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(grace):
		}
		pass(ctx, ks)
	}
}
