package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// testClock is a settable clock shared by a test and its services.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// newStreamApp is a service with the worker enabled on dsn, reading clock
// (1 s poll; tests call RunOnce themselves).
func newStreamApp(t testing.TB, dsn string, clock *testClock, maxGapHours int, mods ...func(*config)) *app {
	return newStreamAppPoll(t, dsn, clock, maxGapHours, 1, mods...)
}

func newStreamAppPoll(t testing.TB, dsn string, clock *testClock, maxGapHours, pollSeconds int, mods ...func(*config)) *app {
	t.Helper()
	cfg, err := parseConfig(map[string]string{})
	require.NoError(t, err)
	cfg.Storage.DSN = dsn
	cfg.Inference.ArtifactDir = inferencetest.ArtifactDir()
	cfg.API.AuthToken = testToken
	cfg.Inference.Stream = inference.StreamConfig{Enabled: true, PollSeconds: pollSeconds, MaxGapHours: maxGapHours,
		Concurrency: cfg.Inference.Stream.Concurrency, GroupSize: cfg.Inference.Stream.GroupSize} // the production defaults
	for _, m := range mods {
		m(&cfg)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), clock.Now)
	require.NoError(t, err)
	t.Cleanup(a.close)
	return a
}

func targetStatus(t *testing.T, a *app, signalID string) inference.TargetStatus {
	t.Helper()
	for _, ts := range a.worker.Status().Targets {
		if ts.SignalID == signalID {
			return ts
		}
	}
	t.Fatalf("no status for %s", signalID)
	return inference.TargetStatus{}
}

// sources returns the written bars' sources by ts.
func sources(e *testEnv, signalID string) map[time.Time]string {
	out := map[time.Time]string{}
	for _, r := range e.seed.History(signalID) {
		out[r.TS.UTC()] = r.Source
	}
	return out
}

func TestStreamingWritesEachNewBarAsItBecomesReady(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	clock := &testClock{}
	clock.Set(s.bars[3].Add(30 * time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	ctx := context.Background()

	// Start-up catch-up: bars 0..3 are ready; the newest is the live one.
	c := a.worker.RunOnce(ctx)
	assert.Equal(t, 4, c.Written)
	got := sources(e, s.signalID)
	assert.Equal(t, map[time.Time]string{s.bars[0]: "catchup_scan", s.bars[1]: "catchup_scan", s.bars[2]: "catchup_scan", s.bars[3]: "stream"}, got)
	for i, row := range e.seed.History(s.signalID) {
		bitsEqual(t, s.want(i)[0], row.Value, "streamed value")
		assert.Equal(t, "streaming-worker", row.CreatedBy)
	}

	// Nothing new: up to date, no writes.
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 0, c.Written)
	assert.Equal(t, 1, c.UpToDate)

	// The next bar closes: written with source stream on the next poll.
	clock.Set(s.bars[4].Add(30 * time.Minute))
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 1, c.Written)
	assert.Equal(t, "stream", sources(e, s.signalID)[s.bars[4]])
	st := targetStatus(t, a, s.signalID)
	assert.Equal(t, inference.StateWritten, st.State)
	assert.True(t, st.LastWritten.Equal(s.bars[4]))
	assert.True(t, st.NextExpected.Equal(s.bars[5]))
}

func TestStreamingWaitsForOutOfOrderFeatures(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	e.seed.Exec(`DELETE FROM feature_values WHERE feature_name = 'btc_ret_02' AND ts = $1`, s.bars[5])
	clock := &testClock{}
	clock.Set(s.bars[4].Add(time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	ctx := context.Background()
	a.worker.RunOnce(ctx) // bars 0..4

	clock.Set(s.bars[5].Add(time.Minute))
	c := a.worker.RunOnce(ctx)
	assert.Equal(t, 0, c.Written, "bar 5 is not ready: one input has not landed")
	assert.Equal(t, 1, c.Waiting)
	st := targetStatus(t, a, s.signalID)
	assert.Equal(t, inference.StateWaiting, st.State)
	require.Len(t, st.WaitingOn, 1)
	assert.Equal(t, "btc_ret_02", st.WaitingOn[0].Feature)

	col := 2
	e.seed.Values("btc_ret_02", s.versions["btc_ret_02"], s.symbol, "1h", []time.Time{s.bars[5]}, []float64{s.c.Inputs[s.c.DecimalRows[5]][col]})
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 1, c.Written, "the last input landed: the bar is written on the next poll")
	assert.Equal(t, "stream", sources(e, s.signalID)[s.bars[5]])
}

func TestStreamingFillsDowntimeGapWithCatchup(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	clock := &testClock{}
	clock.Set(s.bars[1].Add(time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	ctx := context.Background()
	a.worker.RunOnce(ctx)
	// The service was down for five hours.
	clock.Set(s.bars[7].Add(10 * time.Minute))
	c := a.worker.RunOnce(ctx)
	assert.Equal(t, 6, c.Written)
	got := sources(e, s.signalID)
	for i := 2; i < 7; i++ {
		assert.Equal(t, "catchup_scan", got[s.bars[i]], "bar %d", i)
	}
	assert.Equal(t, "stream", got[s.bars[7]])
}

func TestStreamingReportsAGapOverTheLimitAndDoesNotFillIt(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	clock := &testClock{}
	clock.Set(s.bars[0].Add(time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 3)
	ctx := context.Background()
	a.worker.RunOnce(ctx) // bar 0
	clock.Set(s.bars[7].Add(time.Minute))
	c := a.worker.RunOnce(ctx)
	assert.Equal(t, 0, c.Written)
	assert.Equal(t, 1, c.GapTooLarge)
	assert.Len(t, e.seed.History(s.signalID), 1, "not filled")
	st := targetStatus(t, a, s.signalID)
	require.NotNil(t, st.Gap)
	assert.True(t, st.Gap.From.Equal(s.bars[1]))
	assert.True(t, st.Gap.To.Equal(s.bars[7].Add(time.Hour)))
	assert.Equal(t, 7, st.Gap.Bars)

	// The status shows the exact backfill call; making it closes the gap.
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	e2 := &testEnv{t: t, srv: srv, seed: e.seed}
	r := e2.do(http.MethodGet, "/streaming/status", nil, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	target := r.body["targets"].([]any)[0].(map[string]any)
	assert.Equal(t, "gap_too_large", target["state"])
	body := target["gap"].(map[string]any)["backfill_request"].(map[string]any)
	assert.NotContains(t, body, "lookahead", "the status never suggests a look-ahead replay")
	body["lookahead"] = "allow" // this test's clock stands inside the golden model's training window
	r = e2.post("/inference/backfill", body)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.EqualValues(t, 7, r.body["rows_written"])
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 1, c.UpToDate)
	assert.Nil(t, targetStatus(t, a, s.signalID).Gap)
}

func TestStreamingSkipsAndReportsAStalledBarWhileOthersProceed(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	other := e.scenario("regression", scenarioOpts{})
	e.seed.Exec(`DELETE FROM feature_values WHERE feature_name = 'btc_ret_04' AND ts = $1`, s.bars[2])
	clock := &testClock{}
	clock.Set(s.bars[0].Add(time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	ctx := context.Background()
	a.worker.RunOnce(ctx)
	clock.Set(s.bars[4].Add(time.Minute))
	c := a.worker.RunOnce(ctx)
	assert.Equal(t, 1, c.Stalled)
	got := sources(e, s.signalID)
	assert.NotContains(t, got, s.bars[2], "the stalled bar is skipped")
	for _, i := range []int{1, 3, 4} {
		assert.Contains(t, got, s.bars[i])
	}
	st := targetStatus(t, a, s.signalID)
	require.Len(t, st.Stalled, 1)
	assert.True(t, st.Stalled[0].TS.Equal(s.bars[2]))
	assert.Equal(t, "btc_ret_04", st.Stalled[0].Missing[0].Feature)
	assert.Len(t, e.seed.History(other.signalID), len(other.bars), "the other target proceeds")

	// Never re-requested: the next polls do not touch bar 2 again.
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 0, c.Stalled)
	assert.Len(t, targetStatus(t, a, s.signalID).Stalled, 1)
}

// TestTwoReplicasWriteWhatOneWould runs two services (two workers) against
// one database at once: the advisory lock gives each target to one of them,
// whether it goes alone or in a group (binary's model serves four signals).
func TestTwoReplicasWriteWhatOneWould(t *testing.T) {
	e := newEnv(t)
	var sigs []*scenario
	for _, name := range []string{"binary", "regression", "multiclass", "missing_nan"} {
		opts := scenarioOpts{}
		if name == "missing_nan" {
			opts.symbol, opts.interval = "ETHUSDT", "1h"
		}
		sigs = append(sigs, e.scenario(name, opts))
	}
	more := []string{e.seed.Signal("binary_2", sigs[0].modelID, "active"), e.seed.Signal("binary_3", sigs[0].modelID, "shadow"),
		e.seed.Signal("binary_4", sigs[0].modelID, "active")}
	clock := &testClock{}
	clock.Set(time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC))
	a1 := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	a2 := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	c1, c2 := passTogether(a1, a2)
	want := 0
	for _, s := range sigs {
		want += len(s.bars)
		assert.Len(t, e.seed.History(s.signalID), len(s.bars), s.c.Name)
	}
	for _, id := range more {
		want += len(sigs[0].bars)
		for i, row := range e.seed.History(id) {
			bitsEqual(t, sigs[0].want(i)[0], row.Value, "a group member's value")
		}
	}
	assert.Equal(t, want, c1.Written+c2.Written, "every bar written exactly once between the two")
	assert.Zero(t, c1.Errors+c2.Errors)
	// A further pass by either finds nothing to do.
	assert.Zero(t, a1.worker.RunOnce(context.Background()).Written)
	assert.Zero(t, a2.worker.RunOnce(context.Background()).Written)
}

// TestStreamingGroupWritesWhatEachWouldAlone: signals on one model are
// caught up as one group — one read, one prediction, one upsert — and each
// gets exactly the rows it would get alone (Python's bits, sources, meta);
// a member whose lock another session holds is left to it, then caught up
// on its own, then joins the group again once its last row matches.
func TestStreamingGroupWritesWhatEachWouldAlone(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	members := []string{s.signalID, e.seed.Signal("g1", s.modelID, "active"), e.seed.Signal("g2", s.modelID, "shadow"),
		e.seed.Signal("g3", s.modelID, "active"), e.seed.Signal("g4", s.modelID, "active")}
	busy := members[3]
	ctx := context.Background()
	conn, err := e.seed.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	lockSQL := `SELECT pg_advisory_lock(hashtext('blackheart-inference'), hashtext($1))`
	_, err = conn.Exec(ctx, lockSQL, "stream:"+busy+":"+s.symbol)
	require.NoError(t, err)

	clock := &testClock{}
	clock.Set(s.bars[3].Add(30 * time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
	c := a.worker.RunOnce(ctx)
	assert.Equal(t, 4*4, c.Written, "four bars for each of the four free members")
	assert.Equal(t, 1, c.Locked)
	assert.Zero(t, c.Errors)
	assert.Equal(t, inference.StateLocked, targetStatus(t, a, busy).State)
	assert.Empty(t, e.seed.History(busy), "left to the lock's holder")

	check := func(id string, bars int) {
		t.Helper()
		rows := e.seed.History(id)
		require.Len(t, rows, bars, id)
		ref := e.seed.History(s.signalID)
		for i, row := range rows {
			bitsEqual(t, s.want(i)[0], row.Value, "member "+id)
			assert.True(t, row.TS.Equal(s.bars[i]))
			assert.Equal(t, ref[i].Source, row.Source)
			assert.Equal(t, ref[i].Meta, row.Meta)
			assert.Equal(t, "streaming-worker", row.CreatedBy)
		}
		assert.Equal(t, "stream", rows[bars-1].Source, "the newest bar is the live one")
		for _, row := range rows[:3] {
			assert.Equal(t, "catchup_scan", row.Source, "the first pass's older bars")
		}
		st := targetStatus(t, a, id)
		assert.Equal(t, inference.StateWritten, st.State)
		assert.True(t, st.LastWritten.Equal(s.bars[bars-1]))
	}
	for _, id := range members {
		if id != busy {
			check(id, 4)
		}
	}

	_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('blackheart-inference'), hashtext($1))`, "stream:"+busy+":"+s.symbol)
	require.NoError(t, err)
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 4, c.Written, "the freed member catches up alone")
	assert.Equal(t, 4, c.UpToDate)
	check(busy, 4)

	clock.Set(s.bars[4].Add(30 * time.Minute))
	before := a.store.Statements()
	c = a.worker.RunOnce(ctx)
	assert.Equal(t, 5, c.Written, "the next bar, for all five together")
	t.Logf("statements for the group's bar: %d", a.store.Statements()-before)
	// Alone, each target costs at least six (lock, last row, the read's
	// batch, upsert, unlock): 30 for five.
	assert.LessOrEqual(t, a.store.Statements()-before, int64(12), "listing, one lock round trip, one read, one upsert, one unlock")
	for _, id := range members {
		check(id, 5)
	}
}

// TestReplicasShareABarClose: two replicas hold slots; while one of them
// is stuck (holds its slot, never polls), the other writes the stuck one's
// share too, after its grace (or, when it would have to load the share's
// models, at its next poll); polling together, they write every bar once
// between them.
func TestReplicasShareABarClose(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	ids := []string{s.signalID, e.seed.Signal("r1", s.modelID, "active"), e.seed.Signal("r2", s.modelID, "active"),
		e.seed.Signal("r3", s.modelID, "active")}
	clock := &testClock{}
	clock.Set(s.bars[3].Add(30 * time.Minute))
	alone := func(c *config) { c.Inference.Stream.GroupSize = 1 } // four groups
	a1 := newStreamApp(t, e.cfg.Storage.DSN, clock, 24, alone)
	a2 := newStreamApp(t, e.cfg.Storage.DSN, clock, 24, alone)
	ctx := context.Background()
	for _, a := range []*app{a1, a2} {
		_, n, err := a.store.Replicas(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, n, 2)
	}
	// The stuck one's share is taken at once if this replica holds its
	// model (it served a target of its own on it), else a poll later:
	// either way within two polls.
	c, next := a1.worker.RunOnce(ctx), a1.worker.RunOnce(ctx)
	assert.Equal(t, 4*4, c.Written+next.Written, "the stuck replica's share written too")
	for _, id := range ids {
		assert.Len(t, e.seed.History(id), 4)
	}

	clock.Set(s.bars[4].Add(30 * time.Minute))
	c1, c2 := passTogether(a1, a2)
	assert.Equal(t, 4, c1.Written+c2.Written, "each bar once between the two")
	t.Logf("split: %d and %d", c1.Written, c2.Written)
	for _, id := range ids {
		rows := e.seed.History(id)
		require.Len(t, rows, 5)
		bitsEqual(t, s.want(4)[0], rows[4].Value, id)
	}
}

// TestShutdownMidIterationLeavesNoHalfWrittenTarget cancels iterations at
// many points: each target's rows are all there or none are.
func TestShutdownMidIterationLeavesNoHalfWrittenTarget(t *testing.T) {
	for _, after := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond} {
		e := newEnv(t)
		s1 := e.scenario("binary", scenarioOpts{})
		s2 := e.scenario("multiclass", scenarioOpts{})
		clock := &testClock{}
		clock.Set(time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC))
		a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24)
		ctx, cancel := context.WithTimeout(context.Background(), after)
		a.worker.RunOnce(ctx)
		cancel()
		for _, s := range []*scenario{s1, s2} {
			n := len(e.seed.History(s.signalID))
			assert.True(t, n == 0 || n == len(s.bars), "%s after %s: %d of %d rows", s.c.Name, after, n, len(s.bars))
		}
	}
}

func TestBatchPredictAcrossSymbolsAndIntervals(t *testing.T) {
	e := newEnv(t)
	btc := e.scenario("binary", scenarioOpts{})                                         // BTCUSDT 1h
	eth := e.scenario("regression", scenarioOpts{})                                     // ETHUSDT 15m
	eth1h := e.scenario("missing_nan", scenarioOpts{symbol: "ETHUSDT", interval: "1h"}) // ETHUSDT 1h
	broken := e.scenario("derived", scenarioOpts{})                                     // never servable
	e2 := streamServer(t, e, time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC))
	run := "44444444-4444-4444-4444-444444444444"
	r := e2.post("/inference/batch-predict", map[string]any{"compute_run_id": run})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, "partial", r.body["status"])
	assert.EqualValues(t, 4, r.body["signals_processed"])
	assert.EqualValues(t, 3, r.body["rows_written"])
	assert.Equal(t, []any{"derived_signal:model_not_servable"}, r.body["rows_failed"])
	for _, s := range []*scenario{btc, eth, eth1h} {
		rows := e.seed.History(s.signalID)
		require.Len(t, rows, 1, s.c.Name)
		assert.True(t, rows[0].TS.Equal(s.bars[len(s.bars)-1]), "%s: its own newest ready bar", s.c.Name)
		assert.Equal(t, "stream", rows[0].Source)
		assert.Equal(t, run, rows[0].Meta["compute_run_id"])
		bitsEqual(t, s.want(len(s.bars) - 1)[0], rows[0].Value, s.c.Name)
	}
	assert.Empty(t, e.seed.History(broken.signalID))
	wantError(t, e2.post("/inference/batch-predict", map[string]any{"compute_run_id": ""}), 422, "validation_failed")
}

// passTogether runs one worker pass on each replica at the same time.
func passTogether(a1, a2 *app) (c1, c2 inference.IterationCounts) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c1 = a1.worker.RunOnce(context.Background()) }()
	go func() { defer wg.Done(); c2 = a2.worker.RunOnce(context.Background()) }()
	wg.Wait()
	return c1, c2
}
