// Package storagetest runs throwaway PostgreSQL clusters for tests: its own
// data directory, a loopback port, fsync off, the production-shaped schema
// (storage/schema/schema.sql) in a template database, and one fresh database
// per test cloned from it. Nothing is skipped when PostgreSQL is missing: the
// error says to run `make test`, which installs it.
//
// Test support only: nothing outside _test.go files imports it.
package storagetest
