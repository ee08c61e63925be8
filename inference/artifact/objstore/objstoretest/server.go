package objstoretest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/artifact/objstore"
)

// Server is one moto S3 server process.
type Server struct {
	tb   testing.TB
	Port int
	cmd  *exec.Cmd
}

// Start runs a server on a free loopback port; it stops when the test ends.
// It sets placeholder AWS credentials in the environment (moto accepts any),
// so tests that use it must not run in parallel.
func Start(tb testing.TB) *Server {
	tb.Helper()
	tb.Setenv("AWS_ACCESS_KEY_ID", "blackheart-test")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "blackheart-test-secret")
	s := &Server{tb: tb, Port: freePort(tb)}
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

// Endpoint is the server's base URL.
func (s *Server) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", s.Port) }

// URL is an INFERENCE_ARTIFACT_STORE value for bucket and prefix here.
func (s *Server) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?region=us-east-1&endpoint=%s", bucket, prefix, s.Endpoint())
}

func (s *Server) start() {
	s.tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	py := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", ".venv-s3", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		s.tb.Fatalf("the S3 test server is not installed (%v): run make test, which installs it (make s3-server)", err)
	}
	s.cmd = exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(s.Port))
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start moto: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.Endpoint() + "/"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	s.tb.Fatalf("moto did not answer on %s: %s", s.Endpoint(), out.String())
}

// Stop kills the server (its objects are gone with it).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

// Bucket opens bucket/prefix here, creating the bucket.
func (s *Server) Bucket(bucket, prefix string) *objstore.Bucket {
	s.tb.Helper()
	b, err := objstore.Open(s.URL(bucket, prefix))
	if err != nil {
		s.tb.Fatalf("open bucket: %v", err)
	}
	if err := b.MakeBucket(context.Background()); err != nil {
		s.tb.Fatalf("make bucket: %v", err)
	}
	return b
}

// Upload puts the artifact file at path under sha's content-addressed key.
func Upload(tb testing.TB, b *objstore.Bucket, sha, path string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	if err := b.Put(context.Background(), artifact.Key(sha), bytes.NewReader(data), int64(len(data))); err != nil {
		tb.Fatalf("upload %s: %v", sha, err)
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
