package inference

import (
	"context"
	"time"
)

// Source is signal_history.source; the set is a frozen boundary.
type Source string

// The three sources.
const (
	SourceStream           Source = "stream"
	SourceCatchupScan      Source = "catchup_scan"
	SourceHistoricalReplay Source = "historical_replay"
)

// Signal is a signal_definition row.
type Signal struct {
	ID      string
	Name    string
	ModelID string
	Status  string // active | shadow | retired
}

// ModelRecord is the part of a model_registry row serving needs.
type ModelRecord struct {
	ID              string
	Symbol          string
	Interval        string
	ServingInterval string
	Status          string
	ArtifactSHA256  string // empty when NULL
}

// Serving is the interval the model serves at: serving_interval, else interval.
func (m ModelRecord) Serving() string {
	if m.ServingInterval != "" {
		return m.ServingInterval
	}
	return m.Interval
}

// FeatureRef names one feature version.
type FeatureRef struct {
	Name    string
	Version int
}

// FeatureDef is the part of a feature_registry row vector building needs.
type FeatureDef struct {
	FeatureRef
	Status string
	// PerBar is true when both the registry's symbols and intervals arrays
	// are non-empty (CONTRACT §5.3); every other feature is global.
	PerBar      bool
	FfillPolicy string
	// MaxFfillAgeHours is 0 when NULL.
	MaxFfillAgeHours int
}

// SignalRow is one signal_history row to upsert.
type SignalRow struct {
	SignalID   string
	Symbol     string
	TS         time.Time
	Value      float64
	Confidence *float64
	Source     Source
	Meta       map[string]any
	ProducedAt time.Time
}

// ValueFunc receives one feature value: col indexes the query's refs.
type ValueFunc func(col int, ts time.Time, value float64)

// Store is what the service needs from the database. Implementations map
// their failures to coded errors (signal_not_found, db_unavailable, …).
type Store interface {
	// Signal returns the signal definition, or signal_not_found.
	Signal(ctx context.Context, id string) (Signal, error)
	// Model returns the model_registry row, or model_not_found.
	Model(ctx context.Context, id string) (ModelRecord, error)
	// LatestRegisteredVersions maps each name to its highest registered version.
	LatestRegisteredVersions(ctx context.Context, names []string) (map[string]int, error)
	// FeatureDefs returns the registry rows that exist among refs.
	FeatureDefs(ctx context.Context, refs []FeatureRef) (map[FeatureRef]FeatureDef, error)
	// PerBarValues calls fn for every non-NULL value of refs at symbol and
	// interval with start <= ts < end, in any order.
	PerBarValues(ctx context.Context, refs []FeatureRef, symbol, interval string, start, end time.Time, fn ValueFunc) error
	// GlobalValues calls fn for every non-NULL global value (symbol = '' and
	// interval = '') of refs with from <= ts < to and, per ref, for the newest
	// one before from; in ascending ts order per ref.
	GlobalValues(ctx context.Context, refs []FeatureRef, from, to time.Time, fn ValueFunc) error
	// UpsertSignalRows writes rows in one transaction: all or none.
	UpsertSignalRows(ctx context.Context, rows []SignalRow, agent string) error
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
}
