// Declarations shared by the cgo files of package native: the allocation
// counter and the OpenMP thread control of a load (heap_cgo.go).
#ifndef BH_HEAP_CGO_H
#define BH_HEAP_CGO_H

#include <stddef.h>

// bh_openmp is the calling thread's OpenMP thread count in the runtime the
// libraries call, found by bh_openmp_init.
typedef struct {
	void (*set)(int);
	int (*get)(void);
} bh_omp;
extern bh_omp bh_openmp;
int bh_openmp_init(void);

// bh_count_begin starts counting the calling thread's allocations and
// bh_count_end stops and returns their net bytes.
void bh_count_begin(void);
long long bh_count_end(void);

// bh_check_heap, set by tests, makes each load also record mallinfo2's
// growth across it in bh_heap_delta (loads must then run one at a time).
extern int bh_check_heap;
extern long long bh_heap_delta;
size_t bh_heap_in_use(void);

// BH_ALONE runs call with its OpenMP parallel regions on the calling thread
// alone and counts what it leaves allocated into *bytes.
#define BH_ALONE(bytes, call) do { \
	int bh_prev_ = bh_openmp.get(); \
	bh_openmp.set(1); \
	size_t bh_heap0_ = bh_check_heap ? bh_heap_in_use() : 0; \
	bh_count_begin(); \
	call; \
	*(bytes) = bh_count_end(); \
	if (bh_check_heap) bh_heap_delta = (long long)bh_heap_in_use() - (long long)bh_heap0_; \
	bh_openmp.set(bh_prev_); \
} while (0)

#endif
