/*
 * The handful of LightGBM C API entry points blackheart-inference calls,
 * declared by us from the documented ABI of lib_lightgbm.so 4.7.0 (the wheel
 * ships no headers). Every function returns 0 on success and -1 on failure;
 * the failure text is thread-local and read with LGBM_GetLastError on the
 * same OS thread, which native/lightgbm_cgo.go guarantees by calling both
 * from one C helper.
 */
#ifndef BLACKHEART_LIGHTGBM_MIN_H
#define BLACKHEART_LIGHTGBM_MIN_H

#include <stdint.h>

#define BH_LGBM_DTYPE_FLOAT64 1
#define BH_LGBM_PREDICT_NORMAL 0
#define BH_LGBM_PREDICT_RAW 1
#define BH_LGBM_PREDICT_CONTRIB 3
#define BH_LGBM_IMPORTANCE_SPLIT 0

typedef void *BhLgbmBooster;
typedef void *BhLgbmFastConfig;

const char *LGBM_GetLastError(void);

int LGBM_BoosterLoadModelFromString(const char *model_str, int *out_num_iterations, BhLgbmBooster *out);
int LGBM_BoosterFree(BhLgbmBooster booster);
int LGBM_BoosterGetNumClasses(BhLgbmBooster booster, int *out);
int LGBM_BoosterGetNumFeature(BhLgbmBooster booster, int *out);
int LGBM_BoosterGetCurrentIteration(BhLgbmBooster booster, int *out);
int LGBM_BoosterNumModelPerIteration(BhLgbmBooster booster, int *out);

int LGBM_BoosterSaveModelToString(BhLgbmBooster booster, int start_iteration, int num_iteration,
                                  int feature_importance_type, int64_t buffer_len,
                                  int64_t *out_len, char *out_str);

int LGBM_BoosterPredictForMat(BhLgbmBooster booster, const void *data, int data_type,
                              int32_t nrow, int32_t ncol, int is_row_major, int predict_type,
                              int start_iteration, int num_iteration, const char *parameter,
                              int64_t *out_len, double *out_result);

int LGBM_BoosterPredictForMatSingleRowFastInit(BhLgbmBooster booster, int predict_type,
                                               int start_iteration, int num_iteration,
                                               int data_type, int32_t ncol, const char *parameter,
                                               BhLgbmFastConfig *out);
int LGBM_BoosterPredictForMatSingleRowFast(BhLgbmFastConfig config, const void *data,
                                           int64_t *out_len, double *out_result);
int LGBM_FastConfigFree(BhLgbmFastConfig config);

#endif
