package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// demoDB is a fresh database with the demo data and a pool on it.
func demoDB(b *testing.B) (string, *pgxpool.Pool) {
	dsn := cluster.NewDatabase(b)
	seedDemo(b, dsn)
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
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))].Seconds() * 1000 }
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
