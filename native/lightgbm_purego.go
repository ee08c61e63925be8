//go:build !cgo || purego

package native

// Flavor names the build: "purego" here, "cgo" in the twin.
const Flavor = "purego"

// LightGBM is the pure-Go build's LightGBM: goeval's exact evaluator.
type LightGBM = GoLightGBM

// LoadLightGBM parses model text (see LoadGoLightGBM).
func LoadLightGBM(modelText string, opts Options) (*LightGBM, error) {
	return LoadGoLightGBM(modelText, opts)
}
