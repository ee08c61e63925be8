// Package inference is the domain of blackheart-inference: the vocabulary
// (signals, models, payloads, feature vectors, predictions, the one error
// type and its wire codes) and the services that use it — resolving a signal
// to its model, building feature vectors exactly as training did (CONTRACT
// §5), scoring bars and writing signal_history rows, the model cache and the
// streaming worker.
//
// It declares the small interfaces it needs and leaves their implementation
// to adapters: Store (PostgreSQL, package storage), ArtifactSource (the
// pickled-artifact reader, package inference/artifact) and Loaders (the
// native evaluators, package native). Package cmd wires them together.
//
// Imports: the standard library only. It must never import the adapters
// (storage, api, native, inference/artifact) nor any third-party package —
// no gopickle, pgx, mux or leaves — nor use cgo. `make lint` enforces this.
package inference
