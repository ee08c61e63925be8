package inference

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Consecutive bars share most of their label's forward window, so n bars
// of a label that reads h bars ahead are worth about n / h independent
// ones. The realized-performance report gives that effective size and a
// moving-block bootstrap interval whose blocks are h bars long.

// EffectiveN is n bars of a label that reads h bars ahead: n / h.
func EffectiveN(n, h int) float64 {
	if h < 1 {
		h = 1
	}
	return float64(n) / float64(h)
}

// BootstrapSeed fixes the bootstrap's draws, so a report is reproducible.
const BootstrapSeed = 26_27

// Bounds is a bootstrap interval of a metric.
type Bounds struct {
	Lo, Hi    float64
	Resamples int // resamples on which the metric was defined
}

// BlockBootstrap is the moving-block bootstrap interval (2.5 and 97.5
// percentiles, numpy's linear interpolation) of metric over n bars in time
// order: each resample joins ceil(n / block) runs of block consecutive bars
// starting at uniformly drawn bars, cut to n. metric reads the resample as
// indexes into the bars and reports whether it is defined on it (an AUC of
// a one-class resample is not). ok is false when fewer than half the
// resamples were defined.
func BlockBootstrap(n, block, resamples int, metric func(idx []int) (float64, bool)) (Bounds, bool) {
	block = max(1, min(block, n))
	if n == 0 {
		return Bounds{}, false
	}
	r := rand.New(rand.NewPCG(BootstrapSeed, uint64(n)))
	idx := make([]int, 0, n+block)
	values := make([]float64, 0, resamples)
	for range resamples {
		idx = idx[:0]
		for len(idx) < n {
			start := r.IntN(n - block + 1)
			for k := start; k < start+block; k++ {
				idx = append(idx, k)
			}
		}
		if v, ok := metric(idx[:n]); ok && !math.IsNaN(v) {
			values = append(values, v)
		}
	}
	if len(values)*2 < resamples {
		return Bounds{Resamples: len(values)}, false
	}
	sort.Float64s(values)
	return Bounds{Lo: percentile(values, 2.5), Hi: percentile(values, 97.5), Resamples: len(values)}, true
}

// percentile is numpy.percentile's default (linear) on sorted values.
func percentile(sorted []float64, q float64) float64 {
	pos := q / 100 * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}
