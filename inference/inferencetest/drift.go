package inferencetest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DriftReference runs testdata/drift/reference.py, the production sidecar's
// PSI rule restated in plain Python, on req and decodes its answer into out.
// The pinned venv is part of make test's set-up: without it the test fails.
func DriftReference(t testing.TB, req, out any) {
	t.Helper()
	root := filepath.Join(Dir(), "..", "..")
	py := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("the pinned Python venv is part of make test's set-up (make venv): %v", err)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join(root, "testdata", "drift", "reference.py"))
	cmd.Stdin = bytes.NewReader(raw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference.py: %v: %s", err, stderr.String())
	}
	if err := json.Unmarshal(got, out); err != nil {
		t.Fatalf("reference.py's answer: %v", err)
	}
}
