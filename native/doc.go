// Package native runs LightGBM and XGBoost models for inference.
//
// Two twins export the same API and are chosen by build tags:
//
//   - cgo && !purego: lib_lightgbm.so from the pinned Python wheel, through
//     cgo. It is the very binary Python's Booster.predict calls, so results
//     are bit-identical to Python's. Single rows go through LightGBM's
//     FastConfig single-row API, batches through LGBM_BoosterPredictForMat.
//   - !cgo || purego: a pure-Go evaluator on github.com/dmitryikh/leaves,
//     for static binaries. It accepts only models it evaluates exactly
//     (raw scores bit-identical to LightGBM) and refuses the rest with
//     model_not_servable: linear trees, random-forest averaging, objectives
//     whose output transform it does not mirror (regression sqrt, poisson, …).
//     Transformed outputs use Go's math.Exp, which can differ from glibc's exp
//     in the last bit; the README reports the measured distance.
//     XGBoost is not evaluated in pure Go: LoadXGBoost refuses with
//     model_not_servable.
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
// Imports: the standard library, leaves, cgo (here and nowhere else) and
// inference. It must never import storage, api or inference/artifact, nor
// pgx, mux or gopickle.
package native
