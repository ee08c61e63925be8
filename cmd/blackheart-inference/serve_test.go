package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// startServe runs run() in the background with environ and returns the
// address from its "listening" log line, the log records read until then,
// and a stop function that cancels it and returns run's error.
func startServe(t *testing.T, environ map[string]string) (string, []map[string]any, func() error) {
	addr, logs, stop := startServeLogged(t, environ)
	return addr, logs(), stop
}

// startServeLogged is startServe whose logs function returns every log
// record read so far (all of them once stop has returned).
func startServeLogged(t *testing.T, environ map[string]string) (string, func() []map[string]any, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, environ, nil, pw, io.Discard)
		pw.Close()
	}()
	var mu sync.Mutex
	var logged []map[string]any
	listening := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		lines := bufio.NewScanner(pr)
		for lines.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(lines.Bytes(), &rec); err != nil {
				rec = map[string]any{"msg": "NOT JSON: " + lines.Text()}
			}
			mu.Lock()
			logged = append(logged, rec)
			mu.Unlock()
			if rec["msg"] == "listening" {
				addr, _ := rec["addr"].(string)
				listening <- addr
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	logs := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		for _, rec := range logged {
			msg, _ := rec["msg"].(string)
			require.False(t, strings.HasPrefix(msg, "NOT JSON"), "logs are JSON: %s", msg)
		}
		return slices.Clone(logged)
	}
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		cancel()
		t.Fatalf("no listening line: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("no listening line")
	}
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			<-readDone
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return addr, logs, stop
}

func serveEnv(t *testing.T, extra map[string]string) map[string]string {
	environ := map[string]string{
		"INFERENCE_PORT": "0", "INFERENCE_DB_DSN": cluster.NewDatabase(t),
		"INFERENCE_ARTIFACT_DIR": inferencetest.ArtifactDir(), "INFERENCE_AUTH_TOKEN": testToken,
	}
	for k, v := range extra {
		environ[k] = v
	}
	return environ
}

// TestServeLifecycle runs the real binary's run() on port 0: it logs the
// address, serves, and stops cleanly when its context is cancelled.
func TestServeLifecycle(t *testing.T) {
	addr, logged, stop := startServe(t, serveEnv(t, nil))
	require.Equal(t, "starting", logged[0]["msg"])
	apiCfg := logged[0]["api"].(map[string]any)
	assert.NotContains(t, apiCfg["auth_token"], testToken, "the token is redacted")

	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("X-Request-ID"))
	assert.NoError(t, stop())
}

// TestStartupRefusals: D11, each with a one-line reason and no listener.
func TestStartupRefusals(t *testing.T) {
	long := "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		environ map[string]string
		reason  string
	}{
		{"all interfaces", map[string]string{"INFERENCE_HOST": "0.0.0.0"}, "loopback only"},
		{"public address", map[string]string{"INFERENCE_HOST": "192.0.2.10"}, "loopback only"},
		{"ipv6 any", map[string]string{"INFERENCE_HOST": "::"}, "loopback only"},
		{"prod with dev token", map[string]string{"INFERENCE_PROFILE": "prod", "INFERENCE_AUTH_TOKEN": "dev-token"}, "dev sentinel"},
		{"prod with no token", map[string]string{"INFERENCE_PROFILE": "prod"}, "empty"},
		{"prod with empty token", map[string]string{"INFERENCE_PROFILE": "prod", "INFERENCE_AUTH_TOKEN": ""}, "empty"},
		{"prod with short token", map[string]string{"INFERENCE_PROFILE": "prod", "INFERENCE_AUTH_TOKEN": long[:31]}, "at least 32"},
		{"unknown profile", map[string]string{"INFERENCE_PROFILE": "staging"}, "dev or prod"},
		{"bad port", map[string]string{"INFERENCE_PORT": "eighty"}, "Port"},
		{"pprof on all interfaces", map[string]string{"INFERENCE_PPROF_ADDR": "0.0.0.0:6060"}, "loopback"},
		{"pprof without a port", map[string]string{"INFERENCE_PPROF_ADDR": "127.0.0.1"}, "loopback host:port"},
		{"allowlist outside container mode", map[string]string{"INFERENCE_ALLOWED_CLIENTS": "10.89.0.0/24"}, "only under INFERENCE_NETWORK_MODE=container"},
		{"unknown network mode", map[string]string{"INFERENCE_NETWORK_MODE": "bridge"}, "host or container"},
		{"container mode, dev profile, no token", map[string]string{"INFERENCE_NETWORK_MODE": "container", "INFERENCE_HOST": "0.0.0.0"}, "empty: refused under INFERENCE_NETWORK_MODE=container"},
		{"container mode, dev token", map[string]string{"INFERENCE_NETWORK_MODE": "container", "INFERENCE_HOST": "0.0.0.0", "INFERENCE_AUTH_TOKEN": "dev-token"}, "dev sentinel"},
		{"container mode, short token", map[string]string{"INFERENCE_NETWORK_MODE": "container", "INFERENCE_HOST": "0.0.0.0", "INFERENCE_AUTH_TOKEN": long[:31]}, "at least 32"},
		{"the retired model count", map[string]string{"INFERENCE_MODEL_CACHE_SIZE": "16"}, "set INFERENCE_MODEL_CACHE_BYTES"},
		{"a cache of no room", map[string]string{"INFERENCE_MODEL_CACHE_BYTES": "1MiB"}, "at least 16MiB"},
		{"a cache size that is no size", map[string]string{"INFERENCE_MODEL_CACHE_BYTES": "2GB"}, "with KiB, MiB or GiB"},
		{"a batch budget past the webhook's timeout", map[string]string{"INFERENCE_BATCH_BUDGET": "30s"}, "from 1s to 25s"},
		{"container mode, bad allowlist", map[string]string{"INFERENCE_NETWORK_MODE": "container", "INFERENCE_HOST": "0.0.0.0", "INFERENCE_AUTH_TOKEN": long, "INFERENCE_ALLOWED_CLIENTS": "10.89.0.0/33"}, "neither a CIDR prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), []string{"serve"}, tt.environ, nil, io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "refusing to start")
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
	// The loopback forms that are allowed, under prod with a proper token.
	for _, host := range []string{"127.0.0.1", "127.1.2.3", "::1", "localhost"} {
		cfg, err := parseConfig(map[string]string{"INFERENCE_HOST": host, "INFERENCE_PROFILE": "prod", "INFERENCE_AUTH_TOKEN": long})
		require.NoError(t, err)
		assert.NoError(t, cfg.API.Validate(), host)
	}
}

// TestServeStartsAndStopsTheStreamingWorker: with streaming enabled the
// worker runs after the server listens and reports through its endpoint.
func TestServeStartsAndStopsTheStreamingWorker(t *testing.T) {
	addr, _, stop := startServe(t, serveEnv(t, map[string]string{
		"INFERENCE_STREAMING_ENABLED": "true", "INFERENCE_STREAMING_POLL_SECONDS": "1"}))
	status := func() map[string]any {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/streaming/status", nil)
		req.Header.Set("X-Inference-Token", testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return body
	}
	require.Eventually(t, func() bool { return status()["iterations"].(float64) >= 2 }, 10*time.Second, 100*time.Millisecond)
	body := status()
	assert.Equal(t, true, body["enabled"])
	assert.EqualValues(t, 1, body["poll_seconds"])
	assert.NotNil(t, body["started_at"])
	assert.EqualValues(t, 0, body["last_iteration"].(map[string]any)["targets_total"])
	assert.NoError(t, stop())
}

// TestShutdownDrainsOrRollsBackAnInFlightBackfill: on shutdown a running
// two-year backfill either completes (drain within the timeout) or, when the
// timeout is too short, is cancelled with its current chunk rolled back:
// whole chunks only, never half of one.
func TestShutdownDrainsOrRollsBackAnInFlightBackfill(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seedDemo(t, dsn)
	body := `{"signal_id":"22222222-2222-2222-2222-222222222222","symbol":"BTCUSDT","interval_name":"1h",` +
		`"start":"2024-12-01T00:00:00Z","end":"2026-12-01T00:00:00Z","source":"historical_replay","lookahead":"allow"}`
	count := func() int {
		return len(storagetest.NewSeed(t, dsn).History(demoSignal))
	}
	for _, tc := range []struct {
		name    string
		timeout string
		drained bool
	}{
		{"cancelled and rolled back", "1ms", false},
		{"drained", "60s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _, stop := startServe(t, map[string]string{
				"INFERENCE_PORT": "0", "INFERENCE_DB_DSN": dsn, "INFERENCE_ARTIFACT_DIR": inferencetest.ArtifactDir(),
				"INFERENCE_AUTH_TOKEN": testToken, "INFERENCE_SHUTDOWN_TIMEOUT": tc.timeout,
				"INFERENCE_BACKFILL_CHUNK_BARS": "5000",
			})
			type result struct {
				status int
				err    error
			}
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/inference/backfill", strings.NewReader(body))
				req.Header.Set("X-Inference-Token", testToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					done <- result{err: err}
					return
				}
				resp.Body.Close()
				done <- result{status: resp.StatusCode}
			}()
			time.Sleep(150 * time.Millisecond) // the backfill takes about a second
			require.NoError(t, stop())
			res := <-done
			n := count()
			if tc.drained {
				require.NoError(t, res.err)
				assert.Equal(t, http.StatusOK, res.status, "the in-flight backfill finished before shutdown")
				assert.Equal(t, 17520, n)
			} else {
				t.Logf("cancelled backfill left %d rows", n)
				assert.True(t, n%5000 == 0 || n == 17520, "whole 5000-bar chunks only, got %d rows", n)
			}
		})
	}
}

// TestShutdownLogsTheRowsItCommitted: a backfill cut off by a drain timeout
// after one chunk committed must not be logged as having written nothing.
func TestShutdownLogsTheRowsItCommitted(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seedDemo(t, dsn)
	seed := storagetest.NewSeed(t, dsn)
	// The second 4000-bar chunk (from 2025-05-16 16:00) stalls in the database.
	seed.Exec(`CREATE FUNCTION stall_second_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.ts = '2025-05-16 16:00+00' THEN PERFORM pg_sleep(30); END IF;
			RETURN NEW;
		END $$`)
	seed.Exec(`CREATE TRIGGER stall BEFORE INSERT ON signal_history FOR EACH ROW EXECUTE FUNCTION stall_second_chunk()`)
	addr, logs, stop := startServeLogged(t, map[string]string{
		"INFERENCE_PORT": "0", "INFERENCE_DB_DSN": dsn, "INFERENCE_ARTIFACT_DIR": inferencetest.ArtifactDir(),
		"INFERENCE_AUTH_TOKEN": testToken, "INFERENCE_SHUTDOWN_TIMEOUT": "200ms", "INFERENCE_BACKFILL_CHUNK_BARS": "4000",
	})
	go func() {
		body := `{"signal_id":"22222222-2222-2222-2222-222222222222","symbol":"BTCUSDT","interval_name":"1h",` +
			`"start":"2024-12-01T00:00:00Z","end":"2026-12-01T00:00:00Z","source":"historical_replay","lookahead":"allow"}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/inference/backfill", strings.NewReader(body))
		req.Header.Set("X-Inference-Token", testToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool {
		var n int
		_ = seed.Pool.QueryRow(context.Background(), `SELECT count(*) FROM signal_history`).Scan(&n)
		return n > 0
	}, 20*time.Second, 20*time.Millisecond, "the first chunk commits")
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, stop())
	committed := len(seed.History(demoSignal))
	require.Positive(t, committed)
	var line map[string]any
	for _, rec := range logs() {
		if rec["msg"] == "request" && rec["path"] == "/inference/backfill" {
			line = rec
		}
	}
	require.NotNil(t, line, "the backfill has an access-log line")
	assert.EqualValues(t, committed, line["rows_written"], "the log counts the committed chunk: %v", line)
	assert.Equal(t, true, line["cancelled"], "%v", line)
}

// TestContainerModeNeedsAContainer: container mode is refused on a root
// without Docker's or podman's marker, and accepted with either.
func TestContainerModeNeedsAContainer(t *testing.T) {
	cfg, err := parseConfig(map[string]string{"INFERENCE_NETWORK_MODE": "container", "INFERENCE_HOST": "0.0.0.0",
		"INFERENCE_AUTH_TOKEN": "0123456789abcdef0123456789abcdef"})
	require.NoError(t, err)
	require.NoError(t, cfg.API.Validate())
	bare := t.TempDir()
	err = checkNetworkMode(cfg.API, bare)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not in a container")
	require.NoError(t, os.MkdirAll(filepath.Join(bare, ".dockerenv"), 0o755))
	assert.Error(t, checkNetworkMode(cfg.API, bare), "a directory named like the marker is not the marker")

	for _, marker := range []string{".dockerenv", "run/.containerenv"} {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, marker)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, marker), nil, 0o644))
		assert.NoError(t, checkNetworkMode(cfg.API, root), marker)
		assert.Equal(t, "/"+marker, containerMarker(root))
	}
	host, err := parseConfig(nil)
	require.NoError(t, err)
	assert.NoError(t, checkNetworkMode(host.API, bare), "host mode reads no marker")
}

// TestContainerModeServes runs serve() in container mode on loopback: the
// start-up line names what is exposed and the allowlist, and loopback is
// served. Where this machine has no container marker, it must refuse.
func TestContainerModeServes(t *testing.T) {
	environ := serveEnv(t, map[string]string{"INFERENCE_NETWORK_MODE": "container",
		"INFERENCE_ALLOWED_CLIENTS": "10.89.7.0/24, 10.89.8.9", "INFERENCE_AUTH_TOKEN": testToken})
	if containerMarker("/") == "" {
		err := run(context.Background(), []string{"serve"}, environ, nil, io.Discard, io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not in a container")
		return
	}
	addr, logs, stop := startServeLogged(t, environ)
	defer stop()
	var listening map[string]any
	for _, rec := range logs() {
		if rec["msg"] == "listening" {
			listening = rec
		}
	}
	require.NotNil(t, listening)
	assert.Equal(t, "container", listening["network_mode"])
	assert.Equal(t, []any{"127.0.0.0/8", "::1/128", "10.89.7.0/24", "10.89.8.9/32"}, listening["allowed_clients"])
	assert.Contains(t, listening["publish"], "127.0.0.1:")
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "loopback is always allowed")
	// Like the image's HEALTHCHECK, retry while /readyz says the working
	// set is still loading (503 "loading" until the worker's first poll).
	var out bytes.Buffer
	_, port, _ := net.SplitHostPort(addr)
	require.Eventually(t, func() bool {
		out.Reset()
		return run(context.Background(), []string{"healthcheck"}, map[string]string{"INFERENCE_PORT": port}, nil, &out, io.Discard) == nil
	}, 20*time.Second, 50*time.Millisecond, "healthcheck never passed: %s", &out)
	assert.True(t, strings.HasPrefix(out.String(), "200 ") && strings.Contains(out.String(), `"status":"ok"`), out.String())
}

// TestHealthcheckFailsWhenNotReady: the image's health check exits non-zero
// when nothing answers, or /readyz is not 200.
func TestHealthcheckFailsWhenNotReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	err = run(context.Background(), []string{"healthcheck"}, map[string]string{"INFERENCE_PORT": port}, nil, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "healthcheck")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/readyz", r.URL.Path)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	err = run(context.Background(), []string{"healthcheck"}, map[string]string{"INFERENCE_HOST": "0.0.0.0", "INFERENCE_PORT": port}, nil, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "answered 503")
}
