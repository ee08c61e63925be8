package inference

import "time"

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
	ModelCacheSize          int           `env:"INFERENCE_MODEL_CACHE_SIZE" envDefault:"16"`
	BackfillChunkBars       int           `env:"INFERENCE_BACKFILL_CHUNK_BARS" envDefault:"5000"`
	// MaxConcurrentBackfills run at once (0: the number of CPUs); up to
	// BackfillQueue more wait, and past that a backfill is backfill_busy.
	MaxConcurrentBackfills int `env:"INFERENCE_MAX_CONCURRENT_BACKFILLS"`
	BackfillQueue          int `env:"INFERENCE_BACKFILL_QUEUE" envDefault:"16"`
	Stream                 StreamConfig
}

// StreamConfig configures the streaming worker (and batch-predict's window).
type StreamConfig struct {
	Enabled     bool `env:"INFERENCE_STREAMING_ENABLED" envDefault:"false"`
	PollSeconds int  `env:"INFERENCE_STREAMING_POLL_SECONDS" envDefault:"2"`
	MaxGapHours int  `env:"INFERENCE_STREAMING_MAX_GAP_HOURS" envDefault:"24"`
}

// effective clamps the settings to what runs: a poll of at least one second
// and a max gap of at least one hour.
func (c StreamConfig) effective() StreamConfig {
	c.PollSeconds, c.MaxGapHours = max(c.PollSeconds, 1), max(c.MaxGapHours, 1)
	return c
}

// Status is the status of a worker with these settings that has not run:
// what /streaming/status reports when streaming is off.
func (c StreamConfig) Status() StreamStatus {
	c = c.effective()
	return StreamStatus{Enabled: c.Enabled, PollSeconds: c.PollSeconds, MaxGapHours: c.MaxGapHours}
}
