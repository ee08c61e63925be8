package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native"
)

// BenchmarkModelFootprint: what a model costs to load and hold, by kind, in
// this build (run it with and without -tags purego): 100 separate loads of
// one artifact, each in a cache of its own and all held at once, against
// the process's RSS. load-ms is one load (read, sha, unpickle, parse),
// measured-KB what the cache accounts for the model, rss-KB what RSS grew
// by per model held and goheap-KB the Go heap's share of that. The kinds: the golden corpus's 500-tree LightGBM, its
// XGBoost models (binary and 3-class, 30 rounds each) and its 3-member
// ensemble, and with BH_FLEET_DIR the fleet's 400-tree, 31-leaf model (the
// issue's shape).
func BenchmarkModelFootprint(b *testing.B) {
	type kind struct {
		name string
		dir  string
		sha  string
	}
	kinds := []kind{}
	for _, c := range []string{"trees500", "xgb_binary", "xgb_multiclass", "ensemble"} {
		kinds = append(kinds, kind{c, inferencetest.ArtifactDir(), inferencetest.CaseNamed(b, c).SHA})
	}
	if dir := os.Getenv("BH_FLEET_DIR"); dir != "" {
		raw, err := os.ReadFile(filepath.Join(dir, "fleet.json"))
		if err != nil {
			b.Fatal(err)
		}
		var f fleet
		if err := json.Unmarshal(raw, &f); err != nil {
			b.Fatal(err)
		}
		kinds = append(kinds, kind{"fleet_400_trees", filepath.Join(dir, "artifacts"), f.Models[0].SHA})
	}
	for _, k := range kinds {
		b.Run(k.name+"/"+native.Flavor, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				footprint(b, &artifact.Store{Dir: k.dir, Limits: artifact.DefaultPickleLimits}, k.sha)
			}
		})
	}
}

func footprint(b *testing.B, store *artifact.Store, sha string) {
	const copies = 100
	ctx := context.Background()
	held := make([]*inference.ModelCache, 0, copies)
	settle := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		return procKB(b, os.Getpid(), "VmRSS:")
	}
	before := settle()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	var took time.Duration
	var bytes int64
	for i := 0; i < copies; i++ {
		c := inference.NewModelCache(store, loaders, 1<<40)
		t0 := time.Now()
		lm, release, err := c.Acquire(ctx, sha)
		took += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		bytes += lm.Bytes
		release()
		held = append(held, c)
	}
	after := settle()
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/copies/1024, "goheap-KB")
	b.ReportMetric(float64(took.Microseconds())/copies/1000, "load-ms")
	b.ReportMetric(float64(bytes)/copies/1024, "measured-KB")
	b.ReportMetric(float64(after-before)/copies, "rss-KB")
	for _, c := range held {
		c.Close()
	}
}

// BenchmarkDriftPass: the scheduled drift pass over 100 and 1 000 active
// signals on the demo model (40 inputs, 1h bars, a two-year training
// window, a 7-day live window), against the same signals computed one by
// one as the pass did before it shared a model's side (GET
// /monitoring/drift for each: measured over 100 signals, the same work
// per signal at any count).
func BenchmarkDriftPass(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("signals=%d", n), func(b *testing.B) {
			e := newTestEnv(b, benchDSN(b))
			live := fixedNow.Add(-7 * 24 * time.Hour)
			e.seed.Exec(`UPDATE model_registry SET training_window = tstzrange($1, $2, '[)'), holdout_window = NULL
				WHERE id = '11111111-1111-1111-1111-111111111111'`, live.Add(-2*365*24*time.Hour), live)
			e.seed.Exec(`INSERT INTO signal_definition (name, model_id, status)
				SELECT 'drift_' || g, model_id, 'active' FROM signal_definition, generate_series(2, $1) g
				WHERE signal_id = $2`, n, demoSignal)
			ctx := context.Background()
			var oneByOne time.Duration
			if n == 100 {
				t0 := time.Now()
				for _, id := range signalIDs(b, e) {
					if _, err := e.app.service.SignalDrift(ctx, inference.SignalDriftRequest{SignalID: id, LiveDays: 7}); err != nil {
						b.Fatal(err)
					}
				}
				oneByOne = time.Since(t0)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pass := e.app.drift.RunOnce(ctx)
				if len(pass.Reports) != n || len(pass.Failed) != 0 {
					b.Fatalf("%d reports, %v failed", len(pass.Reports), pass.Failed)
				}
				b.ReportMetric(float64(pass.ModelsComputed), "models-computed")
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(n), "ms/signal")
			if oneByOne > 0 { // ResetTimer drops metrics reported before it
				b.ReportMetric(float64(oneByOne.Milliseconds())/float64(n), "one-by-one-ms/signal")
			}
		})
	}
}

func signalIDs(b *testing.B, e *testEnv) []string {
	rows, err := e.seed.Pool.Query(context.Background(), `SELECT signal_id::text FROM signal_definition WHERE status = 'active'`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// BenchmarkPreload: the model manager loading the fleet's first
// BH_PRELOAD_MODELS (default 200) models into an empty cache, as many at
// a time as there are cores, as at start: ms per model.
func BenchmarkPreload(b *testing.B) {
	f := benchFleet(b)
	n := min(envInt("BH_PRELOAD_MODELS", 200), len(f.Models))
	shas := make([]string, n)
	for i := range shas {
		shas[i] = f.Models[i].SHA
	}
	store := &artifact.Store{Dir: filepath.Join(f.Dir, "artifacts"), Limits: artifact.DefaultPickleLimits}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := inference.NewModelCache(store, loaders, 1<<40)
		<-c.KeepLoaded(context.Background(), shas)
		if st := c.Stats(); st.WorkingSetHeld != n {
			b.Fatalf("%d of %d held", st.WorkingSetHeld, n)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/model")
}

// fleetSizes are the benchmark's signal counts (BH_FLEET_SIZES narrows them).
func fleetSizes() []int {
	out := []int{10, 100, 1000}
	if s := os.Getenv("BH_FLEET_SIZES"); s != "" {
		out = nil
		for _, f := range strings.Split(s, ",") {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
	}
	return out
}
