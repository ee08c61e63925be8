package inference

import (
	"context"
	"fmt"
	"time"
)

// Realized-performance report bounds and rules (README, "Operating it").
const (
	DefaultPerformanceDays = 90
	MinPerformanceDays     = 7
	MaxPerformanceDays     = 730
	// MinEffectiveN: fewer independent bars than this cannot tell skill
	// from luck; the report is INSUFFICIENT.
	MinEffectiveN = 30
	// BootstrapResamples per interval.
	BootstrapResamples = 500
	// MinReferenceChunks of the live window's length in the OOF history
	// make the reference band NannyML's mean ± 3σ of their metrics.
	MinReferenceChunks = 6
)

// PerformanceVerdict is a report's one-word answer.
type PerformanceVerdict string

// The verdicts.
const (
	PerfOK           PerformanceVerdict = "OK"
	PerfNoSkill      PerformanceVerdict = "NO_SKILL"
	PerfDegraded     PerformanceVerdict = "DEGRADED"
	PerfInsufficient PerformanceVerdict = "INSUFFICIENT"
)

// Where a report's sides come from.
const (
	PerformanceLive      = "signal_history"
	PerformanceReference = WindowOOF
)

// RealizedRow is a signal_history row with its label's value (nil: the
// label has not matured).
type RealizedRow struct {
	TS                      time.Time
	Value                   float64
	Proba                   []float64 // multiclass meta.proba; nil otherwise
	Vintage, SHA, SourceRun string
	Label                   *float64
}

// PerformanceRequest asks for one signal's realized performance over its
// last WindowDays.
type PerformanceRequest struct {
	SignalID   string
	WindowDays int
}

// PerformanceSide is one side of a report: the live rows, or the model's
// own out-of-fold history.
type PerformanceSide struct {
	Source       string
	Metrics      Metrics
	Primary      string   // auc, macro_auc or pearson
	PrimaryValue *float64 // nil when undefined on the side
	EffectiveN   float64
	Interval     *Bounds // the primary metric's block-bootstrap interval; nil when undefined
}

// RowCounts say what became of the window's rows.
type RowCounts struct {
	Total          int // rows in the window
	OtherArtifact  int // written by another artifact than the signal's current one
	NotOutOfSample int // not out of sample for the model that wrote them
	NoProba        int // multiclass rows without meta.proba
	Pending        int // label not matured yet: never counted as wrong
	Scored         int
}

// PerformanceReport is a signal's realized performance.
type PerformanceReport struct {
	SignalID, SignalName, ModelID, ArtifactSHA256, Symbol, Objective string
	Interval                                                         Interval
	Label                                                            FeatureRef
	HorizonBars                                                      int
	WindowDays                                                       int
	Window                                                           TimeRange
	Rows                                                             RowCounts
	Live, Reference                                                  PerformanceSide
	LastFoldMetrics                                                  map[string]float64
	Verdict                                                          PerformanceVerdict
	Reason                                                           string
	// ReferenceBand is how the reference's lower bound was set: the
	// bootstrap over the OOF history, NannyML's chunk band, or none.
	ReferenceBand    string
	ReferenceBandLow *float64
	ComputedAt       time.Time
}

// sample is the bars one side scores: values (binary P(1), regression) or
// flat probability rows (multiclass), labels, in time order.
type sample struct {
	values, labels []float64
}

// SignalPerformance is the signal's realized performance over the last
// WindowDays: its own rows that are out of sample for the model that wrote
// them (and written by its current artifact), against their matured labels
// at the model's serving interval, beside the same metrics over the
// model's out-of-fold history, with block-bootstrap intervals and a verdict.
func (s *Service) SignalPerformance(ctx context.Context, req PerformanceRequest) (*PerformanceReport, error) {
	return s.signalPerformance(ctx, req, newDriftShared(s.now()))
}

// signalPerformance is SignalPerformance within a pass: the model's side
// (its label's presence, its out-of-fold reference and that side's
// metrics and bootstrap) is taken from sh when sh holds it for this model,
// and kept there otherwise (a report computed alone brings one of its own).
func (s *Service) signalPerformance(ctx context.Context, req PerformanceRequest, sh *driftShared) (*PerformanceReport, error) {
	sig, model, err := s.store.Resolve(ctx, req.SignalID)
	if err != nil {
		return nil, err
	}
	if model.ArtifactSHA256 == "" {
		return nil, Errorf(CodeModelArtifactMissing, "model %s has no artifact_sha256", model.ID).WithDetails(map[string]any{"model_id": model.ID})
	}
	lm, release, err := s.cache.Acquire(ctx, model.ArtifactSHA256)
	if err != nil {
		return nil, err
	}
	defer release()
	p, v := lm.Artifact.Payload, s.vintageOf(lm.Artifact, model)
	rep := &PerformanceReport{SignalID: sig.ID, SignalName: sig.Name, ModelID: model.ID, ArtifactSHA256: lm.Artifact.SHA,
		Symbol: model.Symbol, Interval: model.Serving(), Objective: p.Objective, Label: FeatureRef{Name: p.LabelFeature, Version: p.LabelVersion},
		HorizonBars: max(model.HorizonBars, 1), WindowDays: req.WindowDays, LastFoldMetrics: p.LastFoldMetrics}
	key := rep.modelKey()
	ref := sh.ref.get(key)
	if ref == nil {
		if err := s.checkLabel(ctx, rep); err != nil {
			return nil, err
		}
		smp, err := s.oofSample(ctx, rep, v)
		if err != nil {
			return nil, err
		}
		ref = &modelReference{sample: smp, side: rep.side(PerformanceReference, smp)}
		sh.ref.keep(key, ref)
	}
	now := sh.now
	rep.Window = TimeRange{From: now.Add(-time.Duration(req.WindowDays) * 24 * time.Hour), To: now}
	rows, err := s.store.RealizedRows(ctx, sig.ID, model.Symbol, rep.Label, string(rep.Interval), rep.Window.From, rep.Window.To)
	if err != nil {
		return nil, err
	}
	rep.Live = rep.side(PerformanceLive, rep.liveSample(rows, v))
	rep.Reference = ref.side
	rep.judge(ref.sample, rep.Interval.BarCount(rep.Window.From, rep.Window.To))
	rep.ComputedAt = now
	return rep, nil
}

// modelKey is what the reference side depends on: the artifact (its OOF
// predictions), where it serves, its label, objective and horizon.
func (rep *PerformanceReport) modelKey() string {
	return fmt.Sprintf("%s|%s|%s|%s|%d|%s|%d", rep.ArtifactSHA256, rep.Symbol, rep.Interval, rep.Label.Name, rep.Label.Version,
		rep.Objective, rep.HorizonBars)
}

// checkLabel refuses a model whose label feature_values never holds (the
// trainer's derived labels never reach it).
func (s *Service) checkLabel(ctx context.Context, rep *PerformanceReport) error {
	ok, err := s.store.LabelExists(ctx, rep.Label)
	if err != nil || ok {
		return err
	}
	return Errorf(CodeLabelNotAvailable, "model %s's label %s v%d is not in feature_values: its realized performance cannot be measured",
		rep.ModelID, rep.Label.Name, rep.Label.Version).
		WithDetails(map[string]any{"model_id": rep.ModelID, "label_feature": rep.Label.Name, "label_version": rep.Label.Version}).
		WithHint("labels the trainer derives at training time never reach feature_values; register the label with the ingest compute engine")
}

// liveSample keeps the window's rows that count: the current artifact's,
// out of sample for it (meta.vintage, or, for rows older than the field,
// their bar against the model's vintage; the trainer's oof_backfill rows
// are out of fold), with a matured label.
func (rep *PerformanceReport) liveSample(rows []RealizedRow, v *Vintage) sample {
	var out sample
	rep.Rows.Total = len(rows)
	for _, r := range rows {
		class := VintageClass(r.Vintage)
		if r.SourceRun == "oof_backfill" {
			class = VintageOOF
		} else if class == "" {
			class = v.Class(r.TS)
		}
		switch {
		case r.SHA != rep.ArtifactSHA256:
			rep.Rows.OtherArtifact++
		case class.Lookahead():
			rep.Rows.NotOutOfSample++
		case rep.Objective == ObjectiveMulticlass && len(r.Proba) != 3:
			rep.Rows.NoProba++
		case r.Label == nil:
			rep.Rows.Pending++
		default:
			rep.Rows.Scored++
			if rep.Objective == ObjectiveMulticlass {
				out.values = append(out.values, r.Proba...)
			} else {
				out.values = append(out.values, r.Value)
			}
			out.labels = append(out.labels, *r.Label)
		}
	}
	return out
}

// oofSample is the artifact's out-of-fold predictions joined to the same
// label at the same symbol and interval, in time order.
func (s *Service) oofSample(ctx context.Context, rep *PerformanceReport, v *Vintage) (sample, error) {
	pts := v.OOFPoints()
	var out sample
	if len(pts) == 0 {
		return out, nil
	}
	labels := map[time.Time]float64{}
	err := s.store.WindowValues(ctx, []FeatureRef{rep.Label}, rep.Symbol, string(rep.Interval), pts[0].TS,
		pts[len(pts)-1].TS.Add(rep.Interval.Duration()), func(_ int, ts time.Time, value float64) { labels[ts.UTC()] = value })
	if err != nil {
		return out, err
	}
	for _, p := range pts {
		y, ok := labels[p.TS]
		if !ok {
			continue
		}
		switch {
		case rep.Objective == ObjectiveMulticlass && len(p.Out) == 3:
			out.values = append(out.values, p.Out...)
		case len(p.Out) == 2: // an ensemble's [P(0), P(1)]
			out.values = append(out.values, p.Out[1])
		case len(p.Out) == 1:
			out.values = append(out.values, p.Out[0])
		default:
			continue
		}
		out.labels = append(out.labels, y)
	}
	return out, nil
}

// chance is the primary metric's no-skill value.
func chance(primary string) float64 {
	if primary == "pearson" {
		return 0
	}
	return 0.5
}

// judge sets the verdict (README, "Operating it"): INSUFFICIENT when the
// live side cannot tell (the primary metric undefined, or fewer than
// MinEffectiveN independent bars), NO_SKILL when its interval reaches
// chance (the window cannot show the model beats a coin), DEGRADED when it
// lies wholly below the reference's band, else OK.
func (rep *PerformanceReport) judge(ref sample, windowBars int) {
	live, primary := rep.Live, rep.Live.Primary
	rep.ReferenceBand = "none"
	if low, band := rep.referenceLow(ref, windowBars); low != nil {
		rep.ReferenceBand, rep.ReferenceBandLow = band, low
	}
	switch {
	case live.PrimaryValue == nil || live.Interval == nil:
		rep.Verdict = PerfInsufficient
		rep.Reason = fmt.Sprintf("%s is undefined on the %d scored bars (%s)", primary, rep.Rows.Scored, live.Metrics.Undefined[primary])
	case live.EffectiveN < MinEffectiveN:
		rep.Verdict = PerfInsufficient
		rep.Reason = fmt.Sprintf("%d scored bars of a %d-bar label are worth %.1f independent ones; at least %d are needed",
			rep.Rows.Scored, rep.HorizonBars, live.EffectiveN, MinEffectiveN)
	case live.Interval.Lo <= chance(primary):
		rep.Verdict = PerfNoSkill
		rep.Reason = fmt.Sprintf("%s's interval [%.4f, %.4f] reaches chance (%g): the window shows no skill",
			primary, live.Interval.Lo, live.Interval.Hi, chance(primary))
	case rep.ReferenceBandLow != nil && live.Interval.Hi < *rep.ReferenceBandLow:
		rep.Verdict = PerfDegraded
		rep.Reason = fmt.Sprintf("%s's interval [%.4f, %.4f] lies wholly below the out-of-fold reference's lower bound %.4f (%s)",
			primary, live.Interval.Lo, live.Interval.Hi, *rep.ReferenceBandLow, rep.ReferenceBand)
	default:
		rep.Verdict = PerfOK
		rep.Reason = fmt.Sprintf("%s %.4f, interval [%.4f, %.4f]", primary, *live.PrimaryValue, live.Interval.Lo, live.Interval.Hi)
	}
}
