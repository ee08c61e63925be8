package native

// The native library versions this module pins (third_party/*/VERSION; a
// test keeps them equal). The cgo build links them; the pure-Go build's
// goeval reproduces their results bit for bit (LightGBMEvaluator and
// XGBoostEvaluator name what runs).
const (
	LightGBMVersion = "4.7.0"
	XGBoostVersion  = "3.2.0"
)
