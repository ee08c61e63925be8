//go:build cgo && !purego

package native

/*
#cgo LDFLAGS: -lm
#include <math.h>
#include <stddef.h>

static void bh_exp(const double *x, double *y, size_t n) {
	for (size_t i = 0; i < n; i++) y[i] = exp(x[i]);
}

static void bh_expf(const float *x, float *y, size_t n) {
	for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

static void bh_logf(const float *x, float *y, size_t n) {
	for (size_t i = 0; i < n; i++) y[i] = logf(x[i]);
}
*/
import "C"

import "unsafe"

// LibmExp sets out[i] = exp(xs[i]) as the process's glibc computes it: the
// reference the pure-Go Exp is held to (goeval's equivalence test). The
// slices are lent to C for the call only.
func LibmExp(xs, out []float64) {
	if len(xs) == 0 {
		return
	}
	_ = out[len(xs)-1]
	C.bh_exp((*C.double)(unsafe.Pointer(&xs[0])), (*C.double)(unsafe.Pointer(&out[0])), C.size_t(len(xs)))
}

// LibmExpf sets out[i] = expf(xs[i]) as the process's glibc computes it.
func LibmExpf(xs, out []float32) {
	if len(xs) == 0 {
		return
	}
	_ = out[len(xs)-1]
	C.bh_expf((*C.float)(unsafe.Pointer(&xs[0])), (*C.float)(unsafe.Pointer(&out[0])), C.size_t(len(xs)))
}

// LibmLogf sets out[i] = logf(xs[i]) as the process's glibc computes it.
func LibmLogf(xs, out []float32) {
	if len(xs) == 0 {
		return
	}
	_ = out[len(xs)-1]
	C.bh_logf((*C.float)(unsafe.Pointer(&xs[0])), (*C.float)(unsafe.Pointer(&out[0])), C.size_t(len(xs)))
}
