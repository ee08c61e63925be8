package inference

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func day(m, d int) time.Time { return time.Date(2026, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

// walkForwardVintage: fold 1 fit on [01-01, 03-01), tested [03-08, 03-29).
func walkForwardVintage() *Vintage {
	return NewVintage(&Payload{Spec: Spec{TrainStart: day(1, 1), TrainEnd: day(4, 30)}, WalkForward: &WalkForward{Folds: []Fold{
		{Index: 0, TrainStart: day(1, 1).AddDate(0, 0, -21), TrainEnd: day(2, 8), TestStart: day(2, 15), TestEnd: day(3, 8),
			OOFTimes: []time.Time{day(2, 15), day(2, 16)}, OOF: []float64{0.25, 0.75}, OOFWidth: 1},
		{Index: 1, TrainStart: day(1, 1), TrainEnd: day(3, 1), TestStart: day(3, 8), TestEnd: day(3, 29)},
		{Index: 2, TrainStart: day(1, 22), TrainEnd: day(3, 22), TestStart: day(3, 29), TestEnd: day(4, 19), Skipped: "single_class_test_set"},
	}}})
}

func TestWalkForwardVintageSavesTheLastFittedFold(t *testing.T) {
	v := walkForwardVintage()
	assert.Equal(t, RuleWalkForward, v.Rule)
	assert.Equal(t, 1, v.Fold, "fold 2 was skipped: fold 1's estimator is the saved one")
	assert.Equal(t, day(3, 8), v.HonestFrom)
	assert.Equal(t, VintageFuture, v.Class(day(1, 1).Add(-time.Hour)))
	assert.Equal(t, VintageInSample, v.Class(day(2, 28)))
	assert.Equal(t, VintageEmbargo, v.Class(day(3, 1)))
	assert.Equal(t, VintageOutOfSample, v.Class(day(3, 8)))
	assert.True(t, v.InValidated(day(3, 28)))
	assert.False(t, v.InValidated(day(3, 29)), "the skipped fold's window is out of sample, not validated")
	f, out, ok := v.OOFAt(day(2, 16))
	require.True(t, ok)
	assert.Equal(t, 0, f.Index)
	assert.Equal(t, []float64{0.75}, out)
	_, _, ok = v.OOFAt(day(2, 17))
	assert.False(t, ok, "a bar the fold has no prediction for")
	c := v.Count(day(3, 7), time.Hour, 48)
	assert.Equal(t, BarCounts{VintageEmbargo: 24, VintageOutOfSample: 24}, c)
	assert.Equal(t, 24, c.Lookahead())
}

func TestNoWindowsIsUnknownAndLookahead(t *testing.T) {
	v := NewVintage(&Payload{})
	assert.False(t, v.Known())
	assert.Equal(t, VintageUnknown, v.Class(day(1, 1)))
	assert.True(t, VintageUnknown.Lookahead(), "a bar nobody can show to be out of sample is refused by a replay")
	var none *Vintage
	assert.Equal(t, VintageUnknown, none.Class(day(1, 1)))
	assert.Equal(t, 3, barsBefore(none, day(1, 1), time.Hour, 3))
}

// The registry's windows tighten the artifact's, never loosen them, and say so.
func TestRegistryWindowsTakeTheStricterSide(t *testing.T) {
	v := walkForwardVintage()
	assert.Same(t, v, v.WithRegistry(ModelWindows{}), "no registry windows: the artifact's vintage as it is")

	later := v.WithRegistry(ModelWindows{Training: &TimeRange{From: day(1, 15), To: day(3, 15)}})
	assert.Equal(t, day(1, 1), later.Trained.From, "the artifact's earlier start stands")
	assert.Equal(t, day(3, 15), later.Trained.To, "the registry's later end wins")
	assert.Equal(t, day(3, 22), later.HonestFrom, "honest_from moves by the artifact's own 7-day embargo")
	assert.Nil(t, later.Validated, "the fold's test window is no longer all out of sample")
	assert.Len(t, later.Notes, 1)
	assert.Equal(t, day(3, 8), v.HonestFrom, "the artifact's vintage is not changed")

	earlier := v.WithRegistry(ModelWindows{Training: &TimeRange{From: day(1, 1), To: day(2, 1)}, Holdout: &TimeRange{From: day(2, 1), To: day(4, 1)}})
	assert.Equal(t, day(3, 8), earlier.HonestFrom, "a registry that claims less is not believed")
	assert.Len(t, earlier.Notes, 2, "both disagreements are reported: %v", earlier.Notes)

	onlyRegistry := NewVintage(&Payload{}).WithRegistry(ModelWindows{Training: &TimeRange{From: day(1, 1), To: day(2, 1)},
		Validation: &TimeRange{From: day(2, 1), To: day(2, 10)}})
	assert.Equal(t, RuleRegistry, onlyRegistry.Rule)
	assert.Equal(t, day(2, 10), onlyRegistry.Trained.To)
	assert.Equal(t, day(2, 10).Add(SpecEmbargo), onlyRegistry.HonestFrom)
}

func TestBarsBefore(t *testing.T) {
	v := walkForwardVintage()
	assert.Equal(t, 0, barsBefore(v, day(3, 8), time.Hour, 10))
	assert.Equal(t, 24, barsBefore(v, day(3, 7), time.Hour, 100))
	assert.Equal(t, 10, barsBefore(v, day(3, 1), time.Hour, 10))
	assert.Equal(t, 1, barsBefore(v, day(3, 7).Add(23*time.Hour+30*time.Minute), 4*time.Hour, 5), "an off-grid first bar")
}

// BenchmarkClassTwoYears: what classification adds to a two-year backfill
// in the service itself — the refusal check's count and one class per row.
func BenchmarkClassTwoYears(b *testing.B) {
	v := walkForwardVintage()
	first := day(1, 1).AddDate(-1, 0, 0)
	for b.Loop() {
		if c := v.Count(first, time.Hour, 17520); len(c) == 0 {
			b.Fatal("no classes")
		}
		for i := range 17520 {
			_ = v.Class(first.Add(time.Duration(i) * time.Hour))
		}
	}
}
