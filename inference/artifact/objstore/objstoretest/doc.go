// Package objstoretest runs a real S3-compatible server process on loopback
// for tests: moto's server mode from the repository's .venv-s3 (make
// s3-server installs it). It is a separate process speaking the S3 wire
// protocol, started in about a second, with its objects in memory. Nothing
// is skipped when it is missing: the error says to run `make test`.
//
// Test support only: nothing outside _test.go files imports it.
package objstoretest
