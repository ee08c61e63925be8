// Package artifact reads blackheart-train's pickled, content-addressed
// artifacts (<dir>/<sha[:2]>/<sha>.pkl, pickle protocol 5) without running
// any Python: an opcode pre-scan, a restricted unpickler over an allowlist
// of globals rebuilt as inert Go values (a small Python object model and
// numpy arrays), the payload and ensemble decoders, content-sha
// recomputation (CONTRACT §2) and the on-disk Store, which implements
// inference.ArtifactSource.
//
// Imports: the standard library, gopickle and inference. It must never
// import storage, api or native, nor pgx, mux or leaves, nor use cgo.
package artifact
