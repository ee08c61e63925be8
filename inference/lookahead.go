package inference

import (
	"fmt"
	"time"
)

// Look-ahead policies: the service's (INFERENCE_LOOKAHEAD: refuse or mark)
// and a request's ("lookahead": refuse or allow, the caller's own word that
// it means to write look-ahead values; allow writes and marks, as mark does).
const (
	LookaheadRefuse = "refuse"
	LookaheadMark   = "mark"
	LookaheadAllow  = "allow"
)

// Backfill modes (INFERENCE_BACKFILL_MODE, a backfill's "mode").
const (
	ModeModel       = "model"         // the served model scores every bar
	ModePointInTime = "point_in_time" // before honest_from, the artifact's OOF predictions
)

// refuses reports whether a replay asking for policy (empty: the
// service's) refuses look-ahead bars.
func (s *Service) refuses(policy string) bool {
	if policy == "" {
		policy = s.cfg.Lookahead
	}
	return policy == LookaheadRefuse
}

// replayWindow is the bars a replay would write.
type replayWindow struct {
	route       string // "run" or "backfill"
	first       time.Time
	step        time.Duration
	bars        int
	start, end  time.Time // as asked (the error quotes them)
	pointInTime bool      // whether point-in-time mode is offered in next_action
}

// checkLookahead refuses, before anything is read or written, a replay
// whose window holds a bar that is not out of sample for the model —
// unless its policy says to write and mark.
func (s *Service) checkLookahead(r *resolved, w replayWindow, policy string) error {
	if !s.refuses(policy) {
		return nil
	}
	counts := r.vintage.Count(w.first, w.step, w.bars)
	bad := counts.Lookahead()
	if bad == 0 {
		return nil
	}
	s.obs.LookaheadRefused(w.route)
	v := r.vintage
	withOOF := v.LookaheadWithOOF(w.first, w.step, w.bars)
	p := r.lm.Artifact.Payload
	why := "its artifact records no training window, so no bar can be shown to be out of sample"
	if v.Known() {
		why = fmt.Sprintf("its model was fit on %s → %s (%s) and is out of sample only from %s",
			stamp(v.Trained.From), stamp(v.Trained.To), v.describeRule(), stamp(v.HonestFrom))
	}
	what := fmt.Sprintf("%d of %d bars in [%s, %s) are", bad, w.bars, stamp(w.start), stamp(w.end))
	if w.route == "run" {
		what = fmt.Sprintf("the bar %s is %s,", stamp(w.first), v.Class(w.first))
	}
	e := Errorf(CodeLookaheadRefused, "%s refused: %s look-ahead for %s: %s. Nothing was written.", w.route, what, p.Spec.Name, why)
	details := map[string]any{
		"signal_id": r.signal.ID, "model_id": r.model.ID, "artifact_sha256": r.lm.Artifact.SHA, "spec_name": p.Spec.Name,
		"bars_in_window": w.bars, "bars_by_vintage": counts, "bars_with_point_in_time_value": withOOF,
		"vintage": v.Details(),
	}
	if v.Known() {
		details["honest_from"] = stamp(v.HonestFrom)
	}
	return e.WithDetails(details).WithHint(lookaheadHint(v, w, withOOF))
}

// lookaheadHint is what a researcher can do next, in words.
func lookaheadHint(v *Vintage, w replayWindow, withOOF int) string {
	hint := ""
	if v.Known() && v.HonestFrom.Before(w.end) {
		hint = fmt.Sprintf("Start the window at honest_from (%s) for the served model's out-of-sample values. ", stamp(v.HonestFrom))
	}
	if w.route == "run" {
		hint += fmt.Sprintf(`For this bar's point-in-time value, backfill [%s, %s) with "mode": "point_in_time"`,
			stamp(w.first), stamp(w.first.Add(w.step)))
	} else {
		hint += `Or send "mode": "point_in_time": bars before honest_from get the trainer's out-of-fold predictions where the artifact has them`
	}
	hint += fmt.Sprintf(" (%d of the look-ahead bars have one; the rest are skipped).", withOOF)
	return hint + ` "lookahead": "allow" writes the look-ahead values anyway, marked in meta.vintage.`
}

// describeRule names how the vintage was read, for messages.
func (v *Vintage) describeRule() string {
	switch v.Rule {
	case RuleWalkForward:
		return fmt.Sprintf("walk-forward fold %d", v.Fold)
	case RuleHoldout:
		return "80/20 holdout; the split is not stored, so the whole spec window counts"
	case RuleSpecWindow:
		return "the spec window"
	}
	return "model_registry's windows"
}

// Details is the vintage as a refusal's details and the vintage CLI's JSON
// show it.
func (v *Vintage) Details() map[string]any {
	if !v.Known() {
		out := map[string]any{"rule": RuleNone}
		if v != nil && len(v.Notes) > 0 {
			out["notes"] = v.Notes
		}
		return out
	}
	out := map[string]any{"rule": v.Rule, "trained_from": stamp(v.Trained.From), "trained_to": stamp(v.Trained.To),
		"honest_from": stamp(v.HonestFrom)}
	if !v.DataEnd.IsZero() {
		out["data_end"] = stamp(v.DataEnd)
	}
	if v.Validated != nil {
		out["validated_from"], out["validated_to"] = stamp(v.Validated.From), stamp(v.Validated.To)
	}
	if v.Fold >= 0 {
		out["fold"] = v.Fold
	}
	if len(v.Notes) > 0 {
		out["notes"] = v.Notes
	}
	return out
}
