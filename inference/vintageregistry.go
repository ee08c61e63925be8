package inference

import (
	"fmt"
	"time"
)

// WithRegistry is v checked against a model_registry row's windows. Where
// the two disagree the stricter wins — the one that classes more bars as
// not out of sample — and the disagreement is noted, never picked
// silently:
//   - the training and validation windows are data the model was fit or
//     stopped on: the training window widens to cover them both, and
//     honest_from moves to their end plus the artifact's own embargo (its
//     honest_from − train_end; SpecEmbargo when it has none);
//   - a holdout window is taken as out of sample only from honest_from on.
//
// A registry with no windows (no component writes them today) returns v
// itself.
func (v *Vintage) WithRegistry(w ModelWindows) *Vintage {
	if w.Training == nil && w.Validation == nil && w.Holdout == nil {
		return v
	}
	m := Vintage{Rule: RuleRegistry, Fold: -1}
	if v != nil {
		m = *v
		m.Notes = append([]string(nil), v.Notes...)
	}
	if !m.Known() {
		m.Rule = RuleRegistry
	}
	embargo := SpecEmbargo
	if v.Known() && !v.Trained.To.IsZero() {
		embargo = v.HonestFrom.Sub(v.Trained.To)
	}
	for _, rw := range []struct {
		name string
		r    *TimeRange
	}{{"training_window", w.Training}, {"validation_window", w.Validation}} {
		if rw.r != nil {
			m.widen(rw.name, *rw.r, embargo)
		}
	}
	if w.Holdout != nil && m.Known() && w.Holdout.From.Before(m.HonestFrom) {
		m.Notes = append(m.Notes, fmt.Sprintf("registry holdout_window starts at %s, before honest_from %s: its bars before honest_from are not out of sample",
			stamp(w.Holdout.From), stamp(m.HonestFrom)))
	}
	return &m
}

// widen makes r part of the data the model saw.
func (m *Vintage) widen(name string, r TimeRange, embargo time.Duration) {
	if m.Rule == RuleRegistry && m.Trained.To.IsZero() {
		m.Trained = r
		m.HonestFrom = r.To.Add(embargo)
		m.Notes = append(m.Notes, fmt.Sprintf("the artifact has no windows: registry %s %s → %s is used", name, stamp(r.From), stamp(r.To)))
		return
	}
	if r.From.Before(m.Trained.From) {
		m.Notes = append(m.Notes, fmt.Sprintf("registry %s starts at %s, before the artifact's training window (%s): the registry's start is used",
			name, stamp(r.From), stamp(m.Trained.From)))
		m.Trained.From = r.From
	}
	if r.To.After(m.Trained.To) {
		m.Notes = append(m.Notes, fmt.Sprintf("registry %s ends at %s, after the artifact's training window (%s): the registry's end is used",
			name, stamp(r.To), stamp(m.Trained.To)))
		m.Trained.To = r.To
	} else if name == "training_window" && r.To.Before(m.Trained.To) {
		m.Notes = append(m.Notes, fmt.Sprintf("registry training_window ends at %s, before the artifact's (%s): the artifact's end is used",
			stamp(r.To), stamp(m.Trained.To)))
	}
	if h := m.Trained.To.Add(embargo); h.After(m.HonestFrom) {
		m.HonestFrom = h
		if m.Validated != nil && m.Validated.From.Before(h) {
			m.Validated = nil
		}
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
