package storage

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// numericSend encodes a plain decimal ("-123.4500") the way PostgreSQL's
// numeric_send does: base-10000 digits around the decimal point, leading
// and trailing zero groups dropped.
func numericSend(t *testing.T, dec string) []byte {
	t.Helper()
	sign := uint16(numericPos)
	if strings.HasPrefix(dec, "-") {
		sign, dec = numericNeg, dec[1:]
	}
	intPart, frac, _ := strings.Cut(dec, ".")
	intPart = strings.TrimLeft(intPart, "0")
	for len(intPart)%4 != 0 {
		intPart = "0" + intPart
	}
	dscale := len(frac)
	for len(frac)%4 != 0 {
		frac += "0"
	}
	all := intPart + frac
	weight := len(intPart)/4 - 1
	var groups []uint16
	for i := 0; i < len(all); i += 4 {
		g, err := strconv.Atoi(all[i : i+4])
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, uint16(g))
	}
	for len(groups) > 0 && groups[0] == 0 { // leading zero groups
		groups, weight = groups[1:], weight-1
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	if len(groups) == 0 {
		sign, weight = numericPos, 0
	}
	b := make([]byte, 8+2*len(groups))
	binary.BigEndian.PutUint16(b[0:], uint16(len(groups)))
	binary.BigEndian.PutUint16(b[2:], uint16(int16(weight)))
	binary.BigEndian.PutUint16(b[4:], sign)
	binary.BigEndian.PutUint16(b[6:], uint16(dscale))
	for i, g := range groups {
		binary.BigEndian.PutUint16(b[8+2*i:], g)
	}
	return b
}

// TestNumericDecoderRoundsLikeParseFloat: the fast path and the slow one
// agree with a correctly rounded parse of the decimal on every NUMERIC(28,10)
// shape (TestNumericDecoderIsPostgresFloat8 holds both to PostgreSQL).
func TestNumericDecoderRoundsLikeParseFloat(t *testing.T) {
	decs := []string{"0", "0.0000000001", "-0.0000000001", "1", "-1", "0.1", "0.7258852711", "2.5000000001",
		"9007199254740992", "9007199254740993", "9007199254740995", "576460752303423552", "576460752303423680",
		"576460752303423552.0000000001", "70368744177664.0078125", "70368744177664.0078125001",
		"123456789012345678.0123456789", "-999999999999999999.9999999999", "10000", "100000000", "0.0001"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		intDigits, fracDigits := r.IntN(19), r.IntN(11)
		var sb strings.Builder
		if r.IntN(2) == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte('0')
		for range intDigits {
			sb.WriteByte(byte('0' + r.IntN(10)))
		}
		if fracDigits > 0 {
			sb.WriteByte('.')
			for range fracDigits {
				sb.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		decs = append(decs, sb.String())
	}
	for _, d := range decs {
		want, err := strconv.ParseFloat(d, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want == 0 {
			want = 0 // numeric has no negative zero
		}
		got, err := rawNumericFloat8(numericSend(t, d))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%s: got %v (%016x), want %v (%016x)", d, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
}

func TestNumericDecoderSpecialsAndMalformed(t *testing.T) {
	special := func(sign uint16) []byte {
		b := make([]byte, 8)
		binary.BigEndian.PutUint16(b[4:], sign)
		return b
	}
	v, err := rawNumericFloat8(special(numericNaN))
	if err != nil || !math.IsNaN(v) {
		t.Fatalf("NaN: %v %v", v, err)
	}
	if v, _ := rawNumericFloat8(special(numericPInf)); !math.IsInf(v, 1) {
		t.Fatalf("+Inf: %v", v)
	}
	if v, _ := rawNumericFloat8(special(numericNInf)); !math.IsInf(v, -1) {
		t.Fatalf("-Inf: %v", v)
	}
	for _, bad := range [][]byte{nil, {0, 1}, special(0x1234), append(numericSend(t, "12345"), 0)} {
		if _, err := rawNumericFloat8(bad); err == nil {
			t.Fatalf("%x: decoded", bad)
		}
	}
	digit := numericSend(t, "1")
	binary.BigEndian.PutUint16(digit[8:], 10000)
	if _, err := rawNumericFloat8(digit); err == nil {
		t.Fatal("a base-10000 digit of 10000 decoded")
	}
}
