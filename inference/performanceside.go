package inference

import (
	"math"
	"sort"
)

// side computes one side's metrics, its primary metric and that metric's
// block-bootstrap interval (blocks of the label's horizon).
func (rep *PerformanceReport) side(source string, s sample) PerformanceSide {
	out := PerformanceSide{Source: source, EffectiveN: EffectiveN(len(s.labels), rep.HorizonBars)}
	switch rep.Objective {
	case ObjectiveMulticlass:
		out.Metrics, out.Primary = MulticlassMetrics(s.values, s.labels), "macro_auc"
		out.PrimaryValue = out.Metrics.MacroAUC
	case ObjectiveRegression:
		out.Metrics, out.Primary = RegressionMetrics(s.values, s.labels), "pearson"
		out.PrimaryValue = out.Metrics.Pearson
	default:
		out.Metrics, out.Primary = BinaryMetrics(s.values, s.labels), "auc"
		out.PrimaryValue = out.Metrics.AUC
	}
	if len(s.labels) == 0 {
		out.Source = WindowNone
		return out
	}
	if b, ok := BlockBootstrap(len(s.labels), rep.HorizonBars, BootstrapResamples, primaryOn(rep.Objective, s)); ok && out.PrimaryValue != nil {
		out.Interval = &b
	}
	return out
}

// referenceLow is the reference's lower bound a live interval must not lie
// wholly below: NannyML's mean − 3σ of the primary metric over the OOF
// history's consecutive chunks of the live window's length, where it holds
// MinReferenceChunks of them; else the reference's bootstrap interval.
func (rep *PerformanceReport) referenceLow(ref sample, windowBars int) (*float64, string) {
	n := len(ref.labels)
	if windowBars > 0 && n/windowBars >= MinReferenceChunks {
		metric := primaryOn(rep.Objective, ref)
		var vals []float64
		for start := 0; start+windowBars <= n; start += windowBars {
			idx := make([]int, windowBars)
			for i := range idx {
				idx[i] = start + i
			}
			if v, ok := metric(idx); ok {
				vals = append(vals, v)
			}
		}
		if len(vals) >= MinReferenceChunks {
			mean := npMean(vals)
			low := mean - 3*stdDev(vals, mean)
			return &low, "chunks: mean - 3 sigma of the OOF history's chunks"
		}
	}
	if rep.Reference.Interval != nil {
		low := rep.Reference.Interval.Lo
		return &low, "bootstrap interval of the OOF history"
	}
	return nil, ""
}

// primaryOn is the primary metric on a resample of s (indexes, with
// repeats): AUC (binary), macro one-vs-rest AUC (multiclass) or Pearson's r
// (regression). AUCs sweep orders sorted once, weighting each bar by how
// often the resample draws it, so a resample costs O(n).
func primaryOn(objective string, s sample) func([]int) (float64, bool) {
	n := len(s.labels)
	w := make([]float64, n)
	weigh := func(idx []int) {
		clear(w)
		for _, i := range idx {
			w[i]++
		}
	}
	switch objective {
	case ObjectiveRegression:
		return func(idx []int) (float64, bool) {
			weigh(idx)
			return weightedPearson(s.values, s.labels, w)
		}
	case ObjectiveMulticlass:
		var orders [3][]int
		var scores [3][]float64
		for k := range 3 {
			scores[k] = column(s.values, k)
			orders[k] = sortedOrder(scores[k])
		}
		return func(idx []int) (float64, bool) {
			weigh(idx)
			sum := 0.0
			for k := range 3 {
				a, ok := weightedAUC(orders[k], scores[k], w, func(i int) bool { return int(s.labels[i])+1 == k })
				if !ok {
					return 0, false
				}
				sum += a
			}
			return sum / 3, true
		}
	}
	order := sortedOrder(s.values)
	return func(idx []int) (float64, bool) {
		weigh(idx)
		return weightedAUC(order, s.values, w, func(i int) bool { return s.labels[i] >= 0.5 })
	}
}

func sortedOrder(x []float64) []int {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return x[order[a]] < x[order[b]] })
	return order
}

// weightedAUC is aucOf with each bar counted w[i] times; false when either
// class is absent.
func weightedAUC(order []int, x, w []float64, pos func(int) bool) (float64, bool) {
	var negBelow, area, nPos float64
	for i := 0; i < len(order); {
		j := i
		var p, q float64
		for ; j < len(order) && x[order[j]] == x[order[i]]; j++ {
			if pos(order[j]) {
				p += w[order[j]]
			} else {
				q += w[order[j]]
			}
		}
		area += p * (negBelow + q/2)
		negBelow, nPos, i = negBelow+q, nPos+p, j
	}
	if nPos == 0 || negBelow == 0 {
		return 0, false
	}
	return area / (nPos * negBelow), true
}

// weightedPearson is Pearson's r with bar i counted w[i] times.
func weightedPearson(p, y, w []float64) (float64, bool) {
	var n, sp, sy float64
	for i := range p {
		n, sp, sy = n+w[i], sp+w[i]*p[i], sy+w[i]*y[i]
	}
	mp, my := sp/n, sy/n
	var cov, vp, vy float64
	for i := range p {
		dp, dy := p[i]-mp, y[i]-my
		cov, vp, vy = cov+w[i]*dp*dy, vp+w[i]*dp*dp, vy+w[i]*dy*dy
	}
	if vp == 0 || vy == 0 {
		return 0, false
	}
	return cov / math.Sqrt(vp*vy), true
}
