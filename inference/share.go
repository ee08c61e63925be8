package inference

import (
	"context"
	"time"
)

// Streaming replicas share each bar close: they poll at the same instants
// and split the groups by the slots they hold (Store.Replicas).

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

// share splits the pass's groups between the replicas alive. Replicas list
// the same targets in the same order, so they form the same groups; with n
// replicas, the one of rank r owns the groups k with k mod n = r and takes
// them first; others is the rest, from the last one back, which it takes
// only after a grace (RunOnce). A replica that dies loses its slot with its
// session, and the next pass shares among those left. When nothing is due
// (an idle poll), or the slots cannot be read, it owns every group, at no
// cost.
func (w *Worker) share(ctx context.Context, groups [][]Target, now time.Time) (own, others []int) {
	rank, n := 0, 1
	if len(groups) > 1 {
		var err error
		if rank, n, err = w.src.replicas(ctx); err != nil {
			w.log.Warn("streaming: cannot read the replica slots; taking every group", "error", err.Error())
			rank, n = 0, 1
		}
	}
	w.mu.Lock()
	w.rank, w.replicas = rank, n
	w.mu.Unlock()
	if !anyDue(groups, now) {
		rank, n = 0, 1
	}
	return splitShare(len(groups), rank, n)
}

// workingSet is the models this replica keeps loaded: those of the groups
// it owns under the split of the replicas alive (own, when a bar is due),
// so that N replicas each hold about 1/N of the models. A replica that
// takes another's share (its owner stuck or gone) loads those models for
// that pass; once the slots show the owner gone, the split gives them to
// the replicas left, which keep them.
func (w *Worker) workingSet(groups [][]Target, own, others []int) []string {
	w.mu.Lock()
	rank, n := w.rank, w.replicas
	w.mu.Unlock()
	if len(others) == 0 && n > 1 { // an idle poll owns every group; the split is rank of n
		own, _ = splitShare(len(groups), rank, n)
	}
	var mine []Target
	for _, k := range own {
		mine = append(mine, groups[k]...)
	}
	return workingSetOf(mine)
}

// splitShare splits groups 0..count-1 for the replica of rank r among n:
// its own (k mod n = r) ascending, the rest descending.
func splitShare(count, rank, n int) (own, others []int) {
	for k := 0; k < count; k++ {
		if k%n == rank {
			own = append(own, k)
		}
	}
	for k := count - 1; k >= 0; k-- {
		if k%n != rank {
			others = append(others, k)
		}
	}
	return own, others
}

// anyDue reports whether some target may have a bar due: not up to date as
// listed.
func anyDue(groups [][]Target, now time.Time) bool {
	for _, g := range groups {
		for _, t := range g {
			if d := t.Interval.Duration(); !t.Interval.Valid() || !writtenUpTo(t.LastTS, d, now.Truncate(d)) {
				return true
			}
		}
	}
	return false
}
