package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/rfkih/blackheart-inference/inference"
)

// Inference is what the handlers need from the domain service.
type Inference interface {
	Run(ctx context.Context, req inference.RunRequest) (*inference.RunResult, error)
	Explain(ctx context.Context, req inference.RunRequest) (*inference.ExplainResult, error)
	Backfill(ctx context.Context, req inference.BackfillRequest) (*inference.BackfillResult, error)
	BatchPredict(ctx context.Context, req inference.BatchRequest) (*inference.BatchResult, error)
	FeatureDrift(ctx context.Context, req inference.FeatureDriftRequest) (*inference.FeatureDriftReport, error)
	SignalDrift(ctx context.Context, req inference.SignalDriftRequest) (*inference.SignalDriftReport, error)
	SignalPerformance(ctx context.Context, req inference.PerformanceRequest) (*inference.PerformanceReport, error)
}

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server holds the handlers' dependencies. Safe for concurrent use.
type Server struct {
	svc         Inference
	db          Pinger
	streamer    Streamer
	artifactDir string
	cfg         Config
	log         *slog.Logger
	tokenSum    [32]byte
	reqObs      RequestObserver // nil: requests are not counted
	metrics     http.Handler    // nil: /metrics answers not_found
	store       StoreChecker    // nil: artifacts are local only
	models      CacheReporter   // nil: /readyz leaves the model cache out
}

// NewServer builds the HTTP handler. streamer reports /streaming/status:
// the worker, or the configured settings when streaming is off.
func NewServer(svc Inference, db Pinger, streamer Streamer, artifactDir string, cfg Config, log *slog.Logger) *Server {
	if streamer == nil {
		streamer = StaticStatus(inference.StreamConfig{}.Status())
	}
	return &Server{svc: svc, db: db, streamer: streamer, artifactDir: artifactDir, cfg: cfg, log: log,
		tokenSum: sha256.Sum256([]byte(cfg.AuthToken))}
}

// route is one endpoint; its methods also make the 405's Allow header.
type route struct {
	path    string
	methods []string
	h       handlerFunc
}

func (s *Server) routes() []route {
	get := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	return []route{
		{"/healthz", get, s.healthz},
		{"/readyz", get, s.readyz},
		{"/inference/run", post, s.auth(s.run)},
		{"/inference/backfill", post, s.auth(s.backfill)},
		{"/inference/batch-predict", post, s.auth(s.batchPredict)},
		{"/inference/explain", post, s.auth(s.explain)},
		{"/streaming/status", get, s.auth(s.streamingStatus)},
		{"/monitoring/drift", get, s.auth(s.drift)},
		{"/monitoring/performance", get, s.auth(s.performance)},
		{"/openapi.json", get, s.auth(s.openAPI)},
		{"/metrics", get, s.serveMetrics},
	}
}

// Handler returns the routed handler with its middleware. An unknown path
// is 404 not_found; a known path with another method is 405
// method_not_allowed with an Allow header; both in the envelope.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	allow := map[string]string{}
	for _, rt := range s.routes() {
		r.Handle(rt.path, s.wrap(rt.path, rt.h)).Methods(rt.methods...)
		allow[rt.path] = strings.Join(rt.methods, ", ")
	}
	r.NotFoundHandler = s.wrap("unmatched", func(w http.ResponseWriter, r *http.Request) error {
		return inference.Errorf(inference.CodeNotFound, "no endpoint at %s", bounded(r.URL.Path))
	})
	r.MethodNotAllowedHandler = s.wrap("", func(w http.ResponseWriter, r *http.Request) error {
		methods := allow[r.URL.Path]
		w.Header().Set("Allow", methods)
		return inference.Errorf(inference.CodeMethodNotAllowed, "%s is not allowed on %s", bounded(r.Method), bounded(r.URL.Path)).
			WithDetails(map[string]any{"allow": strings.Split(methods, ", ")})
	})
	return r
}

// reqInfo collects what the access log line reports.
type reqInfo struct {
	id          string
	signalID    string
	rowsWritten int
	code        inference.Code
}

type reqInfoKey struct{}

func info(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	if ri == nil {
		ri = &reqInfo{}
	}
	return ri
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// wrap is the single edge: request id, panic recovery, error envelope, one
// access-log line and one metrics observation per request. route is the
// route template ("" for the 405 handler, which only sees our own paths).
func (s *Server) wrap(route string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: r.Header.Get("X-Request-ID")}
		if !requestIDPattern.MatchString(ri.id) {
			ri.id = newRequestID()
		}
		w.Header().Set("X-Request-ID", ri.id)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))

		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("panic in handler", "request_id", ri.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					err = inference.Errorf(inference.CodeInternal, "internal error")
				}
			}()
			return h(sw, r)
		}()
		if err != nil {
			status, env := toEnvelope(err)
			ri.code = env.ErrorCode
			if n, ok := env.Details[rowsBeforeError].(int); ok {
				ri.rowsWritten = n // what a failed backfill had committed
			}
			if sw.status == 0 {
				writeJSON(sw, status, env)
			}
			if status >= 500 {
				s.log.Error("request failed", "request_id", ri.id, "error_code", env.ErrorCode, "error", err.Error())
			}
		}
		attrs := []any{"request_id", ri.id, "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"latency_ms", float64(time.Since(start).Microseconds()) / 1000}
		if ri.signalID != "" {
			attrs = append(attrs, "signal_id", ri.signalID)
		}
		if ri.code != "" {
			attrs = append(attrs, "error_code", ri.code)
		}
		if r.Context().Err() != nil { // the caller left, or shutdown cut the request off
			attrs = append(attrs, "cancelled", true)
		}
		if r.URL.Path == "/inference/backfill" || ri.rowsWritten > 0 {
			attrs = append(attrs, "rows_written", ri.rowsWritten)
		}
		s.log.Info("request", attrs...)
		label := route
		if label == "" { // a 405: mux matched one of our static paths
			label = r.URL.Path
		}
		s.observe(label, r, sw.status, ri.code, time.Since(start))
	})
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// auth checks X-Inference-Token in constant time (hashes compared, so the
// token's length does not leak either).
func (s *Server) auth(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := r.Header.Get("X-Inference-Token")
		if tok == "" {
			return inference.Errorf(inference.CodeAuthMissingToken, "the X-Inference-Token header is missing")
		}
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
			return inference.Errorf(inference.CodeAuthBadToken, "the X-Inference-Token header is not valid")
		}
		return h(w, r)
	}
}

// agent reads X-Agent-Name (D10): default "anonymous".
func agent(r *http.Request) (string, error) {
	a := r.Header.Get("X-Agent-Name")
	if a == "" {
		return "anonymous", nil
	}
	if !agentPattern.MatchString(a) {
		return "", invalid("X-Agent-Name", "must be 1-64 of A-Z a-z 0-9 _ . : -")
	}
	return a, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
	return nil
}

// readyz answers 503 when degraded (D3).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	body, ok := s.Ready(r.Context())
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
	return nil
}

// Ready runs /readyz's checks — the database answers, the artifact
// directory is a readable directory, and with a remote store, the store
// answers or every artifact in use is cached — within 3 s, and reports each.
func (s *Server) Ready(ctx context.Context) (map[string]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	body := map[string]string{"status": "ok", "db": "ok", "artifact_dir": "ok"}
	if err := s.db.Ping(ctx); err != nil {
		body["db"], body["status"] = "unavailable", "degraded"
	}
	if st, err := os.Stat(s.artifactDir); err != nil || !st.IsDir() {
		body["artifact_dir"], body["status"] = "unavailable", "degraded"
	} else if f, err := os.Open(s.artifactDir); err != nil {
		body["artifact_dir"], body["status"] = "unreadable", "degraded"
	} else {
		f.Close()
	}
	if s.store != nil {
		state, ready := s.store.StoreStatus(ctx)
		body["artifact_store"] = state
		if !ready {
			body["status"] = "degraded"
		}
	}
	if s.models != nil && !readyModels(body, s.models.Stats()) {
		body["status"] = "degraded"
	}
	return body, body["status"] == "ok"
}

// postJSON is the shared shape of the POST endpoints: agent header, strict
// body, a deadline, the call, and the answer. call returns the response body
// and the rows it wrote (for the access log).
func (s *Server) postJSON(w http.ResponseWriter, r *http.Request, body any, timeout time.Duration,
	call func(ctx context.Context, agent string) (any, int, error)) error {
	ag, err := agent(r)
	if err != nil {
		return err
	}
	if err := decodeStrict(w, r, s.cfg.BodyLimitBytes, body); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	resp, rows, err := call(ctx, ag)
	if err != nil {
		return timeoutAware(ctx, err)
	}
	info(r.Context()).rowsWritten = rows
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) error {
	return s.postRun(w, r, func(ctx context.Context, req inference.RunRequest) (any, int, error) {
		res, err := s.svc.Run(ctx, req)
		if err != nil {
			return nil, 0, err
		}
		return toRunResponse(res), 1, nil
	})
}

// postRun decodes run's body (run and explain share it) and answers what
// call makes of the request.
func (s *Server) postRun(w http.ResponseWriter, r *http.Request, call func(context.Context, inference.RunRequest) (any, int, error)) error {
	var body runRequest
	return s.postJSON(w, r, &body, s.cfg.RunTimeout, func(ctx context.Context, ag string) (any, int, error) {
		req, err := body.toDomain(ag)
		if err != nil {
			return nil, 0, err
		}
		info(r.Context()).signalID = req.SignalID
		return call(ctx, req)
	})
}

func (s *Server) backfill(w http.ResponseWriter, r *http.Request) error {
	var body backfillRequest
	return s.postJSON(w, r, &body, s.cfg.BackfillTimeout, func(ctx context.Context, ag string) (any, int, error) {
		req, err := body.toDomain(ag)
		if err != nil {
			return nil, 0, err
		}
		info(r.Context()).signalID = req.SignalID
		res, err := s.svc.Backfill(ctx, req)
		if err != nil {
			return nil, 0, err
		}
		return toBackfillResponse(res), res.RowsWritten, nil
	})
}

// timeoutAware reports a request that ran out of time as retryable
// db_unavailable when the deadline is what stopped it.
func timeoutAware(ctx context.Context, err error) error {
	var coded *inference.Error
	if errors.As(err, &coded) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return inference.Wrap(err, inference.CodeDBUnavailable, "the request ran out of time")
	}
	return err
}
