package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rfkih/blackheart-inference/inference"
)

// WindowValues reads, in one round trip, the non-NULL feature_values of
// refs at exactly symbol and interval with from <= ts < to: the production
// sidecar's drift query, for every feature at once (in no order: PSI does
// not depend on it, and sorting the rows would cost PostgreSQL a sort). NUMERIC
// becomes float64 here, as PostgreSQL's value::float8 and Python's
// float(Decimal) round it (rawNumericFloat8).
func (s *Store) WindowValues(ctx context.Context, refs []inference.FeatureRef, symbol, interval string,
	from, to time.Time, fn inference.ValueFunc) error {
	names, versions := splitRefs(refs)
	return s.queryValues(ctx, fn, `
		SELECT g.idx::int - 1, v.ts, v.value
		FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS g(name, version, idx)
		JOIN feature_values v ON v.feature_name = g.name AND v.version = g.version
		WHERE v.symbol = $3 AND v.interval = $4 AND v.ts >= $5 AND v.ts < $6 AND v.value IS NOT NULL`,
		names, versions, symbol, interval, from, to)
}

// SignalValues reads the signal's signal_history values for symbol with
// from <= ts < to, ordered by ts.
func (s *Store) SignalValues(ctx context.Context, signalID, symbol string, from, to time.Time) ([]float64, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT value FROM signal_history
		WHERE signal_id = $1::uuid AND symbol = $2 AND ts >= $3 AND ts < $4 ORDER BY ts`, signalID, symbol, from, to)
	var out []float64
	if err == nil {
		var v float64
		_, err = pgx.ForEachRow(rows, []any{&v}, func() error { out = append(out, v); return nil })
	}
	return out, translate(ctx, err, "read signal_history")
}

// windowBounds are model_registry's window bounds, in modelWindows' order.
const windowBounds = `lower(training_window), upper(training_window), lower(validation_window), upper(validation_window),
	lower(holdout_window), upper(holdout_window)`

// modelWindows reads model_registry's training, validation and holdout
// windows from their bounds (tstzrange, read as [lower, upper)); a NULL,
// empty or unbounded range is absent.
func modelWindows(b [6]*time.Time) inference.ModelWindows {
	window := func(lo, hi *time.Time) *inference.TimeRange {
		if lo == nil || hi == nil || !hi.After(*lo) {
			return nil
		}
		return &inference.TimeRange{From: lo.UTC(), To: hi.UTC()}
	}
	return inference.ModelWindows{Training: window(b[0], b[1]), Validation: window(b[2], b[3]), Holdout: window(b[4], b[5])}
}
