package inference

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aucOn is the AUC of a resample of (p, y).
func aucOn(p, y []float64) func([]int) (float64, bool) {
	return func(idx []int) (float64, bool) {
		pp, yy := make([]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			pp[k], yy[k] = p[i], y[i]
		}
		m := BinaryMetrics(pp, yy)
		if m.AUC == nil {
			return 0, false
		}
		return *m.AUC, true
	}
}

// series is n bars of a label that persists for h bars (what overlapping
// forward windows do), and predictions that carry skill × the label plus
// an error that persists as long (the model's view of the same regime)
// and a little bar-to-bar noise.
func series(n, h int, skill float64, seed uint64) (p, y []float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	state, drift := 0.0, 0.0
	for i := range n {
		if i%h == 0 {
			state, drift = float64(r.IntN(2)), 0.2*r.NormFloat64()
		}
		y = append(y, state)
		p = append(p, min(1, max(0, 0.5+skill*(state-0.5)+drift+0.03*r.NormFloat64())))
	}
	return p, y
}

func TestBlockBootstrapIntervals(t *testing.T) {
	p, y := series(2160, 24, 0.3, 1)
	skilled, ok := BlockBootstrap(len(p), 24, 400, aucOn(p, y))
	require.True(t, ok)
	assert.Greater(t, skilled.Lo, 0.5, "a skilled model's interval lies above chance")
	iid, _ := BlockBootstrap(len(p), 1, 400, aucOn(p, y))
	assert.Greater(t, skilled.Hi-skilled.Lo, 1.5*(iid.Hi-iid.Lo),
		"blocks of the label's horizon widen the interval that overlapping labels would otherwise hide")
	p, y = series(2160, 24, 0, 2)
	chance, ok := BlockBootstrap(len(p), 24, 400, aucOn(p, y))
	require.True(t, ok)
	assert.Less(t, chance.Lo, 0.5)
	assert.Greater(t, chance.Hi, 0.5, "no skill: the interval holds 0.5")

	again, _ := BlockBootstrap(len(p), 24, 400, aucOn(p, y))
	assert.Equal(t, chance, again, "a fixed seed: the same interval every time")
	assert.InDelta(t, 90.0, EffectiveN(2160, 24), 0)

	one := make([]float64, 50)
	_, ok = BlockBootstrap(50, 5, 100, aucOn(one, one))
	assert.False(t, ok, "undefined on every resample: no interval")
	assert.Equal(t, 2.5, percentile([]float64{1, 2, 3, 4}, 50))
}
