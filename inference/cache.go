package inference

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// LoadedModel is an artifact with its predictor, shared by every request for
// the same sha.
type LoadedModel struct {
	Artifact *Artifact
	Model    Model
	// Bytes is the memory the model holds, measured when it loaded: the
	// predictor (native boosters' C heap, goeval's trees) and the artifact's
	// decoded payload.
	Bytes int64
}

// ModelCache holds loaded models by artifact sha (D7), bounded by the bytes
// they hold, each model's measured when it loads, and one load per sha
// however many requests ask at once. The working set (KeepLoaded: the
// models of the signals this replica serves) is never evicted for another
// model; a model that does not fit is served for its request and closed
// after it, and a working-set model that does not fit is reported
// (Stats.OverBudget, the log). Models evicted while in use are closed when
// their last user releases them. Safe for concurrent use.
type ModelCache struct {
	artifacts ArtifactSource
	load      Loaders
	budget    int64
	obs       Observer
	log       *slog.Logger

	mu      sync.Mutex
	entries map[string]*cacheEntry
	lru     *list.List // front = most recently used; holds resident entries only
	bytes   int64      // resident entries' bytes
	ws      workingSet

	// barCloses counts the bar closes under way in this process (streaming
	// passes with bars due, batch-predict calls), whichever service runs
	// them: the monitoring passes wait while it is above zero, so that
	// they never compete with one.
	barCloses atomic.Int32
}

type cacheEntry struct {
	sha   string
	ready chan struct{} // closed when the load finished
	lm    *LoadedModel
	err   error
	refs  int
	elem  *list.Element // nil unless resident
	gone  bool          // evicted or never held: close when refs reaches 0
}

// NewModelCache returns a cache holding at most budget bytes of models.
func NewModelCache(artifacts ArtifactSource, load Loaders, budget int64) *ModelCache {
	return &ModelCache{artifacts: artifacts, load: load, budget: max(budget, 0), obs: NopObserver{}, log: slog.New(slog.DiscardHandler),
		entries: map[string]*cacheEntry{}, lru: list.New(), ws: newWorkingSet()}
}

// SetObserver sets where the cache reports hits, misses, evictions, loads
// and its state; call it before the cache is used.
func (c *ModelCache) SetObserver(o Observer) { c.obs = o }

// SetLogger sets where the cache says that its working set does not fit;
// call it before the cache is used.
func (c *ModelCache) SetLogger(l *slog.Logger) { c.log = l }

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
	lm, err := c.open(ctx, e.sha)
	if ctx.Err() == nil { // a load its requester abandoned says nothing of the artifact
		c.obs.ModelLoaded(time.Since(t0), err)
	}
	c.mu.Lock()
	if err != nil {
		e.err = err
		delete(c.entries, e.sha)
		if ctx.Err() == nil {
			c.ws.failed(e.sha)
		}
		c.mu.Unlock()
		return
	}
	e.lm = lm
	var held bool
	if isPassingThrough(ctx) && !c.ws.wanted(e.sha) {
		e.gone = true // serves the calls waiting for it, then closes
		delete(c.entries, e.sha)
	} else {
		held = c.admit(e)
	}
	st := c.statsLocked()
	c.mu.Unlock()
	if !held && st.OverBudget > 0 && c.ws.wanted(e.sha) {
		c.overBudgetSaid(st)
	}
	c.obs.CacheState(st)
}

// open reads, verifies and builds the model for sha, and measures what it
// holds. The model's text and snapshots, which only building it needs, are
// let go first: resident, a model is its predictor and the payload's data.
func (c *ModelCache) open(ctx context.Context, sha string) (*LoadedModel, error) {
	art, err := c.artifacts.Load(ctx, sha)
	if err != nil {
		return nil, err
	}
	m, err := OpenModel(art, c.load)
	if err != nil {
		return nil, err
	}
	art.dropSources()
	return &LoadedModel{Artifact: art, Model: m, Bytes: goBytes(art) + modelBytes(m)}, nil
}

// admit makes e resident if it fits the budget, evicting least recently
// used models outside the working set to make room, and only when that
// room suffices; otherwise e serves its waiting requests and is closed
// after them. It reports whether e was held. Called with c.mu held.
func (c *ModelCache) admit(e *cacheEntry) bool {
	size := e.lm.Bytes
	c.ws.measured(e.sha, size)
	var evictable int64
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		if old := el.Value.(*cacheEntry); !c.ws.wanted(old.sha) {
			evictable += old.lm.Bytes
		}
	}
	if c.bytes-evictable+size > c.budget {
		e.gone = true
		delete(c.entries, e.sha)
		c.ws.overBudget(e.sha, size)
		return false
	}
	for el := c.lru.Back(); el != nil && c.bytes+size > c.budget; {
		old, prev := el.Value.(*cacheEntry), el.Prev()
		if !c.ws.wanted(old.sha) {
			c.evict(old)
		}
		el = prev
	}
	e.elem = c.lru.PushFront(e)
	c.bytes += size
	c.ws.held(e.sha)
	return true
}

// evict drops a resident entry; it is closed once no request uses it.
// Called with c.mu held.
func (c *ModelCache) evict(e *cacheEntry) {
	c.lru.Remove(e.elem)
	e.elem, e.gone = nil, true
	c.bytes -= e.lm.Bytes
	delete(c.entries, e.sha)
	c.obs.CacheEvicted()
	if e.refs == 0 {
		go e.lm.Model.Close()
	}
}

func (c *ModelCache) release(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.gone && e.refs == 0 && e.lm != nil {
		go e.lm.Model.Close()
	}
}

// Holds reports whether the model sha is loaded and held.
func (c *ModelCache) Holds(sha string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sha]
	return ok && e.elem != nil
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
	c.bytes = 0
	c.mu.Unlock()
	for _, m := range models {
		m.Close()
	}
}
