//go:build cgo && !purego

package native_test

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native"
)

// exactHeap is glibc's allocator without its per-thread caches (tcache)
// and fast bins, under which mallinfo2 counts a freed chunk as free at
// once: otherwise it counts the chunks a thread keeps cached as in use, and
// a load served from that cache seems to grow the heap by nothing.
const exactHeap = "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0"

// TestLoadCountsWhatTheHeapGrew holds each golden model's counted C bytes —
// what its loading thread allocated and kept — against the whole C heap's
// growth across the same call (mallinfo2, every arena and thread), loads
// one at a time, in a child process with exactHeap. A load whose parse ran
// partly on other threads (both libraries parse trees in parallel by
// default) counts a fraction of what the heap grew. The two may differ by
// what another thread allocated meanwhile (the Go runtime starting a
// thread, a few KB), never by a model's share.
func TestLoadCountsWhatTheHeapGrew(t *testing.T) {
	if os.Getenv("GLIBC_TUNABLES") != exactHeap {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadCountsWhatTheHeapGrew$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GLIBC_TUNABLES="+exactHeap)
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		require.NoError(t, err, "the child run with %s failed", exactHeap)
		require.Contains(t, string(out), "--- PASS: TestLoadCountsWhatTheHeapGrew", "the child ran the test")
		return
	}
	native.CheckHeap(true)
	defer native.CheckHeap(false)
	type load struct {
		kind          string
		counted, grew int64
	}
	var loads []load
	record := countingLoaders(func(kind string, counted int64) {
		loads = append(loads, load{kind, counted, native.CheckHeap(true)})
	})
	store := inferencetest.Store()
	exact, all := 0, 0
	primeThreads(t, store)
	for _, c := range inferencetest.Cases(t) {
		art, err := store.Load(context.Background(), c.SHA)
		require.NoError(t, err, c.Name)
		loads = loads[:0]
		m, err := inference.OpenModel(art, record)
		require.NoError(t, err, c.Name)
		require.NotEmpty(t, loads, c.Name)
		for _, l := range loads {
			t.Logf("%s %s: counted %d bytes, the heap grew %d", c.Name, l.kind, l.counted, l.grew)
			assert.Positive(t, l.counted, c.Name)
			assert.InDelta(t, l.grew, l.counted, 4096, "%s %s: counted %d bytes, the heap grew %d", c.Name, l.kind, l.counted, l.grew)
			all++
			if l.counted == l.grew {
				exact++
			}
		}
		require.NoError(t, m.Close())
	}
	assert.GreaterOrEqual(t, 4*exact, 3*all, "%d of %d loads counted exactly what the heap grew", exact, all)
}

// TestParallelLoadsCountAsAlone loads every golden model alone, then all of
// them at once from several goroutines while others predict and free
// models: each load counts the same bytes either way, give or take what
// glibc's chunk rounding varies with the heap's layout (a realloc grown in
// place, tens of bytes) and far less than the smallest model, so loads need
// no lock against each other or against predictions.
func TestParallelLoadsCountAsAlone(t *testing.T) {
	store := inferencetest.Store()
	type golden struct {
		name string
		art  *inference.Artifact
	}
	var goldens []golden
	for _, c := range inferencetest.Cases(t) {
		art, err := store.Load(context.Background(), c.SHA)
		require.NoError(t, err, c.Name)
		goldens = append(goldens, golden{c.Name, art})
	}
	counts := func(art *inference.Artifact) []int64 {
		var out []int64
		var mu sync.Mutex
		record := countingLoaders(func(_ string, counted int64) {
			mu.Lock()
			out = append(out, counted)
			mu.Unlock()
		})
		m, err := inference.OpenModel(art, record)
		require.NoError(t, err)
		rows := make([]float64, 256*m.NumFeatures())
		_, err = m.Predict(context.Background(), rows[:m.NumFeatures()], false)
		require.NoError(t, err)
		_, err = m.PredictBatch(context.Background(), rows, false) // on every CPU
		require.NoError(t, err)
		require.NoError(t, m.Close())
		return out
	}
	// Each goroutine keeps its OS thread and loads every model once before
	// it compares: a thread's first call into a library allocates that
	// thread's own state (error buffers, XGBoost's per-thread entry), which
	// the first load on the thread counts.
	warm := func() {
		for _, g := range goldens {
			counts(g.art)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	warm()
	alone := make([][]int64, len(goldens))
	for i, g := range goldens {
		alone[i] = counts(g.art)
	}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			warm()
			for r := 0; r < 3; r++ {
				for i := range goldens {
					i := (i + w*5) % len(goldens)
					got := counts(goldens[i].art)
					if assert.Len(t, got, len(alone[i]), goldens[i].name) {
						for k := range got {
							assert.InDelta(t, alone[i][k], got[k], 1024, "%s: loaded beside others", goldens[i].name)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// countingLoaders loads with the native libraries and hands each loaded
// part's kind and counted C bytes to counted.
func countingLoaders(counted func(kind string, bytes int64)) inference.Loaders {
	return inference.Loaders{
		LightGBM: func(text string, it int) (inference.Model, error) {
			m, err := native.LoadLightGBM(text, native.Options{NumIteration: it})
			if err == nil {
				counted("lightgbm", m.CBytes())
			}
			return m, err
		},
		XGBoost: func(snapshot []byte) (inference.Model, error) {
			m, err := native.LoadXGBoost(snapshot, native.XGBOptions{})
			if err == nil {
				counted("xgboost", m.CBytes())
			}
			return m, err
		},
	}
}

// primeThreads runs a batch prediction on two threads first (enough rows
// for two): LightGBM keeps the last call's num_threads as its default for
// every parallel region after it, the load's too.
func primeThreads(t *testing.T, store *artifact.Store) {
	for _, c := range inferencetest.Cases(t) {
		if c.Ensemble() {
			continue
		}
		art, err := store.Load(context.Background(), c.SHA)
		require.NoError(t, err)
		m, err := native.LoadLightGBM(art.Payload.Booster.ModelText, native.Options{BatchThreads: 2})
		require.NoError(t, err)
		_, err = m.PredictBatch(context.Background(), make([]float64, 256*m.NumFeatures()), false)
		require.NoError(t, err)
		require.NoError(t, m.Close())
		return
	}
}
