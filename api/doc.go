// Package api is the HTTP adapter: routes, authentication, strict decoding
// and the error envelope. Handlers return errors; one place writes the
// envelope and logs. Wire types live here, with named converters to and
// from the domain's.
//
// Imports: the standard library, gorilla/mux and inference. It must never
// import storage, native or inference/artifact, nor pgx, gopickle or leaves.
package api
