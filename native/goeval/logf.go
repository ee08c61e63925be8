package goeval

import (
	"math"
	"math/big"
)

// The float logf: x = 2^k·z with z in [OFF, 2·OFF), z in one of N = 16
// subintervals with a chosen c near its centre, log(x) = k·ln2 + log(c) +
// log1p(z/c - 1), the last from a degree-4 polynomial (leading coefficient
// 1), all in double and rounded once to float.
//
// The 16 values 1/c (logfInvC) and the three coefficients are the
// algorithm's published constants (ARM optimized-routines, also glibc's
// since 2.27): c was chosen by a search we cannot re-run, so these are
// facts to take, not to derive. log(c) is derived here (logfTable), to
// ~200 bits and rounded once. The equivalence test holds the result to the
// C library over 10^8 inputs.
const (
	logfTableBits = 4
	logfN         = 1 << logfTableBits
	logfOff       = 0x3f330000

	logfLn2 = 0x1.62e42fefa39efp-1
	logfA0  = -0x1.00ea348b88334p-2
	logfA1  = 0x1.5575b0be00b6ap-2
	logfA2  = -0x1.ffffef20a4123p-2
)

var logfInvC = [logfN]float64{
	0x1.661ec79f8f3bep+0, 0x1.571ed4aaf883dp+0, 0x1.49539f0f010bp+0, 0x1.3c995b0b80385p+0,
	0x1.30d190c8864a5p+0, 0x1.25e227b0b8eap+0, 0x1.1bb4a4a1a343fp+0, 0x1.12358f08ae5bap+0,
	0x1.0953f419900a7p+0, 0x1p+0, 0x1.e608cfd9a47acp-1, 0x1.ca4b31f026aap-1,
	0x1.b2036576afce6p-1, 0x1.9c2d163a1aa2dp-1, 0x1.886e6037841edp-1, 0x1.767dcf5534862p-1,
}

var logfLogC = logfTable()

// logfTable computes log(c) = -log(1/c) for each entry, correctly rounded.
func logfTable() (out [logfN]float64) {
	for i, inv := range logfInvC {
		if out[i] = -nearest(bigLog(inv, 256)); out[i] == 0 {
			out[i] = 0 // +0 for c = 1, not -0
		}
	}
	return out
}

// bigLog is log(a) for a in [0.5, 2] to prec bits: 2·atanh((a-1)/(a+1)),
// whose series gains about five bits a term there.
func bigLog(a float64, prec uint) *big.Float {
	x := new(big.Float).SetPrec(prec).SetFloat64(a)
	one := new(big.Float).SetPrec(prec).SetInt64(1)
	y := new(big.Float).SetPrec(prec).Sub(x, one)
	y.Quo(y, new(big.Float).SetPrec(prec).Add(x, one))
	y2 := new(big.Float).SetPrec(prec).Mul(y, y)
	sum := new(big.Float).SetPrec(prec)
	term := new(big.Float).SetPrec(prec).Set(y)
	for k := 0; k < int(prec); k++ {
		t := new(big.Float).SetPrec(prec).Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(2*k+1)))
		sum.Add(sum, t)
		term.Mul(term, y2)
		if term.Sign() == 0 || term.MantExp(nil) < sum.MantExp(nil)-int(prec)-8 {
			break
		}
	}
	return sum.Mul(sum, new(big.Float).SetPrec(prec).SetInt64(2))
}

// Logf is glibc's logf(x) on this CPU: the fused variant where glibc picks
// it.
func Logf(x float32) float32 {
	if fusedExpf {
		return LogfFMA(x)
	}
	return LogfSSE2(x)
}

// logfReduce handles the special inputs and splits x = 2^k·z; ok is false
// when y is already the result.
func logfReduce(x float32) (z, invc, logc float64, k int32, y float32, ok bool) {
	ix := math.Float32bits(x)
	if ix == 0x3f800000 {
		return 0, 0, 0, 0, 0, false // log(1) = +0
	}
	if ix-0x00800000 >= 0x7f800000-0x00800000 {
		switch {
		case ix*2 == 0:
			return 0, 0, 0, 0, float32(math.Inf(-1)), false
		case ix == 0x7f800000:
			return 0, 0, 0, 0, x, false
		case ix*2 > 0xff000000: // NaN: (x - x) / (x - x) quiets it, payload kept
			return 0, 0, 0, 0, math.Float32frombits(ix | 0x00400000), false
		case ix&0x80000000 != 0: // x < 0: the x86 default NaN of 0/0
			return 0, 0, 0, 0, math.Float32frombits(0xffc00000), false
		}
		ix = math.Float32bits(x*0x1p23) - 23<<23 // subnormal: normalise
	}
	tmp := ix - logfOff
	i := (tmp >> (23 - logfTableBits)) % logfN
	k = int32(tmp) >> 23
	iz := ix - tmp&0xff800000
	return float64(math.Float32frombits(iz)), logfInvC[i], logfLogC[i], k, 0, true
}

// LogfSSE2 is glibc's logf built without FMA.
func LogfSSE2(x float32) float32 {
	z, invc, logc, k, y, ok := logfReduce(x)
	if !ok {
		return y
	}
	r := float64(z*invc) - 1
	y0 := logc + float64(float64(k)*logfLn2)
	r2 := float64(r * r)
	p := float64(logfA1*r) + logfA2
	p = float64(logfA0*r2) + p
	return float32(float64(p*r2) + (y0 + r))
}

// LogfFMA is glibc's logf as GCC compiles it with -mfma.
func LogfFMA(x float32) float32 {
	z, invc, logc, k, y, ok := logfReduce(x)
	if !ok {
		return y
	}
	r := math.FMA(z, invc, -1)
	y0 := math.FMA(float64(k), logfLn2, logc)
	r2 := float64(r * r)
	p := math.FMA(logfA1, r, logfA2)
	p = math.FMA(logfA0, r2, p)
	return float32(math.FMA(p, r2, y0+r))
}
