package goeval

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// exp's two builds must differ somewhere, or the glibc equivalence test
// could not tell which one it checked. expf's computes in double and rounds
// once to float, which hides the fused roundings: no difference is known,
// and both builds are checked against glibc anyway.
func TestVariantsDiffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	exp, expf := 0, 0
	for i := 0; i < 1_000_000; i++ {
		x := -700 + rng.Float64()*1400
		if math.Float64bits(ExpFMA(x)) != math.Float64bits(ExpSSE2(x)) {
			exp++
		}
		xf := float32(-100 + rng.Float64()*188)
		if math.Float32bits(ExpfFMA(xf)) != math.Float32bits(ExpfSSE2(xf)) {
			expf++
		}
	}
	t.Logf("of 10^6 inputs the FMA and SSE2 builds differ on %d (exp) and %d (expf)", exp, expf)
	assert.Positive(t, exp)
}

// Both builds agree with math.Exp to within one ulp, and exactly at the
// values every exp must get right.
func TestExpIsExp(t *testing.T) {
	for _, f := range []func(float64) float64{ExpFMA, ExpSSE2} {
		assert.Equal(t, 1.0, f(0))
		assert.Equal(t, math.E, f(1))
		assert.True(t, math.IsInf(f(710), 1))
		assert.Equal(t, 0.0, f(-746))
		assert.True(t, math.IsNaN(f(math.NaN())))
		for _, x := range []float64{-745, -708.5, -3.7, 0.001, 12.25, 700} {
			want, got := math.Exp(x), f(x)
			assert.LessOrEqual(t, math.Abs(float64(int64(math.Float64bits(got))-int64(math.Float64bits(want)))), 1.0, "exp(%v)", x)
		}
	}
	for _, f := range []func(float32) float32{ExpfFMA, ExpfSSE2} {
		assert.Equal(t, float32(1), f(0))
		assert.Equal(t, float32(math.E), f(1))
		assert.True(t, math.IsInf(float64(f(89)), 1))
		assert.Equal(t, float32(0), f(-104))
	}
}

func TestPickVariants(t *testing.T) {
	no, yes := func() bool { return false }, func() bool { return true }
	asked := func() bool { t.Error("FMA4 looked up although FMA and AVX2 decide"); return false }
	e, f := pickVariants(true, true, asked, "")
	assert.True(t, e && f, "FMA and AVX2: the fused builds")
	e, f = pickVariants(true, false, no, "")
	assert.False(t, e || f, "FMA without AVX2: glibc keeps SSE2")
	e, f = pickVariants(true, false, yes, "")
	assert.True(t, e && !f, "FMA4: exp's fused build, expf's plain one")
	e, f = pickVariants(true, true, yes, "glibc.malloc.check=0:glibc.cpu.hwcaps=-AVX2_Usable,-FMA,-FMA4")
	assert.False(t, e || f, "the tunable masks features from glibc's choice and ours")
}
