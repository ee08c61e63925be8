package artifact_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// TestVintageOfTrainedOnACalendar reads the vintage of every golden model
// the generator trained by the trainer's own rules (walk-forward folds from
// generate_folds, a skipped final fold, the 80/20 path) and holds it to
// what the generator recorded it did: the saved fold, its training window,
// honest_from and the validated test window. Then it classes a bar on each
// side of every boundary.
func TestVintageOfTrainedOnACalendar(t *testing.T) {
	store := inferencetest.Store()
	seen := 0
	for _, c := range inferencetest.Cases(t) {
		if c.Vintage == nil {
			continue
		}
		seen++
		t.Run(c.Name, func(t *testing.T) {
			art, err := store.Load(context.Background(), c.SHA)
			require.NoError(t, err)
			v, want := art.Vintage, c.Vintage
			require.True(t, v.Known(), "vintage read")
			iso := func(s string) time.Time { return inferencetest.ISO(t, s) }
			assert.Equal(t, want.Rule, v.Rule)
			assert.Equal(t, iso(want.TrainStart), v.Trained.From, "training window start")
			assert.Equal(t, iso(want.TrainEnd), v.Trained.To, "training window end")
			assert.Equal(t, iso(want.HonestFrom), v.HonestFrom, "honest_from")
			assert.Equal(t, iso(want.DataEnd), v.DataEnd, "data end")
			if want.Fold != nil {
				assert.Equal(t, *want.Fold, v.Fold)
				require.NotNil(t, v.Validated)
				assert.Equal(t, iso(*want.ValidatedFrom), v.Validated.From)
				assert.Equal(t, iso(*want.ValidatedTo), v.Validated.To)
			} else {
				assert.Equal(t, -1, v.Fold)
				assert.Nil(t, v.Validated)
			}
			h := time.Hour
			for _, tc := range []struct {
				ts   time.Time
				want inference.VintageClass
			}{
				{v.Trained.From.Add(-h), inference.VintageFuture},
				{v.Trained.From, inference.VintageInSample},
				{v.Trained.To.Add(-h), inference.VintageInSample},
				{v.Trained.To, inference.VintageEmbargo},
				{v.HonestFrom.Add(-h), inference.VintageEmbargo},
				{v.HonestFrom, inference.VintageOutOfSample},
				{v.DataEnd.Add(400 * 24 * h), inference.VintageOutOfSample},
			} {
				assert.Equal(t, tc.want, v.Class(tc.ts), "class of %s", tc.ts)
			}
			if v.Validated != nil {
				assert.True(t, v.InValidated(v.Validated.From))
				assert.False(t, v.InValidated(v.Validated.To))
			}
			checkOOF(t, c, v)
		})
	}
	assert.Equal(t, 3, seen, "the calendar-trained golden cases")
}

// checkOOF: every stored OOF row is found at its bar, and the bars of the
// point-in-time window before honest_from find exactly the generator's
// value and fold.
func checkOOF(t *testing.T, c inferencetest.Case, v *inference.Vintage) {
	n := 0
	for _, f := range v.Folds {
		n += len(f.OOFTimes)
		if !f.Fitted() {
			assert.Empty(t, f.OOFTimes, "a skipped fold stores no OOF predictions")
		}
	}
	assert.Equal(t, c.OOFRows, n, "OOF rows read")
	for _, b := range c.PIT {
		if b.Kind != "oof" {
			continue
		}
		f, out, ok := v.OOFAt(b.TS)
		require.True(t, ok, "OOF at %s", b.TS)
		assert.Equal(t, b.Fold, f.Index)
		require.Len(t, out, len(b.Expected))
		for i := range out {
			assert.Equal(t, math.Float64bits(b.Expected[i]), math.Float64bits(out[i]), "OOF bits at %s", b.TS)
		}
	}
}

// TestVintageOfOlderPayloads: payloads with no walk-forward windows fall
// back to the spec window (the whole window in sample, SpecEmbargo after),
// and say why when walk_forward was there but thin.
func TestVintageOfOlderPayloads(t *testing.T) {
	store := inferencetest.Store()
	for _, name := range []string{"binary", "sklearn_classifier", "wf_skipped_last_fold", "v1_binary"} {
		t.Run(name, func(t *testing.T) {
			c := inferencetest.CaseNamed(t, name)
			art, err := store.Load(context.Background(), c.SHA)
			require.NoError(t, err)
			v, spec := art.Vintage, art.Payload.Spec
			require.True(t, v.Known())
			assert.Contains(t, []string{inference.RuleHoldout, inference.RuleSpecWindow}, v.Rule)
			assert.Equal(t, inference.TimeRange{From: spec.TrainStart, To: spec.TrainEnd}, v.Trained)
			assert.Equal(t, spec.TrainEnd.Add(inference.SpecEmbargo), v.HonestFrom)
			if art.Payload.WalkForward != nil {
				assert.NotEmpty(t, v.Notes, "the fallback is reported")
			}
		})
	}
}
