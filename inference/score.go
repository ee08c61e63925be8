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

// written is what writeBars did: the rows it upserted and where the time went.
type written struct {
	rows                 []SignalRow
	predictTime, putTime time.Duration
}

// writeBars is the one path by which every caller — run, backfill, the
// streaming worker, batch-predict — scores bars and writes them: one
// prediction call (the single-row path for one bar), one signal_history row
// per bar under D8, and one atomic upsert for them all. extraMeta, when
// set, is added to every row's meta.
func (s *Service) writeBars(ctx context.Context, r *resolved, symbol string, b barBatch, extraMeta map[string]any, agent string) (written, error) {
	var w written
	if len(b.bars) == 0 {
		return w, nil
	}
	t0 := time.Now()
	predict := r.lm.Model.PredictBatch
	if len(b.bars) == 1 {
		predict = r.lm.Model.Predict
	}
	out, err := predict(ctx, b.rows, false)
	if err != nil {
		return w, err
	}
	width := r.lm.Model.NumOutputs()
	w.rows = make([]SignalRow, len(b.bars))
	for i, bar := range b.bars {
		if w.rows[i], err = s.signalRow(r, symbol, bar, b.sources[i], out[i*width:(i+1)*width]); err != nil {
			return w, err
		}
		for k, v := range extraMeta {
			w.rows[i].Meta[k] = v
		}
	}
	t1 := time.Now()
	w.predictTime = t1.Sub(t0)
	s.obs.Predicted(r.lm.Artifact.Payload.ModelKind(), len(b.bars), w.predictTime)
	if err := s.store.UpsertSignalRows(ctx, w.rows, agent); err != nil {
		return w, err
	}
	w.putTime = time.Since(t1)
	bySource := map[Source]int{}
	for _, src := range b.sources {
		bySource[src]++
	}
	for src, n := range bySource {
		s.obs.SignalRowsWritten(src, n)
	}
	return w, nil
}

// signalRow turns model output into a signal_history row (D8).
func (s *Service) signalRow(r *resolved, symbol string, ts time.Time, source Source, out []float64) (SignalRow, error) {
	p := r.lm.Artifact.Payload
	meta := map[string]any{
		"model_id": r.model.ID, "artifact_sha256": r.lm.Artifact.SHA, "spec_name": p.Spec.Name,
		"objective": p.Objective, "model_status_at_inference": string(r.model.Status),
	}
	row := SignalRow{SignalID: r.signal.ID, Symbol: symbol, TS: ts, Source: source, Meta: meta, ProducedAt: s.now().UTC()}
	switch p.Objective {
	case ObjectiveBinary, ObjectiveRegression:
		switch {
		case len(out) == 1:
			row.Value = out[0]
		case len(out) == 2 && p.Objective == ObjectiveBinary: // an ensemble's [P(0), P(1)]
			row.Value = out[1]
		default:
			return row, Errorf(CodeInternal, "%s model returned %d outputs", p.Objective, len(out))
		}
	case ObjectiveMulticlass:
		if len(out) != 3 {
			return row, Errorf(CodeModelNotServable, "multiclass model has %d classes; signals need exactly 3 (-1, 0, +1)", len(out))
		}
		best := 0
		for k := 1; k < 3; k++ {
			if out[k] > out[best] { // first maximum, as numpy.argmax
				best = k
			}
		}
		conf := out[best]
		row.Value, row.Confidence = out[2]-out[0], &conf
		meta["proba"] = []float64{out[0], out[1], out[2]}
		meta["argmax_class"] = best - 1
	default:
		return row, Errorf(CodeModelNotServable, "objective %q is not served", p.Objective)
	}
	if math.IsNaN(row.Value) || math.IsInf(row.Value, 0) {
		return row, Errorf(CodeInternal, "model produced a non-finite value")
	}
	return row, nil
}
