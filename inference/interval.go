package inference

import (
	"fmt"
	"time"
)

// Interval is a bar interval the system serves.
type Interval string

// The serving intervals (CONTRACT §1.2), in interval_indicator order.
const (
	Interval5m  Interval = "5m"
	Interval15m Interval = "15m"
	Interval1h  Interval = "1h"
	Interval4h  Interval = "4h"
)

var intervalInfo = map[Interval]struct {
	d         time.Duration
	indicator int
}{
	Interval5m: {5 * time.Minute, 0}, Interval15m: {15 * time.Minute, 1},
	Interval1h: {time.Hour, 2}, Interval4h: {4 * time.Hour, 3},
}

// ParseInterval accepts 5m, 15m, 1h and 4h; anything else is bad_interval.
func ParseInterval(s string) (Interval, error) {
	if _, ok := intervalInfo[Interval(s)]; !ok {
		return "", Errorf(CodeBadInterval, "interval_name %q is not one of 5m, 15m, 1h, 4h", s).
			WithDetails(map[string]any{"interval_name": s, "allowed": []string{"5m", "15m", "1h", "4h"}})
	}
	return Interval(s), nil
}

// Valid reports whether i is one of the served intervals.
func (i Interval) Valid() bool { _, ok := intervalInfo[i]; return ok }

// Duration is the bar length.
func (i Interval) Duration() time.Duration { return intervalInfo[i].d }

// Indicator is the stacked-training interval_indicator value.
func (i Interval) Indicator() int { return intervalInfo[i].indicator }

// OnGrid reports whether t is a bar start (grid anchored at the Unix epoch,
// UTC). It holds for every year time.Time can hold: Truncate works on
// absolute time, and every interval divides a day, so its grid from year 1
// is the grid from the epoch (UnixNano is undefined outside 1678–2262).
func (i Interval) OnGrid(t time.Time) bool {
	return t.Truncate(i.Duration()).Equal(t)
}

// GridStart is the first bar start at or after t.
func (i Interval) GridStart(t time.Time) time.Time {
	d := i.Duration()
	r := t.UTC().Truncate(d)
	if r.Before(t) {
		r = r.Add(d)
	}
	return r
}

// BarCount is the number of bar starts in [start, end).
func (i Interval) BarCount(start, end time.Time) int {
	first := i.GridStart(start)
	if !first.Before(end) {
		return 0
	}
	// Bars in [first, end): floor((end − 1ns − first) / d) + 1, done in whole
	// seconds plus nanoseconds because time.Duration saturates past 292 years.
	return int(floorSteps(first, end.Add(-time.Nanosecond), i.Duration())) + 1
}

// EstimatedBars is floor((end−start)/interval)+1, the bound CONTRACT §7 checks
// before any SQL. It is exact for any two times, however far apart.
func (i Interval) EstimatedBars(start, end time.Time) int64 {
	return floorSteps(start, end, i.Duration()) + 1
}

// floorSteps is floor((b − a) / d) for a ≤ b and d a whole number of seconds,
// without time.Duration (which saturates at ±292 years).
func floorSteps(a, b time.Time, d time.Duration) int64 {
	secs := b.Unix() - a.Unix()
	if b.Nanosecond() < a.Nanosecond() {
		secs-- // borrow: the remaining fraction is under a second
	}
	return secs / int64(d/time.Second)
}

// CheckOnGrid returns bad_timestamp unless t is a bar start (D13).
func (i Interval) CheckOnGrid(t time.Time) error {
	if !i.OnGrid(t) {
		return Errorf(CodeBadTimestamp, "ts %s is not on the %s grid", t.UTC().Format(time.RFC3339Nano), i).
			WithDetails(map[string]any{"ts": t.UTC().Format(time.RFC3339Nano), "interval_name": string(i),
				"previous_bar": t.UTC().Truncate(i.Duration()).Format(time.RFC3339)})
	}
	return nil
}

// String is the interval's name (5m, 15m, 1h, 4h).
func (i Interval) String() string { return string(i) }

var _ fmt.Stringer = Interval("")
