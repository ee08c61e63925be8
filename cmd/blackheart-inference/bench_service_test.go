package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// seedDemo loads testdata/demo/seed.sql (two years × 40 features) with psql.
func seedDemo(b testing.TB, dsn string) {
	b.Helper()
	c := inferencetest.CaseNamed(b, "demo")
	seed := filepath.Join("..", "..", "testdata", "demo", "seed.sql") // tests run in the package directory
	out, err := exec.Command("psql", "-X", "-q", "-d", dsn, "-v", "sha="+c.SHA, "-v", "gap=0", "-f", seed).CombinedOutput()
	if err != nil {
		b.Fatalf("seed demo data: %v: %s", err, out)
	}
	// Settle the freshly loaded tables so autovacuum does not run inside the
	// measured window.
	if out, err := exec.Command("psql", "-X", "-q", "-d", dsn, "-c", "VACUUM (ANALYZE) feature_values").CombinedOutput(); err != nil {
		b.Fatalf("vacuum: %v: %s", err, out)
	}
}

const demoSignal = "22222222-2222-2222-2222-222222222222"

// benchDSN is a fresh database with the demo data. BLACKHEART_BENCH_FSYNC=on
// puts it on its own cluster with production durability (fsync,
// synchronous_commit and full_page_writes on); otherwise the package's
// test cluster (fsync off). Every benchmark logs which.
func benchDSN(b *testing.B) string {
	b.Helper()
	dsn := benchCluster(b).NewDatabase(b)
	seedDemo(b, dsn)
	var fsync string
	if err := storagetest.NewSeed(b, dsn).Pool.QueryRow(context.Background(), "SHOW fsync").Scan(&fsync); err != nil {
		b.Fatal(err)
	}
	b.Logf("PostgreSQL fsync=%s", fsync)
	return dsn
}

// benchCluster is the package's test cluster (fsync off), or with
// BLACKHEART_BENCH_FSYNC=on a cluster of its own with production durability.
func benchCluster(b *testing.B) *storagetest.Cluster {
	b.Helper()
	if os.Getenv("BLACKHEART_BENCH_FSYNC") != "on" {
		return cluster
	}
	durable, err := storagetest.NewDurableCluster()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(durable.Close)
	return durable
}

// BenchmarkBackfillTwoYears: 17 520 hourly bars × 40 features, end to end
// through the service, with the fetch / predict / write split; top_k=5 is
// the same backfill with INFERENCE_EXPLAIN_TOP_K=5 (every row's five largest
// contributions in its meta), on the same database, interleaved under
// -count.
func BenchmarkBackfillTwoYears(b *testing.B) {
	e := newTestEnv(b, benchDSN(b), func(c *config) { // the environment's chunk size, as the service would read it
		if n := envInt("INFERENCE_BACKFILL_CHUNK_BARS", 0); n > 0 {
			c.Inference.BackfillChunkBars = n
		}
	})
	req := inference.BackfillRequest{SignalID: demoSignal, Symbol: "BTCUSDT", Interval: inference.Interval1h,
		Start: time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Source: inference.SourceHistoricalReplay, Agent: "bench", Lookahead: inference.LookaheadAllow}
	for _, topK := range []int{0, 5} {
		cfg := e.cfg.Inference
		cfg.ExplainTopK = topK
		svc := inference.NewService(e.app.store, e.app.cache, cfg, time.Now, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		b.Run(fmt.Sprintf("top_k=%d", topK), func(b *testing.B) {
			var fetch, predict, write, explain time.Duration
			for i := 0; i < b.N; i++ {
				res, err := svc.Backfill(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				if res.RowsWritten != 17520 {
					b.Fatalf("wrote %d rows", res.RowsWritten)
				}
				fetch, predict, write, explain = fetch+res.FetchTime, predict+res.PredictTime, write+res.WriteTime, explain+res.ExplainTime
			}
			n := float64(b.N)
			b.ReportMetric(17520*n/b.Elapsed().Seconds(), "bars/s")
			b.ReportMetric(float64(fetch.Milliseconds())/n, "fetch-ms")
			b.ReportMetric(float64(predict.Milliseconds())/n, "predict-ms")
			b.ReportMetric(float64(explain.Milliseconds())/n, "explain-ms")
			b.ReportMetric(float64(write.Milliseconds())/n, "write-ms")
		})
	}
}

// BenchmarkRunUnderLoad sends /inference/run at a fixed 500 requests/s for
// 10 s over loopback HTTP (open loop: requests are not held back by slow
// answers), each for a different bar of the two-year demo data, and reports
// throughput and latency percentiles.
func BenchmarkRunUnderLoad(b *testing.B) {
	e := newTestEnv(b, benchDSN(b))
	const rate, seconds = 500, 10
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fire := func(i int) (time.Duration, bool) {
		body, _ := json.Marshal(map[string]any{"signal_id": demoSignal, "symbol": "BTCUSDT", "interval_name": "1h",
			"ts": first.Add(time.Duration(i%15000) * time.Hour).Format(time.RFC3339)})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/inference/run", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Inference-Token", testToken)
		t0 := time.Now()
		resp, err := client.Do(req)
		d := time.Since(t0)
		if err != nil {
			return d, false
		}
		resp.Body.Close()
		return d, resp.StatusCode == http.StatusOK
	}
	// Warm-up (not measured): connection pools, prepared statements, the model cache.
	for i := 0; i < 2*rate; i++ {
		fire(15000 - 1 - i)
		time.Sleep(time.Second / rate)
	}
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		total := rate * seconds
		lat := make([]time.Duration, total)
		failed := 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / rate)
		start := time.Now()
		for i := 0; i < total; i++ {
			<-tick.C
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				d, ok := fire(i)
				lat[i] = d
				if !ok {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		tick.Stop()
		elapsed := time.Since(start)
		pct := func(q float64) float64 { return quantileMS(lat, q) }
		b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(1), "max-ms")
		b.ReportMetric(float64(failed), "failed")
		if failed > 0 {
			b.Logf("%d of %d requests failed", failed, total)
		}
	}
}

// BenchmarkRunSequential is one client, one request at a time: the latency
// floor of /inference/run (4 database round trips and one native prediction).
func BenchmarkRunSequential(b *testing.B) {
	e := newTestEnv(b, benchDSN(b))
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := e.post("/inference/run", map[string]any{"signal_id": demoSignal, "symbol": "BTCUSDT", "interval_name": "1h",
			"ts": first.Add(time.Duration(i%15000) * time.Hour).Format(time.RFC3339)})
		if r.status != http.StatusOK {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
}

// BenchmarkEightConcurrentBackfills sends eight two-year backfills at once
// over HTTP to the service binary running as its own process (default
// admission: as many run as there are CPUs, the rest queue) and reports
// the wall time and the service process's peak RSS (VmHWM), the client's
// memory not included.
func BenchmarkEightConcurrentBackfills(b *testing.B) {
	dsn := benchDSN(b)
	bin := filepath.Join(b.TempDir(), "blackheart-inference")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v: %s", err, out)
	}
	body, _ := json.Marshal(map[string]any{"signal_id": demoSignal, "symbol": "BTCUSDT", "interval_name": "1h",
		"start": "2024-12-01T00:00:00Z", "end": "2026-12-01T00:00:00Z", "source": "historical_replay"})
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		svc, addr := startBinary(b, bin, dsn)
		post := func() int {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/inference/backfill", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Inference-Token", testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		t0 := time.Now()
		if st := post(); st != http.StatusOK { // warm: the model loaded, the pool open
			b.Fatalf("warm-up: %d", st)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "one-backfill-s")
		b.StartTimer()
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for k := range statuses {
			wg.Add(1)
			go func() { defer wg.Done(); statuses[k] = post() }()
		}
		wg.Wait()
		b.StopTimer()
		for _, st := range statuses {
			if st != http.StatusOK {
				b.Fatalf("a backfill answered %d", st)
			}
		}
		b.ReportMetric(float64(peakRSS(b, svc.Process.Pid))/(1<<20), "service-peak-RSS-MiB")
		_ = svc.Process.Signal(os.Interrupt)
		_ = svc.Wait()
	}
}

// startBinary runs the service binary on a free loopback port against dsn
// and returns once it listens.
func startBinary(b *testing.B, bin, dsn string, env ...string) (*exec.Cmd, string) {
	b.Helper()
	cmd := exec.Command(bin, "serve")
	// The benchmarks replay the demo model's own training window, as the
	// sidecar they are measured beside does: mark, not refuse (every row
	// is still classed).
	cmd.Env = append(os.Environ(), "INFERENCE_PORT=0", "INFERENCE_DB_DSN="+dsn, "INFERENCE_AUTH_TOKEN="+testToken,
		"INFERENCE_ARTIFACT_DIR="+inferencetest.ArtifactDir(), "INFERENCE_LOG_LEVEL=warn", "INFERENCE_LOOKAHEAD=mark")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Env = append(append(cmd.Env, "INFERENCE_LOG_LEVEL=info"), env...) // the last of a name wins
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	dec := json.NewDecoder(out)
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			b.Fatalf("no listening line: %v", err)
		}
		if rec["msg"] == "listening" {
			var sink io.Writer = io.Discard // keep draining the logs; BH_BENCH_LOGS=dir keeps them, dir/<pid>.log
			if dir := os.Getenv("BH_BENCH_LOGS"); dir != "" {
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d.log", cmd.Process.Pid)))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { f.Close() })
				sink = f
			}
			go func() { _, _ = io.Copy(sink, out) }()
			return cmd, rec["addr"].(string)
		}
	}
}

// peakRSS is a process's VmHWM from /proc/<pid>/status, in bytes.
func peakRSS(b *testing.B, pid int) int64 { return procKB(b, pid, "VmHWM:") << 10 }

// procKB is one kB line of /proc/<pid>/status (VmRSS:, VmHWM:).
func procKB(b *testing.B, pid int, key string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if kb, ok := bytes.CutPrefix(line, []byte(key)); ok {
			var n int64
			if _, err := fmt.Sscan(string(bytes.TrimSuffix(bytes.TrimSpace(kb), []byte(" kB"))), &n); err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s", key)
	return 0
}

// BenchmarkSignalDrift: one per-signal drift computation of the demo signal
// (40 inputs, 1h bars) with a 90-day training window, a 30-day holdout
// window and a 7-day live window whose signal_history rows exist: every
// input's vectors over 3 048 bars read with set-based queries, the holdout's
// predictions made in memory, 41 PSI comparisons.
func BenchmarkSignalDrift(b *testing.B) {
	b.Run("training-window-only", func(b *testing.B) { benchSignalDrift(b, false) })
	b.Run("with-30-day-holdout", func(b *testing.B) { benchSignalDrift(b, true) })
}

func benchSignalDrift(b *testing.B, holdout bool) {
	e := newTestEnv(b, benchDSN(b))
	if os.Getenv("BLACKHEART_BENCH_NO_PARALLEL") == "1" {
		e.seed.Exec(`ALTER DATABASE ` + e.seed.Pool.Config().ConnConfig.Database + ` SET max_parallel_workers_per_gather = 0`)
	}
	live := fixedNow.Add(-7 * 24 * time.Hour)
	hold := live // no holdout: predictions are compared over the training window
	if holdout {
		hold = live.Add(-30 * 24 * time.Hour)
	}
	train := hold.Add(-90 * 24 * time.Hour)
	e.seed.Exec(`UPDATE model_registry SET training_window = tstzrange($1, $2, '[)'), holdout_window = NULLIF(tstzrange($2, $3, '[)'), 'empty')
		WHERE id = '11111111-1111-1111-1111-111111111111'`, train, hold, live)
	if _, err := e.app.service.Backfill(context.Background(), inference.BackfillRequest{SignalID: demoSignal, Symbol: "BTCUSDT",
		Interval: inference.Interval1h, Start: live, End: fixedNow, Source: inference.SourceCatchupScan, Agent: "bench"}); err != nil {
		b.Fatal(err)
	}
	req := inference.SignalDriftRequest{SignalID: demoSignal, LiveDays: 7}
	if _, err := e.app.service.SignalDrift(context.Background(), req); err != nil { // warm: the model is loaded once
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := e.app.service.SignalDrift(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Baseline.Bars != 90*24 || rep.Live.Bars != 7*24 || len(rep.Features) != 40 {
			b.Fatalf("windows %d/%d bars, %d inputs", rep.Baseline.Bars, rep.Live.Bars, len(rep.Features))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/drift")
}

// BenchmarkFeatureDrift: the sidecar-compatible form over the demo data:
// 39 per-bar features, a 90-day baseline and a 7-day live window (93 000
// values), one set-based query and 39 PSI comparisons.
func BenchmarkFeatureDrift(b *testing.B) {
	e := newTestEnv(b, benchDSN(b))
	req := inference.FeatureDriftRequest{Symbol: "BTCUSDT", Interval: "1h", LiveDays: 7, BaselineDays: 90}
	for k := 0; k < 39; k++ {
		req.Features = append(req.Features, inference.FeatureRef{Name: fmt.Sprintf("btc_f%02d", k), Version: 1})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := e.app.service.FeatureDrift(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Features[0].BaselineN != 90*24 {
			b.Fatalf("baseline of %d values", rep.Features[0].BaselineN)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/drift")
}

// TestDemoNumericsDecodeAsPostgres: every value of the demo data (684 000
// NUMERIC(28,10)), decoded from the wire by the feature reads' decoder, has
// the bits of PostgreSQL's own value::float8.
func TestDemoNumericsDecodeAsPostgres(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seedDemo(t, dsn)
	pool := storagetest.NewSeed(t, dsn).Pool
	ctx := context.Background()
	var n, mismatched int
	var first string
	err := pool.QueryRow(ctx, `SELECT count(*) FROM feature_values`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT value, value::float8 FROM feature_values WHERE value IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for rows.Next() {
		raw := rows.RawValues()
		got, err := storage.NumericFloat8(raw[0])
		if err != nil {
			t.Fatal(err)
		}
		want := math.Float64frombits(binary.BigEndian.Uint64(raw[1]))
		if math.Float64bits(got) != math.Float64bits(want) {
			if mismatched == 0 {
				first = fmt.Sprintf("%v vs %v", got, want)
			}
			mismatched++
		}
		checked++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if checked < 680000 || mismatched > 0 {
		t.Fatalf("%d of %d values checked (%d rows), %d differ (first: %s)", checked, n, n, mismatched, first)
	}
	t.Logf("%d demo values decoded with PostgreSQL's bits", checked)
}

// BenchmarkRunVersusFloor measures, on one database in one run and
// interleaved call by call, PostgreSQL's own floor for a run — a one-row
// indexed SELECT round trip and a one-row INSERT … ON CONFLICT commit, on a
// plain pgx pool with its prepared statements — and sequential
// /inference/run over loopback HTTP (each a different bar of the demo
// data). It reports their medians and the run's p50 over the floor's.
func BenchmarkRunVersusFloor(b *testing.B) {
	dsn := benchDSN(b)
	e := newTestEnv(b, dsn)
	pool := storagetest.NewSeed(b, dsn).Pool
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	floorTS := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 2000
	var sel, ups, run []time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for i := 0; i < n; i++ {
			bar := first.Add(time.Duration(i%15000) * time.Hour)
			s, u := floorOnce(b, pool, bar, floorTS.Add(time.Duration(i)*time.Hour))
			t2 := time.Now()
			r := e.post("/inference/run", map[string]any{"signal_id": demoSignal, "symbol": "BTCUSDT", "interval_name": "1h",
				"ts": bar.Format(time.RFC3339)})
			if r.status != http.StatusOK {
				b.Fatalf("status %d: %s", r.status, r.raw)
			}
			sel, ups, run = append(sel, s), append(ups, u), append(run, time.Since(t2))
		}
	}
	p := quantileMS
	floor := p(sel, 0.5) + p(ups, 0.5)
	b.ReportMetric(p(sel, 0.5), "select-p50-ms")
	b.ReportMetric(p(ups, 0.5), "upsert-p50-ms")
	b.ReportMetric(floor, "floor-p50-ms")
	b.ReportMetric(p(run, 0.5), "run-p50-ms")
	b.ReportMetric(p(run, 0.99), "run-p99-ms")
	b.ReportMetric(p(run, 0.5)/floor, "run/floor")
}

// floorOnce times PostgreSQL's floor for one run, on a plain pgx pool with
// its prepared statements: a one-row indexed SELECT round trip (one input
// of bar) and a one-row INSERT … ON CONFLICT commit into signal_history at
// ts (the demo signal's; keep ts clear of the bars a benchmark compares).
func floorOnce(b *testing.B, pool *pgxpool.Pool, bar, ts time.Time) (sel, ups time.Duration) {
	ctx := context.Background()
	t0 := time.Now()
	var v float64
	if err := pool.QueryRow(ctx, `SELECT value::float8 FROM feature_values
		WHERE feature_name = $1 AND version = 1 AND symbol = 'BTCUSDT' AND interval = '1h' AND ts = $2`,
		"btc_f00", bar).Scan(&v); err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	if _, err := pool.Exec(ctx, `INSERT INTO signal_history (signal_id, symbol, ts, value, produced_at, source, meta, created_by, updated_by)
		VALUES ($1, 'BTCUSDT', $2, $3, now(), 'stream', '{}', 'bench', 'bench')
		ON CONFLICT (signal_id, symbol, ts) DO UPDATE SET value = EXCLUDED.value, produced_at = EXCLUDED.produced_at,
		  updated_time = now(), updated_by = EXCLUDED.updated_by`,
		demoSignal, ts, v); err != nil {
		b.Fatal(err)
	}
	return t1.Sub(t0), time.Since(t1)
}

// quantileMS is the q-quantile of d (nearest rank, d unchanged), in
// milliseconds at microsecond resolution.
func quantileMS(d []time.Duration, q float64) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
}

// BenchmarkResearchBackfill: backfills at research scale, as a researcher
// must run them — consecutive /inference/backfill calls over HTTP, each
// within INFERENCE_MAX_BACKFILL_ROWS (49 999 bars: CONTRACT §7 bounds
// floor((end−start)/interval)+1) — on the demo signal extended to five
// years (2021-12-01 … 2026-12-01): hourly (43 824 bars × 40 inputs, one
// call), then the same model served at 5m (525 888 bars × 40 inputs,
// 21 million feature rows, 11 calls). Reports wall time, bars/s and the
// process's peak RSS during each (its high-water mark, reset before).
func BenchmarkResearchBackfill(b *testing.B) {
	dsn := benchDSN(b)
	seed := storagetest.NewSeed(b, dsn)
	t0 := time.Now()
	for _, q := range []string{
		`DO $$ DECLARE m date; BEGIN
		   FOR m IN SELECT generate_series(DATE '2021-12-01', DATE '2024-11-01', INTERVAL '1 month')::date LOOP
		     EXECUTE format('CREATE TABLE feature_values_%s PARTITION OF feature_values FOR VALUES FROM (%L) TO (%L)',
		                    to_char(m, 'YYYY_MM'), m, m + INTERVAL '1 month');
		     EXECUTE format('CREATE TABLE signal_history_%s PARTITION OF signal_history FOR VALUES FROM (%L) TO (%L)',
		                    to_char(m, 'YYYY_MM'), m, m + INTERVAL '1 month');
		   END LOOP; END $$`,
		// The demo's values, as functions of time, over the three years before them, and at 5m over all five.
		`INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
		 SELECT format('btc_f%s', lpad(k::text, 2, '0')), 1, 'BTCUSDT', '1h', ts,
		        round(sin(extract(epoch FROM ts) / 3600 * (k + 1) * 0.0137 + k)::numeric, 6), '33333333-3333-3333-3333-333333333333'
		 FROM generate_series(0, 38) AS k,
		      generate_series(TIMESTAMPTZ '2021-12-01 00:00:00+00', TIMESTAMPTZ '2024-11-30 23:00:00+00', INTERVAL '1 hour') AS ts`,
		`INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
		 SELECT 'macro_dxy_1d', 1, '', '', ts, round(cos(extract(epoch FROM ts) / 86400 * 0.1)::numeric, 6), '33333333-3333-3333-3333-333333333333'
		 FROM generate_series(TIMESTAMPTZ '2021-12-01 00:00:00+00', TIMESTAMPTZ '2024-11-30 00:00:00+00', INTERVAL '1 day') AS ts`,
		`INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
		 SELECT format('btc_f%s', lpad(k::text, 2, '0')), 1, 'BTCUSDT', '5m', ts,
		        round(sin(extract(epoch FROM ts) / 3600 * (k + 1) * 0.0137 + k)::numeric, 6), '33333333-3333-3333-3333-333333333333'
		 FROM generate_series(0, 38) AS k,
		      generate_series(TIMESTAMPTZ '2021-12-01 00:00:00+00', TIMESTAMPTZ '2026-11-30 23:55:00+00', INTERVAL '5 minutes') AS ts`,
		`VACUUM (ANALYZE) feature_values`,
	} {
		seed.Exec(q)
	}
	b.Logf("five years of 1h and 5m features loaded in %s", time.Since(t0).Round(time.Second))
	e := newTestEnv(b, dsn)
	start, end := time.Date(2021, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, iv := range []string{"1h", "5m"} {
		b.Run("interval="+iv, func(b *testing.B) {
			seed.Exec(`UPDATE model_registry SET interval = $1 WHERE id = '11111111-1111-1111-1111-111111111111'`, iv)
			d := inference.Interval(iv).Duration()
			bars := inference.Interval(iv).BarCount(start, end)
			for it := 0; it < b.N; it++ {
				seed.Exec(`DELETE FROM signal_history WHERE signal_id = $1`, demoSignal)
				seed.Exec(`VACUUM signal_history`)
				if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
					b.Fatalf("reset the peak RSS: %v", err)
				}
				t0, calls, written := time.Now(), 0, 0
				for from := start; from.Before(end); from = from.Add(49999 * d) {
					to := from.Add(49999 * d)
					if to.After(end) {
						to = end
					}
					r := e.post("/inference/backfill", map[string]any{"signal_id": demoSignal, "symbol": "BTCUSDT", "interval_name": iv,
						"start": from.Format(time.RFC3339), "end": to.Format(time.RFC3339), "source": "historical_replay", "lookahead": "allow"})
					if r.status != http.StatusOK {
						b.Fatalf("backfill %s..%s: %d %s", from, to, r.status, r.raw)
					}
					calls++
					written += int(r.body["rows_written"].(float64))
				}
				wall := time.Since(t0)
				if written != bars {
					b.Fatalf("wrote %d rows for %d bars", written, bars)
				}
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(float64(bars)/wall.Seconds(), "bars/s")
				b.ReportMetric(float64(calls), "calls")
				b.ReportMetric(float64(peakRSS(b, os.Getpid()))/(1<<20), "peak-rss-MiB")
			}
		})
	}
}
