package inference

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Bars: 0 not ready, 1 ready, 2 not ready, 3 ready, 4 not ready.
func TestCatchUpClassify(t *testing.T) {
	bars := gridBars(testNow, testNow.Add(4*time.Hour), time.Hour)
	miss := []MissingFeature{{Feature: "f"}}
	a := &assembled{missing: [][]MissingFeature{miss, nil, miss, nil, miss}}

	var res targetResult
	assert.Equal(t, []int{1, 3}, res.classify(a, bars, false))
	assert.Equal(t, []StalledBar{{TS: bars[2], Missing: miss}, {TS: bars[0], Missing: miss}}, res.stalled, "most recent first")
	assert.Equal(t, 1, res.pending)
	assert.Equal(t, miss, res.waitingOn)

	res = targetResult{}
	assert.Equal(t, []int{1, 3}, res.classify(a, bars, true))
	assert.Equal(t, []StalledBar{{TS: bars[2], Missing: miss}}, res.stalled, "a new signal's bars before its first complete one are not due")

	res = targetResult{}
	none := &assembled{missing: [][]MissingFeature{miss, miss}}
	assert.Empty(t, res.classify(none, bars[:2], false))
	assert.Equal(t, 2, res.pending)
}
