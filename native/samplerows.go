package native

import (
	"math"
	"math/rand/v2"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/native/goeval"
)

// SampleRows draws n rows for the artifact's input features from the
// values its trees split at: each value is a threshold, its neighbouring
// floats or a point between two thresholds, with some NaN and zeros, so
// that every branch and both sides of every comparison are exercised.
// Features no tree splits on get standard-normal values. Deterministic in
// seed. For artifact verify --cross-check.
func SampleRows(art *inference.Artifact, n int, seed uint64) []float64 {
	pools := splitPools(art)
	// A logistic member refuses non-finite inputs (serving never sends it
	// one: a missing input refuses the bar), so its ensembles get no NaN.
	nanOK := true
	if e := art.Payload.Ensemble; e != nil {
		for _, m := range e.Members {
			nanOK = nanOK && m.Logistic == nil
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	nf := len(art.InputFeatures)
	rows := make([]float64, n*nf)
	for i := 0; i < n; i++ {
		for j, name := range art.InputFeatures {
			v := sampleValue(rng, pools[name])
			for !nanOK && v != v {
				v = sampleValue(rng, pools[name])
			}
			rows[i*nf+j] = v
		}
	}
	return rows
}

func sampleValue(rng *rand.Rand, pool []float64) float64 {
	switch r := rng.IntN(20); {
	case r == 0:
		return math.NaN()
	case r == 1:
		return 0
	case len(pool) == 0:
		return rng.NormFloat64()
	case r < 8:
		return pool[rng.IntN(len(pool))]
	case r < 14:
		t := pool[rng.IntN(len(pool))]
		return math.Nextafter(t, math.Inf(2*rng.IntN(2)-1))
	default:
		a, b := pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))]
		return a + (b-a)*rng.Float64()
	}
}

// splitPools gathers the split values of every booster in the artifact,
// by input feature name.
func splitPools(art *inference.Artifact) map[string][]float64 {
	out := map[string][]float64{}
	addLGB := func(b *inference.BoosterState) {
		m, err := goeval.ParseLightGBM(b.ModelText)
		if err != nil || m.FeatureNames() == nil {
			return
		}
		for f, vs := range m.SplitValues() {
			out[m.FeatureNames()[f]] = append(out[m.FeatureNames()[f]], vs...)
		}
	}
	p := art.Payload
	if p.Booster != nil {
		addLGB(p.Booster)
	}
	if p.Ensemble != nil {
		for _, mem := range p.Ensemble.Members {
			switch {
			case mem.LightGBM != nil:
				addLGB(mem.LightGBM)
			case mem.XGBoost != nil:
				if m, err := goeval.ParseXGBoost(mem.XGBoost); err == nil {
					for name, vs := range m.SplitValues() {
						out[name] = append(out[name], vs...)
					}
				}
			}
		}
	}
	return out
}
