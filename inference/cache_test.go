package inference_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// fakeModel records Close and holds size bytes; it never predicts.
type fakeModel struct {
	inference.Model
	n      int
	size   int64
	closed atomic.Bool
}

func (m *fakeModel) NumFeatures() int     { return m.n }
func (m *fakeModel) Close() error         { m.closed.Store(true); return nil }
func (m *fakeModel) ResidentBytes() int64 { return m.size }

const fakeMB = 10 << 20 // each fake model's size: the artifacts' own payloads are a few kB beside it

// fakeCache is a cache over the golden artifacts whose models each hold
// fakeMB; loads counts loads by sha and made the models by sha.
type fakeCache struct {
	*inference.ModelCache
	mu    sync.Mutex
	loads map[string]int
	made  map[string]*fakeModel
	log   bytes.Buffer
	shas  []string // the golden single-booster artifacts
}

func newFakeCache(t *testing.T, budget int64) *fakeCache {
	f := &fakeCache{loads: map[string]int{}, made: map[string]*fakeModel{}}
	for _, c := range inferencetest.Cases(t) {
		if !c.Ensemble() {
			f.shas = append(f.shas, c.SHA)
		}
	}
	require.GreaterOrEqual(t, len(f.shas), 8)
	f.ModelCache = inference.NewModelCache(inferencetest.Store(), inference.Loaders{LightGBM: func(text string, _ int) (inference.Model, error) {
		mt, err := inference.ParseModelText(text)
		require.NoError(t, err)
		return &fakeModel{n: len(mt.FeatureNames), size: fakeMB}, nil
	}}, budget)
	f.SetLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &f.log}, nil)))
	return f
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// use acquires sha, counts a load when the model is new, and releases it.
func (f *fakeCache) use(t *testing.T, sha string) *fakeModel {
	t.Helper()
	m, release := f.hold(t, sha)
	release()
	return m
}

// hold is use without the release: the caller releases the model.
func (f *fakeCache) hold(t *testing.T, sha string) (*fakeModel, func()) {
	t.Helper()
	lm, release, err := f.Acquire(context.Background(), sha)
	require.NoError(t, err)
	m := lm.Model.(*fakeModel)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.made[sha] != m {
		f.made[sha] = m
		f.loads[sha]++
	}
	assert.GreaterOrEqual(t, lm.Bytes, int64(fakeMB), "a model's bytes are its predictor's and its payload's")
	return m, release
}

func (f *fakeCache) loadsOf(sha string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.loads[sha] }

func TestModelCacheLoadsOncePerSHA(t *testing.T) {
	f := newFakeCache(t, 2*fakeMB+fakeMB/2) // room for two
	a, b, c := f.shas[0], f.shas[1], f.shas[2]

	var wg sync.WaitGroup
	var models sync.Map
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lm, release, err := f.Acquire(context.Background(), a)
			if assert.NoError(t, err) {
				assert.Equal(t, a, lm.Artifact.SHA)
				models.Store(lm.Model, true)
				release()
			}
		}()
	}
	wg.Wait()
	n := 0
	models.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, 1, n, "50 concurrent requests, one load")

	held, release, err := f.Acquire(context.Background(), a) // keep a in use
	require.NoError(t, err)
	f.use(t, b)
	f.use(t, c) // a is least recently used and gets evicted
	assert.Equal(t, 2, f.Len(), "bounded by bytes")
	assert.LessOrEqual(t, f.Stats().Bytes, int64(2*fakeMB+fakeMB/2))
	m := held.Model.(*fakeModel)
	assert.False(t, m.closed.Load(), "an evicted model in use stays open")
	release()
	assert.Eventually(t, m.closed.Load, 2*time.Second, 10*time.Millisecond, "closed when its last user releases it")

	_, _, err = f.Acquire(context.Background(), "0000000000000000000000000000000000000000000000000000000000000000")
	assert.Equal(t, inference.CodeArtifactFileMissing, inference.ErrorCode(err))
}

// TestModelCacheKeepsTheWorkingSet: the working set is loaded before it is
// asked for, and models outside it never evict it: they are served and
// closed after their request.
func TestModelCacheKeepsTheWorkingSet(t *testing.T) {
	f := newFakeCache(t, 4*fakeMB+fakeMB/2) // room for four
	ws, rest := f.shas[:4], f.shas[4:8]
	<-f.KeepLoaded(context.Background(), ws)
	st := f.Stats()
	assert.True(t, st.Tracked && st.Loaded && st.Fits())
	assert.Equal(t, 4, st.WorkingSet)
	assert.Equal(t, 4, st.WorkingSetHeld)
	assert.Equal(t, 4, st.Models)
	for _, s := range ws {
		f.use(t, s)
	}
	for _, s := range rest { // a research backfill of other models: served, never resident
		m := f.use(t, s)
		assert.Eventually(t, m.closed.Load, 2*time.Second, 10*time.Millisecond, "no room outside the working set: closed after use")
	}
	for _, s := range ws {
		f.use(t, s)
		assert.Equal(t, 1, f.loadsOf(s), "a working-set model is loaded once, however many others are asked for")
	}

	// A retrained model replaces ws[0]: the new one is loaded ahead of
	// its bars, the old one is let go once its requests end.
	old, release := f.hold(t, ws[0])
	<-f.KeepLoaded(context.Background(), append([]string{rest[0]}, ws[1:]...))
	assert.Equal(t, 4, f.Stats().WorkingSetHeld)
	assert.Equal(t, 4, f.Stats().Models, "the old model no longer held")
	assert.False(t, old.closed.Load(), "the old model serves its request in flight")
	release()
	assert.Eventually(t, old.closed.Load, 2*time.Second, 10*time.Millisecond, "then it is closed")
	first := f.use(t, rest[0])
	assert.False(t, first.closed.Load(), "the new model is resident, loaded before its first use")
	assert.Same(t, first, f.use(t, rest[0]))

	// The same working set again loads nothing.
	for _, s := range ws[1:] {
		f.use(t, s)
		assert.Equal(t, 1, f.loadsOf(s))
	}
}

// TestModelCacheLetsGoWhatLeavesTheWorkingSet: when a second replica takes
// half the share, the models that left this one's working set are closed,
// though the budget has room for them all; a model a request loaded
// outside any working set stays until its room is needed.
func TestModelCacheLetsGoWhatLeavesTheWorkingSet(t *testing.T) {
	f := newFakeCache(t, 8*fakeMB+fakeMB/2) // room for eight
	all := f.shas[:6]
	<-f.KeepLoaded(context.Background(), all)
	require.Equal(t, 6, f.Stats().WorkingSetHeld)
	asked := f.use(t, f.shas[6]) // a research run's model, no signal's
	var gone []*fakeModel
	for _, s := range all[3:] {
		gone = append(gone, f.use(t, s))
	}
	<-f.KeepLoaded(context.Background(), all[:3])
	st := f.Stats()
	assert.Equal(t, 3, st.WorkingSetHeld)
	assert.Equal(t, 4, st.Models, "the half share and the asked-for model")
	assert.Equal(t, int64(4*fakeMB), st.Bytes-st.Bytes%fakeMB, "the bytes follow")
	for _, m := range gone {
		assert.Eventually(t, m.closed.Load, 2*time.Second, 10*time.Millisecond, "a model no longer in the working set is closed")
	}
	assert.False(t, asked.closed.Load())
	assert.Same(t, asked, f.use(t, f.shas[6]), "the asked-for model stays")

	// The share halves while its models are still loading: what the
	// preload brings for the other half is not kept either.
	g := newFakeCache(t, 8*fakeMB+fakeMB/2)
	first := g.KeepLoaded(context.Background(), all)
	<-g.KeepLoaded(context.Background(), all[:3])
	<-first
	st = g.Stats()
	assert.Equal(t, 3, st.WorkingSetHeld)
	assert.Equal(t, 3, st.Models, "nothing of the half that left")
	assert.True(t, st.Loaded)
}

// TestModelCacheSaysTheWorkingSetDoesNotFit: a working set larger than the
// budget is reported (stats, log) and still served.
func TestModelCacheSaysTheWorkingSetDoesNotFit(t *testing.T) {
	f := newFakeCache(t, 3*fakeMB+fakeMB/2) // room for three
	ws := f.shas[:5]
	<-f.KeepLoaded(context.Background(), ws)
	st := f.Stats()
	assert.True(t, st.Loaded)
	assert.False(t, st.Fits())
	assert.Equal(t, 2, st.OverBudget)
	assert.Equal(t, 3, st.WorkingSetHeld)
	assert.GreaterOrEqual(t, st.WorkingSetBytes, int64(5*fakeMB))
	assert.LessOrEqual(t, st.Bytes, st.Budget)
	assert.Contains(t, f.log.String(), "the working set does not fit INFERENCE_MODEL_CACHE_BYTES")
	assert.Contains(t, f.log.String(), "not_held=2")
	for _, s := range ws {
		f.use(t, s) // every model still serves
	}
	assert.Equal(t, 3, f.Stats().WorkingSetHeld, "the models held stay held: no thrashing among them")

	// Signals retired: the rest fits, and the log says so.
	<-f.KeepLoaded(context.Background(), ws[:3])
	assert.True(t, f.Stats().Fits())
	assert.Contains(t, f.log.String(), "the working set fits again")
}

// TestModelCacheRetriesAFailedWorkingSetModelLater: a working-set model
// whose artifact is missing is reported, and not reloaded at every poll.
func TestModelCacheRetriesAFailedWorkingSetModelLater(t *testing.T) {
	f := newFakeCache(t, 4*fakeMB)
	missing := "0000000000000000000000000000000000000000000000000000000000000000"
	<-f.KeepLoaded(context.Background(), []string{f.shas[0], missing})
	st := f.Stats()
	assert.True(t, st.Loaded)
	assert.Equal(t, 1, st.Failed)
	assert.Equal(t, 1, st.WorkingSetHeld)
	assert.Contains(t, f.log.String(), "a working-set model failed to load")
	f.log.Reset()
	<-f.KeepLoaded(context.Background(), []string{f.shas[0], missing})
	assert.Empty(t, f.log.String(), "not retried at the next poll")
}

// TestModelCacheIsLoadedOnlyWhenTheFirstWorkingSetIs: a second KeepLoaded
// call made while the first one's models are still loading (the next poll)
// finishes at once, and the working set is still not loaded until they are.
func TestModelCacheIsLoadedOnlyWhenTheFirstWorkingSetIs(t *testing.T) {
	gate := make(chan struct{})
	var started atomic.Int32
	cache := inference.NewModelCache(inferencetest.Store(), inference.Loaders{LightGBM: func(text string, _ int) (inference.Model, error) {
		started.Add(1)
		<-gate
		mt, err := inference.ParseModelText(text)
		if err != nil {
			return nil, err
		}
		return &fakeModel{n: len(mt.FeatureNames), size: fakeMB}, nil
	}}, 1<<40)
	defer cache.Close()
	var shas []string
	for _, c := range inferencetest.Cases(t) {
		if !c.Ensemble() && len(shas) < 4 {
			shas = append(shas, c.SHA)
		}
	}
	ctx := context.Background()
	first := cache.KeepLoaded(ctx, shas)
	require.Eventually(t, func() bool { return started.Load() > 0 }, 5*time.Second, time.Millisecond)
	<-cache.KeepLoaded(ctx, shas) // the next poll: everything is in flight already
	st := cache.Stats()
	assert.False(t, st.Loaded, "the first working set is still loading")
	assert.Positive(t, st.Loading)
	close(gate)
	<-first
	st = cache.Stats()
	assert.True(t, st.Loaded)
	assert.Equal(t, len(shas), st.WorkingSetHeld)
}

// TestModelCacheKeepsNothingPassingThrough: a model loaded for another
// replica's share (PassingThrough) serves its call and is closed after it,
// unless the working set names it.
func TestModelCacheKeepsNothingPassingThrough(t *testing.T) {
	f := newFakeCache(t, 100*fakeMB)
	mine, theirs := f.shas[0], f.shas[1]
	<-f.KeepLoaded(context.Background(), []string{mine})
	ctx := inference.PassingThrough(context.Background())
	lm, release, err := f.Acquire(ctx, theirs)
	require.NoError(t, err)
	m := lm.Model.(*fakeModel)
	release()
	assert.Eventually(t, m.closed.Load, 2*time.Second, 10*time.Millisecond, "another replica's model is not kept")
	assert.Equal(t, 1, f.Len())
	lm, release, err = f.Acquire(ctx, mine)
	require.NoError(t, err)
	release()
	assert.False(t, lm.Model.(*fakeModel).closed.Load(), "the working set's own model stays")
	assert.Equal(t, 1, f.Len())
}
