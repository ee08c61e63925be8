//go:build cgo && !purego

package native

/*
#cgo CFLAGS: -I${SRCDIR}/../third_party/lightgbm
#cgo LDFLAGS: -L${SRCDIR}/../third_party/lightgbm/lib -l_lightgbm -Wl,-rpath,${SRCDIR}/../third_party/lightgbm/lib
#include <stdlib.h>
#include <string.h>
#include "lightgbm_min.h"
#include "heap_cgo.h"

// Each helper makes one LightGBM call and, on failure, copies the
// thread-local error text before returning, so it is read on the same OS
// thread as the call that set it.
static void bh_err(char *buf, size_t n) {
	const char *e = LGBM_GetLastError();
	if (e == NULL) e = "unknown LightGBM error";
	strncpy(buf, e, n - 1);
	buf[n - 1] = 0;
}

// bh_load parses the model text on the calling thread alone (LightGBM
// parses trees in parallel otherwise) and counts the heap it keeps.
static int bh_load(const char *text, BhLgbmBooster *out, int *iters, int *classes, int *features,
                   long long *bytes, char *err, size_t n) {
	int rc;
	BH_ALONE(bytes, rc = LGBM_BoosterLoadModelFromString(text, iters, out));
	if (rc == 0) rc = LGBM_BoosterGetNumClasses(*out, classes);
	if (rc == 0) rc = LGBM_BoosterGetNumFeature(*out, features);
	if (rc != 0) bh_err(err, n);
	return rc;
}

static int bh_fast_init(BhLgbmBooster b, int predict_type, int num_iteration, int ncol,
                        BhLgbmFastConfig *out, char *err, size_t n) {
	int rc = LGBM_BoosterPredictForMatSingleRowFastInit(b, predict_type, 0, num_iteration,
		BH_LGBM_DTYPE_FLOAT64, ncol, "num_threads=1", out);
	if (rc != 0) bh_err(err, n);
	return rc;
}

static int bh_predict_row(BhLgbmFastConfig c, const double *row, double *out, int64_t *out_len,
                          char *err, size_t n) {
	int rc = LGBM_BoosterPredictForMatSingleRowFast(c, row, out_len, out);
	if (rc != 0) bh_err(err, n);
	return rc;
}

// bh_predict_mat predicts a batch on threads OpenMP threads, the calling
// thread's own count for the call. LightGBM keeps the last call's
// num_threads, process-wide, as the thread count of every parallel region
// after it, a load's tree parse too; so no call names more than one, and 0
// here leaves the batch to the calling thread's count (a load's thread has
// one, BH_ALONE).
static int bh_predict_mat(BhLgbmBooster b, const double *rows, int32_t nrow, int32_t ncol,
                          int predict_type, int num_iteration, int threads,
                          double *out, int64_t *out_len, char *err, size_t n) {
	int prev = bh_openmp.get();
	bh_openmp.set(threads);
	int rc = LGBM_BoosterPredictForMat(b, rows, BH_LGBM_DTYPE_FLOAT64, nrow, ncol, 1, predict_type,
		0, num_iteration, "num_threads=0", out_len, out);
	bh_openmp.set(prev);
	if (rc != 0) bh_err(err, n);
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

// Flavor names the build: "cgo" here, "purego" in the twin.
const Flavor = "cgo"

// What evaluates each library's models in this build, as operators read it
// (--version, the start-up log, blackheart_inference_build_info): the pinned
// C libraries themselves.
const (
	LightGBMEvaluator = "lib_lightgbm " + LightGBMVersion
	XGBoostEvaluator  = "libxgboost " + XGBoostVersion
)

const errBufLen = 1024

// LightGBM is a LightGBM booster loaded into lib_lightgbm.so. It is safe for
// concurrent use; see the package documentation for ownership rules.
type LightGBM struct {
	opts      Options
	nFeatures int
	nOutputs  int
	cBytes    int64 // the C heap the booster took when it loaded

	mu      sync.RWMutex // read: a C call is in flight; write: Close
	closed  bool
	booster C.BhLgbmBooster
	fast    [2]fastPool // by predict type: normal, raw
}

// fastPool hands each concurrent single-row caller its own FastConfig:
// a FastConfig holds per-call buffers and must not be shared.
type fastPool struct {
	mu   sync.Mutex
	free []C.BhLgbmFastConfig
	all  []C.BhLgbmFastConfig
}

// rowsPerThread is the fewest rows a batch gives each OpenMP thread: a bar
// close's or a catch-up's few rows take longer to fork and join across
// threads (and the idle ones spin a while after) than to predict on one.
const rowsPerThread = 64

// batchThreads is the OpenMP threads for a batch of rows, at most most.
func batchThreads(rows, most int) int { return max(1, min(most, rows/rowsPerThread)) }

// LoadLightGBM parses model text (what Booster.model_to_string writes) with
// the same library Python uses.
func LoadLightGBM(modelText string, opts Options) (*LightGBM, error) {
	opts = opts.withDefaults()
	var errBuf [errBufLen]C.char
	var booster C.BhLgbmBooster
	var iters, classes, features C.int
	if err := openMP(); err != nil {
		return nil, err
	}
	ctext := C.CString(modelText)
	defer C.free(unsafe.Pointer(ctext))
	var resident C.longlong
	if C.bh_load(ctext, &booster, &iters, &classes, &features, &resident, &errBuf[0], errBufLen) != 0 {
		if booster != nil {
			C.LGBM_BoosterFree(booster)
		}
		msg := C.GoString(&errBuf[0])
		return nil, inference.Wrap(fmt.Errorf("%s", msg), inference.CodeArtifactCorrupt, "LightGBM rejected the model text: %s", msg)
	}
	if features <= 0 || classes <= 0 {
		C.LGBM_BoosterFree(booster)
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "LightGBM model has %d features and %d classes", features, classes)
	}
	m := &LightGBM{
		opts:      opts,
		nFeatures: int(features),
		nOutputs:  int(classes),
		booster:   booster,
		cBytes:    max(int64(resident), 0),
	}
	runtime.SetFinalizer(m, func(m *LightGBM) { _ = m.Close() })
	return m, nil
}

// NumFeatures is the number of input columns.
func (m *LightGBM) NumFeatures() int { return m.nFeatures }

// ResidentBytes is the memory the loaded booster holds: the C heap it took
// when it loaded, measured then, and its few Go fields.
func (m *LightGBM) ResidentBytes() int64 { return m.cBytes + int64(unsafe.Sizeof(*m)) }

// NumOutputs is the number of values per row.
func (m *LightGBM) NumOutputs() int { return m.nOutputs }

func predictType(raw bool) C.int {
	if raw {
		return C.BH_LGBM_PREDICT_RAW
	}
	return C.BH_LGBM_PREDICT_NORMAL
}

// Predict scores one row through LightGBM's single-row fast path.
func (m *LightGBM) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	if err := checkRow(row, m.nFeatures); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed()
	}
	pool := &m.fast[0]
	if raw {
		pool = &m.fast[1]
	}
	cfg, err := m.getFast(pool, predictType(raw))
	if err != nil {
		return nil, err
	}
	defer pool.put(cfg)

	out := make([]float64, m.nOutputs)
	var outLen C.int64_t
	var errBuf [errBufLen]C.char
	rc := C.bh_predict_row(cfg, (*C.double)(unsafe.Pointer(&row[0])), (*C.double)(unsafe.Pointer(&out[0])), &outLen, &errBuf[0], errBufLen)
	runtime.KeepAlive(row)
	if rc != 0 {
		return nil, inference.Errorf(inference.CodeInternal, "LightGBM single-row prediction failed: %s", C.GoString(&errBuf[0]))
	}
	if int(outLen) != m.nOutputs {
		return nil, inference.Errorf(inference.CodeInternal, "LightGBM returned %d values for one row, want %d", outLen, m.nOutputs)
	}
	return out, nil
}

// PredictBatch scores row-major rows with LGBM_BoosterPredictForMat, the call
// Python's Booster.predict makes for a float64 numpy matrix.
func (m *LightGBM) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	return m.predictMat(ctx, rows, predictType(raw), m.nOutputs, func(msg string) error {
		return inference.Errorf(inference.CodeInternal, "LightGBM batch prediction failed: %s", msg)
	})
}

// Contributions returns LightGBM's TreeSHAP contributions for row-major
// rows, the call Booster.predict(X, pred_contrib=True) makes
// (LGBM_BoosterPredictForMat, contribution type, best_iteration honoured):
// per row, per output, NumFeatures() values then the bias, in raw-score
// space. What LightGBM refuses to explain (linear trees) is refused with
// explanation_not_supported and its own message.
func (m *LightGBM) Contributions(ctx context.Context, rows []float64) ([]float64, error) {
	return m.predictMat(ctx, rows, C.BH_LGBM_PREDICT_CONTRIB, m.nOutputs*(m.nFeatures+1), lightGBMExplainError)
}

// predictMat runs LGBM_BoosterPredictForMat of ptype over row-major rows,
// chunk by chunk, width values per row; failed turns LightGBM's message
// into the error returned.
func (m *LightGBM) predictMat(ctx context.Context, rows []float64, ptype C.int, width int, failed func(msg string) error) ([]float64, error) {
	n, err := checkBatch(rows, m.nFeatures)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n*width)
	if n == 0 {
		return out, nil
	}
	err = chunks(ctx, n, m.opts.MaxBatchRows, func(lo, hi int) error {
		m.mu.RLock()
		defer m.mu.RUnlock()
		if m.closed {
			return errClosed()
		}
		var outLen C.int64_t
		var errBuf [errBufLen]C.char
		rc := C.bh_predict_mat(m.booster, (*C.double)(unsafe.Pointer(&rows[lo*m.nFeatures])), C.int32_t(hi-lo), C.int32_t(m.nFeatures),
			ptype, C.int(m.opts.NumIteration), C.int(batchThreads(hi-lo, m.opts.BatchThreads)),
			(*C.double)(unsafe.Pointer(&out[lo*width])), &outLen, &errBuf[0], errBufLen)
		runtime.KeepAlive(rows)
		runtime.KeepAlive(out)
		if rc != 0 {
			return failed(C.GoString(&errBuf[0]))
		}
		if int(outLen) != (hi-lo)*width {
			return inference.Errorf(inference.CodeInternal, "LightGBM returned %d values for %d rows, want %d each", outLen, hi-lo, width)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Margins returns the raw scores Contributions add up to.
func (m *LightGBM) Margins(ctx context.Context, rows []float64) ([]float64, error) {
	return m.PredictBatch(ctx, rows, true)
}

func (m *LightGBM) getFast(p *fastPool, ptype C.int) (C.BhLgbmFastConfig, error) {
	p.mu.Lock()
	if k := len(p.free); k > 0 {
		cfg := p.free[k-1]
		p.free = p.free[:k-1]
		p.mu.Unlock()
		return cfg, nil
	}
	p.mu.Unlock()
	var cfg C.BhLgbmFastConfig
	var errBuf [errBufLen]C.char
	if C.bh_fast_init(m.booster, ptype, C.int(m.opts.NumIteration), C.int(m.nFeatures), &cfg, &errBuf[0], errBufLen) != 0 {
		return nil, inference.Errorf(inference.CodeInternal, "LightGBM FastConfig init failed: %s", C.GoString(&errBuf[0]))
	}
	p.mu.Lock()
	p.all = append(p.all, cfg)
	p.mu.Unlock()
	return cfg, nil
}

func (p *fastPool) put(cfg C.BhLgbmFastConfig) {
	p.mu.Lock()
	p.free = append(p.free, cfg)
	p.mu.Unlock()
}

// Close frees the booster and its FastConfigs after in-flight calls finish.
// It is idempotent.
func (m *LightGBM) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	runtime.SetFinalizer(m, nil)
	for i := range m.fast {
		for _, cfg := range m.fast[i].all {
			C.LGBM_FastConfigFree(cfg)
		}
		m.fast[i].all, m.fast[i].free = nil, nil
	}
	var rc C.int
	if m.booster != nil {
		rc = C.LGBM_BoosterFree(m.booster)
		m.booster = nil
	}
	trimHeap()
	if rc != 0 {
		return inference.Errorf(inference.CodeInternal, "LightGBM booster free failed")
	}
	return nil
}
