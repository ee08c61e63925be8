package native

// The native library versions this module pins (third_party/*/VERSION; a
// test keeps them equal). The pure-Go twin evaluates LightGBM models
// without the library and refuses XGBoost ones.
const (
	LightGBMVersion = "4.7.0"
	XGBoostVersion  = "3.2.0"
)
