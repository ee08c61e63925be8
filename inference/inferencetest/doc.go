// Package inferencetest loads the golden corpus that testdata/golden/generate.py
// writes with real Python LightGBM and XGBoost, and reads its artifacts with
// the service's own reader. Nothing here computes an expected value.
//
// Test support only: nothing outside _test.go files imports it.
package inferencetest
