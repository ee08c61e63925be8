package inference

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Years outside 1678–2262 are where UnixNano and time.Duration give up.
func TestIntervalGridFarYears(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   time.Time
		iv   Interval
		on   bool
	}{
		{"year 1 midnight", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Interval4h, true},
		{"year 1 on the hour", time.Date(1, 1, 1, 5, 0, 0, 0, time.UTC), Interval1h, true},
		{"year 1 off the hour", time.Date(1, 1, 1, 5, 30, 0, 0, time.UTC), Interval1h, false},
		{"year 9999 last bar", time.Date(9999, 12, 31, 20, 0, 0, 0, time.UTC), Interval4h, true},
		{"year 9999 last 5m bar", time.Date(9999, 12, 31, 23, 55, 0, 0, time.UTC), Interval5m, true},
		{"year 9999 one ns off", time.Date(9999, 12, 31, 23, 55, 0, 1, time.UTC), Interval5m, false},
		{"1970 grid", time.Date(1970, 1, 1, 4, 0, 0, 0, time.UTC), Interval4h, true},
		{"1970 off the 4h grid", time.Date(1970, 1, 1, 3, 0, 0, 0, time.UTC), Interval4h, false},
		{"offset zone on grid", time.Date(2026, 1, 1, 7, 0, 0, 0, time.FixedZone("+07", 7*3600)), Interval1h, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.on, tc.iv.OnGrid(tc.ts), "%s on the %s grid", tc.ts, tc.iv)
		})
	}
}

func TestIntervalBarCounts(t *testing.T) {
	y1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	y9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	// 0001-01-01 .. 9999-12-31 is 3 652 058 days (proleptic Gregorian).
	const spanDays = 3652058
	assert.Equal(t, int64(spanDays*24+1), Interval1h.EstimatedBars(y1, y9999))
	assert.Equal(t, int64(spanDays*288+1), Interval5m.EstimatedBars(y1, y9999))
	assert.Equal(t, spanDays*6, Interval4h.BarCount(y1, y9999))

	start := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		start, end time.Time
		est        int64
		bars       int
	}{
		{"half-hour start", start, start.Add(3 * time.Hour), 4, 3},
		{"end on a bar is exclusive", start.Add(-30 * time.Minute), start.Add(150 * time.Minute), 4, 3},
		{"sub-second ends", start.Add(-time.Nanosecond), start.Add(time.Hour + time.Nanosecond), 2, 1},
		{"no bar inside", start, start.Add(10 * time.Minute), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.est, Interval1h.EstimatedBars(tc.start, tc.end))
			assert.Equal(t, tc.bars, Interval1h.BarCount(tc.start, tc.end))
		})
	}
}
