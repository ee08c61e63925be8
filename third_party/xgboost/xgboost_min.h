/*
 * The XGBoost C API entry points blackheart-inference calls, declared by us
 * from the documented ABI of libxgboost.so 3.2.0 (the wheel ships no
 * headers). Every function returns 0 on success and -1 on failure; the
 * failure text is thread-local (XGBGetLastError), and so are the result
 * buffers XGBoosterPredictFromDense hands back: native/xgboost_cgo.go copies
 * both out inside the same C helper as the call.
 */
#ifndef BLACKHEART_XGBOOST_MIN_H
#define BLACKHEART_XGBOOST_MIN_H

#include <stdint.h>

typedef uint64_t bh_bst_ulong;
typedef void *BhXgbBooster;
typedef void *BhXgbDMatrix;

const char *XGBGetLastError(void);
int XGBoosterCreate(const BhXgbDMatrix dmats[], bh_bst_ulong len, BhXgbBooster *out);
int XGBoosterFree(BhXgbBooster handle);
int XGBoosterUnserializeFromBuffer(BhXgbBooster handle, const void *buf, bh_bst_ulong len);
int XGBoosterGetNumFeature(BhXgbBooster handle, bh_bst_ulong *out);
int XGBoosterGetAttr(BhXgbBooster handle, const char *key, const char **out, int *success);
int XGBoosterGetStrFeatureInfo(BhXgbBooster handle, const char *field, bh_bst_ulong *len,
                               const char ***out_features);
int XGBoosterPredictFromDense(BhXgbBooster handle, const char *array_interface, const char *config,
                              BhXgbDMatrix proxy, const bh_bst_ulong **out_shape, bh_bst_ulong *out_dim,
                              const float **out_result);
int XGDMatrixCreateFromDense(const char *array_interface, const char *config, BhXgbDMatrix *out);
int XGDMatrixFree(BhXgbDMatrix handle);
int XGBoosterPredictFromDMatrix(BhXgbBooster handle, BhXgbDMatrix dmat, const char *config,
                                const bh_bst_ulong **out_shape, bh_bst_ulong *out_dim, const float **out_result);

#endif
