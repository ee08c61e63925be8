package goeval

import (
	"math"
	"math/big"
)

// pow2Powers returns 2^(k/n) for k = 0..n-1 to about prec-16 bits: the
// root 2^(1/n) by Newton's method on y^n = 2 (each step doubles the correct
// bits), then its successive powers (each product adds one rounding of
// 2^-prec, far below the 2^-53 that rounding to float64 needs).
func pow2Powers(n int, prec uint) []*big.Float {
	y := new(big.Float).SetPrec(prec).SetFloat64(math.Exp2(1 / float64(n)))
	two := new(big.Float).SetPrec(prec).SetInt64(2)
	nf := new(big.Float).SetPrec(prec).SetInt64(int64(n))
	for i := 0; i < 4; i++ {
		pn1 := powInt(y, n-1, prec) // y^(n-1)
		num := new(big.Float).SetPrec(prec).Mul(pn1, y)
		num.Sub(num, two)
		y.Sub(y, num.Quo(num, new(big.Float).SetPrec(prec).Mul(nf, pn1)))
	}
	out := make([]*big.Float, n)
	out[0] = new(big.Float).SetPrec(prec).SetInt64(1)
	for k := 1; k < n; k++ {
		out[k] = new(big.Float).SetPrec(prec).Mul(out[k-1], y)
	}
	return out
}

func powInt(x *big.Float, e int, prec uint) *big.Float {
	r := new(big.Float).SetPrec(prec).SetInt64(1)
	b := new(big.Float).SetPrec(prec).Set(x)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r.Mul(r, b)
		}
		b.Mul(b, b)
	}
	return r
}

// nearest rounds x to the nearest float64, ties to even.
func nearest(x *big.Float) float64 {
	f, _ := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven).Set(x).Float64()
	return f
}

// expTable is the double exp's table for N = 128: for each k, the float64
// H nearest 2^(k/N) with k<<45 subtracted from its bits (the exponent is
// added back at run time), and the tail T = 2^(k/N)/H - 1 rounded to
// float64, so that H·(1+T) carries 2^(k/N) to about 106 bits.
func expTable() (tab [2 * expN]uint64) {
	const prec = 320
	for k, exact := range pow2Powers(expN, prec) {
		h := nearest(exact)
		t := new(big.Float).SetPrec(prec).Quo(exact, new(big.Float).SetPrec(prec).SetFloat64(h))
		t.Sub(t, new(big.Float).SetPrec(prec).SetInt64(1))
		tab[2*k] = math.Float64bits(nearest(t))
		tab[2*k+1] = math.Float64bits(h) - uint64(k)<<(52-expTableBits)
	}
	return tab
}

// expfTable is expf's table for N = 32: the float64 nearest 2^(k/N), with
// k<<47 subtracted from its bits.
func expfTable() (tab [expfN]uint64) {
	for k, exact := range pow2Powers(expfN, 200) {
		tab[k] = math.Float64bits(nearest(exact)) - uint64(k)<<(52-expfTableBits)
	}
	return tab
}
