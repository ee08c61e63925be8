package goeval

import "math"

// The double exp: x = k·ln2/N + r with |r| <= ln2/2N, exp(x) = 2^(k/N)·exp(r),
// 2^(k/N) from a table and exp(r) - 1 from a degree-5 polynomial (its four
// coefficients below minimise the error on that interval; they are the
// algorithm's published constants).
const (
	expTableBits = 7
	expN         = 1 << expTableBits

	expInvLn2N   = 0x1.71547652b82fep0 * expN
	expNegLn2hiN = -0x1.62e42fefa0000p-8
	expNegLn2loN = -0x1.cf79abc9e3b3ap-47
	expShift     = 0x1.8p52
	expC2        = 0x1.ffffffffffdbdp-2
	expC3        = 0x1.555555555543cp-3
	expC4        = 0x1.55555cf172b91p-5
	expC5        = 0x1.1111167a4d017p-7
)

var expTab = expTable()

func top12(x float64) uint32 { return uint32(math.Float64bits(x) >> 52) }

// Exp is glibc's exp(x) on this CPU: the fused variant where glibc picks it.
func Exp(x float64) float64 {
	if fusedExp {
		return ExpFMA(x)
	}
	return ExpSSE2(x)
}

// expSpecial handles |x| outside [2^-54, 512): it returns the result and
// true, or false with large = true when the main path must rescale.
func expSpecial(x float64) (y float64, done bool) {
	abstop := top12(x) & 0x7ff
	if abstop-top12(0x1p-54) < top12(512)-top12(0x1p-54) {
		return 0, false
	}
	if int32(abstop-top12(0x1p-54)) < 0 {
		return 1.0 + x, true // |x| < 2^-54: exp(x) rounds to 1 + x
	}
	if abstop >= top12(1024) {
		switch {
		case math.Float64bits(x) == math.Float64bits(math.Inf(-1)):
			return 0, true
		case abstop >= top12(math.Inf(1)):
			return 1.0 + x, true // NaN stays NaN (quieted), +Inf stays +Inf
		case math.Signbit(x):
			return 0, true // underflow
		default:
			return math.Inf(1), true // overflow
		}
	}
	return 0, false // 512 <= |x| < 1024: the main path with a rescaled result
}

// ExpSSE2 is glibc's exp built without FMA (the variant on CPUs lacking
// FMA or AVX2). Every product is converted explicitly so that the Go
// compiler never fuses it into an add (the spec allows fusion otherwise).
func ExpSSE2(x float64) float64 {
	if y, done := expSpecial(x); done {
		return y
	}
	large := top12(x)&0x7ff >= top12(512)
	z := float64(expInvLn2N * x)
	kd := z + expShift
	ki := math.Float64bits(kd)
	kd -= expShift
	r := x + float64(kd*expNegLn2hiN) + float64(kd*expNegLn2loN)
	idx := 2 * (ki % expN)
	top := ki << (52 - expTableBits)
	tail := math.Float64frombits(expTab[idx])
	sbits := expTab[idx+1] + top
	r2 := float64(r * r)
	p23 := expC2 + float64(r*expC3)
	p45 := expC4 + float64(r*expC5)
	tmp := tail + r + float64(r2*p23) + float64(float64(r2*r2)*p45)
	if large {
		return expScaled(tmp, sbits, ki, false)
	}
	scale := math.Float64frombits(sbits)
	return scale + float64(scale*tmp)
}

// ExpFMA is glibc's exp as GCC compiles it with -mfma: each product whose
// only uses are additions is fused into them.
func ExpFMA(x float64) float64 {
	if y, done := expSpecial(x); done {
		return y
	}
	large := top12(x)&0x7ff >= top12(512)
	kd := math.FMA(expInvLn2N, x, expShift)
	ki := math.Float64bits(kd)
	kd -= expShift
	r := math.FMA(kd, expNegLn2loN, math.FMA(kd, expNegLn2hiN, x))
	idx := 2 * (ki % expN)
	top := ki << (52 - expTableBits)
	tail := math.Float64frombits(expTab[idx])
	sbits := expTab[idx+1] + top
	r2 := float64(r * r)
	p23 := math.FMA(r, expC3, expC2)
	p45 := math.FMA(r, expC5, expC4)
	tmp := math.FMA(float64(r2*r2), p45, math.FMA(r2, p23, tail+r))
	if large {
		return expScaled(tmp, sbits, ki, true)
	}
	scale := math.Float64frombits(sbits)
	return math.FMA(scale, tmp, scale)
}

// expScaled finishes 512 <= |x| < 1024, where scale's exponent would
// overflow or underflow: it scales by 2^±1009/1022 around the last step and,
// below 1, rounds once to the final precision before entering the subnormal
// range (no double rounding). For x < 0 the product scale·tmp is also used
// in the branch below, another basic block, and GCC fuses a product only
// when all its uses are additions in its own block: that half is never
// fused, in either variant.
func expScaled(tmp float64, sbits, ki uint64, fused bool) float64 {
	mulAdd := func(a, b, c float64) float64 {
		if fused {
			return math.FMA(a, b, c)
		}
		return float64(a*b) + c
	}
	if ki&0x80000000 == 0 {
		sbits -= 1009 << 52
		scale := math.Float64frombits(sbits)
		return 0x1p1009 * mulAdd(scale, tmp, scale)
	}
	sbits += 1022 << 52
	scale := math.Float64frombits(sbits)
	st := float64(scale * tmp)
	y := scale + st
	if y < 1.0 {
		lo := scale - y + st
		hi := 1.0 + y
		lo = 1.0 - hi + y + lo
		y = (hi + lo) - 1.0
		if y == 0 {
			y = 0
		}
	}
	return 0x1p-1022 * y
}
