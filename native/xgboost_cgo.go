//go:build cgo && !purego

package native

/*
#cgo CFLAGS: -I${SRCDIR}/../third_party/xgboost
#cgo LDFLAGS: -L${SRCDIR}/../third_party/xgboost/lib/xgboost/lib -lxgboost -Wl,-rpath,${SRCDIR}/../third_party/xgboost/lib/xgboost/lib
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "xgboost_min.h"
#include "heap_cgo.h"

static void bh_xgb_err(char *buf, size_t n) {
	const char *e = XGBGetLastError();
	if (e == NULL) e = "unknown XGBoost error";
	strncpy(buf, e, n - 1);
	buf[n - 1] = 0;
}

// bh_xgb_load creates a booster from a memory snapshot (what the pickled
// xgboost.core.Booster holds) and reads its feature count and best_iteration.
//
// The booster is built on the calling thread alone (XGBoost loads trees in
// parallel otherwise) and what it keeps of the heap is counted into *bytes.
static int bh_xgb_load(const void *buf, bh_bst_ulong len, BhXgbBooster *out, bh_bst_ulong *features,
                       int *best, int *has_best, long long *bytes, char *err, size_t n) {
	int rc;
	BH_ALONE(bytes, {
		rc = XGBoosterCreate(NULL, 0, out);
		if (rc == 0) rc = XGBoosterUnserializeFromBuffer(*out, buf, len);
	});
	if (rc == 0) rc = XGBoosterGetNumFeature(*out, features);
	const char *attr = NULL;
	if (rc == 0) rc = XGBoosterGetAttr(*out, "best_iteration", &attr, has_best);
	if (rc == 0 && *has_best) *best = atoi(attr);
	if (rc != 0) bh_xgb_err(err, n);
	return rc;
}

// bh_xgb_feature_name copies feature name i (of *count) into out; names
// live in XGBoost's thread-local buffer, so each call re-reads them.
static int bh_xgb_feature_name(BhXgbBooster b, bh_bst_ulong i, bh_bst_ulong *count, char *out, size_t cap,
                               char *err, size_t n) {
	const char **names = NULL;
	int rc = XGBoosterGetStrFeatureInfo(b, "feature_name", count, &names);
	if (rc != 0) {
		bh_xgb_err(err, n);
		return rc;
	}
	out[0] = 0;
	if (i < *count) {
		strncpy(out, names[i], cap - 1);
		out[cap - 1] = 0;
	}
	return 0;
}

// bh_xgb_iface writes the array interface of nrow x ncol row-major float64
// values at rows.
static void bh_xgb_iface(char *buf, size_t len, const double *rows, bh_bst_ulong nrow, bh_bst_ulong ncol) {
	snprintf(buf, len,
		"{\"data\": [%llu, true], \"shape\": [%llu, %llu], \"strides\": null, \"typestr\": \"<f8\", \"version\": 3}",
		(unsigned long long)(uintptr_t)rows, (unsigned long long)nrow, (unsigned long long)ncol);
}

// bh_xgb_copy copies a prediction's float32 results (XGBoost's thread-local
// buffer) into out, of capacity cap.
static int bh_xgb_copy(const bh_bst_ulong *shape, bh_bst_ulong dim, const float *res, float *out, size_t cap,
                       size_t *out_len, char *err, size_t n) {
	size_t total = 1;
	for (bh_bst_ulong i = 0; i < dim; i++) total *= shape[i];
	if (total > cap) {
		snprintf(err, n, "XGBoost returned %zu values, expected at most %zu", total, cap);
		return -1;
	}
	memcpy(out, res, total * sizeof(float));
	*out_len = total;
	return 0;
}

// bh_xgb_predict runs an in-place dense prediction over nrow x ncol float64
// values and copies the float32 results, which live in XGBoost's
// thread-local buffer, into out (capacity cap) before returning.
static int bh_xgb_predict(BhXgbBooster b, const double *rows, bh_bst_ulong nrow, bh_bst_ulong ncol,
                          const char *config, float *out, size_t cap, size_t *out_len, char *err, size_t n) {
	char iface[256];
	bh_xgb_iface(iface, sizeof iface, rows, nrow, ncol);
	const bh_bst_ulong *shape = NULL;
	bh_bst_ulong dim = 0;
	const float *res = NULL;
	int rc = XGBoosterPredictFromDense(b, iface, config, NULL, &shape, &dim, &res);
	if (rc != 0) {
		bh_xgb_err(err, n);
		return rc;
	}
	return bh_xgb_copy(shape, dim, res, out, cap, out_len, err, n);
}

// bh_xgb_contrib builds a DMatrix over nrow x ncol float64 values (missing
// NaN, as xgboost.DMatrix) and runs a prediction of the configured type
// through it — what Booster.predict(DMatrix, pred_contribs=True) calls —
// copying the float32 results out before returning.
static int bh_xgb_contrib(BhXgbBooster b, const double *rows, bh_bst_ulong nrow, bh_bst_ulong ncol,
                          const char *config, float *out, size_t cap, size_t *out_len, char *err, size_t n) {
	char iface[256];
	bh_xgb_iface(iface, sizeof iface, rows, nrow, ncol);
	BhXgbDMatrix d = NULL;
	int rc = XGDMatrixCreateFromDense(iface, "{\"missing\": NaN, \"nthread\": 1}", &d);
	if (rc != 0) {
		bh_xgb_err(err, n);
		return rc;
	}
	const bh_bst_ulong *shape = NULL;
	bh_bst_ulong dim = 0;
	const float *res = NULL;
	rc = XGBoosterPredictFromDMatrix(b, d, config, &shape, &dim, &res);
	if (rc != 0) {
		bh_xgb_err(err, n);
		XGDMatrixFree(d);
		return rc;
	}
	rc = bh_xgb_copy(shape, dim, res, out, cap, out_len, err, n);
	XGDMatrixFree(d);
	return rc;
}
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/rfkih/blackheart-inference/inference"
)

// XGBoost is an XGBoost booster loaded into libxgboost.so from the pinned
// wheel. Predictions match XGBClassifier/XGBRegressor.predict(_proba) in
// Python bit for bit: same library, same in-place dense path, same
// iteration range, float32 results widened exactly. Safe for concurrent use
// (XGBoost's in-place prediction is thread-safe); Close waits for in-flight
// calls and is idempotent.
type XGBoost struct {
	nFeatures int
	nOutputs  int
	names     []string // the snapshot's feature names; nil when it has none
	config    *C.char  // prediction config JSON, owned
	margin    *C.char  // the same, raw margins (explanations' sums)
	contrib   *C.char  // the same, contributions through a DMatrix
	maxRows   int
	cBytes    int64 // the C heap the booster took when it loaded

	mu     sync.RWMutex
	closed bool
	h      C.BhXgbBooster
}

// XGBOptions configure a loaded XGBoost booster.
type XGBOptions struct {
	// MaxBatchRows bounds one native call; default 8192.
	MaxBatchRows int
}

// LoadXGBoost loads a memory snapshot (XGBoosterSerializeToBuffer output,
// the pickled Booster's handle). It predicts like the sklearn wrapper:
// up to best_iteration+1 when the snapshot has one, else every tree.
func LoadXGBoost(snapshot []byte, opts XGBOptions) (*XGBoost, error) {
	if len(snapshot) == 0 {
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "XGBoost snapshot is empty")
	}
	if opts.MaxBatchRows <= 0 {
		opts.MaxBatchRows = 8192
	}
	var h C.BhXgbBooster
	var features C.bh_bst_ulong
	var best, hasBest C.int
	var errBuf [errBufLen]C.char
	if err := openMP(); err != nil {
		return nil, err
	}
	buf := C.CBytes(snapshot)
	defer C.free(buf)
	var resident C.longlong
	if C.bh_xgb_load(buf, C.bh_bst_ulong(len(snapshot)), &h, &features, &best, &hasBest, &resident, &errBuf[0], errBufLen) != 0 {
		if h != nil {
			C.XGBoosterFree(h)
		}
		msg := C.GoString(&errBuf[0])
		return nil, inference.Wrap(fmt.Errorf("%s", msg), inference.CodeArtifactCorrupt, "XGBoost rejected the model snapshot: %s", msg)
	}
	end := 0
	if hasBest != 0 {
		end = int(best) + 1
	}
	m := &XGBoost{
		nFeatures: int(features),
		config:    C.CString(fmt.Sprintf(`{"type": 0, "training": false, "iteration_begin": 0, "iteration_end": %d, "missing": NaN, "strict_shape": false, "cache_id": 0}`, end)),
		margin:    C.CString(fmt.Sprintf(`{"type": 1, "training": false, "iteration_begin": 0, "iteration_end": %d, "missing": NaN, "strict_shape": false, "cache_id": 0}`, end)),
		contrib:   C.CString(fmt.Sprintf(`{"type": 2, "training": false, "iteration_begin": 0, "iteration_end": %d, "strict_shape": false}`, end)),
		maxRows:   opts.MaxBatchRows, h: h, cBytes: max(int64(resident), 0),
	}
	runtime.SetFinalizer(m, func(m *XGBoost) { _ = m.Close() })
	if m.nFeatures <= 0 {
		m.Close()
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "XGBoost model has %d features", m.nFeatures)
	}
	var err error
	if m.names, err = m.featureNames(); err != nil {
		m.Close()
		return nil, err
	}
	// The output width (1, or one per class) is what a prediction returns.
	probe := make([]float64, m.nFeatures)
	out, err := m.predict(context.Background(), m.config, probe, 1, 64)
	if err != nil {
		m.Close()
		return nil, err
	}
	m.nOutputs = len(out)
	return m, nil
}

// NumFeatures is the number of input columns.
func (m *XGBoost) NumFeatures() int { return m.nFeatures }

// ResidentBytes is the memory the loaded booster holds: the C heap it took
// when it loaded, measured then, and its Go fields.
func (m *XGBoost) ResidentBytes() int64 {
	n := m.cBytes + int64(unsafe.Sizeof(*m))
	for _, s := range m.names {
		n += int64(len(s)) + 16
	}
	return n
}

// FeatureNames is the column order the model was fit on (the sklearn
// wrapper's DataFrame columns), or nil when the snapshot has none.
func (m *XGBoost) FeatureNames() []string { return m.names }

// featureNames reads the snapshot's feature names, at load time.
func (m *XGBoost) featureNames() ([]string, error) {
	var names []string
	var buf [256]C.char
	var errBuf [errBufLen]C.char
	for i := 0; ; i++ {
		var count C.bh_bst_ulong
		if C.bh_xgb_feature_name(m.h, C.bh_bst_ulong(i), &count, &buf[0], C.size_t(len(buf)), &errBuf[0], errBufLen) != 0 {
			msg := C.GoString(&errBuf[0])
			return nil, inference.Wrap(fmt.Errorf("%s", msg), inference.CodeArtifactCorrupt, "XGBoost feature names: %s", msg)
		}
		if i >= int(count) {
			return names, nil
		}
		names = append(names, C.GoString(&buf[0]))
	}
}

// NumOutputs is 1 for binary and regression, the class count for softprob.
func (m *XGBoost) NumOutputs() int { return m.nOutputs }

// Predict scores one row.
func (m *XGBoost) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	if err := checkRow(row, m.nFeatures); err != nil {
		return nil, err
	}
	if raw {
		return nil, inference.Errorf(inference.CodeModelNotServable, "raw scores are not offered for XGBoost members")
	}
	return m.predict(ctx, m.config, row, 1, m.nOutputs)
}

// PredictBatch scores row-major rows.
func (m *XGBoost) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	if raw {
		return nil, inference.Errorf(inference.CodeModelNotServable, "raw scores are not offered for XGBoost members")
	}
	return m.batch(ctx, false, m.config, rows, m.nOutputs)
}

// Margins returns the raw margins (Booster.predict(output_margin=True)) of
// row-major rows: what Contributions add up to.
func (m *XGBoost) Margins(ctx context.Context, rows []float64) ([]float64, error) {
	return m.batch(ctx, false, m.margin, rows, m.nOutputs)
}

// Contributions returns XGBoost's TreeSHAP contributions for row-major rows,
// as Booster.predict(DMatrix(X), pred_contribs=True) over the iteration
// range the sklearn wrapper predicts with: per row, per output,
// NumFeatures() values then the bias, in margin space, float32 widened. A
// row XGBoost will not put in a DMatrix (a value that is ±inf as a float32)
// is refused with explanation_not_supported in XGBoost's words, as Python
// refuses it.
func (m *XGBoost) Contributions(ctx context.Context, rows []float64) ([]float64, error) {
	return m.batch(ctx, true, m.contrib, rows, m.nOutputs*(m.nFeatures+1))
}

// batch runs call over row-major rows chunk by chunk, width values per row.
func (m *XGBoost) batch(ctx context.Context, viaDMatrix bool, config *C.char, rows []float64, width int) ([]float64, error) {
	n, err := checkBatch(rows, m.nFeatures)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, n*width)
	err = chunks(ctx, n, m.maxRows, func(lo, hi int) error {
		part, err := m.call(ctx, viaDMatrix, config, rows[lo*m.nFeatures:hi*m.nFeatures], hi-lo, (hi-lo)*width)
		out = append(out, part...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// predict runs one in-place prediction with config.
func (m *XGBoost) predict(ctx context.Context, config *C.char, rows []float64, nrow, want int) ([]float64, error) {
	out, err := m.call(ctx, false, config, rows, nrow, want)
	if err == nil && m.nOutputs != 0 && len(out) != nrow*m.nOutputs {
		return nil, inference.Errorf(inference.CodeInternal, "XGBoost returned %d values for %d rows", len(out), nrow)
	}
	return out, err
}

// call copies the rows to C memory (XGBoost reads them through an array
// interface address, so they must not be Go memory), runs one prediction —
// in place, or through a DMatrix for contributions — and widens the want
// float32 results.
func (m *XGBoost) call(ctx context.Context, viaDMatrix bool, config *C.char, rows []float64, nrow, want int) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed()
	}
	in := C.malloc(C.size_t(len(rows) * 8))
	defer C.free(in)
	copy(unsafe.Slice((*float64)(in), len(rows)), rows)
	res := make([]float32, want)
	var n C.size_t
	var errBuf [errBufLen]C.char
	src, nr, nc, dst := (*C.double)(in), C.bh_bst_ulong(nrow), C.bh_bst_ulong(m.nFeatures), (*C.float)(unsafe.Pointer(&res[0]))
	var rc C.int
	if viaDMatrix {
		rc = C.bh_xgb_contrib(m.h, src, nr, nc, config, dst, C.size_t(want), &n, &errBuf[0], errBufLen)
	} else {
		rc = C.bh_xgb_predict(m.h, src, nr, nc, config, dst, C.size_t(want), &n, &errBuf[0], errBufLen)
	}
	if rc != 0 {
		return nil, xgboostError(C.GoString(&errBuf[0]))
	}
	if int(n) != want && m.nOutputs != 0 {
		return nil, inference.Errorf(inference.CodeInternal, "XGBoost returned %d values for %d rows, want %d", n, nrow, want)
	}
	out := make([]float64, int(n))
	for i := range out {
		out[i] = float64(res[i])
	}
	return out, nil
}

// Close frees the booster after in-flight calls finish; idempotent.
func (m *XGBoost) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	runtime.SetFinalizer(m, nil)
	C.XGBoosterFree(m.h)
	for _, c := range []*C.char{m.config, m.margin, m.contrib} {
		C.free(unsafe.Pointer(c))
	}
	trimHeap()
	return nil
}
