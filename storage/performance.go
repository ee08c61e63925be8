package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rfkih/blackheart-inference/inference"
)

// RealizedRows reads the signal's rows in [from, to) with the label's
// value at the same bar, symbol and interval (LEFT JOIN: a label not
// matured yet is NULL). The label is filtered on the model's serving
// interval, where the trainer's shadow_analytics does not filter it. The
// sha is the one the row's meta names (ours, or the trainer's
// artifact_content_sha256); a multiclass row's probabilities come from
// meta.proba.
func (s *Store) RealizedRows(ctx context.Context, signalID, symbol string, label inference.FeatureRef, interval string,
	from, to time.Time) ([]inference.RealizedRow, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT h.ts, h.value, COALESCE(h.meta->>'vintage', ''),
		       COALESCE(h.meta->>'artifact_sha256', h.meta->>'artifact_content_sha256', ''), COALESCE(h.meta->>'source_run', ''),
		       (h.meta->'proba'->>0)::float8, (h.meta->'proba'->>1)::float8, (h.meta->'proba'->>2)::float8, v.value::float8
		FROM signal_history h
		LEFT JOIN feature_values v ON v.feature_name = $3 AND v.version = $4 AND v.symbol = h.symbol AND v.interval = $5 AND v.ts = h.ts
		WHERE h.signal_id = $1::uuid AND h.symbol = $2 AND h.ts >= $6 AND h.ts < $7
		ORDER BY h.ts`, signalID, symbol, label.Name, label.Version, interval, from, to)
	var out []inference.RealizedRow
	if err == nil {
		var r inference.RealizedRow
		var p [3]*float64
		_, err = pgx.ForEachRow(rows, []any{&r.TS, &r.Value, &r.Vintage, &r.SHA, &r.SourceRun, &p[0], &p[1], &p[2], &r.Label}, func() error {
			row := r
			row.TS = r.TS.UTC()
			if p[0] != nil && p[1] != nil && p[2] != nil {
				row.Proba = []float64{*p[0], *p[1], *p[2]}
			}
			if r.Label != nil {
				l := *r.Label
				row.Label = &l
			}
			out = append(out, row)
			return nil
		})
	}
	return out, translate(ctx, err, "read signal_history and its label")
}

// LabelExists reports whether feature_values holds any row of label (the
// primary key's leading columns: one index probe).
func (s *Store) LabelExists(ctx context.Context, label inference.FeatureRef) (bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM feature_values WHERE feature_name = $1 AND version = $2)`,
		label.Name, label.Version).Scan(&ok)
	return ok, translate(ctx, err, "read feature_values")
}
