// Package storage is the PostgreSQL adapter of blackheart-inference (pgx v5).
// It reads signal_definition, model_registry, feature_registry and
// feature_values, and upserts signal_history. It never creates or alters
// tables; the schema it expects is schema/schema.sql. The connecting role
// needs SELECT on the first four and SELECT, INSERT, UPDATE on
// signal_history: blackheart_research has that, blackheart_trading cannot
// upsert.
package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rfkih/blackheart-inference/inference"
)

// Config configures the connection pool.
type Config struct {
	DSN            string        `env:"INFERENCE_DB_DSN" envDefault:"postgres://blackheart_research@127.0.0.1:5432/blackheart?sslmode=disable"`
	MinPool        int32         `env:"INFERENCE_DB_MIN_POOL" envDefault:"1"`
	MaxPool        int32         `env:"INFERENCE_DB_MAX_POOL" envDefault:"8"`
	QueryTimeout   time.Duration `env:"INFERENCE_DB_QUERY_TIMEOUT" envDefault:"60s"`
	ConnectTimeout time.Duration `env:"INFERENCE_DB_CONNECT_TIMEOUT" envDefault:"5s"`
}

// Store implements inference.Store on a pgx pool. Safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	cfg     Config
	counter *statementCounter
}

var _ inference.Store = (*Store)(nil)

// Open creates the pool. It does not wait for the database: a service
// started while PostgreSQL is down answers db_unavailable and recovers by
// itself once the database is back.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("INFERENCE_DB_DSN: %w", err)
	}
	pc.MinConns, pc.MaxConns = cfg.MinPool, cfg.MaxPool
	if pc.MaxConns < 1 {
		pc.MaxConns = 1
	}
	if pc.MinConns > pc.MaxConns {
		pc.MinConns = pc.MaxConns
	}
	// Audit columns are TIMESTAMP without time zone: NOW() must be UTC.
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "blackheart-inference"
	// Every query prunes monthly partitions by ts: custom plans prune at plan
	// time, while the generic plan PostgreSQL tries on the sixth execution
	// spans every partition (measured: 16 ms to build, per connection).
	pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	if cfg.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	counter := &statementCounter{}
	pc.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return &Store{pool: pool, cfg: cfg, counter: counter}, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

func (s *Store) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cfg.QueryTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.QueryTimeout)
}

// Ping checks that a connection can be had and answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return translate(ctx, s.pool.Ping(ctx), "ping")
}

const resolveSQL = `
	SELECT d.signal_id::text, d.name, d.model_id::text, COALESCE(d.status, 'active'), m.id IS NOT NULL,
	       COALESCE(m.id::text, ''), COALESCE(m.symbol, ''), COALESCE(m.interval, ''),
	       COALESCE(m.serving_interval, ''), COALESCE(m.status, ''), COALESCE(m.artifact_sha256, '')
	FROM signal_definition d LEFT JOIN model_registry m ON m.id = d.model_id
	WHERE d.signal_id = $1::uuid`

// scanResolved reads resolveSQL's row into sig and m, with the not-found codes.
func scanResolved(row pgx.Row, id string, sig *inference.Signal, m *inference.ModelRecord) error {
	var modelFound bool
	err := row.Scan(&sig.ID, &sig.Name, &sig.ModelID, &sig.Status, &modelFound,
		&m.ID, &m.Symbol, &m.Interval, &m.ServingInterval, &m.Status, &m.ArtifactSHA256)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || isInvalidUUID(err):
		return inference.Errorf(inference.CodeSignalNotFound, "signal %s does not exist", id).
			WithDetails(map[string]any{"signal_id": id})
	case err != nil:
		return err
	case !modelFound:
		return inference.Errorf(inference.CodeModelNotFound, "model %s of signal %s does not exist", sig.ModelID, sig.Name).
			WithDetails(map[string]any{"model_id": sig.ModelID, "signal_id": sig.ID})
	}
	return nil
}

// Resolve reads a signal_definition row and its model_registry row in one
// round trip.
func (s *Store) Resolve(ctx context.Context, id string) (inference.Signal, inference.ModelRecord, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var sig inference.Signal
	var m inference.ModelRecord
	err := scanResolved(s.pool.QueryRow(ctx, resolveSQL, id), id, &sig, &m)
	return sig, m, translate(ctx, err, "read signal_definition")
}

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

func scanFeatureDefs(rows pgx.Rows, out map[inference.FeatureRef]inference.FeatureDef) error {
	var d inference.FeatureDef
	_, err := pgx.ForEachRow(rows, []any{&d.Name, &d.Version, &d.Status, &d.PerBar, &d.FfillPolicy, &d.MaxFfillAgeHours}, func() error {
		out[d.FeatureRef] = d
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
		err = scanFeatureDefs(rows, out)
	}
	return out, translate(ctx, err, "read feature_registry")
}

const featureValuesSQL = `
	SELECT false, p.idx::int - 1, v.ts, v.value::float8
	FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS p(name, version, idx)
	JOIN feature_values v ON v.feature_name = p.name AND v.version = p.version
	WHERE v.symbol = $3 AND v.interval = $4 AND v.ts >= $5 AND v.ts < $6 AND v.value IS NOT NULL
	UNION ALL
	SELECT true, g.idx::int - 1, v.ts, v.value::float8
	FROM unnest($7::text[], $8::int[]) WITH ORDINALITY AS g(name, version, idx)
	JOIN feature_values v ON v.feature_name = g.name AND v.version = g.version
	WHERE v.symbol = '' AND v.interval = '' AND v.ts >= $9 AND v.ts < $10 AND v.value IS NOT NULL`

func featureValuesArgs(q inference.FeatureQuery) []any {
	pn, pv := splitRefs(q.PerBar)
	gn, gv := splitRefs(q.Global)
	return []any{pn, pv, q.Symbol, q.Interval, q.Start, q.End, gn, gv, q.GlobalFrom, q.GlobalTo}
}

func scanFeatureValues(rows pgx.Rows, perBar, global inference.ValueFunc) error {
	var isGlobal bool
	var col int
	var ts time.Time
	var v float64
	_, err := pgx.ForEachRow(rows, []any{&isGlobal, &col, &ts, &v}, func() error {
		if isGlobal {
			global(col, ts, v)
		} else {
			perBar(col, ts, v)
		}
		return nil
	})
	return err
}

// FeatureValues reads per-bar and global values in one round trip.
// NUMERIC → float8 happens in PostgreSQL, which converts through the decimal
// text and strtod, so the result is correctly rounded exactly as Python's
// float(Decimal) is.
func (s *Store) FeatureValues(ctx context.Context, q inference.FeatureQuery, perBar, global inference.ValueFunc) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, featureValuesSQL, featureValuesArgs(q)...)
	if err == nil {
		err = scanFeatureValues(rows, perBar, global)
	}
	return translate(ctx, err, "read feature_values")
}

// Snapshot pipelines Resolve, FeatureDefs and FeatureValues in one batch:
// one round trip for everything a single bar reads.
func (s *Store) Snapshot(ctx context.Context, signalID string, defs []inference.FeatureRef, q inference.FeatureQuery,
	perBar, global inference.ValueFunc) (inference.Signal, inference.ModelRecord, map[inference.FeatureRef]inference.FeatureDef, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var sig inference.Signal
	var m inference.ModelRecord
	out := map[inference.FeatureRef]inference.FeatureDef{}
	names, versions := splitRefs(defs)
	b := &pgx.Batch{}
	b.Queue(resolveSQL, signalID).QueryRow(func(row pgx.Row) error { return scanResolved(row, signalID, &sig, &m) })
	b.Queue(featureDefsSQL, names, versions).Query(func(rows pgx.Rows) error { return scanFeatureDefs(rows, out) })
	b.Queue(featureValuesSQL, featureValuesArgs(q)...).Query(func(rows pgx.Rows) error { return scanFeatureValues(rows, perBar, global) })
	err := s.pool.SendBatch(ctx, b).Close()
	return sig, m, out, translate(ctx, err, "read signal, registry and feature_values")
}

// LatestGlobalBefore reads, per ref, the newest global value in [since, before).
func (s *Store) LatestGlobalBefore(ctx context.Context, refs []inference.FeatureRef, since, before time.Time, fn inference.ValueFunc) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	names, versions := splitRefs(refs)
	rows, err := s.pool.Query(ctx, `
		SELECT g.idx::int - 1, l.ts, l.value
		FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS g(name, version, idx)
		CROSS JOIN LATERAL (
			SELECT v.ts, v.value::float8 AS value FROM feature_values v
			WHERE v.feature_name = g.name AND v.version = g.version AND v.symbol = '' AND v.interval = ''
			  AND v.ts >= $3 AND v.ts < $4 AND v.value IS NOT NULL
			ORDER BY v.ts DESC LIMIT 1) l`, names, versions, since, before)
	if err != nil {
		return translate(ctx, err, "read feature_values")
	}
	var col int
	var ts time.Time
	var v float64
	_, err = pgx.ForEachRow(rows, []any{&col, &ts, &v}, func() error { fn(col, ts, v); return nil })
	return translate(ctx, err, "read feature_values")
}

// StreamTargets lists active and shadow signals with their model's symbol
// and serving interval (serving_interval, else interval).
func (s *Store) StreamTargets(ctx context.Context) ([]inference.Target, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT d.signal_id::text, d.name, COALESCE(d.status, 'active'), m.symbol,
		       COALESCE(NULLIF(m.serving_interval, ''), m.interval, ''), h.last_ts
		FROM signal_definition d JOIN model_registry m ON m.id = d.model_id
		CROSS JOIN LATERAL (SELECT max(ts) AS last_ts FROM signal_history
		                    WHERE signal_id = d.signal_id AND symbol = m.symbol) h
		WHERE COALESCE(d.status, 'active') IN ('active', 'shadow')
		ORDER BY d.name, d.signal_id`)
	if err != nil {
		return nil, translate(ctx, err, "list streaming targets")
	}
	var out []inference.Target
	var tg inference.Target
	var last *time.Time
	_, err = pgx.ForEachRow(rows, []any{&tg.SignalID, &tg.Name, &tg.Status, &tg.Symbol, &tg.Interval, &last}, func() error {
		t := tg
		if last != nil {
			l := last.UTC()
			t.LastTS = &l
		}
		out = append(out, t)
		return nil
	})
	return out, translate(ctx, err, "list streaming targets")
}

// LastSignalTS is the newest signal_history ts for the signal and symbol
// (an index-only descent of the primary key).
func (s *Store) LastSignalTS(ctx context.Context, signalID, symbol string) (time.Time, bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var ts *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(ts) FROM signal_history WHERE signal_id = $1::uuid AND symbol = $2`,
		signalID, symbol).Scan(&ts)
	if err != nil {
		return time.Time{}, false, translate(ctx, err, "read signal_history")
	}
	if ts == nil {
		return time.Time{}, false, nil
	}
	return ts.UTC(), true, nil
}

// TryLock takes a session-level advisory lock on a dedicated connection, so
// a crashed holder's lock goes away with its session.
func (s *Store) TryLock(ctx context.Context, key string) (func(), bool, error) {
	lctx, cancel := s.timeout(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(lctx)
	if err != nil {
		return nil, false, translate(lctx, err, "acquire lock connection")
	}
	var ok bool
	if err := conn.QueryRow(lctx, `SELECT pg_try_advisory_lock(hashtext('blackheart-inference'), hashtext($1))`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, translate(lctx, err, "advisory lock")
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	unlock := func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtext('blackheart-inference'), hashtext($1))`, key); err != nil {
			// The lock cannot be left behind on a pooled session: drop it.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}
	return unlock, true, nil
}

// UpsertSignalRows writes rows with one INSERT … ON CONFLICT statement, which
// PostgreSQL applies atomically: every row or none. created_by is kept on
// conflict; updated_by and updated_time move.
func (s *Store) UpsertSignalRows(ctx context.Context, rows []inference.SignalRow, agent string) error {
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	n := len(rows)
	ids, symbols, sources, metas := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ts, produced := make([]time.Time, n), make([]time.Time, n)
	values, conf := make([]float64, n), make([]*float64, n)
	for i, r := range rows {
		meta, err := json.Marshal(r.Meta)
		if err != nil {
			return inference.Wrap(err, inference.CodeInternal, "encode signal meta")
		}
		ids[i], symbols[i], sources[i], metas[i] = r.SignalID, r.Symbol, string(r.Source), string(meta)
		ts[i], produced[i], values[i], conf[i] = r.TS, r.ProducedAt, r.Value, r.Confidence
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO signal_history (signal_id, symbol, ts, value, confidence, produced_at, source, meta, created_by, updated_by)
		SELECT u.signal_id, u.symbol, u.ts, u.value, u.confidence, u.produced_at, u.source, u.meta::jsonb, $9, $9
		FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::float8[], $5::float8[], $6::timestamptz[], $7::text[], $8::text[])
		     AS u(signal_id, symbol, ts, value, confidence, produced_at, source, meta)
		ON CONFLICT (signal_id, symbol, ts) DO UPDATE SET
		    value = EXCLUDED.value, confidence = EXCLUDED.confidence, produced_at = EXCLUDED.produced_at,
		    source = EXCLUDED.source, meta = EXCLUDED.meta, updated_time = NOW(), updated_by = EXCLUDED.updated_by`,
		ids, symbols, ts, values, conf, produced, sources, metas, agent)
	if isPartitionMissing(err) {
		return inference.Wrap(err, inference.CodeSignalHistoryPartitionMissing,
			"signal_history has no partition for a ts in %s .. %s", ts[0].UTC().Format(time.RFC3339), ts[n-1].UTC().Format(time.RFC3339)).
			WithDetails(map[string]any{"first_ts": ts[0].UTC().Format(time.RFC3339), "last_ts": ts[n-1].UTC().Format(time.RFC3339)}).
			WithHint("create the monthly signal_history partition for these timestamps")
	}
	return translate(ctx, err, "upsert signal_history")
}

func splitRefs(refs []inference.FeatureRef) ([]string, []int32) {
	names, versions := make([]string, len(refs)), make([]int32, len(refs))
	for i, r := range refs {
		names[i], versions[i] = r.Name, int32(r.Version)
	}
	return names, versions
}
