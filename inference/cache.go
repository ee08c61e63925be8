package inference

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// LoadedModel is an artifact with its predictor, shared by every request for
// the same sha.
type LoadedModel struct {
	Artifact *Artifact
	Model    Model
}

// ModelCache holds loaded models by artifact sha (D7): bounded LRU, and one
// load per sha however many requests ask at once. Models evicted while in use
// are closed when their last user releases them. Safe for concurrent use.
type ModelCache struct {
	artifacts ArtifactSource
	load      Loaders
	max       int
	obs       Observer

	mu      sync.Mutex
	entries map[string]*cacheEntry
	lru     *list.List // front = most recently used; holds loaded entries only
}

type cacheEntry struct {
	sha   string
	ready chan struct{} // closed when the load finished
	lm    *LoadedModel
	err   error
	refs  int
	elem  *list.Element
	gone  bool // evicted: close when refs reaches 0
}

// NewModelCache returns a cache of at most max models (minimum 1).
func NewModelCache(artifacts ArtifactSource, load Loaders, max int) *ModelCache {
	if max < 1 {
		max = 1
	}
	return &ModelCache{artifacts: artifacts, load: load, max: max, obs: NopObserver{}, entries: map[string]*cacheEntry{}, lru: list.New()}
}

// SetObserver sets where the cache reports hits, misses, evictions, loads
// and its size; call it before the cache is used.
func (c *ModelCache) SetObserver(o Observer) { c.obs = o }

// Acquire returns the loaded model for sha, loading it if needed. The caller
// must call release exactly once when done with it. A failed load is not
// cached: the next Acquire tries again.
func (c *ModelCache) Acquire(ctx context.Context, sha string) (*LoadedModel, func(), error) {
	c.mu.Lock()
	e, ok := c.entries[sha]
	if !ok {
		e = &cacheEntry{sha: sha, ready: make(chan struct{})}
		c.entries[sha] = e
		e.refs++
		c.mu.Unlock()
		c.obs.CacheMiss()
		c.fill(ctx, e)
	} else {
		e.refs++
		c.mu.Unlock()
		c.obs.CacheHit()
		select {
		case <-e.ready:
		case <-ctx.Done():
			c.release(e)
			return nil, nil, ctx.Err()
		}
	}
	if e.err != nil {
		c.release(e)
		if ctx.Err() == nil && (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) {
			// The request that was loading it gave up; this one has not.
			return c.Acquire(ctx, sha)
		}
		return nil, nil, e.err
	}
	c.mu.Lock()
	if e.elem != nil {
		c.lru.MoveToFront(e.elem)
	}
	c.mu.Unlock()
	var once sync.Once
	return e.lm, func() { once.Do(func() { c.release(e) }) }, nil
}

// fill loads e outside the lock, bounded by the loading request's ctx;
// waiters block on e.ready.
func (c *ModelCache) fill(ctx context.Context, e *cacheEntry) {
	defer close(e.ready)
	t0 := time.Now()
	art, err := c.artifacts.Load(ctx, e.sha)
	var m Model
	if err == nil {
		m, err = OpenModel(art, c.load)
	}
	if ctx.Err() == nil { // a load its requester abandoned says nothing of the artifact
		c.obs.ModelLoaded(time.Since(t0), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		e.err = err
		delete(c.entries, e.sha)
		return
	}
	e.lm = &LoadedModel{Artifact: art, Model: m}
	e.elem = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		old := c.lru.Back().Value.(*cacheEntry)
		c.lru.Remove(old.elem)
		old.elem = nil
		old.gone = true
		delete(c.entries, old.sha)
		c.obs.CacheEvicted()
		if old.refs == 0 {
			go old.lm.Model.Close()
		}
	}
	c.obs.CacheSize(c.lru.Len())
}

func (c *ModelCache) release(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.gone && e.refs == 0 && e.lm != nil {
		go e.lm.Model.Close()
	}
}

// Len is the number of loaded models held.
func (c *ModelCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Close closes every cached model (waiting for in-flight predictions).
func (c *ModelCache) Close() {
	c.mu.Lock()
	var models []Model
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cacheEntry)
		models = append(models, e.lm.Model)
		e.gone = true
		delete(c.entries, e.sha)
	}
	c.lru.Init()
	c.mu.Unlock()
	for _, m := range models {
		m.Close()
	}
}
