package inference

import (
	"math"
	"slices"
	"sort"
	"strconv"
)

// Verdict is a drift verdict, by the production sidecar's thresholds.
type Verdict string

// Verdicts, from best to worst; Insufficient is a window too small to judge.
const (
	VerdictOK           Verdict = "OK"
	VerdictWarn         Verdict = "WARN"
	VerdictDrift        Verdict = "DRIFT"
	VerdictInsufficient Verdict = "INSUFFICIENT"
)

// The sidecar's PSI rule (issue 19): ten quantile bins of the baseline, bin
// fractions floored, minimum window sizes and the verdict thresholds.
const (
	psiBins          = 10
	psiFloor         = 1e-6
	psiMinBaseline   = 20
	psiMinLive       = 5
	psiWarnThreshold = 0.10
	psiDriftAbove    = 0.25
)

// PSI is one population-stability comparison of a live sample against a
// baseline sample.
type PSI struct {
	// Edges are the interior bin edges (strictly increasing, at most nine);
	// there is one bin more than edges. Nil when the samples are too small.
	Edges []float64
	// BaselineCounts and LiveCounts are the values per bin.
	BaselineCounts, LiveCounts []int
	// Value is |Σ (live − base)·ln(live / base)| over the floored bin
	// fractions, summed in bin order; 0 when Insufficient.
	Value   float64
	Verdict Verdict
	// BaselineN and LiveN are the sample sizes.
	BaselineN, LiveN int
}

// ComparePSI applies the production sidecar's rule exactly: fewer than 20
// baseline or 5 live values is INSUFFICIENT; else the interior edges are
// sorted[min(n−1, (i·n) // 10)] for i = 1..9 over the sorted baseline, kept
// only while strictly increasing; a value falls in the first bin whose edge
// is ≥ it, else the last; each bin's fraction is floored at 1e-6; and the
// verdict compares the unrounded PSI with 0.10 and 0.25. Neither slice is
// modified; NaN values must have been left out by the caller (the sidecar
// reads value IS NOT NULL).
func ComparePSI(baseline, live []float64) PSI {
	r := PSI{BaselineN: len(baseline), LiveN: len(live), Verdict: VerdictInsufficient}
	if len(baseline) < psiMinBaseline || len(live) < psiMinLive {
		return r
	}
	sorted := stableSorted(baseline)
	n := len(sorted)
	for i := 1; i < psiBins; i++ {
		e := sorted[min(n-1, i*n/psiBins)]
		if len(r.Edges) == 0 || e > r.Edges[len(r.Edges)-1] {
			r.Edges = append(r.Edges, e)
		}
	}
	r.BaselineCounts = binCounts(r.Edges, baseline)
	r.LiveCounts = binCounts(r.Edges, live)
	sum := 0.0
	for b := range r.BaselineCounts {
		base := math.Max(float64(r.BaselineCounts[b])/float64(len(baseline)), psiFloor)
		cur := math.Max(float64(r.LiveCounts[b])/float64(len(live)), psiFloor)
		sum += (cur - base) * math.Log(cur/base)
	}
	r.Value = math.Abs(sum)
	switch {
	case r.Value < psiWarnThreshold:
		r.Verdict = VerdictOK
	case r.Value < psiDriftAbove:
		r.Verdict = VerdictWarn
	default:
		r.Verdict = VerdictDrift
	}
	return r
}

// stableSorted is values sorted as Python's sorted() sorts them: stably, so
// that of equal values (0 and -0 are the only distinct ones) the first given
// stays first, and an edge keeps the sign bit Python's would have. An
// unstable sort puts the zeros together; their signs are then laid back in
// their original order.
func stableSorted(values []float64) []float64 {
	sorted := append([]float64(nil), values...)
	slices.Sort(sorted)
	lo, _ := slices.BinarySearch(sorted, 0)
	k := lo
	for _, v := range values {
		if v == 0 {
			sorted[k] = v
			k++
		}
	}
	return sorted
}

// binCounts counts values per bin: the first bin whose edge is ≥ the value
// (bisect_left), else the last.
func binCounts(edges, values []float64) []int {
	counts := make([]int, len(edges)+1)
	for _, v := range values {
		counts[sort.SearchFloat64s(edges, v)]++
	}
	return counts
}

// Round6 rounds to 6 decimal places as Python's round(x, 6) does: to the
// nearest, from the exact binary value, ties to even.
func Round6(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 6, 64), 64)
	return r
}
