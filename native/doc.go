// Package native runs LightGBM and XGBoost models for inference.
//
// Two twins export the same API and are chosen by build tags:
//
//   - cgo && !purego: lib_lightgbm.so from the pinned Python wheel, through
//     cgo. It is the very binary Python's Booster.predict calls, so results
//     are bit-identical to Python's. Single rows go through LightGBM's
//     FastConfig single-row API, batches through LGBM_BoosterPredictForMat.
//   - !cgo || purego: native/goeval, our exact pure-Go evaluators of LightGBM
//     model text and XGBoost snapshots, with glibc's exp and expf reproduced
//     in Go; bit-identical to the C libraries on every model it accepts,
//     refusing the rest with model_not_servable (random-forest averaging,
//     objectives it does not mirror, categorical XGBoost splits).
//     GoLightGBM and GoXGBoost are also built into the cgo twin, for
//     INFERENCE_EVALUATOR=go and cross-check.
//
// XGBoost (cgo): libxgboost.so from the pinned xgboost-cpu wheel. A *XGBoost
// owns its BoosterHandle; rows are copied into C memory for each call
// (XGBoost reads them through an array-interface address, which must not be
// Go memory), and the float32 results, which live in XGBoost's thread-local
// buffer, are copied out inside the same C helper as the prediction.
//
// Ownership (cgo): one *LightGBM owns its BoosterHandle and every FastConfig
// made for it. Go memory is lent to C only for the duration of one call;
// LightGBM writes results into Go-allocated slices, so no C-owned buffer is
// ever returned. The thread-local LightGBM error text is read inside the same
// C helper as the failing call, hence on the same OS thread.
//
// Threading: a *LightGBM is safe for concurrent use by many goroutines.
// Predictions hold a read lock; Close takes the write lock, so it waits for
// in-flight calls, and is idempotent. A C call cannot be interrupted: ctx is
// checked before each call and batches are cut into chunks of at most
// Options.MaxBatchRows rows. A finalizer frees handles of a model that was
// never closed, as a backstop only.
//
// Imports: the standard library, native/goeval, cgo (here and nowhere else)
// and inference. It must never import storage, api or inference/artifact, nor
// pgx, mux or gopickle.
package native
