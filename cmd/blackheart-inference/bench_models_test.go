package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
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
