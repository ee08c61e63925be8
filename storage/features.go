package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rfkih/blackheart-inference/inference"
)

// LatestRegisteredVersions maps names to their highest registered version.
func (s *Store) LatestRegisteredVersions(ctx context.Context, names []string) (map[string]int, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT feature_name, max(version) FROM feature_registry
		WHERE status = 'registered' AND feature_name = ANY($1::text[])
		GROUP BY feature_name`, names)
	if err != nil {
		return nil, translate(ctx, err, "read feature_registry")
	}
	out := map[string]int{}
	var name string
	var v int
	_, err = pgx.ForEachRow(rows, []any{&name, &v}, func() error { out[name] = v; return nil })
	return out, translate(ctx, err, "read feature_registry")
}

const featureDefsSQL = `
	SELECT r.feature_name, r.version, COALESCE(r.status, ''),
	       COALESCE(cardinality(r.symbols) > 0 AND cardinality(r.intervals) > 0, false),
	       COALESCE(r.ffill_policy, ''), COALESCE(r.max_ffill_age_hours, 0)
	FROM feature_registry r
	JOIN unnest($1::text[], $2::int[]) AS q(name, version)
	  ON r.feature_name = q.name AND r.version = q.version`

// forEachFeatureDef hands each of featureDefsSQL's rows to fn.
func forEachFeatureDef(rows pgx.Rows, fn func(inference.FeatureDef)) error {
	var d inference.FeatureDef
	_, err := pgx.ForEachRow(rows, []any{&d.Name, &d.Version, &d.Status, &d.PerBar, &d.FfillPolicy, &d.MaxFfillAgeHours}, func() error {
		fn(d)
		return nil
	})
	return err
}

// FeatureDefs reads the registry rows among refs.
func (s *Store) FeatureDefs(ctx context.Context, refs []inference.FeatureRef) (map[inference.FeatureRef]inference.FeatureDef, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	names, versions := splitRefs(refs)
	out := map[inference.FeatureRef]inference.FeatureDef{}
	rows, err := s.pool.Query(ctx, featureDefsSQL, names, versions)
	if err == nil {
		err = forEachFeatureDef(rows, func(d inference.FeatureDef) { out[d.FeatureRef] = d })
	}
	return out, translate(ctx, err, "read feature_registry")
}

// featureValuesSQL reads both halves of a FeatureQuery. Bounds are inclusive
// on both sides and never derived by sub-microsecond arithmetic: timestamptz
// has microsecond resolution, so "bar + 1ns" would arrive as "bar" and an
// exclusive bound would drop a value stamped exactly at the bar. NULL values
// come back as NaN: training reads them too (merge_asof may pick one as the
// newest row), and a NaN input refuses the bar.
const featureValuesSQL = `
	SELECT false, p.idx::int - 1, v.ts, COALESCE(v.value, 'NaN'::numeric)
	FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS p(name, version, idx)
	JOIN feature_values v ON v.feature_name = p.name AND v.version = p.version
	WHERE v.symbol = $3 AND v.interval = $4 AND v.ts >= $5 AND v.ts <= $6
	UNION ALL
	SELECT true, g.idx::int - 1, v.ts, COALESCE(v.value, 'NaN'::numeric)
	FROM unnest($7::text[], $8::int[]) WITH ORDINALITY AS g(name, version, idx)
	JOIN feature_values v ON v.feature_name = g.name AND v.version = g.version
	WHERE v.symbol = '' AND v.interval = '' AND v.ts >= $9 AND v.ts <= $10`

func featureValuesArgs(q inference.FeatureQuery) []any {
	pn, pv := splitRefs(q.PerBar)
	gn, gv := splitRefs(q.Global)
	return []any{pn, pv, q.Symbol, q.Interval, q.First, q.Last, gn, gv, q.GlobalFrom, q.GlobalTo}
}

func scanFeatureValues(rows pgx.Rows, perBar, global inference.ValueFunc) error {
	return forEachValueRow(rows, 1, func(isGlobal bool, col int, ts time.Time, v float64) error {
		if isGlobal {
			global(col, ts, v)
		} else {
			perBar(col, ts, v)
		}
		return nil
	})
}

// FeatureValues reads per-bar and global values in one round trip. The
// NUMERIC values arrive in binary and become float64 here, correctly
// rounded exactly as PostgreSQL's value::float8 and Python's float(Decimal)
// round them (rawNumericFloat8), without PostgreSQL printing and re-reading
// each one. A NULL (or NUMERIC NaN) value arrives as NaN.
func (s *Store) FeatureValues(ctx context.Context, q inference.FeatureQuery, perBar, global inference.ValueFunc) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, featureValuesSQL, featureValuesArgs(q)...)
	if err == nil {
		err = scanFeatureValues(rows, perBar, global)
	}
	return translate(ctx, err, "read feature_values")
}
