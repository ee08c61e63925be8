// Package goeval evaluates LightGBM and XGBoost models in pure Go, bit for
// bit as the C libraries do on x86-64 Linux.
//
// Exactness has two halves. The trees: thresholds, missing-value rules, leaf
// sums and their order are LightGBM's and XGBoost's own (LightGBM sums doubles
// from 0 in tree order; XGBoost widens nothing: float32 inputs, float32 leaves
// accumulated from the margin-space base score). The transforms: LightGBM's
// sigmoid and softmax call glibc's double exp, XGBoost's call glibc's float
// expf, and Go's math.Exp rounds differently in about one case in a few
// thousand; XGBoost's logistic margin calls glibc's logf. Exp, Expf and Logf
// here follow the table-driven algorithms glibc has used since 2.27/2.28
// (designed for the ARM optimized-routines project and documented there),
// including the variant glibc's ifunc picks at run time: on CPUs with FMA
// and AVX2 glibc runs a build compiled with fused multiply-add, which rounds
// differently, and so do we. native's cgo-only tests compare both variants
// with the C library over 10^8 inputs each and every edge.
//
// Speed: LightGBM models whose splits are all numerical are laid out for a
// branch-free walk of eight trees at a time (lgbfast.go); other models
// (categorical splits, linear trees, more than 256 features) take the
// general walk. Both are allocation-free.
//
// Imports: the standard library and golang.org/x/sys/cpu only. It must never
// import inference, storage, api, cgo or any other third-party package.
package goeval
