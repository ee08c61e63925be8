package inference

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// The model manager: which models this replica must hold (its working set:
// the models of the active and shadow signals it serves), loading them
// before their bars are due, in parallel, and saying when they do not fit.

// CacheStats is the model cache's state: what it holds against its budget,
// and how much of its working set is loaded.
type CacheStats struct {
	Models int   // models held
	Bytes  int64 // their measured bytes
	Budget int64 // INFERENCE_MODEL_CACHE_BYTES
	// Tracked: a working set was given (the streaming worker or the
	// model manager lists the targets); false in a cache only requests use.
	Tracked bool
	// WorkingSet is the number of models the working set names, of which
	// WorkingSetHeld are held, OverBudget were loaded but do not fit (each
	// loads for every use), Failed failed their last load and Loading are
	// being loaded.
	WorkingSet, WorkingSetHeld, OverBudget, Failed, Loading int
	// WorkingSetBytes is the working set's measured bytes (its models not
	// measured yet are not counted).
	WorkingSetBytes int64
	// Loaded: every working-set model has been loaded at least once since
	// the first working set was given, held or not (the start-up preload
	// finished).
	Loaded bool
}

// Fits reports whether the whole working set is held.
func (s CacheStats) Fits() bool { return s.OverBudget == 0 }

// workingSet is the cache's view of its working set; guarded by the cache's
// mutex.
type workingSet struct {
	tracked  bool
	want     map[string]bool
	size     map[string]int64     // measured bytes, by sha, of models of the working set ever loaded
	over     map[string]bool      // wanted, loaded, not held for want of room
	fail     map[string]time.Time // wanted, and its last load failed then
	loading  map[string]bool
	loaded   bool // the first working set's preload finished
	saidOver int  // OverBudget when the log last said so
}

func newWorkingSet() workingSet {
	return workingSet{want: map[string]bool{}, size: map[string]int64{}, over: map[string]bool{},
		fail: map[string]time.Time{}, loading: map[string]bool{}}
}

func (w *workingSet) wanted(sha string) bool { return w.want[sha] }

// loadingWanted reports whether a model of the working set is being
// loaded by the manager.
func (w *workingSet) loadingWanted() bool {
	for s := range w.loading {
		if w.want[s] {
			return true
		}
	}
	return false
}

func (w *workingSet) measured(sha string, n int64) {
	if w.want[sha] {
		w.size[sha] = n
	}
}

func (w *workingSet) held(sha string) { delete(w.over, sha); delete(w.fail, sha) }

func (w *workingSet) overBudget(sha string, _ int64) {
	if w.want[sha] {
		w.over[sha] = true
		delete(w.fail, sha)
	}
}

func (w *workingSet) failed(sha string) {
	if w.want[sha] {
		w.fail[sha] = time.Now()
	}
}

// passingThrough marks a context whose model loads are not this replica's
// to keep unless its working set names them: the streaming worker's (its
// own share during a catch-up, another replica's whose owner was late) and
// the preload's. A model such a load brings that the working set does not
// name serves its calls and is closed after them, so that each replica
// holds its own share, not everyone's.
type passingThrough struct{}

// PassingThrough is ctx whose model loads the cache does not keep unless
// the working set names the model.
func PassingThrough(ctx context.Context) context.Context {
	return context.WithValue(ctx, passingThrough{}, true)
}

func isPassingThrough(ctx context.Context) bool { return ctx.Value(passingThrough{}) != nil }

// failedRetry is how long a working-set model whose load failed waits
// before the manager loads it again (a request may try at any time).
const failedRetry = time.Minute

// ExpectWorkingSet says a model manager will give the working set (the
// streaming worker or KeepModelsLoaded, once it lists the signals): until
// that first working set is loaded, Stats reports it loading, so that a
// replica just started is not ready before its models are.
func (c *ModelCache) ExpectWorkingSet() {
	c.mu.Lock()
	c.ws.tracked = true
	c.mu.Unlock()
}

// KeepLoaded makes shas the working set: those models are never evicted for
// another, and the ones not held are loaded now in the background, as many
// at a time as there are cores, so that they are resident before their
// bars are due. A model the last working set named and this one does not
// is let go (its signal retired or retrained, or its targets now another
// replica's share): it serves its in-flight requests and is closed after
// them, so that a replica holds its own share, not every model it ever
// served. Models that requests loaded outside any working set stay until
// their room is needed. A model replaced by a retrained one keeps serving
// until its last request ends; the new one is loaded here, or by its first
// request if that comes first (one load either way). It returns at once;
// done, when not nil, is closed when this call's loads finished.
func (c *ModelCache) KeepLoaded(ctx context.Context, shas []string) (done <-chan struct{}) {
	c.mu.Lock()
	want := make(map[string]bool, len(shas))
	for _, s := range shas {
		want[s] = true
	}
	for s := range c.ws.want {
		if e, ok := c.entries[s]; ok && e.elem != nil && !want[s] {
			c.evict(e)
		}
	}
	c.ws.tracked = true
	c.ws.want = want
	for s := range c.ws.over {
		if !want[s] {
			delete(c.ws.over, s)
		}
	}
	for s := range c.ws.fail {
		if !want[s] {
			delete(c.ws.fail, s)
		}
	}
	for s := range c.ws.size {
		if !want[s] {
			delete(c.ws.size, s)
		}
	}
	todo := c.toLoadLocked(shas)
	for _, s := range todo {
		c.ws.loading[s] = true
	}
	c.mu.Unlock()
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		c.preload(ctx, todo)
		c.mu.Lock()
		// Loaded once nothing of the working set is still loading: a
		// later call that found the first one's models in flight finishes
		// before them and must not say they are loaded.
		if !c.ws.loaded && !c.ws.loadingWanted() && ctx.Err() == nil {
			c.ws.loaded = true
		}
		st := c.statsLocked()
		c.mu.Unlock()
		c.overBudgetSaid(st)
		c.obs.CacheState(st)
	}()
	return ch
}

// toLoadLocked is what of shas the manager loads now: not held, not being
// loaded, not failed recently, and — for a model that did not fit before —
// only when it would fit now. Called with c.mu held.
func (c *ModelCache) toLoadLocked(shas []string) []string {
	var free int64 = c.budget - c.bytes
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		if e := el.Value.(*cacheEntry); !c.ws.want[e.sha] {
			free += e.lm.Bytes
		}
	}
	var todo []string
	seen := map[string]bool{}
	for _, s := range shas {
		if seen[s] || c.ws.loading[s] {
			continue
		}
		seen[s] = true
		if e, ok := c.entries[s]; ok && e.elem != nil {
			continue
		}
		if at, ok := c.ws.fail[s]; ok && time.Since(at) < failedRetry {
			continue
		}
		if c.ws.over[s] {
			if c.ws.size[s] > free {
				continue
			}
			free -= c.ws.size[s]
		}
		todo = append(todo, s)
	}
	return todo
}

// preload loads shas, NumCPU at a time, each load on a core of its own
// (the artifact's read, sha and unpickling, then the library's parse). A
// model a later working set no longer names is not loaded, or not kept if
// it was in flight (PassingThrough).
func (c *ModelCache) preload(ctx context.Context, shas []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	ctx = PassingThrough(ctx)
	for _, s := range shas {
		sem <- struct{}{}
		if ctx.Err() != nil || !c.wants(s) {
			<-sem
			c.doneLoading(s)
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer c.doneLoading(s)
			if _, release, err := c.Acquire(ctx, s); err == nil {
				release()
			} else if ctx.Err() == nil {
				c.log.Warn("model cache: a working-set model failed to load; its signals are refused until it loads",
					"artifact_sha256", s, "error", err.Error(), "retry_after", failedRetry.String())
			}
		}()
	}
	wg.Wait()
}

// wants reports whether the working set names sha.
func (c *ModelCache) wants(sha string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.wanted(sha)
}

func (c *ModelCache) doneLoading(sha string) {
	c.mu.Lock()
	delete(c.ws.loading, sha)
	c.mu.Unlock()
}

// Stats is the cache's state now.
func (c *ModelCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statsLocked()
}

func (c *ModelCache) statsLocked() CacheStats {
	st := CacheStats{Models: c.lru.Len(), Bytes: c.bytes, Budget: c.budget, Tracked: c.ws.tracked,
		WorkingSet: len(c.ws.want), OverBudget: len(c.ws.over), Failed: len(c.ws.fail), Loading: len(c.ws.loading), Loaded: c.ws.loaded}
	for s := range c.ws.want {
		if e, ok := c.entries[s]; ok && e.elem != nil {
			st.WorkingSetHeld++
		}
		st.WorkingSetBytes += c.ws.size[s]
	}
	return st
}

// overBudgetSaid logs, when the number of working-set models that do not
// fit changed, that the budget is too small and by how much.
func (c *ModelCache) overBudgetSaid(st CacheStats) {
	c.mu.Lock()
	changed := c.ws.saidOver != st.OverBudget
	c.ws.saidOver = st.OverBudget
	c.mu.Unlock()
	switch {
	case !changed:
	case st.OverBudget > 0:
		c.log.Error("model cache: the working set does not fit INFERENCE_MODEL_CACHE_BYTES; the models not held load at every use",
			"working_set_models", st.WorkingSet, "not_held", st.OverBudget, "working_set_bytes", st.WorkingSetBytes,
			"budget_bytes", st.Budget, "fix", "raise INFERENCE_MODEL_CACHE_BYTES to at least working_set_bytes, or add replicas")
	default:
		c.log.Info("model cache: the working set fits again", "working_set_models", st.WorkingSet,
			"working_set_bytes", st.WorkingSetBytes, "budget_bytes", st.Budget)
	}
}

// workingSetOf lists the distinct artifact shas of targets, in order.
func workingSetOf(targets []Target) []string {
	var shas []string
	seen := map[string]bool{}
	for _, t := range targets {
		if t.ArtifactSHA != "" && !seen[t.ArtifactSHA] {
			seen[t.ArtifactSHA] = true
			shas = append(shas, t.ArtifactSHA)
		}
	}
	return shas
}

// closing marks a bar close under way until the returned func is called.
func (c *ModelCache) closing() (done func()) {
	c.barCloses.Add(1)
	return func() { c.barCloses.Add(-1) }
}

// barCloseGap waits until no bar close is under way and the first working
// set is loaded (or ctx ends): a monitoring pass reads the bar's models and
// a two-year window per signal, and it never takes the cores from a bar
// close or from the start-up preload, whose models the next close needs.
func (c *ModelCache) barCloseGap(ctx context.Context) {
	for c.barCloses.Load() > 0 || c.preloading() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// preloading reports whether a working set is expected and not yet loaded.
func (c *ModelCache) preloading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.tracked && !c.ws.loaded
}
