//go:build !cgo || purego

package native

// Flavor names the build: "purego" here, "cgo" in the twin.
const Flavor = "purego"

// What evaluates each library's models in this build, as operators read it
// (--version, the start-up log, blackheart_inference_build_info): goeval,
// giving bit for bit what the pinned library returns.
const (
	LightGBMEvaluator = "goeval " + LightGBMVersion + "-exact"
	XGBoostEvaluator  = "goeval " + XGBoostVersion + "-exact"
)

// LightGBM is the pure-Go build's LightGBM: goeval's exact evaluator.
type LightGBM = GoLightGBM

// LoadLightGBM parses model text (see LoadGoLightGBM).
func LoadLightGBM(modelText string, opts Options) (*LightGBM, error) {
	return LoadGoLightGBM(modelText, opts)
}
