package inference

import (
	"fmt"
	"time"
)

// A drift pass (and the realized-performance pass beside it: the model's
// out-of-fold reference) computes once what signals on one model share: every input's
// comparison against the model's training window and the predictions'
// baseline depend only on the model (its artifact, symbol and interval)
// and the windows, never on the signal; only each signal's own live
// signal_history values differ. A thousand signals on one model read the
// two-year training window once, not a thousand times.

// driftWindows are the windows one signal's drift compares.
type driftWindows struct {
	live, base, pred       TimeRange
	baseSource, predSource string
	oof                    bool // the predictions' baseline is the artifact's OOF predictions
}

func (w driftWindows) key(sha, symbol string, interval Interval) string {
	return fmt.Sprintf("%s|%s|%s|%s|%v|%s|%v|%v|%v", sha, symbol, interval, w.baseSource, w.base, w.predSource, w.pred, w.live, w.oof)
}

// modelDrift is the model's side of a drift report.
type modelDrift struct {
	live, base, pred DriftWindow
	features         []FeatureDrift // by PSI, descending
	predicted        []float64      // the prediction baseline's values (nil with OOF predictions)
	inSample         bool
}

// driftInputs is the input side of a model's drift: the windows' vectors
// and every input's comparison. It depends on the model's feature plan, not
// its artifact (plus the symbol, interval and windows), so distinct models
// built on one plan — a fleet retrained per signal on the same inputs —
// share it, and each computes only its own predictions' baseline.
type driftInputs struct {
	live, base, pred *driftSample
	features         []FeatureDrift // by PSI, descending
}

// driftShared is what one pass (or one report computed alone) reuses: the
// pass takes the signals model by model, so the latest model computation,
// input side and performance reference are all it needs, and a pass over a
// thousand models holds one input side's vectors at a time, never all. Not
// safe for concurrent use (a pass computes one signal at a time).
type driftShared struct {
	now    time.Time // every signal's live window ends here
	model  latest[modelDrift]
	inputs latest[driftInputs]
	ref    latest[modelReference] // the realized-performance pass's model side
}

// latest is the most recent computation of one kind, under its key.
type latest[T any] struct {
	key   string
	v     *T
	built int // computations kept (the rest were shared)
}

func (l *latest[T]) get(key string) *T {
	if l.v == nil || l.key != key {
		return nil
	}
	return l.v
}

func (l *latest[T]) keep(key string, v *T) {
	l.key, l.v = key, v
	l.built++
}

// modelReference is a model's side of a performance report: its OOF
// predictions joined to their labels, and that side's metrics and
// bootstrap interval.
type modelReference struct {
	sample sample
	side   PerformanceSide
}

func newDriftShared(now time.Time) *driftShared {
	return &driftShared{now: now.UTC().Truncate(time.Microsecond)}
}
