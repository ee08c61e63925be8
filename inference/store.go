package inference

import (
	"context"
	"time"
)

// FeatureRef names one feature version.
type FeatureRef struct {
	Name    string
	Version int
}

// FeatureDef is the part of a feature_registry row vector building needs.
type FeatureDef struct {
	FeatureRef
	Status FeatureStatus
	// PerBar is true when both the registry's symbols and intervals arrays
	// are non-empty (CONTRACT §5.3); every other feature is global.
	PerBar      bool
	FfillPolicy string
	// MaxFfillAgeHours is 0 when NULL.
	MaxFfillAgeHours int
}

// ValueFunc receives one feature_values row: col indexes the query's refs;
// value is NaN when the row's value is NULL.
type ValueFunc func(col int, ts time.Time, value float64)

// FeatureQuery asks for the rows one window of bars needs. Every bound is
// inclusive and a bar start or a whole number of hours from one: never a
// sub-microsecond offset, which PostgreSQL's timestamptz cannot hold.
type FeatureQuery struct {
	// PerBar rows at Symbol/Interval with First <= ts <= Last.
	PerBar      []FeatureRef
	Symbol      string
	Interval    Interval
	First, Last time.Time
	// Global rows (symbol = '' and interval = '') with GlobalFrom <= ts <= GlobalTo.
	Global     []FeatureRef
	GlobalFrom time.Time
	GlobalTo   time.Time
}

// Store is what the service needs from the database. Implementations map
// their failures to coded errors (signal_not_found, db_unavailable, …).
type Store interface {
	// Resolve returns the signal definition and its model_registry row:
	// signal_not_found or model_not_found when either is absent.
	Resolve(ctx context.Context, signalID string) (Signal, ModelRecord, error)
	// LatestRegisteredVersions maps each name to its highest registered version.
	LatestRegisteredVersions(ctx context.Context, names []string) (map[string]int, error)
	// FeatureDefs returns the registry rows that exist among refs.
	FeatureDefs(ctx context.Context, refs []FeatureRef) (map[FeatureRef]FeatureDef, error)
	// FeatureValues streams the rows q asks for (NULL values as NaN), in one
	// round trip, in any order: perBar gets indexes into q.PerBar, global
	// into q.Global.
	FeatureValues(ctx context.Context, q FeatureQuery, perBar, global ValueFunc) error
	// Snapshot is Resolve, FeatureDefs and FeatureValues in one round trip;
	// the registry rows come as read, in any order.
	Snapshot(ctx context.Context, signalID string, defs []FeatureRef, q FeatureQuery, perBar, global ValueFunc) (Signal, ModelRecord, []FeatureDef, error)
	// LatestGlobalBefore calls fn with, per ref, the newest global row with
	// since <= ts < before (used only to report a stale input's age).
	LatestGlobalBefore(ctx context.Context, refs []FeatureRef, since, before time.Time, fn ValueFunc) error
	// StreamTargets lists every active or shadow signal with its model's
	// symbol, serving interval and newest signal_history ts, in one query.
	StreamTargets(ctx context.Context) ([]Target, error)
	// LastSignalTS is the newest signal_history ts of the signal and symbol.
	LastSignalTS(ctx context.Context, signalID, symbol string) (time.Time, bool, error)
	// TryLock takes a cluster-wide lock named key without waiting. ok is
	// false when another process holds it; unlock releases it.
	TryLock(ctx context.Context, key string) (unlock func(), ok bool, err error)
	// LockGroup tries every target's lock on one session at once and then
	// reads each signal's definition and newest signal_history ts for
	// symbol, after the locks were taken: held[i] says whether keys[i] is
	// now held, states[i] is signalIDs[i]'s state. unlock releases the held
	// locks.
	LockGroup(ctx context.Context, keys, signalIDs []string, symbol string) (held []bool, states []MemberState, unlock func(), err error)
	// Replicas is this streaming replica's rank among those alive and their
	// number (each holds a slot for as long as its store is open).
	Replicas(ctx context.Context) (rank, n int, err error)
	// LeaveReplicas gives up the slot Replicas took, if any.
	LeaveReplicas()
	// UpsertSignalRows writes rows in one transaction: all or none. A row
	// whose existing one the trainer wrote (meta.source_run = oof_backfill)
	// is left as it is; kept lists their indexes in rows.
	UpsertSignalRows(ctx context.Context, rows []SignalRow, agent string) (kept []int, err error)
	// WindowValues streams the non-NULL feature_values of refs at exactly
	// symbol and interval with from <= ts < to, ordered by ts, in one round
	// trip: col indexes refs.
	WindowValues(ctx context.Context, refs []FeatureRef, symbol, interval string, from, to time.Time, fn ValueFunc) error
	// SignalValues returns the signal's signal_history values for symbol
	// with from <= ts < to.
	SignalValues(ctx context.Context, signalID, symbol string, from, to time.Time) ([]float64, error)
	// SignalHistory streams the signal's signal_history rows (every symbol),
	// as an audit reads them.
	SignalHistory(ctx context.Context, signalID string, fn func(HistoryRow)) error
	// ModelWindowsBySHA is the windows of the model_registry row whose
	// artifact_sha256 is sha; found is false when no row has it.
	ModelWindowsBySHA(ctx context.Context, sha string) (w ModelWindows, found bool, err error)
	// RealizedRows returns the signal's signal_history rows for symbol with
	// from <= ts < to, ordered by ts, each with its label's value at
	// exactly (label, symbol, interval, ts) (nil: not matured yet).
	RealizedRows(ctx context.Context, signalID, symbol string, label FeatureRef, interval string, from, to time.Time) ([]RealizedRow, error)
	// LabelExists reports whether feature_values holds any row of label.
	LabelExists(ctx context.Context, label FeatureRef) (bool, error)
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
}
