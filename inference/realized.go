package inference

import (
	"math"
	"sort"
)

// Realized performance (issue 27): a signal's predictions against the
// labels that matured for them, by the trainer's own rules
// (shadow_analytics.py for binary signals, train.py's _evaluate for
// multiclass and regression). Where the trainer's report would crash or
// divide by zero, a metric here is nil and Undefined says why.

// Gate bands: the JVM blocks shorts above GateHigh and longs below GateLow.
const (
	GateHigh = 0.70
	GateLow  = 0.30
)

// Clipping the trainer applies before its log-losses.
const (
	binaryLogLossClip     = 1e-15
	multiclassLogLossClip = 1e-7
)

// CalibrationBins is the trainer's bin count: equal-width bins of [0, 1].
const CalibrationBins = 10

// Metrics are one window's realized metrics. A nil metric is undefined on
// the window; Undefined maps its name to the reason.
type Metrics struct {
	N int
	// Binary and multiclass.
	Positives                    int // binary: labels ≥ 0.5
	LabelRate, PredMean, PredStd *float64
	AUC, Brier, LogLoss          *float64
	Accuracy                     *float64 // binary: (p ≥ 0.5) == (y ≥ 0.5); multiclass: argmax == label
	Calibration                  []CalibrationBin
	ECE                          *float64
	MacroAUC                     *float64 // multiclass: one-vs-rest, every class present
	// Regression.
	RMSE, MAE, Pearson *float64
	// Bands are the gate's: value > GateHigh and value < GateLow.
	Above, Below Band
	Undefined    map[string]string
}

// CalibrationBin is one non-empty bin: [Lo, Hi] for the first, (Lo, Hi] after.
type CalibrationBin struct {
	Bin              int
	Lo, Hi           float64
	Count            int
	MeanPred, Actual float64
	Gap              float64 // |MeanPred − Actual|
}

// Band counts the bars in a gate band and the label rate among them.
type Band struct {
	N         int
	LabelRate *float64
}

func (m *Metrics) undefined(name, why string) {
	if m.Undefined == nil {
		m.Undefined = map[string]string{}
	}
	m.Undefined[name] = why
}

// noBars marks every metric undefined: the window has no scored bar.
func (m Metrics) noBars(names ...string) Metrics {
	for _, k := range names {
		m.undefined(k, "no bar with a matured label")
	}
	return m
}

func ptr(x float64) *float64 { return &x }

// BinaryMetrics are shadow_analytics' binary metrics of predictions p
// (P(class 1)) against labels y (0 or 1), with the calibration table, ECE
// and the gate bands.
func BinaryMetrics(p, y []float64) Metrics {
	m := Metrics{N: len(p)}
	if m.N == 0 {
		return m.noBars("label_rate", "pred_mean", "pred_std", "auc", "brier", "log_loss", "accuracy", "ece")
	}
	sq, loss, hit := make([]float64, m.N), make([]float64, m.N), make([]float64, m.N)
	for i := range p {
		sq[i] = (y[i] - p[i]) * (y[i] - p[i])
		c := min(max(p[i], binaryLogLossClip), 1-binaryLogLossClip)
		loss[i] = -(xlogy(1-y[i], 1-c) + xlogy(y[i], c))
		if (p[i] >= 0.5) == (y[i] >= 0.5) {
			hit[i] = 1
		}
		if y[i] >= 0.5 {
			m.Positives++
		}
	}
	mean := npMean(p)
	m.LabelRate, m.PredMean, m.PredStd = ptr(npMean(y)), ptr(mean), ptr(stdDev(p, mean))
	m.Brier, m.LogLoss, m.Accuracy = ptr(npMean(sq)), ptr(npMean(loss)), ptr(npMean(hit))
	if m.Positives == 0 || m.Positives == m.N {
		m.undefined("auc", "the window holds one class")
	} else {
		m.AUC = ptr(aucOf(p, func(i int) bool { return y[i] >= 0.5 }))
	}
	m.Calibration, m.ECE = calibration(p, y)
	m.Above, m.Below = bands(p, y)
	return m
}

// xlogy is x·log(y), 0 when x is 0 (scipy's xlogy, as sklearn's log_loss).
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

// stdDev is numpy's std (ddof 0) about mean.
func stdDev(x []float64, mean float64) float64 {
	d := make([]float64, len(x))
	for i, v := range x {
		d[i] = (v - mean) * (v - mean)
	}
	return math.Sqrt(npMean(d))
}

// aucOf is the area under the ROC curve of scores x for the rows pos says
// are positive: the Mann–Whitney statistic, ties counted one half, which
// is what roc_auc_score's trapezoids add up to. The caller has checked
// that both classes are present.
func aucOf(x []float64, pos func(int) bool) float64 {
	w := make([]float64, len(x))
	for i := range w {
		w[i] = 1
	}
	a, _ := weightedAUC(sortedOrder(x), x, w, pos)
	return a
}

// calibration is pandas.cut over CalibrationBins equal-width bins of
// [0, 1] (right-closed, the lowest edge included; values outside [0, 1]
// fall in no bin), empty bins omitted, and the count-weighted mean gap.
func calibration(p, y []float64) ([]CalibrationBin, *float64) {
	edges := make([]float64, CalibrationBins+1)
	for i := range edges {
		edges[i] = float64(i) * (1.0 / CalibrationBins) // numpy.linspace's points
	}
	edges[CalibrationBins] = 1
	count := make([]int, CalibrationBins)
	sumP, sumY := make([]kahan, CalibrationBins), make([]kahan, CalibrationBins)
	for i, v := range p {
		b := sort.SearchFloat64s(edges, v) - 1
		if v == edges[0] {
			b = 0
		}
		if b < 0 || b >= CalibrationBins || math.IsNaN(v) {
			continue
		}
		count[b]++
		sumP[b].add(v)
		sumY[b].add(y[i])
	}
	var out []CalibrationBin
	var gaps float64
	total := 0
	for b := range count {
		if count[b] == 0 {
			continue
		}
		c := float64(count[b])
		bin := CalibrationBin{Bin: b, Lo: edges[b], Hi: edges[b+1], Count: count[b], MeanPred: sumP[b].sum / c, Actual: sumY[b].sum / c}
		bin.Gap = math.Abs(bin.MeanPred - bin.Actual)
		gaps += bin.Gap * c
		total += count[b]
		out = append(out, bin)
	}
	if total == 0 {
		return out, nil
	}
	return out, ptr(gaps / float64(total))
}

// kahan is a compensated sum, as pandas' groupby mean keeps its sums.
type kahan struct{ sum, c float64 }

func (k *kahan) add(v float64) {
	y := v - k.c
	t := k.sum + y
	k.c = t - k.sum - y
	k.sum = t
}

// bands are the gate's bands of values v, with the label rate in each.
func bands(v, y []float64) (above, below Band) {
	var sa, sb float64
	for i, x := range v {
		switch {
		case x > GateHigh:
			above.N++
			sa += y[i]
		case x < GateLow:
			below.N++
			sb += y[i]
		}
	}
	if above.N > 0 {
		above.LabelRate = ptr(sa / float64(above.N))
	}
	if below.N > 0 {
		below.LabelRate = ptr(sb / float64(below.N))
	}
	return above, below
}

// MulticlassMetrics are train.py's multiclass metrics of probability rows
// proba ([P(−1), P(0), P(+1)] per bar, flat) against labels −1/0/+1:
// log-loss clipped at 1e-7 and renormalised per row, accuracy of the
// argmax (the first maximum), macro one-vs-rest AUC when every class is
// present; the bands are of the written value P(+1) − P(−1).
func MulticlassMetrics(proba, label []float64) Metrics {
	m := Metrics{N: len(label)}
	if m.N == 0 {
		return m.noBars("log_loss", "accuracy", "macro_auc")
	}
	var ll, hits float64
	var seen [3]bool
	values := make([]float64, m.N)
	for i, l := range label {
		k := int(l) + 1
		row := proba[3*i : 3*i+3]
		var c [3]float64
		sum := 0.0
		for j := range c {
			c[j] = min(max(row[j], multiclassLogLossClip), 1-multiclassLogLossClip)
			sum += c[j]
		}
		arg := 0
		for j := 1; j < 3; j++ {
			if row[j] > row[arg] {
				arg = j
			}
		}
		if k >= 0 && k < 3 {
			seen[k] = true
			ll -= math.Log(c[k] / sum)
		}
		if arg == k {
			hits++
		}
		values[i] = row[2] - row[0]
	}
	n := float64(m.N)
	m.LogLoss, m.Accuracy = ptr(ll/n), ptr(hits/n)
	if seen != [3]bool{true, true, true} {
		m.undefined("macro_auc", "not every class (-1, 0, +1) is in the window")
	} else {
		var s float64
		for k := range 3 {
			s += aucOf(column(proba, k), func(i int) bool { return int(label[i])+1 == k })
		}
		m.MacroAUC = ptr(s / 3)
	}
	m.Above, m.Below = bands(values, label)
	return m
}

func column(flat []float64, k int) []float64 {
	out := make([]float64, len(flat)/3)
	for i := range out {
		out[i] = flat[3*i+k]
	}
	return out
}

// RegressionMetrics are train.py's regression metrics: RMSE, MAE and
// Pearson's r (undefined when either standard deviation is 0).
func RegressionMetrics(p, y []float64) Metrics {
	m := Metrics{N: len(p)}
	if m.N == 0 {
		return m.noBars("rmse", "mae", "pearson")
	}
	n := float64(m.N)
	var se, ae, sp, sy float64
	for i := range p {
		d := y[i] - p[i]
		se, ae, sp, sy = se+d*d, ae+math.Abs(d), sp+p[i], sy+y[i]
	}
	m.RMSE, m.MAE = ptr(math.Sqrt(se/n)), ptr(ae/n)
	mp, my := sp/n, sy/n
	var cov, vp, vy float64
	for i := range p {
		cov += (p[i] - mp) * (y[i] - my)
		vp += (p[i] - mp) * (p[i] - mp)
		vy += (y[i] - my) * (y[i] - my)
	}
	if vp == 0 || vy == 0 {
		m.undefined("pearson", "a standard deviation is 0")
	} else {
		m.Pearson = ptr(cov / math.Sqrt(vp*vy))
	}
	m.Above, m.Below = bands(p, y)
	return m
}

// npSum adds x as numpy's add.reduce does, so that means and standard
// deviations round as the trainer's do: the first element, plus numpy's
// pairwise sum of the rest (eight accumulators per block of up to 128,
// halved recursively above that).
func npSum(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return x[0] + pairwiseSum(x[1:])
}

func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += a[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
}

// npMean is numpy's mean: npSum / n.
func npMean(x []float64) float64 { return npSum(x) / float64(len(x)) }
