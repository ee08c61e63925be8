package inferencetest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PerformanceReference runs testdata/performance/reference.py, the
// trainer's realized-performance metrics restated with the pinned sklearn
// and pandas, on req and decodes its answer into out. The pinned venv is
// part of make test's set-up: without it the test fails.
func PerformanceReference(t testing.TB, req, out any) {
	t.Helper()
	runReference(t, filepath.Join("testdata", "performance", "reference.py"), req, out)
}

// runReference runs one of testdata's Python references with the pinned
// venv: req as JSON on stdin, its JSON answer decoded into out.
func runReference(t testing.TB, script string, req, out any) {
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
	cmd := exec.Command(py, filepath.Join(root, script))
	cmd.Stdin = bytes.NewReader(raw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", script, err, stderr.String())
	}
	if err := json.Unmarshal(got, out); err != nil {
		t.Fatalf("%s's answer: %v", script, err)
	}
}
