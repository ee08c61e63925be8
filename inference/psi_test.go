package inference_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// psiCase is one comparison, its values as the decimal strings that
// NUMERIC(28,10) holds.
type psiCase struct {
	Baseline []string `json:"baseline"`
	Live     []string `json:"live"`
}

// refComparison is reference.py's answer; floats arrive as repr() strings.
type refComparison struct {
	Edges          []string `json:"edges"`
	BaselineCounts []int    `json:"baseline_counts"`
	LiveCounts     []int    `json:"live_counts"`
	PSI            string   `json:"psi"`
	Verdict        string   `json:"verdict"`
}

// decimal renders v with up to 10 decimal places, as NUMERIC(28,10) keeps it.
func decimal(r *rand.Rand, v float64) string {
	return strconv.FormatFloat(v, 'f', r.IntN(11), 64)
}

// randomPSICase draws the shapes the rule has edges at: windows under and at
// the minimum sizes, empty ones, constant and few-valued (tied) samples,
// live values exactly on the baseline's edges, shifts of every size.
func randomPSICase(r *rand.Rand) psiCase {
	nb := []int{0, 3, 9, 10, 19, 20, 21, 37, 100, 1000}[r.IntN(10)]
	nl := []int{0, 1, 4, 5, 6, 17, 200}[r.IntN(7)]
	shift, scale := []float64{0, 0, 0.05, 0.3, 1, 5}[r.IntN(6)], []float64{1, 1, 0.5, 3}[r.IntN(4)]
	draw := func(n int, live bool) []string {
		out := make([]string, n)
		kind := r.IntN(5)
		for i := range out {
			var v float64
			switch kind {
			case 0: // continuous
				v = r.NormFloat64()
			case 1: // few distinct values: ties everywhere
				v = float64(r.IntN(4))
			case 2: // constant
				v = 1.25
			case 3: // uniform with coarse decimals
				v = math.Round(r.Float64()*100) / 10
			default: // heavy tail
				v = math.Exp(r.NormFloat64() * 2)
			}
			if live {
				v = v*scale + shift
			}
			out[i] = decimal(r, v)
		}
		return out
	}
	c := psiCase{Baseline: draw(nb, false), Live: draw(nl, true)}
	if nb > 0 && nl > 0 && r.IntN(3) == 0 { // live values exactly at baseline quantiles (the edges)
		sorted := append([]string(nil), c.Baseline...)
		sort.Slice(sorted, func(i, j int) bool { return parse(sorted[i]) < parse(sorted[j]) })
		for i := range c.Live {
			c.Live[i] = sorted[min(nb-1, (r.IntN(10)*nb)/10)]
		}
	}
	return c
}

func parse(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v
}

func parseAll(ss []string) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = parse(s)
	}
	return out
}

// TestComparePSIMatchesTheReference: on randomized data, every edge (to the
// bit), bin count and verdict equals the Python restatement's, and PSI is
// within 1e-12 relative.
func TestComparePSIMatchesTheReference(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2026))
	cases := make([]psiCase, 600)
	for i := range cases {
		cases[i] = randomPSICase(r)
	}
	var ref struct {
		Comparisons []refComparison `json:"comparisons"`
	}
	inferencetest.DriftReference(t, map[string]any{"comparisons": cases}, &ref)
	require.Len(t, ref.Comparisons, len(cases))
	verdicts := map[inference.Verdict]int{}
	for i, c := range cases {
		got := inference.ComparePSI(parseAll(c.Baseline), parseAll(c.Live))
		want := ref.Comparisons[i]
		name := fmt.Sprintf("case %d (%d baseline, %d live)", i, len(c.Baseline), len(c.Live))
		verdicts[got.Verdict]++
		require.Equal(t, want.Verdict, string(got.Verdict), name)
		require.Len(t, got.Edges, len(want.Edges), name)
		for k, e := range want.Edges {
			require.Equal(t, math.Float64bits(parse(e)), math.Float64bits(got.Edges[k]), "%s: edge %d", name, k)
		}
		require.Equal(t, want.BaselineCounts, got.BaselineCounts, name)
		require.Equal(t, want.LiveCounts, got.LiveCounts, name)
		wantPSI := parse(want.PSI)
		require.InDelta(t, wantPSI, got.Value, 1e-12*math.Max(math.Abs(wantPSI), math.SmallestNonzeroFloat64), name)
	}
	for _, v := range []inference.Verdict{inference.VerdictOK, inference.VerdictWarn, inference.VerdictDrift, inference.VerdictInsufficient} {
		assert.Positive(t, verdicts[v], "the random cases reach %s", v)
	}
}

func TestComparePSIRule(t *testing.T) {
	base := make([]float64, 100)
	for i := range base {
		base[i] = float64(i)
	}
	same := inference.ComparePSI(base, base)
	assert.Equal(t, inference.VerdictOK, same.Verdict)
	assert.Zero(t, same.Value)
	assert.Equal(t, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}, same.Edges)
	assert.Equal(t, []int{11, 10, 10, 10, 10, 10, 10, 10, 10, 9}, same.BaselineCounts, "an edge value is in the bin it closes")
	shifted := inference.ComparePSI(base, []float64{95, 96, 97, 98, 99})
	assert.Equal(t, inference.VerdictDrift, shifted.Verdict)
	assert.Equal(t, inference.VerdictInsufficient, inference.ComparePSI(base[:19], base).Verdict)
	assert.Equal(t, inference.VerdictInsufficient, inference.ComparePSI(base, base[:4]).Verdict)
	constant := inference.ComparePSI([]float64{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, []float64{2, 2, 2, 3, 3})
	assert.Equal(t, []float64{2}, constant.Edges, "only strictly increasing edges are kept")
	assert.Equal(t, []int{3, 2}, constant.LiveCounts)
	assert.Equal(t, 0.123457, inference.Round6(0.1234565000000001))
	assert.Equal(t, 0.000001, inference.Round6(0.0000005000000001))
}
