package inference

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func planArtifact(names []string, versions map[string]int, intervals ...string) *Artifact {
	p := &Payload{FeatureNames: names, FeatureVersions: versions, Spec: Spec{Interval: "1h", TrainingIntervals: intervals}}
	return &Artifact{Payload: p, InputFeatures: names}
}

func TestPlanFeaturesClassifiesEveryColumn(t *testing.T) {
	st := newMemStore()
	st.feature("bar", 2, true, "", 0)
	st.feature("macro", 1, false, "last_value", 0)
	st.feature("exact", 3, false, "", 0)
	st.feature("latest", 1, true, "", 0)
	st.feature("latest", 4, true, "", 0)
	names := []string{"interval_indicator", "bar", "macro", "exact", "latest"}
	art := planArtifact(append(names[1:], "interval_indicator"), map[string]int{"bar": 2, "macro": 1, "exact": 3}, "1h", "4h")
	art.InputFeatures = names // a feature-selected model reads the indicator first

	plan, err := planFeatures(context.Background(), st, art, Interval1h)
	require.NoError(t, err)
	assert.Equal(t, []colKind{colIndicator, colPerBar, colGlobalAsOf, colGlobalExact, colPerBar}, plan.kinds)
	assert.Equal(t, 2.0, plan.indicator, "1h is indicator 2")
	assert.Equal(t, FeatureRef{"latest", 4}, plan.refs[4], "no pinned version: the highest registered (D2)")
	assert.Equal(t, defaultFfillCap, plan.caps[2], "NULL cap means 168 h")
	assert.False(t, plan.pinned)
}

func TestPlanFeaturesRefusals(t *testing.T) {
	st := newMemStore()
	st.feature("ok", 1, true, "", 0)
	d := st.feature("deprecated", 1, true, "", 0)
	def := st.defs[d]
	def.Status = "deprecated"
	st.defs[d] = def
	art := planArtifact([]string{"ok", "deprecated", "missing", "nover"}, map[string]int{"ok": 1, "deprecated": 1, "missing": 7})
	_, err := planFeatures(context.Background(), st, art, Interval1h)
	require.Error(t, err)
	e := err.(*Error)
	assert.Equal(t, CodeFeatureNotRegistered, e.Code)
	assert.Equal(t, []map[string]any{
		{"feature": "deprecated", "version": 1, "reason": "status_deprecated"},
		{"feature": "missing", "version": 7, "reason": "not_in_registry"},
		{"feature": "nover", "reason": "no_registered_version"},
	}, e.Details["features"])

	art.Payload.Spec.DerivedFeatures = []string{"ret_x_vol"}
	_, err = planFeatures(context.Background(), st, art, Interval1h)
	assert.Equal(t, CodeModelNotServable, ErrorCode(err))
}

// The as-of rule of CONTRACT §5.4 on one bar, edge by edge.
func TestAssembleAsOfEdges(t *testing.T) {
	bar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		points []memPoint
		want   float64 // NaN: missing
		reason string
	}{
		{"stamped exactly at the bar", []memPoint{{bar.Add(-time.Hour), 1}, {bar, 2}}, 2, ""},
		{"exactly at the cap", []memPoint{{bar.Add(-24 * time.Hour), 3}}, 3, ""},
		{"one microsecond past the cap", []memPoint{{bar.Add(-24*time.Hour - time.Microsecond), 3}}, nan, "stale"},
		{"published after the bar", []memPoint{{bar.Add(time.Microsecond), 4}}, nan, "absent_at_ts"},
		{"newest row NULL: no fallback", []memPoint{{bar.Add(-2 * time.Hour), 5}, {bar.Add(-time.Hour), nan}}, nan, "absent_at_ts"},
		{"sub-second stamp", []memPoint{{bar.Add(-500 * time.Millisecond), 6}}, 6, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			ref := st.feature("macro", 1, false, "last_value", 24)
			for _, p := range tc.points {
				st.value(ref, "", "", p.ts, p.v)
			}
			plan, err := planFeatures(context.Background(), st, planArtifact([]string{"macro"}, map[string]int{"macro": 1}), Interval1h)
			require.NoError(t, err)
			a, err := plan.assemble(context.Background(), st, "BTCUSDT", Interval1h, []time.Time{bar})
			require.NoError(t, err)
			if math.IsNaN(tc.want) {
				require.False(t, a.ready(0))
				assert.Equal(t, tc.reason, a.missing[0][0].Reason)
				return
			}
			require.True(t, a.ready(0), "%v", a.missing[0])
			assert.Equal(t, tc.want, a.rows[0])
		})
	}
}

func TestAssemblePerBarAndExactGlobalsMatchTheBarOnly(t *testing.T) {
	bars := []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)}
	st := newMemStore()
	pb := st.feature("pb", 1, true, "", 0)
	ex := st.feature("ex", 1, false, "", 0)
	st.value(pb, "BTCUSDT", "1h", bars[0], 1)
	st.value(pb, "BTCUSDT", "1h", bars[1].Add(-time.Microsecond), 9) // off the grid: never counts
	st.value(pb, "BTCUSDT", "1h", bars[1], nan)                      // NULL at the bar: missing
	st.value(ex, "", "", bars[0], 2)
	st.value(ex, "", "", bars[1].Add(-time.Minute), 8) // exact match only
	plan, err := planFeatures(context.Background(), st, planArtifact([]string{"pb", "ex"}, map[string]int{"pb": 1, "ex": 1}), Interval1h)
	require.NoError(t, err)
	a, err := plan.assemble(context.Background(), st, "BTCUSDT", Interval1h, bars)
	require.NoError(t, err)
	assert.True(t, a.ready(0))
	assert.Equal(t, []float64{1, 2}, a.rows[:2])
	require.False(t, a.ready(1))
	assert.Len(t, a.missing[1], 2)
}
