package inference

import (
	"context"
	"sync"
)

// admission bounds the backfills running at once: at most maxRunning run,
// at most maxWaiting wait for a slot (each no longer than its own
// context), and any more are refused with backfill_busy. Memory under
// concurrency is bounded by the running backfills' chunks, whatever the
// number of callers. Safe for concurrent use.
type admission struct {
	mu                     sync.Mutex
	running, waiting       int
	maxRunning, maxWaiting int
	freed                  chan struct{} // closed and replaced whenever a slot frees
}

func newAdmission(maxRunning, maxWaiting int) *admission {
	return &admission{maxRunning: max(maxRunning, 1), maxWaiting: max(maxWaiting, 0), freed: make(chan struct{})}
}

// acquire takes a slot, waiting in the bounded queue if needed; release
// gives it back.
func (a *admission) acquire(ctx context.Context) (release func(), err error) {
	a.mu.Lock()
	if a.running >= a.maxRunning && a.waiting >= a.maxWaiting {
		running, waiting := a.running, a.waiting
		a.mu.Unlock()
		return nil, Errorf(CodeBackfillBusy, "%d backfills are running and %d waiting, the most this service takes", running, waiting).
			WithDetails(map[string]any{"running": running, "waiting": waiting}).
			WithHint("retry in a few seconds, or raise INFERENCE_MAX_CONCURRENT_BACKFILLS / INFERENCE_BACKFILL_QUEUE")
	}
	queued := false
	for a.running >= a.maxRunning {
		if !queued {
			a.waiting++
			queued = true
		}
		freed := a.freed
		a.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			a.mu.Lock()
			a.waiting--
			a.mu.Unlock()
			return nil, ctx.Err()
		}
		a.mu.Lock()
	}
	if queued {
		a.waiting--
	}
	a.running++
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.running--
			close(a.freed)
			a.freed = make(chan struct{})
			a.mu.Unlock()
		})
	}, nil
}

// load reports the running and waiting backfills.
func (a *admission) load() (running, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, a.waiting
}
