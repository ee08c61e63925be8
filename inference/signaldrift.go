package inference

import (
	"context"
	"time"
)

// maxDriftBars bounds each window a per-signal drift computation reads: a
// longer window is cut to its most recent maxDriftBars bars (the report
// says so), which keeps one computation's memory and time bounded.
const maxDriftBars = 20000

// Where a per-signal baseline came from.
const (
	WindowTraining       = "model_registry.training_window"
	WindowValidation     = "model_registry.validation_window"
	WindowHoldout        = "model_registry.holdout_window"
	WindowSpecTrain      = "payload.spec.train_start/train_end"
	WindowOOF            = "payload.walk_forward.oof_predictions"
	WindowNone           = "none"
	predictionFeatureKey = "prediction"
)

// SignalDriftRequest asks for one signal's drift over its last LiveDays.
type SignalDriftRequest struct {
	SignalID string
	LiveDays int // 1..90
}

// DriftWindow is one window of bars a per-signal comparison read.
type DriftWindow struct {
	Source string // WindowTraining, …; WindowNone when the model has none
	TimeRange
	Bars      int  // grid bars in the window that were read
	Vectors   int  // of those, bars whose every input was present
	Truncated bool // the window was longer than maxDriftBars bars: its most recent ones were read
}

// SignalDriftReport is a signal's drift: each model input as the model
// receives it, against the model's training window, and its predictions
// against its own out-of-sample predictions.
type SignalDriftReport struct {
	SignalID, SignalName, ModelID, ArtifactSHA256, Symbol string
	Interval                                              Interval
	LiveDays                                              int
	Live, Baseline, PredictionBaseline                    DriftWindow
	// PredictionBaselineInSample: the predictions' baseline is not out of
	// sample for the model (no OOF predictions, and a fallback window before
	// honest_from), so in-sample fit can read as drift.
	PredictionBaselineInSample bool
	// LivePredictions is how many signal_history values the live window holds.
	LivePredictions int
	// DriftSummary counts the inputs and the prediction together.
	DriftSummary
	Features   []FeatureDrift // by PSI, descending
	Prediction FeatureDrift
	ComputedAt time.Time
}

// Worst is the report's worst verdict: DRIFT over WARN over OK, and
// INSUFFICIENT only when nothing could be judged.
func (r *SignalDriftReport) Worst() Verdict {
	switch {
	case r.DriftCount > 0:
		return VerdictDrift
	case r.WarnCount > 0:
		return VerdictWarn
	case r.InsufficientCount == len(r.Features)+1:
		return VerdictInsufficient
	}
	return VerdictOK
}

// SignalDrift compares a signal's live window, [now − live_days, now), with
// the model's own baselines, by the sidecar's PSI rule:
//   - each input, resolved exactly as serving resolves it (the payload's
//     versions, globals as-of under their cap), over the bars whose every
//     input is present — the vectors the model really receives — against
//     the same over the training window (model_registry.training_window,
//     else the payload spec's train_start/train_end); interval_indicator is
//     left out;
//   - the live window's signal_history values against the model's own
//     out-of-fold predictions where the artifact stores them (through D8,
//     as rows are written); else against its predictions, computed in
//     memory and never written, over its holdout window, else its
//     validation window, else its training window, which the report then
//     calls in sample unless the window starts at honest_from or later.
func (s *Service) SignalDrift(ctx context.Context, req SignalDriftRequest) (*SignalDriftReport, error) {
	return s.signalDrift(ctx, req, newDriftShared(s.now()))
}

// signalDrift is SignalDrift within a pass: what sh already holds for the
// signal's model and windows is reused, what it computes is kept there
// (a report computed alone brings one of its own).
func (s *Service) signalDrift(ctx context.Context, req SignalDriftRequest, sh *driftShared) (*SignalDriftReport, error) {
	sig, model, err := s.store.Resolve(ctx, req.SignalID)
	if err != nil {
		return nil, err
	}
	interval := model.Serving() // the signal is judged where its model serves
	r, err := s.resolveRecords(ctx, sig, model, model.Symbol, interval)
	if err != nil {
		return nil, err
	}
	defer r.release()
	now := sh.now
	rep := &SignalDriftReport{
		SignalID: r.signal.ID, SignalName: r.signal.Name, ModelID: model.ID, ArtifactSHA256: r.lm.Artifact.SHA,
		Symbol: model.Symbol, Interval: interval, LiveDays: req.LiveDays,
	}
	w := driftWindows{live: TimeRange{From: now.Add(-time.Duration(req.LiveDays) * 24 * time.Hour), To: now}}
	w.baseSource, w.base = trainingWindow(model.Windows, r.lm.Artifact.Payload)
	w.predSource, w.pred = predictionWindow(model.Windows, w.baseSource, w.base)
	oof, oofWindow, err := oofBaseline(r, interval)
	if err != nil {
		return nil, err
	}
	w.oof = oof != nil
	key := w.key(r.lm.Artifact.SHA, model.Symbol, interval)
	md := sh.model.get(key)
	var values []float64
	if md != nil {
		values, err = s.store.SignalValues(ctx, r.signal.ID, r.model.Symbol, w.live.From, w.live.To)
	} else if md, values, err = s.modelDrift(ctx, r, w, sh); err == nil {
		sh.model.keep(key, md)
	}
	if err != nil {
		return nil, err
	}
	rep.Live, rep.Baseline, rep.PredictionBaseline = md.live, md.base, md.pred
	rep.Features = append([]FeatureDrift(nil), md.features...)
	predicted := oof
	if oof != nil {
		rep.PredictionBaseline = oofWindow
	} else {
		predicted, rep.PredictionBaselineInSample = md.predicted, md.inSample
	}
	rep.LivePredictions = len(values)
	rep.Prediction = featureDrift(predictionFeatureKey, predicted, values)
	rep.DriftSummary = summarize(append(append([]FeatureDrift(nil), rep.Features...), rep.Prediction))
	rep.ComputedAt = now
	return rep, nil
}

// modelDrift compares every input over the model's windows — or takes
// that from sh when a model on the same feature plan just did — and
// computes the predictions' baseline unless the model has OOF predictions;
// values are the signal's live signal_history values, read beside them.
func (s *Service) modelDrift(ctx context.Context, r *resolved, w driftWindows, sh *driftShared) (*modelDrift, []float64, error) {
	inKey := w.key("plan "+r.plan.signature(), r.model.Symbol, r.model.Serving())
	in := sh.inputs.get(inKey)
	var values []float64
	var err error
	if in != nil {
		values, err = s.store.SignalValues(ctx, r.signal.ID, r.model.Symbol, w.live.From, w.live.To)
	} else {
		in, values, err = s.driftInputs(ctx, r, w)
		if err == nil {
			sh.inputs.keep(inKey, in)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	md := &modelDrift{live: in.live.window, base: in.base.window, pred: in.pred.window, features: in.features}
	if !w.oof {
		if md.predicted, err = s.predictValues(ctx, r, in.pred); err != nil {
			return nil, nil, err
		}
		md.inSample = !r.vintage.Known() || w.pred.From.Before(r.vintage.HonestFrom)
	}
	return md, values, nil
}

// driftInputs reads the model's windows (the predictions' own window too
// unless the model has OOF predictions) and compares every input.
func (s *Service) driftInputs(ctx context.Context, r *resolved, w driftWindows) (*driftInputs, []float64, error) {
	reads := []driftRead{{source: "live", rng: w.live}, {source: w.baseSource, rng: w.base}}
	if !w.oof && (w.predSource != w.baseSource || w.pred != w.base) {
		reads = append(reads, driftRead{source: w.predSource, rng: w.pred})
	}
	values, err := s.readDrift(ctx, r, reads, w.live)
	if err != nil {
		return nil, nil, err
	}
	in := &driftInputs{live: reads[0].sample, base: reads[1].sample, pred: reads[len(reads)-1].sample}
	for c, name := range r.plan.columns {
		if r.plan.kinds[c] == colIndicator {
			continue
		}
		in.features = append(in.features, featureDrift(name, in.base.column(c), in.live.column(c)))
	}
	sortByPSI(in.features)
	return in, values, nil
}

// driftRead is one window to read and, once read, its vectors.
type driftRead struct {
	source string
	rng    TimeRange
	sample *driftSample
}

// readDrift reads every window's vectors, chunk by chunk in parallel, and
// the live window's signal_history values beside them.
func (s *Service) readDrift(ctx context.Context, r *resolved, reads []driftRead, live TimeRange) ([]float64, error) {
	var chunks []*driftChunk
	for i := range reads {
		var c []*driftChunk
		reads[i].sample, c = s.newDriftSample(r, reads[i].source, reads[i].rng)
		chunks = append(chunks, c...)
	}
	var values []float64
	var valuesErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		values, valuesErr = s.store.SignalValues(ctx, r.signal.ID, r.model.Symbol, live.From, live.To)
	}()
	err := s.readDriftChunks(ctx, r, chunks)
	<-done
	if err != nil {
		return nil, err
	}
	return values, valuesErr
}

// predictValues is the value each ready bar of the sample would be written
// with (D8, signalValue), computed in memory.
func (s *Service) predictValues(ctx context.Context, r *resolved, sample *driftSample) ([]float64, error) {
	if len(sample.bars) == 0 {
		return nil, nil
	}
	out, err := r.lm.Model.PredictBatch(ctx, sample.rows, false)
	if err != nil {
		return nil, err
	}
	width := r.lm.Model.NumOutputs()
	values := make([]float64, len(sample.bars))
	for i := range sample.bars {
		v, err := signalValue(r.lm.Artifact.Payload.Objective, out[i*width:(i+1)*width])
		if err != nil {
			return nil, err
		}
		values[i] = v.value
	}
	return values, nil
}

// trainingWindow is the features' baseline: model_registry.training_window,
// else the payload spec's train_start/train_end.
func trainingWindow(w ModelWindows, p *Payload) (string, TimeRange) {
	if w.Training != nil {
		return WindowTraining, *w.Training
	}
	if !p.Spec.TrainStart.IsZero() && p.Spec.TrainEnd.After(p.Spec.TrainStart) {
		return WindowSpecTrain, TimeRange{From: p.Spec.TrainStart.UTC(), To: p.Spec.TrainEnd.UTC()}
	}
	return WindowNone, TimeRange{}
}

// predictionWindow is the predictions' baseline: out of sample where the
// registry says where that is (in-sample predictions would look drifted by
// construction), else the training window.
func predictionWindow(w ModelWindows, trainingSource string, training TimeRange) (string, TimeRange) {
	switch {
	case w.Holdout != nil:
		return WindowHoldout, *w.Holdout
	case w.Validation != nil:
		return WindowValidation, *w.Validation
	}
	return trainingSource, training
}

// oofBaseline is the artifact's out-of-fold predictions as the values
// they would be written as (D8), and the window they span; nil when the
// artifact stores none.
func oofBaseline(r *resolved, interval Interval) ([]float64, DriftWindow, error) {
	w := DriftWindow{Source: WindowOOF}
	pts := r.vintage.OOFPoints()
	if len(pts) == 0 {
		return nil, w, nil
	}
	values := make([]float64, len(pts))
	for i, p := range pts {
		v, err := signalValue(r.lm.Artifact.Payload.Objective, p.Out)
		if err != nil {
			return nil, w, err
		}
		values[i] = v.value
	}
	w.From, w.To = pts[0].TS, pts[len(pts)-1].TS.Add(interval.Duration())
	w.Bars, w.Vectors = len(values), len(values)
	return values, w, nil
}
