// Package storage is the PostgreSQL adapter of blackheart-inference (pgx v5).
// It reads signal_definition, model_registry, feature_registry and
// feature_values, and upserts signal_history. It never creates or alters
// tables; the schema it expects is schema/schema.sql. The connecting role
// needs SELECT on the first four and SELECT, INSERT, UPDATE on
// signal_history: blackheart_research has that, blackheart_trading cannot
// upsert.
//
// Imports: the standard library, pgx and inference. It must never import
// api, native or inference/artifact, nor mux, gopickle or leaves.
package storage
