package inference_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// fakeModel records Close; it never predicts.
type fakeModel struct {
	inference.Model
	n      int
	closed atomic.Bool
}

func (m *fakeModel) NumFeatures() int { return m.n }
func (m *fakeModel) Close() error     { m.closed.Store(true); return nil }

func TestModelCacheLoadsOncePerSHA(t *testing.T) {
	var loads atomic.Int32
	var mu sync.Mutex
	made := map[string]*fakeModel{}
	cache := inference.NewModelCache(inferencetest.Store(), inference.Loaders{LightGBM: func(text string, _ int) (inference.Model, error) {
		loads.Add(1)
		mt, err := inference.ParseModelText(text)
		require.NoError(t, err)
		m := &fakeModel{n: len(mt.FeatureNames)}
		mu.Lock()
		made[text] = m
		mu.Unlock()
		return m, nil
	}}, 2)
	cases := inferencetest.Cases(t)
	a, b, c := cases[0].SHA, cases[1].SHA, cases[2].SHA

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lm, release, err := cache.Acquire(context.Background(), a)
			if assert.NoError(t, err) {
				assert.Equal(t, a, lm.Artifact.SHA)
				release()
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, loads.Load(), "50 concurrent requests, one load")

	held, release, err := cache.Acquire(context.Background(), a) // keep a in use
	require.NoError(t, err)
	for _, sha := range []string{b, c} { // a is least recently used and gets evicted
		_, rel, err := cache.Acquire(context.Background(), sha)
		require.NoError(t, err)
		rel()
	}
	assert.Equal(t, 2, cache.Len(), "bounded")
	m := held.Model.(*fakeModel)
	assert.False(t, m.closed.Load(), "an evicted model in use stays open")
	release()
	assert.Eventually(t, m.closed.Load, 2*time.Second, 10*time.Millisecond, "closed when its last user releases it")

	_, _, err = cache.Acquire(context.Background(), "0000000000000000000000000000000000000000000000000000000000000000")
	assert.Equal(t, inference.CodeArtifactFileMissing, inference.ErrorCode(err))
	assert.EqualValues(t, 3, loads.Load())
}
