package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/caarlos0/env/v10"

	"github.com/rfkih/blackheart-inference/api"
	"github.com/rfkih/blackheart-inference/api/metrics"
	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/native"
	"github.com/rfkih/blackheart-inference/storage"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "dev"

// config is every package's Config, parsed once from the environment.
type config struct {
	API       api.Config
	Storage   storage.Config
	Inference inference.Config
	LogLevel  string `env:"INFERENCE_LOG_LEVEL" envDefault:"info"`
	// Evaluator: native (the C libraries; the cgo build's default), go
	// (goeval; the only one of the pure-Go build) or cross-check (both,
	// refusing any call on which they differ; cgo build only).
	Evaluator string `env:"INFERENCE_EVALUATOR"`
}

// retiredEnv are variables that no longer mean anything, with what took
// their place: set, they are refused, never silently ignored.
var retiredEnv = map[string]string{
	"INFERENCE_MODEL_CACHE_SIZE": "the cache is bounded by the models' measured bytes: set INFERENCE_MODEL_CACHE_BYTES (default 1536MiB) instead",
}

func parseConfig(environ map[string]string) (config, error) {
	var cfg config
	for name, instead := range retiredEnv {
		if _, set := environ[name]; set {
			return cfg, fmt.Errorf("%s is no longer read; %s", name, instead)
		}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return cfg, err
	}
	cfg.API = cfg.API.WithDefaults()
	cfg.API.Version = version
	return cfg, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("INFERENCE_LOG_LEVEL=%q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// app is the wired service, shared by serve and the end-to-end tests.
type app struct {
	store   *storage.Store
	cache   *inference.ModelCache
	service *inference.Service
	worker  *inference.Worker       // nil unless INFERENCE_STREAMING_ENABLED
	drift   *inference.DriftWatcher // nil when INFERENCE_DRIFT_INTERVAL is 0
	driftDB *storage.Store          // the drift computation's own pool
	metrics *metrics.Metrics
	remote  *artifact.CachedStore // nil unless INFERENCE_ARTIFACT_STORE is remote
	handler http.Handler
}

func newApp(ctx context.Context, cfg config, log *slog.Logger, now func() time.Time) (*app, error) {
	load, err := loadersFor(cfg.Evaluator)
	if err != nil {
		return nil, err
	}
	return newAppWith(ctx, cfg, log, now, load)
}

// newAppWith is newApp over the given native loaders (tests wrap them to
// see the exact rows each write path predicts).
func newAppWith(ctx context.Context, cfg config, log *slog.Logger, now func() time.Time, load inference.Loaders) (*app, error) {
	artifacts, cached, err := artifactSource(cfg.Inference)
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	m := metrics.New(buildInfo(), func() metrics.PoolStats { return metrics.PoolStats(store.PoolStats()) })
	if load.CrossCheck != nil {
		cc := *load.CrossCheck
		cc.OnMismatch = func(mm inference.Mismatch) {
			log.Error("evaluator mismatch: call refused, nothing written", "artifact_sha256", mm.ArtifactSHA, "row", mm.Row,
				"output", mm.Output, "native", mm.Native, "go", mm.Go, "inputs", mm.Inputs)
			m.EvaluatorMismatch()
		}
		load.CrossCheck = &cc
	}
	cache := inference.NewModelCache(artifacts, load, int64(cfg.Inference.ModelCacheBytes))
	cache.SetObserver(m)
	cache.SetLogger(log)
	svc := inference.NewService(store, cache, cfg.Inference, now, log)
	svc.SetObserver(m)
	a := &app{store: store, cache: cache, service: svc, metrics: m, remote: cached}
	if err := a.watchDrift(ctx, cfg, cache, m, now, log); err != nil {
		a.close()
		return nil, err
	}
	var streamer api.Streamer = api.StaticStatus(cfg.Inference.Stream.Status())
	if cfg.Inference.Stream.Enabled {
		a.worker = inference.NewWorker(svc, cfg.Inference.Stream, now, log)
		a.worker.SetObserver(m)
		streamer = a.worker
		if a.drift != nil { // streaming replicas split the monitoring passes as they split the bars
			a.drift.SplitByReplicas(svc)
		}
	}
	srv := api.NewServer(svc, store, streamer, cfg.Inference.ArtifactDir, cfg.API, log).WithMetrics(m, m.Handler()).WithModelCache(cache)
	if cached != nil {
		srv.WithArtifactStore(storeReadiness{cached, store})
	}
	m.SetReadiness(func() bool { _, ok := srv.Ready(context.Background()); return ok })
	a.handler = srv.Handler()
	return a, nil
}

// buildInfo is what this binary is: version, flavour, native libraries.
func buildInfo() metrics.BuildInfo {
	return metrics.BuildInfo{Version: version, Flavour: native.Flavor, LightGBM: native.LightGBMEvaluator, XGBoost: native.XGBoostEvaluator}
}

// watchDrift sets up the scheduled drift passes (INFERENCE_DRIFT_INTERVAL)
// on a service of their own over a pool of their own: a pass never takes a
// connection that serving needs, and shares only the model cache.
func (a *app) watchDrift(ctx context.Context, cfg config, cache *inference.ModelCache, m *metrics.Metrics, now func() time.Time, log *slog.Logger) error {
	if cfg.Inference.Drift.Interval <= 0 {
		return nil
	}
	dc := cfg.Storage
	dc.MinPool, dc.MaxPool = 0, cfg.Inference.Drift.DBPool
	db, err := storage.Open(ctx, dc)
	if err != nil {
		return err
	}
	svc := inference.NewService(db, cache, cfg.Inference, now, log.With("component", "drift"))
	a.driftDB, a.drift = db, inference.NewDriftWatcher(svc, cfg.Inference.Drift, log.With("component", "drift"))
	a.drift.SetObserver(m)
	return nil
}

func (a *app) close() {
	if a.driftDB != nil {
		a.driftDB.Close()
	}
	a.store.Close()
	a.cache.Close()
}

// serveConfig parses the configuration and applies every start-up refusal.
func serveConfig(environ map[string]string) (config, error) {
	cfg, err := parseConfig(environ)
	if err != nil {
		return cfg, fmt.Errorf("invalid configuration: %w", err)
	}
	for _, check := range []func() error{cfg.API.Validate, cfg.Inference.Validate,
		func() error { return checkNetworkMode(cfg.API, "/") }} {
		if err := check(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// runServe serves until ctx is cancelled, then drains in-flight requests for
// up to INFERENCE_SHUTDOWN_TIMEOUT. Requests still running after that are
// cancelled: a backfill rolls back the chunk it was writing.
func runServe(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError{"serve takes no arguments; it is configured by INFERENCE_* variables"}
	}
	cfg, err := serveConfig(environ)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	log, err := newLogger(stdout, cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	b := buildInfo()
	log.Info("starting", "version", b.Version, "flavor", b.Flavour, "evaluator", evaluatorName(cfg.Evaluator), "lightgbm", b.LightGBM, "xgboost", b.XGBoost, "api", cfg.API.Redacted(),
		"storage", cfg.Storage.Redacted(), "artifact_dir", cfg.Inference.ArtifactDir,
		"max_backfill_rows", cfg.Inference.MaxBackfillRows, "model_cache_bytes", int64(cfg.Inference.ModelCacheBytes),
		"streaming", cfg.Inference.Stream, "drift", cfg.Inference.Drift)

	limitGoHeap(cfg, log)
	a, err := newApp(ctx, cfg, log, time.Now)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	defer a.close()
	stopPprof, err := startPprof(cfg.API.PprofAddr, log)
	if err != nil {
		return err
	}
	defer stopPprof()

	raw, err := net.Listen("tcp", cfg.API.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.API.Addr(), err)
	}
	ln, err := exposeListener(raw, cfg.API, log, a.metrics.ConnectionRefused)
	if err != nil {
		raw.Close()
		return fmt.Errorf("refusing to start: %w", err)
	}
	a.cache.ExpectWorkingSet() // the worker or the model manager below gives it
	var inflight sync.WaitGroup
	srv := newHTTPServer(cfg.API, counted(&inflight, a.handler), log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	// The worker and the drift schedule start once the server listens and
	// stop before the pools close.
	var jobs []func(context.Context)
	if a.worker != nil {
		jobs = append(jobs, a.worker.Run) // it keeps its share's models loaded
	} else {
		poll := time.Duration(cfg.Inference.Stream.Status().PollSeconds) * time.Second
		jobs = append(jobs, func(ctx context.Context) { a.service.KeepModelsLoaded(ctx, poll) })
	}
	if a.drift != nil {
		jobs = append(jobs, a.drift.Run)
	}
	defer runBackground(ctx, jobs...)()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_timeout", cfg.API.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.API.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("drain timed out; cancelling in-flight requests", "error", err.Error())
		_ = srv.Close()
		awaitCancelled(&inflight, log)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer bounds every phase of a connection; writes may take as long
// as the longest request (a backfill) plus its response.
func newHTTPServer(cfg api.Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.BackfillTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// runBackground runs each job until the returned stop cancels them; stop
// waits for them to return.
func runBackground(ctx context.Context, jobs ...func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); job(ctx) }()
	}
	return func() { cancel(); wg.Wait() }
}

// cancelGrace bounds the wait for cancelled requests to return.
const cancelGrace = 10 * time.Second

// counted tracks in-flight requests in wg.
func counted(wg *sync.WaitGroup, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		h.ServeHTTP(w, r)
	})
}

// awaitCancelled waits (bounded) for cancelled handlers: they still roll
// back, log what they committed and release their connections, and must do
// so before the pool closes.
func awaitCancelled(inflight *sync.WaitGroup, log *slog.Logger) {
	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cancelGrace):
		log.Warn("requests still running after cancellation", "waited", cancelGrace.String())
	}
}

// envMap turns os.Environ() into the map config parsing reads.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// goHeapSlack is the Go heap the service needs beyond its models: requests,
// backfill chunks, drift windows.
const goHeapSlack = 512 << 20

// limitGoHeap sets the Go runtime's soft memory limit to the model budget
// plus goHeapSlack, unless GOMEMLIMIT says otherwise. In the pure-Go build
// the models are the Go heap, long-lived: with GOGC alone the heap may grow
// to twice them before a collection; the limit makes the collector work
// before that. The C libraries' models (cgo) are not the Go heap's, and
// there the limit is never approached.
func limitGoHeap(cfg config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(cfg.Inference.ModelCacheBytes) + goHeapSlack
	debug.SetMemoryLimit(limit)
	log.Info("go heap soft limit", "bytes", limit, "from", "INFERENCE_MODEL_CACHE_BYTES + 512MiB (GOMEMLIMIT overrides)")
}
