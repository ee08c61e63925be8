package inferencetest

import (
	"path/filepath"
	"testing"
)

// DriftReference runs testdata/drift/reference.py, the production sidecar's
// PSI rule restated in plain Python, on req and decodes its answer into out.
// The pinned venv is part of make test's set-up: without it the test fails.
func DriftReference(t testing.TB, req, out any) {
	t.Helper()
	runReference(t, filepath.Join("testdata", "drift", "reference.py"), req, out)
}
