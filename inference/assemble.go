package inference

import (
	"context"
	"math"
	"sort"
	"time"
)

// assembled holds the input matrix for consecutive bars.
type assembled struct {
	rows    []float64          // len(bars) × len(columns), row-major
	missing [][]MissingFeature // per bar; nil when the row is complete
}

// globalPoint is one row of a global series. ts is in Unix microseconds,
// PostgreSQL's own resolution, which is exact for every timestamptz (Unix
// nanoseconds overflow outside 1678–2262). v is NaN for a NULL value.
type globalPoint struct {
	ts int64
	v  float64
}

// collector accumulates the values of one window of bars as they stream
// in, then turns them into rows (finish).
type collector struct {
	plan    *featurePlan
	bars    []time.Time
	step    time.Duration
	q       FeatureQuery
	out     *assembled
	present []bool
	series  [][]globalPoint
}

// collect prepares the query and buffers for bars (ascending, consecutive on
// the grid; at least one).
func (plan *featurePlan) collect(symbol string, interval Interval, bars []time.Time) *collector {
	nb, nc := len(bars), len(plan.columns)
	start, step := bars[0], interval.Duration()
	return &collector{
		plan: plan, bars: bars, step: step,
		q: FeatureQuery{
			PerBar: plan.perBarRefs, Symbol: symbol, Interval: interval, First: start, Last: bars[nb-1],
			// As-of is ts <= bar (inclusive): a value stamped exactly at the
			// last bar is read.
			Global: plan.globalRefs, GlobalFrom: start.Add(-plan.maxCap), GlobalTo: bars[nb-1],
		},
		out:     &assembled{rows: make([]float64, nb*nc), missing: make([][]MissingFeature, nb)},
		present: make([]bool, nb*nc),
		series:  make([][]globalPoint, len(plan.globalRefs)),
	}
}

// perBar is the ValueFunc for FeatureQuery.PerBar: a value counts only at
// exactly a bar's ts (training reindexes onto the bar grid), and a NULL
// value leaves the cell missing.
func (c *collector) perBar(col int, ts time.Time, v float64) {
	off := ts.Sub(c.bars[0])
	if off < 0 || off%c.step != 0 || math.IsNaN(v) {
		return
	}
	bar := int(off / c.step)
	if bar >= len(c.bars) {
		return
	}
	cell := bar*len(c.plan.columns) + c.plan.perBarCols[col]
	c.out.rows[cell], c.present[cell] = v, true
}

// global is the ValueFunc for FeatureQuery.Global.
func (c *collector) global(col int, ts time.Time, v float64) {
	c.series[col] = append(c.series[col], globalPoint{ts.UnixMicro(), v})
}

// assemble builds the rows for bars (ascending, consecutive on the grid) with
// one set-based query, whatever the number of bars.
func (plan *featurePlan) assemble(ctx context.Context, store Store, symbol string, interval Interval, bars []time.Time) (*assembled, error) {
	if len(bars) == 0 {
		return &assembled{}, nil
	}
	c := plan.collect(symbol, interval, bars)
	if err := store.FeatureValues(ctx, c.q, c.perBar, c.global); err != nil {
		return nil, err
	}
	return c.finish(ctx, store)
}

// finish applies training's rules to the global series — merge_asof
// backward with an inclusive tolerance for last_value, an exact reindex
// otherwise — and lists, per bar, every input that is missing or stale. As in
// training, the newest row within the cap is the one used even when its value
// is NULL: such a bar is refused, never served from an older row.
func (c *collector) finish(ctx context.Context, store Store) (*assembled, error) {
	plan, bars, out, present, series := c.plan, c.bars, c.out, c.present, c.series
	nc := len(plan.columns)
	if err := plan.addStaleHistory(ctx, store, series, c.q.GlobalFrom, bars[0], bars); err != nil {
		return nil, err
	}
	for g, pts := range series {
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].ts < pts[b].ts })
		col := plan.globalCols[g]
		j := -1 // index of the newest point with ts <= bar
		capMicros := plan.caps[col].Microseconds()
		for b, bar := range bars {
			bt := bar.UnixMicro()
			for j+1 < len(pts) && pts[j+1].ts <= bt {
				j++
			}
			cell := b*nc + col
			if j < 0 {
				continue
			}
			switch plan.kinds[col] {
			case colGlobalExact:
				if pts[j].ts == bt && !math.IsNaN(pts[j].v) {
					out.rows[cell], present[cell] = pts[j].v, true
				}
			case colGlobalAsOf:
				if bt-pts[j].ts <= capMicros {
					if !math.IsNaN(pts[j].v) { // a NULL newest row leaves the bar missing
						out.rows[cell], present[cell] = pts[j].v, true
					}
				} else {
					out.rows[cell] = math.Inf(1) // marks stale; the age is recomputed below
				}
			}
		}
	}

	for b, bar := range bars {
		for c := 0; c < nc; c++ {
			cell := b*nc + c
			if plan.kinds[c] == colIndicator {
				out.rows[cell], present[cell] = plan.indicator, true
				continue
			}
			if present[cell] {
				continue
			}
			m := MissingFeature{Feature: plan.refs[c].Name, Version: plan.refs[c].Version, Reason: "absent_at_ts"}
			if plan.kinds[c] == colGlobalAsOf && math.IsInf(out.rows[cell], 1) {
				m.Reason = "stale"
				m.AgeHours = staleAge(series, plan, c, bar)
			}
			out.missing[b] = append(out.missing[b], m)
			out.rows[cell] = math.NaN()
		}
	}
	return out, nil
}

// addStaleHistory: when an as-of input has nothing in the queried window at
// the first bar, one more query finds its newest older value, so the refusal
// can say "stale, N hours" rather than "absent". Complete windows never pay it.
func (plan *featurePlan) addStaleHistory(ctx context.Context, store Store, series [][]globalPoint, from, first time.Time, bars []time.Time) error {
	var refs []FeatureRef
	var cols []int
	for g, col := range plan.globalCols {
		if plan.kinds[col] != colGlobalAsOf {
			continue
		}
		pts := series[g]
		if len(pts) == 0 || pts[0].ts > first.UnixMicro() {
			refs, cols = append(refs, plan.globalRefs[g]), append(cols, g)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	return store.LatestGlobalBefore(ctx, refs, from.Add(-staleLookback), from, func(i int, ts time.Time, v float64) {
		g := cols[i]
		series[g] = append(series[g], globalPoint{ts.UnixMicro(), v})
	})
}

// staleAge is the age in hours of the newest value of column c at or before bar.
func staleAge(series [][]globalPoint, plan *featurePlan, c int, bar time.Time) float64 {
	for g, col := range plan.globalCols {
		if col != c {
			continue
		}
		pts := series[g]
		bt := bar.UnixMicro()
		i := sort.Search(len(pts), func(i int) bool { return pts[i].ts > bt }) - 1
		if i >= 0 {
			return float64(bt-pts[i].ts) / float64(time.Hour/time.Microsecond)
		}
	}
	return 0
}

func missingDetails(ts time.Time, missing []MissingFeature) map[string]any {
	list := make([]map[string]any, len(missing))
	for i, m := range missing {
		list[i] = m.wire()
	}
	return map[string]any{"ts": ts.UTC().Format(time.RFC3339), "features": list}
}

// ready reports whether bar i has every input.
func (a *assembled) ready(i int) bool { return len(a.missing[i]) == 0 }

// batch gathers the rows of bars[idx...] (all ready), each written with
// source.
func (a *assembled) batch(plan *featurePlan, bars []time.Time, idx []int, source Source) barBatch {
	nc := len(plan.columns)
	b := barBatch{bars: make([]time.Time, len(idx)), rows: make([]float64, 0, len(idx)*nc), sources: make([]Source, len(idx))}
	for k, i := range idx {
		b.bars[k], b.sources[k] = bars[i], source
		b.rows = append(b.rows, a.rows[i*nc:(i+1)*nc]...)
	}
	return b
}
