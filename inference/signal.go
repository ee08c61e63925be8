package inference

import "time"

// Source is signal_history.source; the set is a frozen boundary.
type Source string

// The three sources.
const (
	SourceStream           Source = "stream"
	SourceCatchupScan      Source = "catchup_scan"
	SourceHistoricalReplay Source = "historical_replay"
)

// SignalStatus is signal_definition.status.
type SignalStatus string

// The signal statuses (CONTRACT §6).
const (
	SignalActive  SignalStatus = "active"
	SignalShadow  SignalStatus = "shadow"
	SignalRetired SignalStatus = "retired"
)

// ModelStatus is model_registry.status. Serving refuses only the two
// terminal ones; the others are recorded in meta.model_status_at_inference.
type ModelStatus string

// The model statuses serving distinguishes (CONTRACT §6 lists them all).
const (
	ModelLive     ModelStatus = "live"
	ModelRetired  ModelStatus = "retired"
	ModelRejected ModelStatus = "rejected_by_operator"
)

// Refused reports whether serving must refuse a model in this status.
func (s ModelStatus) Refused() bool { return s == ModelRetired || s == ModelRejected }

// FeatureStatus is feature_registry.status.
type FeatureStatus string

// FeatureRegistered is the only status a model input may have.
const FeatureRegistered FeatureStatus = "registered"

// Signal is a signal_definition row.
type Signal struct {
	ID      string
	Name    string
	ModelID string
	Status  SignalStatus
}

// ModelRecord is the part of a model_registry row serving needs. The
// intervals are as stored: Serving().Valid() says whether one is served.
type ModelRecord struct {
	ID              string
	Symbol          string
	Interval        Interval
	ServingInterval Interval
	Status          ModelStatus
	ArtifactSHA256  string // empty when NULL
	// Windows are the row's training, validation and holdout windows.
	Windows ModelWindows
	// HorizonBars is horizon_bars: how many bars the label reads ahead (0 when NULL).
	HorizonBars int
}

// TimeRange is [From, To).
type TimeRange struct{ From, To time.Time }

// ModelWindows are a model_registry row's windows; nil when absent.
type ModelWindows struct{ Training, Validation, Holdout *TimeRange }

// Serving is the interval the model serves at: serving_interval, else interval.
func (m ModelRecord) Serving() Interval {
	if m.ServingInterval != "" {
		return m.ServingInterval
	}
	return m.Interval
}

// Target is one streaming target: a signal and where it is served.
type Target struct {
	SignalID string
	Name     string
	Status   SignalStatus
	ModelID  string
	// ArtifactSHA is the model's artifact_sha256 when listed: the model the
	// target's bars need, kept loaded (ModelCache.KeepLoaded).
	ArtifactSHA string
	Symbol      string
	Interval    Interval // the model's serving interval, as stored
	// LastTS is the newest signal_history ts when the target was listed
	// (nil: none); re-read under the target's lock before writing.
	LastTS *time.Time
}

// lockKey names the target's cluster-wide lock.
func (t Target) lockKey() string { return "stream:" + t.SignalID + ":" + t.Symbol }

// MemberState is a group member's signal_definition row and newest
// signal_history ts, read under its lock.
type MemberState struct {
	Found   bool // the signal_definition row exists
	Status  SignalStatus
	ModelID string
	LastTS  *time.Time
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
