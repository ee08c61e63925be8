package inference

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// VintageClass is where a bar stands against the model that scores it:
// what meta.vintage says of every row the service writes.
type VintageClass string

// The classes. Only OutOfSample (and OOF, a row written from the trainer's
// own out-of-fold prediction) are honest history; the other three are
// look-ahead: the model was fit on data from the bar's future.
const (
	// VintageFuture: the bar precedes the model's training window; the
	// model learned from bars that came after it.
	VintageFuture VintageClass = "future_vintage"
	// VintageInSample: the bar lies in the model's training window.
	VintageInSample VintageClass = "in_sample"
	// VintageEmbargo: after the training window but before honest_from; the
	// last training labels read forward into it.
	VintageEmbargo VintageClass = "embargo"
	// VintageOutOfSample: from honest_from on.
	VintageOutOfSample VintageClass = "out_of_sample"
	// VintageUnknown: the artifact has no windows to judge by.
	VintageUnknown VintageClass = "unknown"
	// VintageOOF: a point-in-time row, the artifact's out-of-fold
	// prediction for the bar, written as stored.
	VintageOOF VintageClass = "oof"
)

// Lookahead reports whether a row of this class would be a look-ahead value
// (or, for unknown, might be one): what a replay refuses.
func (c VintageClass) Lookahead() bool {
	return c != VintageOutOfSample && c != VintageOOF
}

// VintageClasses lists the classes a model-scored bar can have, in time order.
var VintageClasses = []VintageClass{VintageFuture, VintageInSample, VintageEmbargo, VintageOutOfSample, VintageUnknown}

// The rules by which a vintage was read (README, "Point-in-time honesty").
const (
	RuleWalkForward = "walk_forward"  // the saved fold's own windows
	RuleHoldout     = "holdout_80_20" // the whole spec window, then an embargo
	RuleSpecWindow  = "spec_window"   // as holdout_80_20, for payloads that do not say how they were fit
	RuleRegistry    = "registry"      // only model_registry's windows were known
	RuleNone        = "none"          // nothing to judge by: every bar is unknown
)

// SpecEmbargo follows a spec window whose split point is not stored: the
// trainer's embargo (walk_forward.DEFAULT_EMBARGO_DAYS), which covers the
// forward read of every label it registers.
const SpecEmbargo = 7 * 24 * time.Hour

// Vintage is what a model saw: read once when its artifact loads, then
// tightened per request by the model_registry row's windows. A nil
// *Vintage is an artifact without windows (every bar unknown). It is
// immutable and safe for concurrent use.
type Vintage struct {
	Rule string
	// Trained is the served model's own training window.
	Trained TimeRange
	// DataEnd is the end of all data the trainer used (spec.train_end).
	DataEnd time.Time
	// HonestFrom is the first bar that is out of sample; zero when unknown.
	HonestFrom time.Time
	// Validated is the saved fold's test window, its metrics' window; nil
	// outside walk-forward.
	Validated *TimeRange
	// Fold is the saved fold's number, -1 outside walk-forward.
	Fold int
	// Folds are the payload's walk-forward folds, with their OOF predictions.
	Folds []Fold
	// Notes say what the rule had to decide, and where the registry and the
	// artifact disagree.
	Notes []string
}

// NewVintage reads a payload's vintage (README, "Point-in-time honesty"):
//   - walk-forward: the saved estimator is the last fold that was fit; it
//     trained on [train_start, train_end) and is honest from its test_start
//     (train_end + the embargo), validated on [test_start, test_end);
//   - 80/20, or a spec window alone: the split point is not stored, so the
//     whole spec window counts as in sample and SpecEmbargo follows it;
//   - neither: unknown.
func NewVintage(p *Payload) *Vintage {
	v := &Vintage{Rule: RuleNone, Fold: -1, DataEnd: p.Spec.TrainEnd}
	if wf := p.WalkForward; wf != nil {
		v.Folds = wf.Folds
		if f := savedFold(wf); f != nil && f.HasWindows() {
			v.Rule, v.Fold = RuleWalkForward, f.Index
			v.Trained = TimeRange{From: f.TrainStart, To: f.TrainEnd}
			v.HonestFrom = f.TestStart
			v.Validated = &TimeRange{From: f.TestStart, To: f.TestEnd}
			if v.DataEnd.IsZero() {
				v.DataEnd = wf.Folds[len(wf.Folds)-1].TestEnd
			}
			return v
		} else if f != nil {
			v.Notes = append(v.Notes, fmt.Sprintf("walk_forward's saved fold %d lacks its train/test windows: the spec window is used", f.Index))
		} else {
			v.Notes = append(v.Notes, "walk_forward has no fold that was fit: the spec window is used")
		}
	}
	s := p.Spec
	if s.TrainStart.IsZero() || !s.TrainEnd.After(s.TrainStart) {
		return v
	}
	v.Rule = RuleSpecWindow
	if p.EvalKind == RuleHoldout {
		v.Rule = RuleHoldout
	}
	v.Trained = TimeRange{From: s.TrainStart, To: s.TrainEnd}
	v.HonestFrom = s.TrainEnd.Add(SpecEmbargo)
	return v
}

// savedFold is the fold whose estimator the trainer saved: the last one fit.
func savedFold(wf *WalkForward) *Fold {
	for i := len(wf.Folds) - 1; i >= 0; i-- {
		if wf.Folds[i].Fitted() {
			return &wf.Folds[i]
		}
	}
	return nil
}

// Known reports whether the vintage can class a bar.
func (v *Vintage) Known() bool { return v != nil && !v.HonestFrom.IsZero() }

// Class is the bar at ts against the model.
func (v *Vintage) Class(ts time.Time) VintageClass {
	switch {
	case !v.Known():
		return VintageUnknown
	case !ts.Before(v.HonestFrom):
		return VintageOutOfSample
	case !ts.Before(v.Trained.To):
		return VintageEmbargo
	case !ts.Before(v.Trained.From):
		return VintageInSample
	}
	return VintageFuture
}

// InValidated reports whether ts lies in the saved fold's test window.
func (v *Vintage) InValidated(ts time.Time) bool {
	return v != nil && v.Validated != nil && !ts.Before(v.Validated.From) && ts.Before(v.Validated.To)
}

// OOFAt is the out-of-fold output the artifact stores for the bar at ts,
// and the fold that made it.
func (v *Vintage) OOFAt(ts time.Time) (*Fold, []float64, bool) {
	if v == nil {
		return nil, nil, false
	}
	for i := range v.Folds {
		f := &v.Folds[i]
		if f.HasWindows() && (ts.Before(f.TestStart) || !ts.Before(f.TestEnd)) {
			continue
		}
		if out, ok := f.OOFAt(ts); ok {
			return f, out, true
		}
	}
	return nil, nil, false
}

// OOFPoint is one out-of-fold prediction the artifact stores.
type OOFPoint struct {
	TS  time.Time
	Out []float64
}

// OOFPoints are every fold's out-of-fold predictions, NaN ones left out,
// in time order: drift's baseline and the performance reference read them.
func (v *Vintage) OOFPoints() []OOFPoint {
	if v == nil {
		return nil
	}
	var out []OOFPoint
	for i := range v.Folds {
		f := &v.Folds[i]
	rows:
		for j, ts := range f.OOFTimes {
			row := f.OOF[j*f.OOFWidth : (j+1)*f.OOFWidth]
			for _, x := range row {
				if math.IsNaN(x) {
					continue rows
				}
			}
			out = append(out, OOFPoint{TS: ts, Out: row})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].TS.Before(out[b].TS) })
	return out
}

// LookaheadWithOOF is how many of n bars from first (step apart) are
// look-ahead and have an out-of-fold value: what a point-in-time backfill
// of them would write.
func (v *Vintage) LookaheadWithOOF(first time.Time, step time.Duration, n int) int {
	k := 0
	for i := range n {
		ts := first.Add(time.Duration(i) * step)
		if v.Class(ts).Lookahead() {
			if _, _, ok := v.OOFAt(ts); ok {
				k++
			}
		}
	}
	return k
}

// BarCounts classes n consecutive bars from first, step apart.
type BarCounts map[VintageClass]int

// Count classes the bars first, first+step, … (n of them).
func (v *Vintage) Count(first time.Time, step time.Duration, n int) BarCounts {
	c := BarCounts{}
	for i := range n {
		c[v.Class(first.Add(time.Duration(i)*step))]++
	}
	return c
}

// Lookahead is how many of the counted bars are look-ahead (or unknown).
func (c BarCounts) Lookahead() int {
	n := 0
	for k, m := range c {
		if k.Lookahead() {
			n += m
		}
	}
	return n
}
