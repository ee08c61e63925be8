package inference

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a number of bytes, written as a plain number or with a
// binary unit: KiB, MiB, GiB.
type ByteSize int64

// UnmarshalText reads "1536MiB", "2GiB", "65536".
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suffix)), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q: a byte count, plain or with KiB, MiB or GiB", text)
	}
	*b = ByteSize(n * mult)
	return nil
}

// Config configures the service and its streaming worker; cmd parses it
// from the environment once.
type Config struct {
	// ArtifactDir holds the artifacts, or caches them when ArtifactStore is
	// remote.
	ArtifactDir string `env:"INFERENCE_ARTIFACT_DIR" envDefault:"./artifacts"`
	// ArtifactStore is where artifacts come from: empty or file:// for
	// ArtifactDir itself, s3://bucket/prefix?region=…&endpoint=… or
	// gs://bucket/prefix for an object store.
	ArtifactStore string `env:"INFERENCE_ARTIFACT_STORE"`
	// ArtifactDownloadTimeout bounds one download from the store.
	ArtifactDownloadTimeout time.Duration `env:"INFERENCE_ARTIFACT_DOWNLOAD_TIMEOUT" envDefault:"2m"`
	MaxBackfillRows         int64         `env:"INFERENCE_MAX_BACKFILL_ROWS" envDefault:"50000"`
	// ModelCacheBytes bounds the memory the loaded models hold, each
	// measured when it loads ("1536MiB", "2GiB", or bytes).
	ModelCacheBytes ByteSize `env:"INFERENCE_MODEL_CACHE_BYTES" envDefault:"1536MiB"`
	// BatchBudget is how long batch-predict works before it answers with
	// what it wrote, leaving the rest to the streaming worker (the feature
	// service gives the webhook 30 s).
	BatchBudget       time.Duration `env:"INFERENCE_BATCH_BUDGET" envDefault:"4s"`
	BackfillChunkBars int           `env:"INFERENCE_BACKFILL_CHUNK_BARS" envDefault:"5000"`
	// MaxConcurrentBackfills run at once (0: the number of CPUs); up to
	// BackfillQueue more wait, and past that a backfill is backfill_busy.
	MaxConcurrentBackfills int `env:"INFERENCE_MAX_CONCURRENT_BACKFILLS"`
	BackfillQueue          int `env:"INFERENCE_BACKFILL_QUEUE" envDefault:"16"`
	// ExplainTopK, when above 0, adds to every row run, backfill, the
	// streaming worker and batch-predict write meta.top_contributions: each
	// contribution set's ExplainTopK largest (name and value).
	ExplainTopK int `env:"INFERENCE_EXPLAIN_TOP_K" envDefault:"0"`
	// Lookahead is what a replay (every backfill, a run with source
	// historical_replay) does with a bar that is not out of sample for its
	// model: "refuse" the call, or "mark" the rows (meta.vintage) and write.
	// The live paths always mark.
	Lookahead string `env:"INFERENCE_LOOKAHEAD" envDefault:"refuse"`
	// BackfillMode is a backfill's mode when its body names none: "model"
	// (the served model scores every bar) or "point_in_time" (the
	// artifact's out-of-fold predictions before honest_from).
	BackfillMode string `env:"INFERENCE_BACKFILL_MODE" envDefault:"model"`
	Stream       StreamConfig
	Drift        DriftConfig
}

// Validate refuses a look-ahead policy or backfill mode that does not exist.
func (c Config) Validate() error {
	if c.Lookahead != LookaheadRefuse && c.Lookahead != LookaheadMark {
		return fmt.Errorf("INFERENCE_LOOKAHEAD=%q: refuse or mark", c.Lookahead)
	}
	if c.BackfillMode != ModeModel && c.BackfillMode != ModePointInTime {
		return fmt.Errorf("INFERENCE_BACKFILL_MODE=%q: model or point_in_time", c.BackfillMode)
	}
	if c.ModelCacheBytes < 16<<20 {
		return fmt.Errorf("INFERENCE_MODEL_CACHE_BYTES=%d: at least 16MiB", c.ModelCacheBytes)
	}
	if c.BatchBudget < time.Second || c.BatchBudget > 25*time.Second {
		return fmt.Errorf("INFERENCE_BATCH_BUDGET=%s: from 1s to 25s (the feature service waits 30 s)", c.BatchBudget)
	}
	return c.Drift.Validate()
}

// DriftConfig configures the scheduled per-signal drift computation.
type DriftConfig struct {
	// Interval between passes over every active and shadow signal; 0 turns
	// the schedule off (GET /monitoring/drift still answers).
	Interval time.Duration `env:"INFERENCE_DRIFT_INTERVAL" envDefault:"1h"`
	// LiveDays is the live window of a scheduled pass (1..90).
	LiveDays int `env:"INFERENCE_DRIFT_LIVE_DAYS" envDefault:"7"`
	// DBPool is the drift computation's own connection budget, apart from
	// the serving pool, so that it never waits for or delays serving.
	DBPool int32 `env:"INFERENCE_DRIFT_DB_POOL" envDefault:"1"`
	// PerformanceDays is the window of each scheduled pass's realized
	// performance report (7..730 days; 0 leaves it out of the passes).
	PerformanceDays int `env:"INFERENCE_PERFORMANCE_WINDOW_DAYS" envDefault:"90"`
}

// Validate refuses settings the drift schedule cannot run with.
func (c DriftConfig) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("INFERENCE_DRIFT_INTERVAL=%s: must be 0 (off) or positive", c.Interval)
	case c.Interval > 0 && c.Interval < time.Minute:
		return fmt.Errorf("INFERENCE_DRIFT_INTERVAL=%s: at least 1m (or 0, off)", c.Interval)
	case c.LiveDays < 1 || c.LiveDays > 90:
		return fmt.Errorf("INFERENCE_DRIFT_LIVE_DAYS=%d: from 1 to 90", c.LiveDays)
	case c.DBPool < 1:
		return fmt.Errorf("INFERENCE_DRIFT_DB_POOL=%d: at least 1", c.DBPool)
	case c.PerformanceDays != 0 && (c.PerformanceDays < MinPerformanceDays || c.PerformanceDays > MaxPerformanceDays):
		return fmt.Errorf("INFERENCE_PERFORMANCE_WINDOW_DAYS=%d: 0 (off) or from %d to %d", c.PerformanceDays, MinPerformanceDays, MaxPerformanceDays)
	}
	return nil
}

// StreamConfig configures the streaming worker (and batch-predict's window).
type StreamConfig struct {
	Enabled     bool `env:"INFERENCE_STREAMING_ENABLED" envDefault:"false"`
	PollSeconds int  `env:"INFERENCE_STREAMING_POLL_SECONDS" envDefault:"2"`
	MaxGapHours int  `env:"INFERENCE_STREAMING_MAX_GAP_HOURS" envDefault:"24"`
	// Concurrency is how many groups of targets an iteration brings up to
	// date at once; each uses two pooled connections while it runs, and the
	// worker keeps one more for its replica slot.
	Concurrency int `env:"INFERENCE_STREAMING_CONCURRENCY" envDefault:"2"`
	// GroupSize is how many targets sharing a symbol, interval and last row
	// are caught up as one group (one lock round trip, one read and one
	// prediction per model, one upsert); 1 takes every target alone.
	GroupSize int `env:"INFERENCE_STREAMING_GROUP_SIZE" envDefault:"25"`
}

// effective clamps the settings to what runs: a poll of at least one second,
// a max gap of at least one hour, one target at a time and in a group at
// least.
func (c StreamConfig) effective() StreamConfig {
	c.PollSeconds, c.MaxGapHours, c.Concurrency = max(c.PollSeconds, 1), max(c.MaxGapHours, 1), max(c.Concurrency, 1)
	c.GroupSize = max(c.GroupSize, 1)
	return c
}

// Status is the status of a worker with these settings that has not run:
// what /streaming/status reports when streaming is off.
func (c StreamConfig) Status() StreamStatus {
	c = c.effective()
	return StreamStatus{Enabled: c.Enabled, PollSeconds: c.PollSeconds, MaxGapHours: c.MaxGapHours}
}
