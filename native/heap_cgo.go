//go:build cgo && !purego

package native

/*
#include <malloc.h>

// bh_heap_in_use is the C heap's bytes in use, every malloc arena and the
// directly mmapped chunks (glibc's mallinfo2).
static size_t bh_heap_in_use(void) {
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"time"
)

// heapMu makes the C heap's growth across one load that model's resident
// size: a load holds it alone, so loads run one at a time (the libraries
// parse in parallel within a load, LightGBM over trees, so little is lost)
// and no prediction or free runs meanwhile — those hold it shared
// (sharedHeap) for their C calls, since a prediction's buffers or another
// model's free in the middle of a load would blur the figure by their
// size. A load pauses predictions for its parse, ~10 ms for a 400-tree
// LightGBM model; a bar close with its models loaded loads nothing.
var heapMu sync.RWMutex

// sharedHeap holds heapMu shared until the returned func is called.
func sharedHeap() func() {
	heapMu.RLock()
	return heapMu.RUnlock
}

// measuredLoad runs load and returns the C heap bytes it left allocated.
func measuredLoad(load func() error) (int64, error) {
	heapMu.Lock()
	defer heapMu.Unlock()
	before := int64(C.bh_heap_in_use())
	if err := load(); err != nil {
		return 0, err
	}
	return max(int64(C.bh_heap_in_use())-before, 0), nil
}

// lastTrim is when the C heap was last trimmed (unix nanoseconds).
var lastTrim atomic.Int64

// trimHeap hands the C heap's free pages back to the system, at most once a
// second, in the background: glibc keeps a freed model's pages in its
// arenas, where a process that replaces models keeps growing.
func trimHeap() {
	now := time.Now().UnixNano()
	last := lastTrim.Load()
	if now-last < int64(time.Second) || !lastTrim.CompareAndSwap(last, now) {
		return
	}
	go C.malloc_trim(0)
}
