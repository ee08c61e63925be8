package inference

import (
	"context"
	"math"
	"time"
)

// barBatch is what one write covers: bars ready to predict, their input
// rows (row-major, one per bar) and the source each is written with.
type barBatch struct {
	bars    []time.Time
	rows    []float64
	sources []Source
}

// written is what writeBars did: the rows it upserted (less kept, those it
// left because the trainer's oof_backfill wrote them) and where the time went.
type written struct {
	rows                 []SignalRow
	kept                 int                  // of rows (times their copies)
	byVintage            map[VintageClass]int // rows upserted, by meta.vintage
	predictTime, putTime time.Duration
	explainTime          time.Duration // INFERENCE_EXPLAIN_TOP_K's contributions
}

// writeBars is the one path by which every caller — run, backfill, the
// streaming worker, batch-predict — scores bars and writes them: one
// prediction call (the single-row path for one bar), one signal_history row
// per bar under D8, and one atomic upsert for them all. extraMeta, when
// set, is added to every row's meta.
func (s *Service) writeBars(ctx context.Context, r *resolved, symbol string, b barBatch, extraMeta map[string]any, agent string) (written, error) {
	return s.writeBarsFor(ctx, r, symbol, b, extraMeta, agent, nil)
}

// writeBarsFor is writeBars for several signals of r's model at once (the
// streaming worker's groups): the bars are scored once, and each row is
// written for every one of signalIDs — the same model on the same inputs
// gives the same value — in the same atomic upsert. nil writes r's own.
func (s *Service) writeBarsFor(ctx context.Context, r *resolved, symbol string, b barBatch, extraMeta map[string]any, agent string,
	signalIDs []string) (written, error) {
	w, rows, err := s.scoreFor(ctx, r, symbol, b, extraMeta, signalIDs)
	if err != nil || len(rows) == 0 {
		return w, err
	}
	t1 := time.Now()
	if err := s.put(ctx, &w, rows, agent); err != nil {
		return w, err
	}
	w.putTime = time.Since(t1)
	return w, nil
}

// scoreFor is writeBarsFor without the write: the rows it would upsert,
// every bar's row once per signal of signalIDs (nil: r's own), for a
// caller that writes several models' rows in one upsert (the streaming
// worker's groups).
func (s *Service) scoreFor(ctx context.Context, r *resolved, symbol string, b barBatch, extraMeta map[string]any,
	signalIDs []string) (written, []SignalRow, error) {
	var w written
	if len(b.bars) == 0 {
		return w, nil, nil
	}
	t0 := time.Now()
	var err error
	if w.rows, err = s.predictRows(ctx, r, symbol, b); err != nil {
		return w, nil, err
	}
	for i := range w.rows {
		for k, v := range extraMeta {
			w.rows[i].Meta[k] = v
		}
	}
	t1 := time.Now()
	w.predictTime = t1.Sub(t0)
	s.obs.Predicted(r.lm.Artifact.Payload.ModelKind(), len(b.bars), w.predictTime)
	if s.cfg.ExplainTopK > 0 {
		if err := s.addTopContributions(ctx, r, b.rows, w.rows); err != nil {
			return w, nil, err
		}
		w.explainTime = time.Since(t1)
		s.obs.Predicted(KindExplain, len(b.bars), w.explainTime)
	}
	rows := w.rows
	if len(signalIDs) > 0 {
		rows = make([]SignalRow, 0, len(w.rows)*len(signalIDs))
		for _, id := range signalIDs {
			for _, row := range w.rows {
				row.SignalID = id // the copies share the meta map, which nothing changes from here on
				rows = append(rows, row)
			}
		}
	}
	return w, rows, nil
}

// put upserts rows as one atomic write and records what it wrote — by
// source and by meta.vintage, less the rows it kept because the trainer's
// oof_backfill wrote them — in w and the observer.
func (s *Service) put(ctx context.Context, w *written, rows []SignalRow, agent string) error {
	kept, err := s.store.UpsertSignalRows(ctx, rows, agent)
	if err != nil {
		return err
	}
	skip := make(map[int]bool, len(kept))
	for _, k := range kept {
		skip[k] = true
	}
	w.kept += len(kept)
	if w.byVintage == nil {
		w.byVintage = map[VintageClass]int{}
	}
	bySource, byVintage := map[Source]int{}, map[VintageClass]int{}
	for i, r := range rows {
		if skip[i] {
			continue
		}
		bySource[r.Source]++
		if c, ok := r.Meta["vintage"].(string); ok {
			byVintage[VintageClass(c)]++
		}
	}
	for src, n := range bySource {
		s.obs.SignalRowsWritten(src, n)
	}
	for c, n := range byVintage {
		w.byVintage[c] += n
	}
	s.obs.VintageRows(byVintage)
	return nil
}

// predictRows scores a batch's bars — one prediction call, the single-row
// path for one bar — and turns each into its signal_history row (D8): what
// writeBars writes and what explain answers without writing.
func (s *Service) predictRows(ctx context.Context, r *resolved, symbol string, b barBatch) ([]SignalRow, error) {
	predict := r.lm.Model.PredictBatch
	if len(b.bars) == 1 {
		predict = r.lm.Model.Predict
	}
	out, err := predict(ctx, b.rows, false)
	if err != nil {
		return nil, err
	}
	width := r.lm.Model.NumOutputs()
	rows := make([]SignalRow, len(b.bars))
	for i, bar := range b.bars {
		if rows[i], err = s.signalRow(r, symbol, bar, b.sources[i], out[i*width:(i+1)*width]); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// signalRow turns model output into a signal_history row (D8), its meta
// classing the bar against the model's vintage.
func (s *Service) signalRow(r *resolved, symbol string, ts time.Time, source Source, out []float64) (SignalRow, error) {
	p := r.lm.Artifact.Payload
	class := r.vintage.Class(ts)
	meta := map[string]any{
		"model_id": r.model.ID, "artifact_sha256": r.lm.Artifact.SHA, "spec_name": p.Spec.Name,
		"objective": p.Objective, "model_status_at_inference": string(r.model.Status), "vintage": string(class),
	}
	if r.vintage.InValidated(ts) && class == VintageOutOfSample {
		meta["vintage_validated"] = true
	}
	return s.valueRow(r, symbol, ts, source, meta, out)
}

// valueRow is one row of model output — the served model's, or an
// out-of-fold prediction the artifact stores — under D8.
func (s *Service) valueRow(r *resolved, symbol string, ts time.Time, source Source, meta map[string]any, out []float64) (SignalRow, error) {
	p := r.lm.Artifact.Payload
	row := SignalRow{SignalID: r.signal.ID, Symbol: symbol, TS: ts, Source: source, Meta: meta, ProducedAt: s.now().UTC()}
	v, err := signalValue(p.Objective, out)
	if err != nil {
		return row, err
	}
	row.Value = v.value
	if p.Objective == ObjectiveMulticlass {
		conf := out[v.argmax]
		row.Confidence = &conf
		meta["proba"] = []float64{out[0], out[1], out[2]}
		meta["argmax_class"] = v.argmax - 1
	}
	return row, nil
}

// value is what one prediction is written as: the value (D8) and, for
// multiclass, the index of the most likely class.
type value struct {
	value  float64
	argmax int
}

// signalValue is D8 on one row of model output: binary → P(class 1) (an
// ensemble's column 1), regression → the prediction, multiclass (classes
// −1/0/+1) → P(+1) − P(−1). Every path that predicts values — the writes
// and drift's in-memory predictions — goes through it.
func signalValue(objective string, out []float64) (value, error) {
	var v value
	switch objective {
	case ObjectiveBinary, ObjectiveRegression:
		switch {
		case len(out) == 1:
			v.value = out[0]
		case len(out) == 2 && objective == ObjectiveBinary: // an ensemble's [P(0), P(1)]
			v.value = out[1]
		default:
			return v, Errorf(CodeInternal, "%s model returned %d outputs", objective, len(out))
		}
	case ObjectiveMulticlass:
		if len(out) != 3 {
			return v, Errorf(CodeModelNotServable, "multiclass model has %d classes; signals need exactly 3 (-1, 0, +1)", len(out))
		}
		for k := 1; k < 3; k++ {
			if out[k] > out[v.argmax] { // first maximum, as numpy.argmax
				v.argmax = k
			}
		}
		v.value = out[2] - out[0]
	default:
		return v, Errorf(CodeModelNotServable, "objective %q is not served", objective)
	}
	if math.IsNaN(v.value) || math.IsInf(v.value, 0) {
		return v, Errorf(CodeInternal, "model produced a non-finite value")
	}
	return v, nil
}
