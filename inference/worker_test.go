package inference

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

func TestSplitShare(t *testing.T) {
	pair := func(own, others []int) [2][]int { return [2][]int{own, others} }
	assert.Equal(t, [2][]int{{0, 2, 4}, {5, 3, 1}}, pair(splitShare(6, 0, 2)))
	assert.Equal(t, [2][]int{{1, 3, 5}, {4, 2, 0}}, pair(splitShare(6, 1, 2)))
	assert.Equal(t, [2][]int{{2, 5}, {6, 4, 3, 1, 0}}, pair(splitShare(7, 2, 3)))
	assert.Equal(t, [2][]int{{0, 1, 2}, nil}, pair(splitShare(3, 0, 1)), "alone: every group, in the listing order")
	for count := 0; count < 9; count++ {
		for n := 1; n < 4; n++ {
			for r := 0; r < n; r++ {
				own, others := splitShare(count, r, n)
				all, _ := splitShare(count, 0, 1)
				assert.ElementsMatch(t, all, append(own, others...), "every group once")
			}
		}
	}
}
