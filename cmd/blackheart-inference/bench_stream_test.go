package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rfkih/blackheart-inference/inference"
)

// demoDB is a fresh database with the demo data (on a durable cluster with
// BLACKHEART_BENCH_FSYNC=on, see benchDSN) and a pool on it.
func demoDB(b *testing.B) (string, *pgxpool.Pool) {
	dsn := benchDSN(b)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return dsn, pool
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkStreamLatency measures, with the real worker loop, the time from
// the moment a bar's last input is committed to the moment its
// signal_history row is visible. BH_STREAM_POLL_SECONDS (default 1) and
// BH_STREAM_BARS (default 30) set the poll and the number of bars.
func BenchmarkStreamLatency(b *testing.B) {
	poll, nbars := envInt("BH_STREAM_POLL_SECONDS", 1), envInt("BH_STREAM_BARS", 30)
	dsn, pool := demoDB(b)
	ctx := context.Background()
	first := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC).Add(-time.Duration(nbars-1) * time.Hour)
	// Hold back the inputs of the measured bars; they land one bar at a time.
	if _, err := pool.Exec(ctx, `CREATE TABLE held AS SELECT * FROM feature_values WHERE ts >= $1 AND symbol = 'BTCUSDT'`, first); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM feature_values WHERE ts >= $1 AND symbol = 'BTCUSDT'`, first); err != nil {
		b.Fatal(err)
	}
	clock := &testClock{}
	clock.Set(first.Add(-30 * time.Minute))
	a := newStreamAppPoll(b, dsn, clock, 24, poll)
	if got := a.worker.Status().PollSeconds; got != poll {
		b.Fatalf("worker polls every %d s, want %d", got, poll)
	}
	a.worker.RunOnce(ctx) // catch up to the bar before the first measured one
	for it := 0; it < b.N; it++ {
		lat := make([]time.Duration, 0, nbars)
		wctx, stop := context.WithCancel(ctx)
		go a.worker.Run(wctx)
		for k := 0; k < nbars; k++ {
			bar := first.Add(time.Duration(k) * time.Hour)
			clock.Set(bar.Add(30 * time.Minute))
			time.Sleep(time.Duration(k*37%97) * time.Duration(poll) * time.Second / 97) // land at varied points of the poll cycle
			// Every input but one, then the last one: the clock starts at its commit.
			if _, err := pool.Exec(ctx, `INSERT INTO feature_values SELECT * FROM held WHERE ts = $1 AND feature_name <> 'btc_f38'`, bar); err != nil {
				b.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO feature_values SELECT * FROM held WHERE ts = $1 AND feature_name = 'btc_f38'`, bar); err != nil {
				b.Fatal(err)
			}
			landed := time.Now()
			for {
				var n int
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM signal_history WHERE ts = $1`, bar).Scan(&n); err != nil {
					b.Fatal(err)
				}
				if n > 0 {
					lat = append(lat, time.Since(landed))
					break
				}
				if time.Since(landed) > time.Duration(3*poll)*time.Second+10*time.Second {
					b.Fatalf("bar %s never written", bar)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		stop()
		q := func(p float64) float64 { return quantileMS(lat, p) }
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(1), "max-ms")
		b.ReportMetric(float64(len(lat)), "bars")
		b.ReportMetric(float64(poll), "poll-s")
	}
}

// BenchmarkStreamIdlePoll: one worker iteration over 100 up-to-date targets;
// reports the wall time and the statements it sent to the database.
func BenchmarkStreamIdlePoll(b *testing.B) {
	dsn, pool := demoDB(b)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	for i := 0; i < 99; i++ {
		if _, err := pool.Exec(ctx, `INSERT INTO signal_definition (name, model_id) VALUES ($1, '11111111-1111-1111-1111-111111111111')`,
			fmt.Sprintf("idle_%03d", i)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO signal_history (signal_id, symbol, ts, value, produced_at, source)
		SELECT signal_id, 'BTCUSDT', $1, 0.5, now(), 'stream' FROM signal_definition`, now.Truncate(time.Hour)); err != nil {
		b.Fatal(err)
	}
	clock := &testClock{}
	clock.Set(now)
	a := newStreamApp(b, dsn, clock, 24)
	a.worker.RunOnce(ctx) // warm the pool
	before := a.store.Statements()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := a.worker.RunOnce(ctx)
		if c.Targets != 100 || c.UpToDate != 100 {
			b.Fatalf("not idle: %+v", c)
		}
	}
	b.ReportMetric(float64(a.store.Statements()-before)/float64(b.N), "statements/poll")
}

// BenchmarkBarCloseAtScale: N active signals on the demo model (10, 100,
// 1 000) whose hourly bar closes at once. The bar's 40 inputs are committed
// together while the worker runs its real loop (poll 1 s, or
// BH_STREAM_POLL_SECONDS); each row's bar-to-row time is its created_time
// (the upsert transaction's start, PostgreSQL's clock) minus the inputs'
// commit time, also PostgreSQL's clock. Reports p50, p99 and max over every
// signal's row, and the poll's own cost (the iteration that wrote them).
// BH_SCALE_REPLICAS=2 runs two services on the database, checks from
// their own counters that each bar is written exactly once in all, and
// reports the busiest one's share of the rows;
// BH_STREAM_CONCURRENCY sets INFERENCE_STREAMING_CONCURRENCY and
// BH_STREAM_GROUP_SIZE INFERENCE_STREAMING_GROUP_SIZE (1: every signal
// alone, as if each were on a model of its own).
func BenchmarkBarCloseAtScale(b *testing.B) {
	poll, replicas := envInt("BH_STREAM_POLL_SECONDS", 1), envInt("BH_SCALE_REPLICAS", 1)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("signals=%d", n), func(b *testing.B) {
			dsn, pool := demoDB(b)
			ctx := context.Background()
			bar := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
			exec := func(q string, args ...any) {
				if _, err := pool.Exec(ctx, q, args...); err != nil {
					b.Fatal(err)
				}
			}
			exec(`INSERT INTO signal_definition (name, model_id, status)
				SELECT 'scale_' || g, model_id, 'active' FROM signal_definition, generate_series(2, $1) g
				WHERE signal_id = $2`, n, demoSignal)
			exec(`CREATE TABLE held AS SELECT * FROM feature_values WHERE ts = $1 AND symbol = 'BTCUSDT'`, bar)
			exec(`DELETE FROM feature_values WHERE ts = $1 AND symbol = 'BTCUSDT'`, bar)
			clock := &testClock{}
			clock.Set(bar.Add(-30 * time.Minute)) // the previous bar is the newest: catch up to it first
			apps := make([]*app, replicas)
			urls := make([]string, replicas)
			written := func(r int) float64 { // rows replica r has written so far
				m := scrape(b, urls[r])
				return m["blackheart_inference_signal_rows_written_total{source=stream}"] +
					m["blackheart_inference_signal_rows_written_total{source=catchup_scan}"]
			}
			maxShare := 0.0
			for r := range apps {
				apps[r] = newStreamAppPoll(b, dsn, clock, 24, poll, func(c *config) {
					c.Inference.Stream.Concurrency = envInt("BH_STREAM_CONCURRENCY", c.Inference.Stream.Concurrency)
					c.Inference.Stream.GroupSize = envInt("BH_STREAM_GROUP_SIZE", c.Inference.Stream.GroupSize)
				})
				srv := httptest.NewServer(apps[r].handler)
				b.Cleanup(srv.Close)
				urls[r] = srv.URL
				apps[r].worker.RunOnce(ctx)
			}
			var lat []time.Duration
			var iter time.Duration
			for it := 0; it < b.N; it++ {
				exec(`DELETE FROM signal_history WHERE ts = $1`, bar)
				exec(`DELETE FROM feature_values WHERE ts = $1 AND symbol = 'BTCUSDT'`, bar)
				clock.Set(bar.Add(30 * time.Minute))
				before := make([]float64, replicas)
				for r := range apps {
					before[r] = written(r)
				}
				wctx, stop := context.WithCancel(ctx)
				for _, a := range apps {
					// Up before the bar closes, as replicas in production are:
					// each holds its slot already (Run would take it at once,
					// but its first pass may come after the inputs landed).
					if _, _, err := a.store.Replicas(ctx); err != nil {
						b.Fatal(err)
					}
				}
				for _, a := range apps {
					go a.worker.Run(wctx)
				}
				time.Sleep(time.Duration(it*37%97) * time.Duration(poll) * time.Second / 97) // land at varied points of the poll cycle
				var committed time.Time
				if err := pool.QueryRow(ctx, `WITH i AS (INSERT INTO feature_values SELECT * FROM held RETURNING 1)
					SELECT now()::timestamp FROM i LIMIT 1`).Scan(&committed); err != nil {
					b.Fatal(err)
				}
				deadline := time.Now().Add(60 * time.Second)
				for {
					var got int
					if err := pool.QueryRow(ctx, `SELECT count(*) FROM signal_history WHERE ts = $1`, bar).Scan(&got); err != nil {
						b.Fatal(err)
					}
					if got == n {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d rows after 60 s", got, n)
					}
					time.Sleep(20 * time.Millisecond)
				}
				stop()
				rows, err := pool.Query(ctx, `SELECT created_time FROM signal_history WHERE ts = $1`, bar)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					var at time.Time
					if err := rows.Scan(&at); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, at.Sub(committed))
				}
				rows.Close()
				total := 0.0
				for r, a := range apps {
					if last := a.worker.Status().Last; last != nil && last.Written > 0 {
						iter = max(iter, last.Duration)
					}
					w := written(r) - before[r]
					total += w
					maxShare = max(maxShare, w/float64(n))
					b.Logf("bar close %d: replica %d wrote %v of %d rows", it, r, w, n)
				}
				if total != float64(n) { // an upsert would hide a second write from count(*)
					b.Fatalf("the replicas wrote %v rows for %d signals' bar", total, n)
				}
			}
			q := func(p float64) float64 { return quantileMS(lat, p) }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(q(1), "max-ms")
			b.ReportMetric(float64(iter.Milliseconds()), "poll-ms")
			if replicas > 1 {
				b.ReportMetric(100*maxShare, "busiest-replica-%")
			}
		})
	}
}

// BenchmarkBatchPredictAtScale: the feature service's bar-close webhook
// with 1 000 active signals on the demo model, each writing its newest
// ready bar; the feature service gives it 30 s.
func BenchmarkBatchPredictAtScale(b *testing.B) {
	const n = 1000
	dsn, pool := demoDB(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO signal_definition (name, model_id, status)
		SELECT 'scale_' || g, model_id, 'active' FROM signal_definition, generate_series(2, $1) g
		WHERE signal_id = $2`, n, demoSignal); err != nil {
		b.Fatal(err)
	}
	clock := &testClock{}
	clock.Set(time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC))
	a := newStreamApp(b, dsn, clock, 24)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := a.service.BatchPredict(ctx, inference.BatchRequest{ComputeRunID: "bench", Agent: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if res.RowsWritten != n {
			b.Fatalf("%d rows written, %d failed: %v", res.RowsWritten, len(res.RowsFailed), res.RowsFailed[:min(3, len(res.RowsFailed))])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/call")
}
