package artifact

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/rfkih/blackheart-inference/inference"
)

// decodeWalkForward reads payload["walk_forward"]'s folds: their windows,
// skipped_reason and out-of-fold predictions. It is lenient where the
// trainer's older payloads are thin (a fold without its windows keeps zero
// times, and the vintage rule then falls back to the spec window) and
// strict where a value would be misread: predictions that are not numbers,
// or that do not pair 1:1 with their timestamps, are artifact_corrupt.
func decodeWalkForward(d dictReader) (*inference.WalkForward, error) {
	wf, err := d.dict("walk_forward")
	if err != nil {
		return nil, err
	}
	foldsV, ok := wf.get("folds")
	if !ok {
		return &inference.WalkForward{}, nil
	}
	items := sequence(foldsV)
	out := &inference.WalkForward{Folds: make([]inference.Fold, 0, len(items))}
	for i, it := range items {
		fd, ok := it.(*types.Dict)
		if !ok {
			return nil, corrupt("walk_forward.folds[%d] is a %s, not a dict", i, pyTypeName(it))
		}
		f, err := decodeFold(dictReader{fd, fmt.Sprintf("walk_forward.folds[%d]", i)}, i)
		if err != nil {
			return nil, err
		}
		out.Folds = append(out.Folds, f)
	}
	return out, nil
}

func decodeFold(r dictReader, i int) (inference.Fold, error) {
	f := inference.Fold{Index: i}
	if v, ok := r.get("fold"); ok {
		if k, ok := pyInt(v); ok {
			f.Index = k
		}
	}
	f.TrainStart, f.TrainEnd = r.optTime("train_start"), r.optTime("train_end")
	f.TestStart, f.TestEnd = r.optTime("test_start"), r.optTime("test_end")
	if r.hasValue("skipped_reason") {
		f.Skipped, _ = r.optStr("skipped_reason")
		if f.Skipped == "" {
			f.Skipped = "skipped"
		}
	}
	if !r.hasValue("oof_predictions") {
		return f, nil
	}
	preds, _ := r.get("oof_predictions")
	tsV, _ := r.get("oof_timestamps")
	rows, stamps := sequence(preds), sequence(tsV)
	if len(rows) != len(stamps) {
		return f, corrupt("%s has %d oof_predictions but %d oof_timestamps", r.path, len(rows), len(stamps))
	}
	if len(rows) == 0 {
		return f, nil
	}
	return f, readOOF(r.path, &f, rows, stamps)
}

// readOOF fills f's OOF arrays, ordered by ts.
func readOOF(path string, f *inference.Fold, rows, stamps []any) error {
	width := 1
	if first := sequence(rows[0]); first != nil {
		width = len(first)
	}
	type point struct {
		ts  time.Time
		out []float64
	}
	points := make([]point, len(rows))
	for j, row := range rows {
		ts, ok := pyTime(stamps[j])
		if !ok {
			return corrupt("%s.oof_timestamps[%d] is not an ISO timestamp", path, j)
		}
		vals := []any{row}
		if width > 1 || sequence(row) != nil {
			vals = sequence(row)
		}
		if len(vals) != width {
			return corrupt("%s.oof_predictions[%d] has %d values, the first row %d", path, j, len(vals), width)
		}
		out := make([]float64, width)
		for c, v := range vals {
			x, ok := pyFloat(v)
			if !ok {
				return corrupt("%s.oof_predictions[%d] holds a %s, not a number", path, j, pyTypeName(v))
			}
			out[c] = x
		}
		points[j] = point{ts, out}
	}
	sort.SliceStable(points, func(a, b int) bool { return points[a].ts.Before(points[b].ts) })
	f.OOFWidth, f.OOFTimes, f.OOF = width, make([]time.Time, len(points)), make([]float64, 0, len(points)*width)
	for j, p := range points {
		if j > 0 && p.ts.Equal(points[j-1].ts) {
			return corrupt("%s.oof_timestamps lists %s twice", path, p.ts.Format(time.RFC3339))
		}
		f.OOFTimes[j] = p.ts
		f.OOF = append(f.OOF, p.out...)
	}
	return nil
}

// optTime reads an ISO string or a datetime as UTC; zero when absent or
// unreadable.
func (r dictReader) optTime(key string) time.Time {
	v, _ := r.get(key)
	t, _ := pyTime(v)
	return t
}

// isoLayouts are what Python's isoformat() writes: naive (the trainer's
// naive UTC) or with an offset, with or without microseconds.
var isoLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"}

// pyTime reads a datetime or an ISO string as UTC (naive is UTC).
func pyTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case PyDatetime:
		return x.Time.UTC(), true
	case string:
		for _, l := range isoLayouts {
			if t, err := time.ParseInLocation(l, x, time.UTC); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// pyFloat accepts a Python float or int and numpy floating scalars.
func pyFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case NumpyScalar:
		f, err := x.Float64()
		return f, err == nil
	case nil:
		return math.NaN(), true // the trainer skips a None prediction; so does OOFAt
	}
	if n, ok := pyInt(v); ok {
		return float64(n), true
	}
	return 0, false
}

// optFloats reads a dict of numbers; entries that are not numbers (or a
// value that is not a dict) are left out.
func (r dictReader) optFloats(key string) map[string]float64 {
	v, _ := r.get(key)
	d, ok := v.(*types.Dict)
	if !ok {
		return nil
	}
	out := map[string]float64{}
	for _, e := range *d {
		k, ok := e.Key.(string)
		if !ok || e.Value == nil {
			continue
		}
		if x, ok := pyFloat(e.Value); ok {
			out[k] = x
		}
	}
	return out
}
