//go:build cgo && !purego

package native

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include "heap_cgo.h"

// The process's allocator is glibc's, entered through these definitions so
// that a thread can count what it allocates and frees between
// bh_count_begin and bh_count_end. Every entry point glibc's manual names
// for replacing malloc is here, each calling glibc's own implementation, so
// malloc_usable_size and the arenas are glibc's as before. A chunk's size is
// its usable bytes plus the size word in front of it, what mallinfo2
// counts for a chunk on the heap.
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static __thread int bh_counting;
static __thread long long bh_counted;

static inline long long bh_chunk(void *p) {
	return p ? (long long)(malloc_usable_size(p) + sizeof(size_t)) : 0;
}

static inline void *bh_took(void *p) {
	if (bh_counting && p) bh_counted += bh_chunk(p);
	return p;
}

void *malloc(size_t n) { return bh_took(__libc_malloc(n)); }
void *calloc(size_t k, size_t n) { return bh_took(__libc_calloc(k, n)); }
void *memalign(size_t a, size_t n) { return bh_took(__libc_memalign(a, n)); }
void *aligned_alloc(size_t a, size_t n) { return bh_took(__libc_memalign(a, n)); }
void *valloc(size_t n) { return bh_took(__libc_valloc(n)); }
void *pvalloc(size_t n) { return bh_took(__libc_pvalloc(n)); }

void free(void *p) {
	if (bh_counting && p) bh_counted -= bh_chunk(p);
	__libc_free(p);
}

void *realloc(void *p, size_t n) {
	long long was = bh_counting ? bh_chunk(p) : 0;
	void *q = __libc_realloc(p, n);
	if (bh_counting && (q || n == 0)) bh_counted += bh_chunk(q) - was;
	return q;
}

void *reallocarray(void *p, size_t k, size_t n) {
	size_t total;
	if (__builtin_mul_overflow(k, n, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

int posix_memalign(void **out, size_t a, size_t n) {
	if (a < sizeof(void *) || (a & (a - 1)) != 0) return EINVAL;
	void *p = __libc_memalign(a, n);
	if (p == NULL) return ENOMEM;
	*out = bh_took(p);
	return 0;
}

void bh_count_begin(void) {
	bh_counted = 0;
	bh_counting = 1;
}

long long bh_count_end(void) {
	bh_counting = 0;
	return bh_counted;
}

bh_omp bh_openmp;

int bh_openmp_init(void) {
	bh_openmp.set = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
	bh_openmp.get = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
	return bh_openmp.set != NULL && bh_openmp.get != NULL ? 0 : -1;
}

int bh_check_heap;
long long bh_heap_delta;

// bh_heap_in_use is the C heap's bytes in use, every malloc arena and the
// directly mmapped chunks (glibc's mallinfo2).
size_t bh_heap_in_use(void) {
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
)

// A load's resident size is what the calling thread allocated and did not
// free inside the library's load call: the load runs on that thread alone
// (OpenMP is told one thread for that call; both libraries parse trees in
// parallel otherwise), and every allocation of the process passes the
// counter above, which only the loading thread has on. So loads run in
// parallel, each on a core of its own, and neither a prediction nor another
// model's free on another thread can blur the figure — no lock between them.

// openMP finds, once, the OpenMP runtime both libraries call: the first
// libgomp in the process's global scope, to which lib_lightgbm and
// libxgboost both bind (the XGBoost wheel's own copy loads beside it, but a
// library's calls go to the first definition the dynamic linker finds).
var openMP = sync.OnceValue(func() error {
	if C.bh_openmp_init() != 0 {
		return inference.Errorf(inference.CodeInternal, "cannot find the OpenMP runtime the native libraries call (omp_set_num_threads)")
	}
	return nil
})

// checkHeap makes every load also record the C heap's growth across it
// (glibc's mallinfo2), which the tests hold the load's count against; the
// loads must then run one at a time. It returns the last load's growth.
func checkHeap(on bool) int64 {
	C.bh_check_heap = 0
	if on {
		C.bh_check_heap = 1
	}
	return int64(C.bh_heap_delta)
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
