package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// The distinct-models benchmarks (make bench-fleet, issue 28): every active
// signal on a model of its own, from testdata/fleet/fleet.py at BH_FLEET_DIR
// (1 000 models of 400 trees, 31 leaves, 36 inputs, 26 bars), run against
// each binary of BH_FLEET_BINS (name=path,…: today's binaries beside the
// one they replace), each its own process on its own database, one after
// the other in one run. Every row written at a bar close is checked against
// Python's Booster.predict bits of its own model.

type fleetBin struct{ name, path string }

func fleetBins(b *testing.B) []fleetBin {
	spec := os.Getenv("BH_FLEET_BINS")
	if spec == "" {
		b.Skip("BH_FLEET_BINS unset: make bench-fleet builds and names the binaries")
	}
	var out []fleetBin
	for _, kv := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(kv, "=")
		if !ok {
			b.Fatalf("BH_FLEET_BINS: %q is not name=path", kv)
		}
		out = append(out, fleetBin{name, path})
	}
	return out
}

func benchFleet(b *testing.B) *fleet {
	dir := os.Getenv("BH_FLEET_DIR")
	raw, err := os.ReadFile(filepath.Join(dir, "fleet.json"))
	if err != nil {
		b.Fatalf("BH_FLEET_DIR (make bench-fleet generates it): %v", err)
	}
	f := &fleet{Dir: dir}
	if err := json.Unmarshal(raw, f); err != nil {
		b.Fatal(err)
	}
	return f
}

// fleetBench is one binary over the fleet's first n models.
type fleetBench struct {
	f     *fleet
	dsn   string
	pool  *pgxpool.Pool
	n     int
	bars  []time.Time // the fleet's bars moved to end at the newest due bar
	close time.Time   // the bar that closes in the benchmark (the last)
}

// newFleetBench seeds a database of its own: the fleet's inputs for every
// bar but the last, and n active signals, signal i on model i.
func newFleetBench(b *testing.B, f *fleet, n int, withClose bool) *fleetBench {
	dsn := benchCluster(b).NewDatabase(b)
	fb := &fleetBench{f: f, dsn: dsn, pool: storagetest.NewSeed(b, dsn).Pool, n: n}
	due := time.Now().UTC().Truncate(time.Hour)
	for k := range f.Bars {
		fb.bars = append(fb.bars, due.Add(-time.Duration(len(f.Bars)-1-k)*time.Hour))
	}
	fb.close = fb.bars[len(fb.bars)-1]
	fb.exec(b, `INSERT INTO feature_registry (feature_name, version, family, transformer_ref, inputs, symbols, intervals, pit_safe)
		SELECT unnest($1::text[]), 1, 'momentum', 'fleet', '{}', ARRAY['BTCUSDT'], ARRAY['1h'], true`, f.Inputs)
	upto := len(f.Bars) - 1
	if withClose {
		upto++
	}
	for k := 0; k < upto; k++ {
		fb.land(b, k)
	}
	shas, names := make([]string, n), make([]string, n)
	for i := range shas {
		shas[i], names[i] = f.Models[i].SHA, fmt.Sprintf("fleet_signal_%04d", i)
	}
	fb.exec(b, `INSERT INTO model_registry (family, purpose, symbol, interval, horizon_bars, feature_set, random_seed,
		                            artifact_uri, artifact_sha256, status, version)
		SELECT 'lightgbm', 'directional', 'BTCUSDT', '1h', 4, '{"names": []}', 7, 'file:///not/read', s, 'live', o
		FROM unnest($1::text[]) WITH ORDINALITY AS u(s, o)`, shas)
	fb.exec(b, `INSERT INTO signal_definition (name, model_id, status)
		SELECT u.n, m.id, 'active' FROM unnest($1::text[], $2::text[]) AS u(n, s)
		JOIN model_registry m ON m.artifact_sha256 = u.s`, names, shas)
	return fb
}

func (fb *fleetBench) exec(b *testing.B, q string, args ...any) {
	b.Helper()
	if _, err := fb.pool.Exec(context.Background(), q, args...); err != nil {
		b.Fatal(err)
	}
}

// land writes every input of bar k in one commit and returns its time.
func (fb *fleetBench) land(b *testing.B, k int) time.Time {
	b.Helper()
	names, ts, vals := []string{}, []time.Time{}, []string{}
	for j, name := range fb.f.Inputs {
		names, ts = append(names, name), append(ts, fb.bars[k])
		vals = append(vals, strconv.FormatFloat(fb.f.Bars[k].Values[j], 'f', -1, 64))
	}
	var at time.Time
	if err := fb.pool.QueryRow(context.Background(), `WITH i AS (
		INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
		SELECT unnest($1::text[]), 1, 'BTCUSDT', '1h', unnest($2::timestamptz[]), unnest($3::text[])::numeric,
		       '33333333-3333-3333-3333-333333333333' RETURNING 1)
		SELECT now() FROM i LIMIT 1`, names, ts, vals).Scan(&at); err != nil {
		b.Fatal(err)
	}
	return at
}

// rows is how many rows bar ts has.
func (fb *fleetBench) rows(b *testing.B, ts time.Time) int {
	var n int
	if err := fb.pool.QueryRow(context.Background(), `SELECT count(*) FROM signal_history WHERE ts = $1`, ts).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// waitRows waits until bar ts has a row for every signal.
func (fb *fleetBench) waitRows(b *testing.B, ts time.Time, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for got := fb.rows(b, ts); got != fb.n; got = fb.rows(b, ts) {
		if time.Now().After(deadline) {
			b.Fatalf("bar %s: %d of %d rows after %s", ts.Format(time.RFC3339), got, fb.n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// check fails unless every row of the closing bar holds Python's bits of
// its own model, and returns each row's produced_at less landed.
func (fb *fleetBench) check(b *testing.B, landed time.Time) []time.Duration {
	b.Helper()
	k := len(fb.f.Bars) - 1
	rows, err := fb.pool.Query(context.Background(), `SELECT d.name, h.value, h.meta->>'artifact_sha256', h.produced_at
		FROM signal_history h JOIN signal_definition d USING (signal_id) WHERE h.ts = $1`, fb.close)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var lat []time.Duration
	for rows.Next() {
		var name, sha string
		var v float64
		var at time.Time
		if err := rows.Scan(&name, &v, &sha, &at); err != nil {
			b.Fatal(err)
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(name, "fleet_signal_"))
		m := fb.f.Models[i]
		if got := fmt.Sprintf("%016x", math.Float64bits(v)); got != m.Predict[k] || sha != m.SHA {
			b.Fatalf("%s: %s from %s, Python's bits of %s are %s", name, got, sha, m.SHA, m.Predict[k])
		}
		lat = append(lat, at.Sub(landed))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return lat
}

func fleetEnvOf(f *fleet, extra ...string) []string {
	return append([]string{"INFERENCE_ARTIFACT_DIR=" + filepath.Join(f.Dir, "artifacts")}, extra...)
}

// loadsOf is how many artifacts a binary has loaded.
func loadsOf(b *testing.B, url string) float64 {
	return scrape(b, url)["blackheart_inference_model_load_duration_seconds{}_count"]
}

// waitLoaded waits for /readyz to say the working set is loaded and
// returns when it did; ok is false for a binary without a working set.
func waitLoaded(b *testing.B, url string, limit time.Duration) (at time.Time, ok bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			b.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		switch body["model_working_set"] {
		case nil:
			return time.Time{}, false
		case "loading":
			time.Sleep(10 * time.Millisecond)
		default:
			b.Logf("/readyz: %v", body)
			return time.Now(), true
		}
	}
	b.Fatalf("working set not loaded after %s", limit)
	return time.Time{}, false
}

// BenchmarkDistinctModels: a bar close of 10, 100 and 1 000 signals, each
// on a model of its own, for each binary: start to caught up (24 bars
// each) and to every model loaded, then five bar closes (the inputs land in
// one commit at varied points of the 2 s default poll; each row's
// produced_at against that commit), the loads each close made, RSS after
// every close and at its peak, and the loaded models' measured bytes.
func BenchmarkDistinctModels(b *testing.B) {
	bins, f := fleetBins(b), benchFleet(b)
	for _, n := range fleetSizes() {
		if n > len(f.Models) {
			b.Fatalf("the fleet at BH_FLEET_DIR has %d models, the benchmark takes %d", len(f.Models), n)
		}
		for _, bin := range bins {
			b.Run(fmt.Sprintf("models=%d/%s", n, bin.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					benchFleetClose(b, f, bin.path, n)
				}
			})
		}
	}
}

func benchFleetClose(b *testing.B, f *fleet, bin string, n int) {
	const closes = 5
	fb := newFleetBench(b, f, n, false)
	start := time.Now()
	cmd, addr := startBinary(b, bin, fb.dsn, fleetEnvOf(f, "INFERENCE_STREAMING_ENABLED=true")...)
	url := "http://" + addr
	if at, ok := waitLoaded(b, url, 5*time.Minute); ok {
		b.ReportMetric(at.Sub(start).Seconds(), "loaded-s")
	}
	fb.waitRows(b, fb.bars[len(fb.bars)-2], 10*time.Minute)
	b.ReportMetric(time.Since(start).Seconds(), "caught-up-s")
	var lat []time.Duration
	loads0, rss := loadsOf(b, url), []string{}
	for it := 0; it < closes; it++ {
		fb.exec(b, `DELETE FROM signal_history WHERE ts = $1`, fb.close)
		fb.exec(b, `DELETE FROM feature_values WHERE ts = $1`, fb.close)
		time.Sleep(4*time.Second + time.Duration(it*37%97)*2*time.Second/97) // a poll or two, then a varied point of the cycle
		landed := fb.land(b, len(fb.bars)-1)
		fb.waitRows(b, fb.close, 2*time.Minute)
		lat = append(lat, fb.check(b, landed)...)
		rss = append(rss, fmt.Sprintf("%.0f", float64(procKB(b, cmd.Process.Pid, "VmRSS:"))/1024))
	}
	m := scrape(b, url)
	b.Logf("%s, %d models: RSS after each close %s MB; %.0f loads over %d closes", bin, n, strings.Join(rss, " "), m["blackheart_inference_model_load_duration_seconds{}_count"]-loads0, closes)
	b.ReportMetric(quantileMS(lat, 0.5), "p50-ms")
	b.ReportMetric(quantileMS(lat, 0.99), "p99-ms")
	b.ReportMetric((m["blackheart_inference_model_load_duration_seconds{}_count"]-loads0)/closes, "loads/close")
	b.ReportMetric(float64(peakRSS(b, cmd.Process.Pid))/(1<<20), "peak-RSS-MB")
	if v, ok := m["blackheart_inference_model_cache_bytes{}"]; ok {
		b.ReportMetric(v/(1<<20), "models-MB")
	}
}

// BenchmarkDistinctModelsBatch: POST /inference/batch-predict over 1 000
// signals on 1 000 models (the largest of BH_FLEET_SIZES) from a cold start (the call right after the
// process listens, the models not loaded) and warm (once /readyz says they
// are, or at once for a binary without a working set), the streaming
// worker off, with the feature service's 30 s client timeout.
func BenchmarkDistinctModelsBatch(b *testing.B) {
	bins, f := fleetBins(b), benchFleet(b)
	sizes := fleetSizes()
	n := sizes[len(sizes)-1]
	if n > len(f.Models) {
		b.Fatalf("the fleet at BH_FLEET_DIR has %d models, the benchmark takes %d", len(f.Models), n)
	}
	for _, bin := range bins {
		b.Run(fmt.Sprintf("models=%d/%s", n, bin.name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				fb := newFleetBench(b, f, n, true)
				start := time.Now()
				cmd, addr := startBinary(b, bin.path, fb.dsn, fleetEnvOf(f)...)
				url := "http://" + addr
				cold := fb.batch(b, url, "cold")
				b.ReportMetric(cold.Seconds()*1000, "cold-ms")
				if at, ok := waitLoaded(b, url, 5*time.Minute); ok {
					b.ReportMetric(at.Sub(start).Seconds(), "loaded-s")
				}
				fb.exec(b, `DELETE FROM signal_history WHERE ts = $1`, fb.close)
				b.ReportMetric(fb.batch(b, url, "warm").Seconds()*1000, "warm-ms")
				b.ReportMetric(float64(peakRSS(b, cmd.Process.Pid))/(1<<20), "peak-RSS-MB")
			}
		})
	}
}

// batch calls batch-predict once, logs its answer and returns its time.
func (fb *fleetBench) batch(b *testing.B, url, what string) time.Duration {
	req, _ := http.NewRequest(http.MethodPost, url+"/inference/batch-predict", bytes.NewBufferString(`{"compute_run_id": "33333333-3333-3333-3333-333333333333"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Inference-Token", testToken)
	t0 := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	took := time.Since(t0)
	if err != nil {
		b.Logf("%s batch-predict: no answer in 30 s (%v); %d rows written by then", what, err, fb.rows(b, fb.close))
		return took
	}
	defer resp.Body.Close()
	var body struct {
		Status   string   `json:"status"`
		Written  int      `json:"rows_written"`
		Failed   []string `json:"rows_failed"`
		Deferred []string `json:"signals_deferred"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	b.Logf("%s batch-predict: HTTP %d in %s, %s, %d written, %d failed, %d deferred", what, resp.StatusCode, took.Round(time.Millisecond),
		body.Status, body.Written, len(body.Failed), len(body.Deferred))
	return took
}

// BenchmarkDistinctModelsTwoReplicas: two streaming replicas of the cgo
// binary (BH_FLEET_BINS' "cgo") on one database over 1 000 signals on
// 1 000 models: what each holds of the working set, and three bar closes
// with every bar written once and checked against Python's bits.
func BenchmarkDistinctModelsTwoReplicas(b *testing.B) {
	var bin string
	for _, fb := range fleetBins(b) {
		if fb.name == "cgo" {
			bin = fb.path
		}
	}
	if bin == "" {
		b.Fatal(`BH_FLEET_BINS names no "cgo" binary`)
	}
	f, sizes := benchFleet(b), fleetSizes()
	n := sizes[len(sizes)-1]
	b.Run(fmt.Sprintf("models=%d/replicas=2", n), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			benchFleetReplicas(b, f, bin, n)
		}
	})
}

func benchFleetReplicas(b *testing.B, f *fleet, bin string, n int) {
	const closes = 3
	fb := newFleetBench(b, f, n, false)
	var urls []string
	var pids []int
	for r := 0; r < 2; r++ {
		cmd, addr := startBinary(b, bin, fb.dsn, fleetEnvOf(f, "INFERENCE_STREAMING_ENABLED=true")...)
		urls, pids = append(urls, "http://"+addr), append(pids, cmd.Process.Pid)
	}
	fb.waitRows(b, fb.bars[len(fb.bars)-2], 10*time.Minute)
	for _, url := range urls { // as the one-replica runs: the closes start once the working sets are loaded
		waitLoaded(b, url, 5*time.Minute)
	}
	written := func(url string) float64 {
		m := scrape(b, url)
		return m["blackheart_inference_signal_rows_written_total{source=stream}"] +
			m["blackheart_inference_signal_rows_written_total{source=catchup_scan}"]
	}
	var lat []time.Duration
	for it := 0; it < closes; it++ {
		fb.exec(b, `DELETE FROM signal_history WHERE ts = $1`, fb.close)
		fb.exec(b, `DELETE FROM feature_values WHERE ts = $1`, fb.close)
		time.Sleep(4*time.Second + time.Duration(it*37%97)*2*time.Second/97)
		var was [2]map[string]float64
		for r, url := range urls {
			was[r] = scrape(b, url)
		}
		before := written(urls[0]) + written(urls[1])
		landed := fb.land(b, len(fb.bars)-1)
		fb.waitRows(b, fb.close, 2*time.Minute)
		lat = append(lat, fb.check(b, landed)...)
		time.Sleep(time.Second) // a second write would come within the other replica's grace
		if w := written(urls[0]) + written(urls[1]) - before; w != float64(n) {
			b.Fatalf("bar close %d: the replicas wrote %v rows for %d signals' bar", it, w, n)
		}
		for r, url := range urls {
			m := scrape(b, url)
			d := func(k string) float64 { return m[k] - was[r][k] }
			b.Logf("close %d, replica %d: wrote %.0f rows, loaded %.0f models (the drift pass's between closes included), %.0f polls", it, r,
				written(url)-(was[r]["blackheart_inference_signal_rows_written_total{source=stream}"]+was[r]["blackheart_inference_signal_rows_written_total{source=catchup_scan}"]),
				d("blackheart_inference_model_load_duration_seconds{}_count"),
				d("blackheart_inference_streaming_iteration_duration_seconds{}_count"))
		}
	}
	for r, url := range urls {
		m := scrape(b, url)
		b.Logf("replica %d: holds %.0f models (%.0f of a working set of %.0f), %.0f MB measured, peak RSS %d MB", r,
			m["blackheart_inference_model_cache_models{}"], m["blackheart_inference_model_working_set_held_models{}"],
			m["blackheart_inference_model_working_set_models{}"], m["blackheart_inference_model_cache_bytes{}"]/(1<<20), peakRSS(b, pids[r])>>20)
		b.ReportMetric(m["blackheart_inference_model_working_set_held_models{}"], fmt.Sprintf("replica%d-models", r))
	}
	b.ReportMetric(quantileMS(lat, 0.5), "p50-ms")
	b.ReportMetric(quantileMS(lat, 0.99), "p99-ms")
}
