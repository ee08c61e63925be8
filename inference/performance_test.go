package inference

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reference band: NannyML's chunk band where the OOF history holds
// MinReferenceChunks chunks of the live window's length, else the
// reference's bootstrap interval; and the verdict order.
func TestReferenceBandAndVerdicts(t *testing.T) {
	p, y := series(1200, 4, 0.6, 3)
	ref := sample{values: p, labels: y}
	rep := &PerformanceReport{Objective: ObjectiveBinary, HorizonBars: 4}
	rep.Reference = rep.side(PerformanceReference, ref)
	require.NotNil(t, rep.Reference.Interval)

	low, band := rep.referenceLow(ref, 200)
	require.NotNil(t, low)
	assert.Contains(t, band, "chunks", "1 200 OOF bars hold six 200-bar chunks")
	low, band = rep.referenceLow(ref, 201)
	require.NotNil(t, low)
	assert.Equal(t, "bootstrap interval of the OOF history", band, "five chunks are too few")
	assert.Equal(t, rep.Reference.Interval.Lo, *low)

	for _, tc := range []struct {
		skill float64
		n     int
		want  PerformanceVerdict
	}{{0.6, 1200, PerfOK}, {0, 1200, PerfNoSkill}, {0.25, 1200, PerfDegraded}, {0.6, 100, PerfInsufficient}} {
		lp, ly := series(tc.n, 4, tc.skill, 9)
		r := *rep
		r.Rows.Scored = tc.n
		r.Live = r.side(PerformanceLive, sample{values: lp, labels: ly})
		r.judge(ref, 1200)
		assert.Equal(t, tc.want, r.Verdict, "skill %.2f over %d bars: %s", tc.skill, tc.n, r.Reason)
	}
}
