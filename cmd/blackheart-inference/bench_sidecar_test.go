package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// twinSignal is the demo model served a second time, for the sidecar to
// write: the two services never touch each other's rows, and each bar's
// two values can be compared bit for bit.
const twinSignal = "44444444-4444-4444-4444-444444444444"

// BenchmarkVersusSidecar measures ours beside the original Python sidecar
// (rfkih/inference: FastAPI, asyncpg, LightGBM) in one run, on one
// database, each service its own process on loopback, one Go client for
// both: sequential /inference/run interleaved call by call with
// PostgreSQL's floor (a one-row SELECT round trip plus a one-row upsert
// commit), closed-loop throughput at 8 and 32 concurrent callers, the
// two-year hourly backfill, and each process's peak RSS. Every bar either
// service wrote is then held equal to the other's bit for bit.
//
// BH_SIDECAR_DIR is a checkout of the sidecar (its src/ is put on
// PYTHONPATH) and BH_SIDECAR_PYTHON an interpreter with its dependencies;
// make bench-sidecar sets both.
//
// The sidecar reads every input at exactly the bar's ts; the demo's daily
// macro input is as-of (CONTRACT D1), which the sidecar cannot serve. So
// the macro's as-of value is also stored per bar (symbol BTCUSDT,
// interval 1h) for the sidecar to find; ours still reads the daily rows.
// Equal bits on every bar show the two vectors are the same.
func BenchmarkVersusSidecar(b *testing.B) {
	dir := os.Getenv("BH_SIDECAR_DIR")
	if dir == "" {
		b.Skip("BH_SIDECAR_DIR is not set: run make bench-sidecar SIDECAR_DIR=<a checkout of rfkih/inference>")
	}
	python := os.Getenv("BH_SIDECAR_PYTHON")
	if python == "" {
		python = "python3"
	}
	dsn := benchDSN(b)
	seed := storagetest.NewSeed(b, dsn)
	seedSidecarTwin(b, dsn)
	bin := filepath.Join(b.TempDir(), "blackheart-inference")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v: %s", err, out)
	}
	oursCmd, addr := startBinary(b, bin, dsn)
	sideCmd, sideAddr := startSidecar(b, dir, python, dsn)
	ours := &contender{name: "ours", base: "http://" + addr, signal: demoSignal}
	side := &contender{name: "sidecar", base: "http://" + sideAddr, signal: twinSignal}
	cpu := newCPUMeter(b, seed.Pool, map[string]int{"ours": oursCmd.Process.Pid, "sidecar": sideCmd.Process.Pid})
	for i := 0; i < b.N; i++ {
		sequentialRuns(b, seed.Pool, ours, side, 1000)
		sameBits(b, seed.Pool, 1000)
		for _, c := range []int{8, 32} {
			for _, who := range []*contender{ours, side} {
				var rps, p50, p99 float64
				use := cpu.during(func() { rps, p50, p99 = concurrentRuns(b, who, c, 5*time.Second) })
				n := rps * 5
				b.Logf("%-7s c=%-2d %7.0f req/s  p50 %6.2f ms  p99 %7.2f ms  CPU per request: service %4.0f µs, PostgreSQL %4.0f µs",
					who.name, c, rps, p50, p99, use[who.name].Seconds()*1e6/n, use["postgres"].Seconds()*1e6/n)
				b.ReportMetric(rps, fmt.Sprintf("%s-c%d-req/s", who.name, c))
				b.ReportMetric(p99, fmt.Sprintf("%s-c%d-p99-ms", who.name, c))
			}
		}
		for round := 0; round < 3; round++ {
			order := []*contender{ours, side}
			if round%2 == 1 { // who goes first alternates
				order[0], order[1] = side, ours
			}
			for _, who := range order {
				var d time.Duration
				use := cpu.during(func() { d = who.backfill(b) })
				b.Logf("%-7s two-year backfill %.2f s; CPU: service %.2f s, PostgreSQL %.2f s",
					who.name, d.Seconds(), use[who.name].Seconds(), use["postgres"].Seconds())
				b.ReportMetric(d.Seconds(), fmt.Sprintf("%s-backfill%d-s", who.name, round+1))
				b.ReportMetric(use[who.name].Seconds()+use["postgres"].Seconds(), fmt.Sprintf("%s-backfill%d-cpu-s", who.name, round+1))
			}
		}
		sameBits(b, seed.Pool, 17520)
	}
	b.ReportMetric(float64(peakRSS(b, oursCmd.Process.Pid))/(1<<20), "ours-peak-RSS-MiB")
	b.ReportMetric(float64(peakRSS(b, sideCmd.Process.Pid))/(1<<20), "sidecar-peak-RSS-MiB")
}

// seedSidecarTwin adds the twin signal and the macro input's as-of value at
// every hourly bar: the day's value, which is what the as-of rule picks
// (the daily rows stand at midnight, well inside the 48 h cap).
func seedSidecarTwin(b *testing.B, dsn string) {
	b.Helper()
	const sql = `
		INSERT INTO signal_definition (signal_id, name, model_id, horizon, status, description)
		SELECT '` + twinSignal + `', 'btc_direction_1h_sidecar', model_id, horizon, status, 'the demo signal, written by the sidecar'
		FROM signal_definition WHERE signal_id = '` + demoSignal + `';
		INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
		SELECT d.feature_name, d.version, 'BTCUSDT', '1h', h.ts, d.value, d.compute_run_id
		FROM generate_series(TIMESTAMPTZ '2024-12-01 00:00:00+00', TIMESTAMPTZ '2026-11-30 23:00:00+00', INTERVAL '1 hour') AS h(ts)
		JOIN feature_values d ON d.feature_name = 'macro_dxy_1d' AND d.symbol = '' AND d.interval = '' AND d.ts = date_trunc('day', h.ts);`
	if out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql, "-c", "VACUUM (ANALYZE) feature_values").CombinedOutput(); err != nil {
		b.Fatalf("seed the sidecar's twin: %v: %s", err, out)
	}
}

// startSidecar runs the sidecar as production would (profile prod, its
// own uvicorn launcher) on a free loopback port and waits for /healthz.
func startSidecar(b *testing.B, dir, python, dsn string) (*exec.Cmd, string) {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	cmd := exec.Command(python, "-m", "blackheart_inference")
	cmd.Dir = b.TempDir() // no stray .env is read
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(dir, "src"), "INFERENCE_PROFILE=prod",
		"INFERENCE_AUTH_TOKEN="+testToken, "INFERENCE_HOST=127.0.0.1", "INFERENCE_PORT="+port,
		"INFERENCE_DB_DSN="+dsn, "INFERENCE_ARTIFACT_DIR="+inferencetest.ArtifactDir())
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, addr
			}
		}
	}
	b.Fatalf("the sidecar did not answer /healthz within 60 s: %s", logs.String())
	return nil, ""
}

// contender is one service under measurement and the signal it writes.
type contender struct {
	name, base, signal string
}

var benchClient = &http.Client{Timeout: 120 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}

func (c *contender) post(path string, body map[string]any) (int, []byte, error) {
	body["signal_id"] = c.signal
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Inference-Token", testToken)
	req.Header.Set("X-Agent-Name", "bench")
	resp, err := benchClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return resp.StatusCode, got, err
}

// run writes bar i of the demo data (each call a different bar). It
// returns its failure rather than failing b: concurrent callers run it.
func (c *contender) run(i int) error {
	bar := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%15000) * time.Hour)
	st, got, err := c.post("/inference/run", map[string]any{"symbol": "BTCUSDT", "interval_name": "1h",
		"ts": bar.Format(time.RFC3339)})
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("%s run: %d %v %s", c.name, st, err, got)
	}
	return nil
}

func (c *contender) backfill(b *testing.B) time.Duration {
	t0 := time.Now()
	st, got, err := c.post("/inference/backfill", map[string]any{"symbol": "BTCUSDT", "interval_name": "1h",
		"start": "2024-12-01T00:00:00Z", "end": "2026-12-01T00:00:00Z", "source": "historical_replay"})
	d := time.Since(t0)
	var res struct {
		RowsWritten int `json:"rows_written"`
	}
	if err != nil || st != http.StatusOK || json.Unmarshal(got, &res) != nil || res.RowsWritten != 17520 {
		b.Fatalf("%s backfill: %d %v %s", c.name, st, err, got)
	}
	return d
}

// sequentialRuns measures the floor's SELECT and upsert before every run,
// and the runs in blocks of 50 per service, alternating: a run that
// follows the sidecar's would otherwise share the cores with the OpenMP
// threads its LightGBM leaves spinning. Each service writes bars 0..n-1.
func sequentialRuns(b *testing.B, pool *pgxpool.Pool, ours, side *contender, n int) {
	var sel, ups []time.Duration
	lat, next := [2][]time.Duration{}, [2]int{}
	for i := 0; i < 2*n; i++ {
		bar := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%15000) * time.Hour)
		s, u := floorOnce(b, pool, bar, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour))
		t2 := time.Now()
		w := (i / 50) % 2
		if err := []*contender{ours, side}[w].run(next[w]); err != nil {
			b.Fatal(err)
		}
		next[w]++
		sel, ups, lat[w] = append(sel, s), append(ups, u), append(lat[w], time.Since(t2))
	}
	floor := quantileMS(sel, 0.5) + quantileMS(ups, 0.5)
	mine, theirs := quantileMS(lat[0], 0.5), quantileMS(lat[1], 0.5)
	b.Logf("floor %.3f ms (SELECT %.3f + upsert %.3f); run p50 ours %.3f ms (%.2f × floor), sidecar %.3f ms: %.1f ×; p99 ours %.2f, sidecar %.2f ms",
		floor, quantileMS(sel, 0.5), quantileMS(ups, 0.5), mine, mine/floor, theirs, theirs/mine, quantileMS(lat[0], 0.99), quantileMS(lat[1], 0.99))
	b.ReportMetric(floor, "floor-p50-ms")
	b.ReportMetric(mine, "ours-run-p50-ms")
	b.ReportMetric(theirs, "sidecar-run-p50-ms")
	b.ReportMetric(mine/floor, "ours-run/floor")
	b.ReportMetric(theirs/mine, "sidecar/ours-run")
}

// concurrentRuns is a closed loop of c callers for d, each call a
// different bar: requests per second and latency percentiles.
func concurrentRuns(b *testing.B, who *contender, c int, d time.Duration) (rps, p50, p99 float64) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var failed error
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for k := 0; k < c; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var err error
			for err == nil && time.Now().Before(stop) {
				t0 := time.Now()
				err = who.run(int(next.Add(1)))
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat, failed = append(lat, mine...), cmp.Or(failed, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	return float64(len(lat)) / d.Seconds(), quantileMS(lat, 0.5), quantileMS(lat, 0.99)
}

// sameBits holds the two signals' values equal bit for bit on every bar
// both wrote, and requires at least want such bars.
func sameBits(b *testing.B, pool *pgxpool.Pool, want int) {
	var both, differ int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*), count(*) FILTER (WHERE float8send(o.value) <> float8send(s.value))
		FROM signal_history o JOIN signal_history s ON s.signal_id = $2 AND s.symbol = o.symbol AND s.ts = o.ts
		WHERE o.signal_id = $1 AND o.ts < '2027-01-01'`, demoSignal, twinSignal).Scan(&both, &differ); err != nil {
		b.Fatal(err)
	}
	if both < want || differ != 0 {
		b.Fatalf("%d bars written by both (want ≥ %d), %d differ in their bits", both, want, differ)
	}
	b.Logf("%d bars written by both services, every one bit-identical", both)
}

// cpuMeter reads the CPU time (user + system, /proc/<pid>/stat) of named
// processes and of the PostgreSQL cluster: its postmaster and every process
// it started (backends, WAL writer, checkpointer). Resolution: 10 ms.
type cpuMeter struct {
	b          *testing.B
	pids       map[string]int
	postmaster int
}

func newCPUMeter(b *testing.B, pool *pgxpool.Pool, pids map[string]int) *cpuMeter {
	var dir string
	if err := pool.QueryRow(context.Background(), "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		b.Fatal(err)
	}
	pm, err := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	if err != nil {
		b.Fatal(err)
	}
	return &cpuMeter{b: b, pids: pids, postmaster: pm}
}

// during runs f and returns the CPU each named process and "postgres" used.
func (m *cpuMeter) during(f func()) map[string]time.Duration {
	before := m.read()
	f()
	after := m.read()
	for k := range after {
		after[k] -= before[k]
	}
	return after
}

func (m *cpuMeter) read() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range m.pids {
		out[name], _ = procCPU(pid)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		m.b.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if d, ppid := procCPU(pid); pid == m.postmaster || ppid == m.postmaster {
			out["postgres"] += d
		}
	}
	return out
}

// procCPU is a process's utime + stime and its parent's pid (zero for a
// process gone meanwhile).
func procCPU(pid int) (time.Duration, int) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:])) // f[0] is field 3 (state)
	ppid, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, ppid // USER_HZ is 100 on Linux
}
