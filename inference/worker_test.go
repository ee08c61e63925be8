package inference

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedSource answers the worker with canned results per signal.
type scriptedSource struct {
	targets []Target
	results map[string]*targetResult
	errs    map[string]error
}

func (s *scriptedSource) streamTargets(context.Context) ([]Target, error) { return s.targets, nil }

func (s *scriptedSource) catchUp(_ context.Context, t Target, _ time.Duration, _ time.Time) (*targetResult, error) {
	if err := s.errs[t.SignalID]; err != nil {
		return nil, err
	}
	return s.results[t.SignalID], nil
}

func (s *scriptedSource) catchUpGroup(ctx context.Context, ts []Target, maxGap time.Duration, now time.Time) ([]*targetResult, []error) {
	results, errs := make([]*targetResult, len(ts)), make([]error, len(ts))
	for i, t := range ts {
		results[i], errs[i] = s.catchUp(ctx, t, maxGap, now)
	}
	return results, errs
}

func (s *scriptedSource) replicas(context.Context) (int, int, error) { return 0, 1, nil }

func (s *scriptedSource) leaveReplicas() {}

func (s *scriptedSource) keepModels(context.Context, []string) {}
func (s *scriptedSource) holdsModels([]Target) bool            { return true }
func (s *scriptedSource) closing() func()                      { return func() {} }

func TestWorkerStateMachine(t *testing.T) {
	bar := testNow.Truncate(time.Hour)
	src := &scriptedSource{
		targets: []Target{{SignalID: "a", Name: "a"}, {SignalID: "b", Name: "b"}, {SignalID: "c", Name: "c"}, {SignalID: "d", Name: "d"}},
		results: map[string]*targetResult{
			"a": {state: StateWritten, written: 3, lastWritten: &bar, stalled: []StalledBar{{TS: bar.Add(-time.Hour)}}},
			"b": {state: StateGapTooLarge, gap: &GapReport{From: bar.Add(-48 * time.Hour), To: bar, Bars: 48}},
			"c": {state: StateWaiting, pending: 1, waitingOn: []MissingFeature{{Feature: "f"}}},
		},
		errs: map[string]error{"d": Errorf(CodeDBUnavailable, "down")},
	}
	w := newWorker(src, StreamConfig{Enabled: true}, func() time.Time { return testNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := w.RunOnce(context.Background())
	assert.Equal(t, IterationCounts{StartedAt: testNow, Duration: c.Duration, Targets: 4, Written: 3, Stalled: 1, GapTooLarge: 1, Waiting: 1, Errors: 1}, c)
	st := w.Status()
	require.Len(t, st.Targets, 4)
	assert.Equal(t, 1, st.PollSeconds, "a zero poll is clamped to one second")
	assert.Equal(t, StateWritten, st.Targets[0].State)
	assert.Len(t, st.Targets[0].Stalled, 1)
	assert.Equal(t, 48, st.Targets[1].Gap.Bars)
	assert.Equal(t, "f", st.Targets[2].WaitingOn[0].Feature)
	assert.Equal(t, StateError, st.Targets[3].State)
	assert.Equal(t, "db_unavailable: down", st.Targets[3].LastError)

	// d recovers (its error clears); a keeps its stalled history, bounded;
	// c is retired and leaves the status.
	delete(src.errs, "d")
	src.results["d"] = &targetResult{state: StateUpToDate}
	src.targets = src.targets[:2:2]
	src.targets = append(src.targets, Target{SignalID: "d", Name: "d"})
	for i := 0; i < maxStalledReported; i++ {
		w.RunOnce(context.Background())
	}
	st = w.Status()
	require.Len(t, st.Targets, 3)
	assert.Len(t, st.Targets[0].Stalled, maxStalledReported, "stalled bars are bounded")
	assert.Equal(t, StateUpToDate, st.Targets[2].State)
	assert.Empty(t, st.Targets[2].LastError, "a recovered target's error clears")
	assert.Nil(t, st.Targets[2].LastErrorAt)
}

func TestWorkerReportsAListingFailure(t *testing.T) {
	w := newWorker(failingSource{}, StreamConfig{}, func() time.Time { return testNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := w.RunOnce(context.Background())
	assert.Equal(t, 1, c.Errors)
	assert.Equal(t, "internal_error: internal error", w.Status().LastError, "an uncoded error's text stays in the logs")
}

type failingSource struct{}

func (failingSource) streamTargets(context.Context) ([]Target, error) {
	return nil, errors.New("pq: secret")
}

func (failingSource) catchUp(context.Context, Target, time.Duration, time.Time) (*targetResult, error) {
	return nil, errors.New("unreachable")
}

func (failingSource) replicas(context.Context) (int, int, error) { return 0, 1, nil }

func (failingSource) leaveReplicas() {}

func (failingSource) keepModels(context.Context, []string) {}
func (failingSource) holdsModels([]Target) bool            { return true }
func (failingSource) closing() func()                      { return func() {} }

func (failingSource) catchUpGroup(context.Context, []Target, time.Duration, time.Time) ([]*targetResult, []error) {
	panic("unreachable")
}

func TestPollsFallOnTheWallClocksMultiples(t *testing.T) {
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return ts
	}
	assert.Equal(t, 1500*time.Millisecond, untilNextPoll(at("2026-03-01T08:00:00.5Z"), 2*time.Second))
	assert.Equal(t, 2*time.Second, untilNextPoll(at("2026-03-01T08:00:02Z"), 2*time.Second), "on a multiple: the next one")
	assert.Equal(t, time.Millisecond, untilNextPoll(at("2026-03-01T08:00:00.999Z"), time.Second))
}

// TestOwnerOfSplitsEveryTargetOnce: each target has exactly one owner among
// n, the owners take about 1/n each, and a replica joining takes targets
// only for itself, from every other (rendezvous hashing).
func TestOwnerOfSplitsEveryTargetOnce(t *testing.T) {
	targets := make([]Target, 1000)
	for i := range targets {
		targets[i] = Target{SignalID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919, i), Symbol: "BTCUSDT"}
	}
	for n := 1; n <= 4; n++ {
		count := make([]int, n)
		for r := 0; r < n; r++ {
			mine, theirs := splitTargets(targets, r, n)
			assert.Len(t, append(mine, theirs...), len(targets), "n=%d r=%d: every target on one side", n, r)
			count[r] = len(mine)
			for _, tg := range mine {
				assert.Equal(t, r, ownerOf(tg, n))
			}
		}
		sum := 0
		for r, c := range count {
			sum += c
			assert.InDelta(t, len(targets)/n, c, float64(len(targets))/float64(n)*0.15, "n=%d: rank %d's share", n, r)
		}
		assert.Equal(t, len(targets), sum, "n=%d: every target once", n)
	}
	for n := 1; n < 4; n++ {
		moved := 0
		for _, tg := range targets {
			if before, after := ownerOf(tg, n), ownerOf(tg, n+1); before != after {
				assert.Equal(t, n, after, "from %d to %d replicas a target moves only to the new one", n, n+1)
				moved++
			}
		}
		assert.InDelta(t, len(targets)/(n+1), moved, float64(len(targets))/float64(n+1)*0.15, "from %d to %d replicas", n, n+1)
	}
}

// splitSource is two replicas' view for the worker: rank of 2, recording
// each working set it is given.
type splitSource struct {
	scriptedSource
	rank int
	sets [][]string
}

func (s *splitSource) replicas(context.Context) (int, int, error) { return s.rank, 2, nil }

func (s *splitSource) catchUpGroup(_ context.Context, ts []Target, _ time.Duration, _ time.Time) ([]*targetResult, []error) {
	results := make([]*targetResult, len(ts))
	for i := range ts {
		results[i] = &targetResult{state: StateUpToDate}
	}
	return results, make([]error, len(ts))
}

func (s *splitSource) keepModels(_ context.Context, shas []string) {
	s.sets = append(s.sets, slices.Sorted(slices.Values(shas)))
}

// TestWorkingSetStaysWhileABarCloseIsWritten: a replica's working set is
// the same whether the bar is due for every target, written for half of
// them (the next poll during a close), or written for all; the two
// replicas' sets split the models between them. (Grouping by last row
// once made the split, and so the models each replica kept, move at every
// half-written poll until each held them all.)
func TestWorkingSetStaysWhileABarCloseIsWritten(t *testing.T) {
	bar := testNow.Truncate(time.Hour)
	prev := bar.Add(-time.Hour)
	targets := make([]Target, 200)
	for i := range targets {
		targets[i] = Target{SignalID: fmt.Sprintf("s%03d", i), Symbol: "BTCUSDT", Interval: Interval1h,
			ModelID: fmt.Sprintf("m%03d", i), ArtifactSHA: fmt.Sprintf("sha%03d", i), LastTS: &prev}
	}
	polls := [][]Target{targets, slices.Clone(targets), slices.Clone(targets)}
	for i := range polls[1] {
		if i%2 == 0 {
			polls[1][i].LastTS = &bar
		}
	}
	for i := range polls[2] {
		polls[2][i].LastTS = &bar
	}
	var sets [2][]string
	for rank := range 2 {
		src := &splitSource{rank: rank}
		w := newWorker(src, StreamConfig{Enabled: true, GroupSize: 25}, func() time.Time { return testNow },
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		for _, p := range polls {
			src.targets = p
			w.RunOnce(context.Background())
		}
		require.Len(t, src.sets, len(polls))
		for i := 1; i < len(polls); i++ {
			assert.Equal(t, src.sets[0], src.sets[i], "rank %d: poll %d's working set", rank, i)
		}
		sets[rank] = src.sets[0]
	}
	assert.Empty(t, slices.DeleteFunc(slices.Clone(sets[0]), func(s string) bool { return !slices.Contains(sets[1], s) }),
		"no model in both replicas' sets")
	assert.Len(t, append(sets[0], sets[1]...), len(targets), "every model in one set")
	assert.InDelta(t, len(targets)/2, len(sets[0]), 30)
}

// TestMonitoringWaitsOutABarClose: the drift and performance passes wait
// between signals while a bar close is under way in the process — on
// another service sharing the model cache, as the drift watcher's does —
// or the start-up preload, and go on once it ends.
func TestMonitoringWaitsOutABarClose(t *testing.T) {
	cache := NewModelCache(nil, Loaders{}, 0)
	serving, monitoring := &Service{cache: cache}, &Service{cache: cache}
	waits := func(what string, gate func() (done func())) {
		t.Helper()
		done := gate()
		waited := make(chan struct{})
		go func() { monitoring.barCloseGap(context.Background()); close(waited) }()
		select {
		case <-waited:
			t.Fatalf("the monitoring pass went on during %s", what)
		case <-time.After(100 * time.Millisecond):
		}
		done()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			t.Fatalf("the monitoring pass still waits after %s", what)
		}
	}
	waits("a bar close", serving.closing)
	waits("the start-up preload", func() func() {
		cache.ExpectWorkingSet()
		return func() { <-cache.KeepLoaded(context.Background(), nil) }
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer serving.closing()()
	cancel()
	monitoring.barCloseGap(ctx) // a shutdown does not wait
}

// stealSource is rank 0 of two replicas holding none of the other's
// models: it records the due targets it is asked to catch up, and writes a
// bar for each once inputs is set.
type stealSource struct {
	scriptedSource
	inputs bool
	mu     sync.Mutex
	asked  map[string]int
}

func (s *stealSource) replicas(context.Context) (int, int, error) { return 0, 2, nil }
func (s *stealSource) holdsModels([]Target) bool                  { return false }

func (s *stealSource) catchUp(_ context.Context, t Target, _ time.Duration, now time.Time) (*targetResult, error) {
	if writtenUpTo(t.LastTS, time.Hour, now.Truncate(time.Hour)) {
		return &targetResult{state: StateUpToDate}, nil
	}
	s.mu.Lock()
	s.asked[targetKey(t)]++
	s.mu.Unlock()
	if !s.inputs {
		return &targetResult{state: StateWaiting}, nil
	}
	return &targetResult{state: StateWritten, written: 1}, nil
}

func (s *stealSource) catchUpGroup(ctx context.Context, ts []Target, maxGap time.Duration, now time.Time) ([]*targetResult, []error) {
	results, errs := make([]*targetResult, len(ts)), make([]error, len(ts))
	for i, t := range ts {
		results[i], errs[i] = s.catchUp(ctx, t, maxGap, now)
	}
	return results, errs
}

// TestOthersShareWaitsAPollBeforeItsModelsLoad: a replica takes another's
// targets whose models it does not hold only once they stayed unwritten a
// whole poll after one of its passes found its own share's inputs in — not
// while the inputs are late, nor at the poll they land, when a live owner
// is writing them (the first close after a start once made each of two
// replicas load the other's ~500 models) — and then it does write them.
func TestOthersShareWaitsAPollBeforeItsModelsLoad(t *testing.T) {
	bar := testNow.Truncate(time.Hour)
	prev := bar.Add(-time.Hour)
	targets := make([]Target, 40)
	for i := range targets {
		targets[i] = Target{SignalID: fmt.Sprintf("s%03d", i), Symbol: "BTCUSDT", Interval: Interval1h,
			ModelID: fmt.Sprintf("m%03d", i), ArtifactSHA: fmt.Sprintf("sha%03d", i), LastTS: &prev}
	}
	mine, theirs := splitTargets(targets, 0, 2)
	require.NotEmpty(t, mine)
	require.NotEmpty(t, theirs)
	src := &stealSource{scriptedSource: scriptedSource{targets: targets}, asked: map[string]int{}}
	w := newWorker(src, StreamConfig{Enabled: true, GroupSize: 25}, func() time.Time { return testNow },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	askedOthers := func() (n int) {
		for _, tg := range theirs {
			n += src.asked[targetKey(tg)]
		}
		return n
	}
	w.RunOnce(context.Background()) // the inputs are late
	assert.Zero(t, askedOthers(), "inputs late: the other's share is left to its owner")
	src.inputs = true
	c := w.RunOnce(context.Background()) // they land: this replica writes its own
	assert.Equal(t, len(mine), c.Written)
	assert.Zero(t, askedOthers(), "the poll the inputs land: the owner is writing its share")
	for i := range targets { // its own share is written; the owner's is not: stuck
		if ownerOf(targets[i], 2) == 0 {
			targets[i].LastTS = &bar
		}
	}
	c = w.RunOnce(context.Background())
	assert.Equal(t, len(theirs), askedOthers(), "a poll later, still unwritten: each of the stuck owner's targets taken once")
	assert.Equal(t, len(theirs), c.Written)
}
