package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"
)

// NUMERIC's binary format (numeric_send): ndigits, weight, sign and dscale
// as 16-bit integers, then ndigits base-10000 digits, most significant
// first; the value is Σ digit[i] · 10000^(weight − i).
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// pgNaN is the NaN PostgreSQL's float8 gives ('NaN'::float8, a NUMERIC
// NaN cast): the quiet NaN with an empty payload, not Go's math.NaN().
var pgNaN = math.Float64frombits(0x7ff8000000000000)

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// rawNumericFloat8 converts a binary NUMERIC to the float64 PostgreSQL's
// own value::float8 gives: the decimal value correctly rounded (PostgreSQL
// prints the numeric and reads it back with strtod; Python's
// float(Decimal) rounds the same way). Most feature values have at most 16
// significant digits and at most 22 decimal places: their digits are an
// integer m ≤ 2^53 and their value m · 10^e or m / 10^−e, one correctly
// rounded operation on two exact float64s (Clinger's fast path). The rest
// go through strconv.ParseFloat, which rounds correctly at any length.
func rawNumericFloat8(b []byte) (float64, error) {
	if len(b) < 8 {
		return 0, errRawColumn
	}
	ndigits := int(binary.BigEndian.Uint16(b[0:2]))
	weight := int(int16(binary.BigEndian.Uint16(b[2:4])))
	sign := binary.BigEndian.Uint16(b[4:6])
	if len(b) != 8+2*ndigits {
		return 0, errRawColumn
	}
	switch sign {
	case numericNaN:
		return pgNaN, nil
	case numericPInf:
		return math.Inf(1), nil
	case numericNInf:
		return math.Inf(-1), nil
	case numericPos, numericNeg:
	default:
		return 0, fmt.Errorf("%w: numeric sign %#x", errRawColumn, sign)
	}
	if ndigits == 0 {
		return 0, nil // numeric has no negative zero
	}
	digits := b[8:]
	// Trailing zero digits only move the exponent.
	for ndigits > 0 && digits[2*ndigits-2] == 0 && digits[2*ndigits-1] == 0 {
		ndigits--
	}
	exp := 4 * (weight - ndigits + 1) // value = m · 10^exp
	var v float64
	if m, ok := numericMantissa(digits, ndigits); ok && exp >= -22 && exp <= 22 {
		if exp >= 0 {
			v = float64(m) * pow10[exp]
		} else {
			v = float64(m) / pow10[-exp]
		}
	} else {
		var err error
		if v, err = numericParse(digits, ndigits, exp); err != nil {
			return 0, err
		}
	}
	if sign == numericNeg {
		v = -v
	}
	return v, nil
}

// NumericFloat8 converts one binary NUMERIC as the feature reads do
// (rawNumericFloat8); for tests and tools that hold the service's bits to
// PostgreSQL's.
func NumericFloat8(b []byte) (float64, error) { return rawNumericFloat8(b) }

// numericMantissa is the digits as one integer when it is at most 2^53
// (exact in a float64).
func numericMantissa(digits []byte, n int) (uint64, bool) {
	if n > 4 {
		return 0, false
	}
	var m uint64
	for i := 0; i < n; i++ {
		d := uint64(binary.BigEndian.Uint16(digits[2*i:]))
		if d > 9999 {
			return 0, false
		}
		m = m*10000 + d
	}
	return m, m <= 1<<53
}

// numericParse writes the digits as "<integer>e<exp>" and parses it.
func numericParse(digits []byte, n, exp int) (float64, error) {
	buf := make([]byte, 0, 4*n+8)
	for i := 0; i < n; i++ {
		d := binary.BigEndian.Uint16(digits[2*i:])
		if d > 9999 {
			return 0, fmt.Errorf("%w: numeric digit %d", errRawColumn, d)
		}
		buf = append(buf, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
	}
	buf = append(buf, 'e')
	buf = strconv.AppendInt(buf, int64(exp), 10)
	v, err := strconv.ParseFloat(string(buf), 64)
	if err != nil && !isRange(err) {
		return 0, fmt.Errorf("%w: numeric %s", errRawColumn, buf)
	}
	return v, nil
}

// isRange reports ParseFloat's out-of-range error, whose value (±Inf or a
// correctly rounded 0) is still the rounding of the decimal.
func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// numericFloat8 is rawNumericFloat8 for a NUMERIC pgx scanned from text:
// its integer digits and exponent, written out and parsed. NULL is NaN, as
// the queries' COALESCE makes it.
func numericFloat8(n pgtype.Numeric) (float64, error) {
	switch {
	case !n.Valid, n.NaN:
		return pgNaN, nil
	case n.Int == nil:
		return 0, nil
	case n.InfinityModifier == pgtype.Infinity:
		return math.Inf(1), nil
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return math.Inf(-1), nil
	}
	buf := n.Int.Append(make([]byte, 0, 40), 10)
	buf = append(buf, 'e')
	buf = strconv.AppendInt(buf, int64(n.Exp), 10)
	v, err := strconv.ParseFloat(string(buf), 64)
	if err != nil && !isRange(err) {
		return 0, fmt.Errorf("%w: numeric %s", errRawColumn, buf)
	}
	return v, nil
}
