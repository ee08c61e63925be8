package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rfkih/blackheart-inference/inference"
)

// RequestObserver counts requests for metrics (package api/metrics).
// route is the route template ("unmatched" for unknown paths) and method one
// of a fixed set, so label values stay bounded.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, code inference.Code, d time.Duration)
}

// WithMetrics serves metrics at GET /metrics (public, like /healthz) and
// reports every request to obs. Call it before Handler.
func (s *Server) WithMetrics(obs RequestObserver, metrics http.Handler) *Server {
	s.reqObs, s.metrics = obs, metrics
	return s
}

// StoreChecker reports whether a remote artifact store lets the service
// serve: state is "ok" or "unreachable"; ready may hold while unreachable
// when every artifact in use is cached.
type StoreChecker interface {
	StoreStatus(ctx context.Context) (state string, ready bool)
}

// WithArtifactStore adds the artifact_store field to /readyz. Call it
// before Handler.
func (s *Server) WithArtifactStore(c StoreChecker) *Server {
	s.store = c
	return s
}

// CacheReporter is the model cache as /readyz reports it.
type CacheReporter interface {
	Stats() inference.CacheStats
}

// WithModelCache adds the model_working_set fields to /readyz. Call it
// before Handler.
func (s *Server) WithModelCache(c CacheReporter) *Server {
	s.models = c
	return s
}

// readyModels adds the working set's state to a /readyz body and reports
// whether it lets the replica take traffic: not while its first working
// set is loading (at most a few seconds at start), whatever came of it
// after. A working set over the budget is served, each model it does not
// hold loading at every use, and says so.
func readyModels(body map[string]string, st inference.CacheStats) bool {
	if !st.Tracked {
		return true
	}
	body["model_working_set_models"] = fmt.Sprintf("%d held of %d", st.WorkingSetHeld, st.WorkingSet)
	body["model_cache_bytes"] = fmt.Sprintf("%d of %d", st.Bytes, st.Budget)
	switch {
	case !st.Loaded:
		body["model_working_set"] = "loading"
		return false
	case st.OverBudget > 0:
		body["model_working_set"] = "over_budget"
		body["model_working_set_bytes"] = strconv.FormatInt(st.WorkingSetBytes, 10)
	case st.Failed > 0:
		body["model_working_set"] = "loaded_with_failures"
	default:
		body["model_working_set"] = "loaded"
	}
	return true
}

//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIDocument is api/openapi.yaml, the description of every endpoint,
// body, error envelope and error code, as JSON.
func OpenAPIDocument() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	doc, err := OpenAPIDocument()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
	return nil
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return inference.Errorf(inference.CodeNotFound, "metrics are not enabled in this server")
	}
	s.metrics.ServeHTTP(w, r)
	return nil
}

// knownMethods bounds the method label.
var knownMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true}

func (s *Server) observe(route string, r *http.Request, status int, code inference.Code, d time.Duration) {
	if s.reqObs == nil {
		return
	}
	method := r.Method
	if !knownMethods[method] {
		method = "other"
	}
	s.reqObs.ObserveRequest(route, method, status, code, d)
}
