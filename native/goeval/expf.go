package goeval

import "math"

// The float expf: computed in double, x·N/ln2 = k + r with |r| <= 1/2,
// expf(x) = 2^(k/N)·2^(r/N), 2^(r/N) from a degree-3 polynomial (the
// algorithm's published coefficients, pre-scaled by 1/N^i), then rounded
// once to float.
const (
	expfTableBits = 5
	expfN         = 1 << expfTableBits

	expfInvLn2N = 0x1.71547652b82fep0 * expfN
	expfShift   = 0x1.8p52
	expfC0      = 0x1.c6af84b912394p-5 / expfN / expfN / expfN
	expfC1      = 0x1.ebfce50fac4f3p-3 / expfN / expfN
	expfC2      = 0x1.62e42ff0c52d6p-1 / expfN
)

var expfTab = expfTable()

// Expf is glibc's expf(x) on this CPU: the fused variant where glibc picks it.
func Expf(x float32) float32 {
	if fusedExpf {
		return ExpfFMA(x)
	}
	return ExpfSSE2(x)
}

func expfSpecial(x float32) (float32, bool) {
	abstop := math.Float32bits(x) >> 20 & 0x7ff
	if abstop < math.Float32bits(88.0)>>20 {
		return 0, false
	}
	switch {
	case math.Float32bits(x) == math.Float32bits(float32(math.Inf(-1))):
		return 0, true
	case abstop >= math.Float32bits(float32(math.Inf(1)))>>20:
		return x + x, true
	case x > 0x1.62e42ep6: // above log(2^128)
		return float32(math.Inf(1)), true
	case x < -0x1.9fe368p6: // below log(2^-150)
		return 0, true
	}
	return 0, false
}

// ExpfSSE2 is glibc's expf built without FMA.
func ExpfSSE2(x float32) float32 {
	if y, done := expfSpecial(x); done {
		return y
	}
	xd := float64(x)
	z := float64(expfInvLn2N * xd)
	kd := z + expfShift
	ki := math.Float64bits(kd)
	kd -= expfShift
	r := z - kd
	s := math.Float64frombits(expfTab[ki%expfN] + ki<<(52-expfTableBits))
	p := float64(expfC0*r) + expfC1
	r2 := float64(r * r)
	y := float64(expfC2*r) + 1
	y = float64(p*r2) + y
	return float32(float64(y * s))
}

// ExpfFMA is glibc's expf as GCC compiles it with -mfma: x·N/ln2 is fused
// into both of its uses, and each polynomial step is one fused operation.
func ExpfFMA(x float32) float32 {
	if y, done := expfSpecial(x); done {
		return y
	}
	xd := float64(x)
	kd := math.FMA(expfInvLn2N, xd, expfShift)
	ki := math.Float64bits(kd)
	kd -= expfShift
	r := math.FMA(expfInvLn2N, xd, -kd)
	s := math.Float64frombits(expfTab[ki%expfN] + ki<<(52-expfTableBits))
	p := math.FMA(expfC0, r, expfC1)
	r2 := float64(r * r)
	y := math.FMA(expfC2, r, 1)
	y = math.FMA(p, r2, y)
	return float32(float64(y * s))
}
