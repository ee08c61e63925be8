// Package metrics is the Prometheus adapter of blackheart-inference: it
// implements inference.Observer and api.RequestObserver, reads the database
// pool's statistics on every scrape (a collector, not a ticker) and serves
// the registry at GET /metrics. Label values are bounded: routes are the
// route templates, methods a fixed set, signal ids appear only on
// streaming-target series (bounded by the registry), never a raw path,
// symbol of a request or request id.
//
// Imports: the standard library, client_golang and inference. It must never
// import storage, native or inference/artifact.
package metrics
