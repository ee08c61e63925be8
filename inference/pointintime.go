package inference

import (
	"context"
	"time"
)

// barsBefore is how many of n bars from first (step apart) lie before the
// model's honest_from: all of them when the vintage is unknown.
func barsBefore(v *Vintage, first time.Time, step time.Duration, n int) int {
	if !v.Known() {
		return n
	}
	if !v.HonestFrom.After(first) {
		return 0
	}
	k := int((v.HonestFrom.Sub(first) + step - 1) / step) // bars with ts < honest_from
	return min(k, n)
}

// writePointInTime writes the first n bars of a point-in-time backfill —
// all before honest_from — from the artifact's out-of-fold predictions:
// each bar gets the prediction of the fold whose test window holds it,
// exactly as stored, through D8 like any other row, with meta.vintage
// "oof" and the fold's number and windows. A bar without one is skipped
// and counted. Chunks are written in window order, each atomically, as the
// model's are; no feature is read.
func (s *Service) writePointInTime(ctx context.Context, r *resolved, req BackfillRequest, first time.Time, n int, res *BackfillResult) error {
	step := req.Interval.Duration()
	for done := 0; done < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		size := min(s.cfg.BackfillChunkBars, n-done)
		var w written
		for i := range size {
			ts := first.Add(time.Duration(done+i) * step)
			f, out, ok := r.vintage.OOFAt(ts)
			if !ok {
				res.RowsSkippedNoPIT++
				continue
			}
			row, err := s.valueRow(r, req.Symbol, ts, req.Source, s.oofMeta(r, f), out)
			if err != nil {
				return err
			}
			w.rows = append(w.rows, row)
		}
		done += size
		if len(w.rows) == 0 {
			continue
		}
		t0 := time.Now()
		if err := s.put(ctx, &w, w.rows, req.Agent); err != nil {
			return err
		}
		res.WriteTime += time.Since(t0)
		s.obs.BackfillRows(len(w.rows)-w.kept, 0)
		res.add(w)
	}
	return nil
}

// oofMeta is the meta of a row written from fold f's out-of-fold
// prediction: a map of its own, since valueRow adds a multiclass row's keys.
func (s *Service) oofMeta(r *resolved, f *Fold) map[string]any {
	p := r.lm.Artifact.Payload
	return map[string]any{
		"model_id": r.model.ID, "artifact_sha256": r.lm.Artifact.SHA, "spec_name": p.Spec.Name,
		"objective": p.Objective, "model_status_at_inference": string(r.model.Status), "vintage": string(VintageOOF),
		"oof_fold": map[string]any{"fold": f.Index, "train_start": stamp(f.TrainStart), "train_end": stamp(f.TrainEnd),
			"test_start": stamp(f.TestStart), "test_end": stamp(f.TestEnd)},
	}
}
