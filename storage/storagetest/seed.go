package storagetest

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Seed writes fixtures into one test database.
type Seed struct {
	tb   testing.TB
	Pool *pgxpool.Pool
}

// NewSeed connects to dsn; the pool closes when the test ends.
func NewSeed(tb testing.TB, dsn string) *Seed {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("seed connect: %v", err)
	}
	tb.Cleanup(pool.Close)
	return &Seed{tb: tb, Pool: pool}
}

// Exec runs one statement or fails the test.
func (s *Seed) Exec(sql string, args ...any) {
	s.tb.Helper()
	if _, err := s.Pool.Exec(context.Background(), sql, args...); err != nil {
		s.tb.Fatalf("seed exec %q: %v", sql, err)
	}
}

// Model is a model_registry fixture.
type Model struct {
	Symbol, Interval, ServingInterval, Status, SHA string
	Version                                        int
}

// Model inserts a model_registry row and returns its id. Version 0 picks
// the next free version, so fixtures never collide on the unique key.
func (s *Seed) Model(m Model) string {
	s.tb.Helper()
	var id string
	err := s.Pool.QueryRow(context.Background(), `
		INSERT INTO model_registry (family, purpose, symbol, interval, serving_interval, feature_set, random_seed,
		                            artifact_uri, artifact_sha256, status, version, horizon_bars)
		VALUES ('lightgbm', 'directional', $1, $2, NULLIF($3, ''), '{"names": []}', 7,
		        '/trainer/host/path/never/read.pkl', NULLIF($4, ''), $5,
		        COALESCE(NULLIF($6, 0), (SELECT COALESCE(max(version), 0) + 1 FROM model_registry)), 4)
		RETURNING id::text`, m.Symbol, m.Interval, m.ServingInterval, m.SHA, m.Status, m.Version).Scan(&id)
	if err != nil {
		s.tb.Fatalf("seed model: %v", err)
	}
	return id
}

// Signal inserts a signal_definition row and returns its id.
func (s *Seed) Signal(name, modelID, status string) string {
	s.tb.Helper()
	var id string
	err := s.Pool.QueryRow(context.Background(), `
		INSERT INTO signal_definition (name, model_id, status, horizon) VALUES ($1, $2::uuid, $3, INTERVAL '4 hours')
		RETURNING signal_id::text`, name, modelID, status).Scan(&id)
	if err != nil {
		s.tb.Fatalf("seed signal: %v", err)
	}
	return id
}

// Feature is a feature_registry fixture. PerBar sets symbols and intervals;
// otherwise the feature is global.
type Feature struct {
	Name        string
	Version     int
	PerBar      bool
	Ffill       string // "" (exact match) or "last_value"
	MaxAgeHours int    // 0 = NULL
	Status      string // default registered
}

// Feature registers a feature version (kept if already registered).
func (s *Seed) Feature(f Feature) {
	s.tb.Helper()
	if f.Status == "" {
		f.Status = "registered"
	}
	var symbols, intervals []string
	if f.PerBar {
		symbols, intervals = []string{"BTCUSDT", "ETHUSDT"}, []string{"5m", "15m", "1h", "4h"}
	}
	var maxAge *int
	if f.MaxAgeHours > 0 {
		maxAge = &f.MaxAgeHours
	}
	s.Exec(`
		INSERT INTO feature_registry (feature_name, version, family, transformer_ref, inputs, symbols, intervals,
		                              pit_safe, ffill_policy, max_ffill_age_hours, status)
		VALUES ($1, $2, 'momentum', 'fixtures.transform', '{}', $3, $4, true, NULLIF($5, ''), $6, $7)
		ON CONFLICT (feature_name, version) DO NOTHING`,
		f.Name, f.Version, symbols, intervals, f.Ffill, maxAge, f.Status)
}

// Values inserts feature values (existing points are kept); each float64 is stored through its
// shortest decimal representation, so a value with at most 10 decimal places
// reads back bit-identical.
func (s *Seed) Values(name string, version int, symbol, interval string, ts []time.Time, values []float64) {
	s.tb.Helper()
	text := make([]string, len(values))
	for i, v := range values {
		text[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	s.Exec(`
		INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
		SELECT $1, $2, $3, $4, u.ts, u.v::numeric, gen_random_uuid()
		FROM unnest($5::timestamptz[], $6::text[]) AS u(ts, v)
		ON CONFLICT DO NOTHING`, name, version, symbol, interval, ts, text)
}

// HistoryRow is a signal_history row as tests inspect it.
type HistoryRow struct {
	Symbol      string
	TS          time.Time
	Value       float64
	Confidence  *float64
	Source      string
	Meta        map[string]any
	CreatedBy   string
	UpdatedBy   string
	CreatedTime time.Time
	UpdatedTime time.Time
	ProducedAt  time.Time
}

// History returns the signal's rows ordered by ts.
func (s *Seed) History(signalID string) []HistoryRow {
	s.tb.Helper()
	rows, err := s.Pool.Query(context.Background(), `
		SELECT symbol, ts, value, confidence, source, meta::text, created_by, updated_by, created_time, updated_time, produced_at
		FROM signal_history WHERE signal_id = $1::uuid ORDER BY symbol, ts`, signalID)
	if err != nil {
		s.tb.Fatalf("read history: %v", err)
	}
	defer rows.Close()
	var out []HistoryRow
	for rows.Next() {
		var r HistoryRow
		var meta string
		if err := rows.Scan(&r.Symbol, &r.TS, &r.Value, &r.Confidence, &r.Source, &meta, &r.CreatedBy, &r.UpdatedBy,
			&r.CreatedTime, &r.UpdatedTime, &r.ProducedAt); err != nil {
			s.tb.Fatalf("scan history: %v", err)
		}
		if err := json.Unmarshal([]byte(meta), &r.Meta); err != nil {
			s.tb.Fatalf("history meta: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		s.tb.Fatalf("read history: %v", err)
	}
	return out
}
