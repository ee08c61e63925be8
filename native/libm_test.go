//go:build cgo && !purego

package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/native/goeval"
)

// libmInputs is how many random inputs each function is checked on:
// BLACKHEART_LIBM_INPUTS (make test sets 10^8, outside the race detector),
// else 10^6.
func libmInputs() int {
	if n, err := strconv.Atoi(os.Getenv("BLACKHEART_LIBM_INPUTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// TestLibmMatchesGlibc holds goeval.Exp, Expf and Logf to the C library's
// exp, expf and logf bit for bit, in this process (glibc's own choice of variant:
// FMA on CPUs with FMA and AVX2) and in a child whose glibc is told to
// ignore FMA, AVX2 and FMA4 (the SSE2 variant), over the edges and
// libmInputs() random inputs per function.
func TestLibmMatchesGlibc(t *testing.T) {
	if os.Getenv("BLACKHEART_LIBM_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLibmMatchesGlibc$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BLACKHEART_LIBM_CHILD=1", "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the SSE2 variant:\n%s", out)
		require.Contains(t, string(out), "variant sse2", "the child ran with glibc's SSE2 variant:\n%s", out)
	}
	t.Logf("variant %s, %d random inputs per function", goeval.Variant(), libmInputs())
	fmt.Printf("variant %s\n", goeval.Variant())
	checkExp(t, expEdges())
	checkExpf(t, expfEdges())
	checkLogf(t, logfEdges())
	rng := rand.New(rand.NewPCG(1, 2))
	const chunk = 1 << 20
	xs, xf, xl := make([]float64, chunk), make([]float32, chunk), make([]float32, chunk)
	for done := 0; done < libmInputs(); done += chunk {
		n := min(chunk, libmInputs()-done)
		for i := 0; i < n; i++ {
			xs[i], xf[i], xl[i] = randomExpInput(rng, i), randomExpfInput(rng, i), randomLogfInput(rng, i)
		}
		checkExp(t, xs[:n])
		checkExpf(t, xf[:n])
		checkLogf(t, xl[:n])
		if t.Failed() {
			return
		}
	}
}

func checkExp(t *testing.T, xs []float64) {
	check(t, "exp", xs, LibmExp, goeval.Exp, func(v float64) uint64 { return math.Float64bits(v) })
}

func checkExpf(t *testing.T, xs []float32) {
	check(t, "expf", xs, LibmExpf, goeval.Expf, func(v float32) uint64 { return uint64(math.Float32bits(v)) })
}

func checkLogf(t *testing.T, xs []float32) {
	check(t, "logf", xs, LibmLogf, goeval.Logf, func(v float32) uint64 { return uint64(math.Float32bits(v)) })
}

// check compares ours with glibc's on xs, bit for bit, NaN payloads too.
func check[T float32 | float64](t *testing.T, name string, xs []T, glibc func(xs, out []T), ours func(T) T, bits func(T) uint64) {
	want := make([]T, len(xs))
	glibc(xs, want)
	bad := 0
	for i, x := range xs {
		got := ours(x)
		if bits(got) == bits(want[i]) {
			continue
		}
		if bad++; bad <= 5 {
			t.Errorf("%s(%x = %v): got %x (%v), glibc %x (%v)", name, bits(x), x, bits(got), got, bits(want[i]), want[i])
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d inputs differ", name, bad, len(xs))
	}
}

// randomExpInput mixes every bit pattern (all exponents, subnormals, NaN
// payloads) with the range where exp is finite and not 1, and with points
// next to the table's k·ln2/128 boundaries.
func randomExpInput(rng *rand.Rand, i int) float64 {
	switch i % 4 {
	case 0:
		return math.Float64frombits(rng.Uint64())
	case 1:
		return -746 + rng.Float64()*(710+746)
	case 2:
		k := float64(rng.IntN(2*1024*128) - 1024*128)
		x := k * math.Ln2 / 128
		return math.Float64frombits(math.Float64bits(x) + uint64(rng.IntN(9)) - 4)
	default:
		return (rng.Float64()*2 - 1) * math.Ldexp(1, -rng.IntN(60))
	}
}

func randomExpfInput(rng *rand.Rand, i int) float32 {
	switch i % 3 {
	case 0:
		return math.Float32frombits(rng.Uint32())
	case 1:
		return float32(-105 + rng.Float64()*(90+105))
	default:
		return float32((rng.Float64()*2 - 1) * math.Ldexp(1, -rng.IntN(30)))
	}
}

func expEdges() []float64 {
	xs := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(),
		math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xfff8000000000123),
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 0x1p-1022, -0x1p-1022,
		0x1p-54, -0x1p-54, 0x1p-55, 512, -512, 1024, -1024, math.MaxFloat64, -math.MaxFloat64,
		0x1.62e42fefa39efp9, 0x1.62e42fefa39f0p9, // last finite, first overflow
		-0x1.74910d52d3051p9, -0x1.74910d52d3052p9, -0x1.6232bdd7abcd2p9, // underflow thresholds
		-708.3964185322641, -709.08956571282405, -744.44007192138126, -745.13321910194110,
		709.782712893384, 1, -1, 0.5, math.Ln2 / 256, -math.Ln2 / 256}
	for _, x := range append([]float64(nil), xs...) {
		b := math.Float64bits(x)
		xs = append(xs, math.Float64frombits(b+1), math.Float64frombits(b-1))
	}
	return xs
}

func expfEdges() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00123),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 0x1p-126, 88, -88, 0x1.62e42ep6,
		0x1.62e430p6, -0x1.9fe368p6, -0x1.9d1d9ep6, -103.5, -87.33655, 88.7, 1, -1, math.MaxFloat32, -math.MaxFloat32}
	for _, x := range append([]float32(nil), xs...) {
		b := math.Float32bits(x)
		xs = append(xs, math.Float32frombits(b+1), math.Float32frombits(b-1))
	}
	return xs
}

// randomLogfInput mixes every bit pattern, positive floats of every
// exponent, and values near 1 and in (0, 1) (where XGBoost's 1/b - 1 lives).
func randomLogfInput(rng *rand.Rand, i int) float32 {
	switch i % 4 {
	case 0:
		return math.Float32frombits(rng.Uint32())
	case 1:
		return math.Float32frombits(rng.Uint32() & 0x7fffffff)
	case 2:
		return float32(1 + (rng.Float64()*2-1)*math.Ldexp(1, -rng.IntN(24)))
	default:
		b := float32(rng.Float64())
		return 1/b - 1
	}
}

func logfEdges() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0x7f800001), math.SmallestNonzeroFloat32, 0x1p-126,
		0x1p-127, math.MaxFloat32, 2, 0.5, 0x1.66p-1, 0x1.66p0}
	for _, x := range append([]float32(nil), xs...) {
		b := math.Float32bits(x)
		xs = append(xs, math.Float32frombits(b+1), math.Float32frombits(b-1))
	}
	return xs
}
