package native_test

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native"
)

// TestConcurrentPredict hammers LightGBM boosters, XGBoost boosters and an
// ensemble from many goroutines at once (run with -race) and checks every
// answer against Python's; the pure-Go build must refuse what it does not
// evaluate.
func TestConcurrentPredict(t *testing.T) {
	ctx := context.Background()
	store := inferencetest.Store()
	type loaded struct {
		c     inferencetest.Case
		m     inference.Model
		limit uint64 // allowed ulp distance of transformed outputs
	}
	var models []loaded
	for _, name := range []string{"binary", "multiclass", "regression", "categorical", "early_stopped",
		"xgb_binary", "xgb_multiclass", "xgb_early_stopped", "ensemble"} {
		c := inferencetest.CaseNamed(t, name)
		art, err := store.Load(context.Background(), c.SHA)
		require.NoError(t, err)
		m, err := inference.OpenModel(art, loaders)
		require.NoError(t, err)
		defer m.Close()
		limit := uint64(0)
		if name == "ensemble" {
			limit = logRegMaxULP
		}
		models = append(models, loaded{c, m, limit})
	}
	hammer(t, 32, func(g int) string {
		for iter := 0; iter < 40; iter++ {
			l := models[(g+iter)%len(models)]
			i := (g*7 + iter) % len(l.c.Inputs)
			var got []float64
			var err error
			if iter%5 == 0 {
				got, err = l.m.PredictBatch(ctx, l.c.Inputs[i], false)
			} else {
				got, err = l.m.Predict(ctx, l.c.Inputs[i], false)
			}
			if err != nil {
				return l.c.Name + ": " + err.Error()
			}
			for k, w := range l.c.Predict[i] {
				if inferencetest.ULPDistance(got[k], w) > l.limit {
					return l.c.Name + ": wrong value under concurrency"
				}
			}
		}
		return ""
	})
	for _, l := range models {
		require.NoError(t, l.m.Close())
		require.NoError(t, l.m.Close(), "Close is idempotent")
	}
}

// TestCloseWaitsAndIsIdempotent closes a model while predictions run: every
// call either completes with the right answer or reports the model closed.
func TestCloseWaitsAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	c := inferencetest.CaseNamed(t, "trees500")
	_, m, err := loadGolden(t, c)
	require.NoError(t, err)
	rows := inferencetest.Flatten(c.Inputs)

	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				out, err := m.PredictBatch(ctx, rows, true)
				if err != nil {
					assert.Contains(t, err.Error(), "closed")
					return
				}
				assert.Equal(t, math.Float64bits(c.Raw[0][0]), math.Float64bits(out[0]))
			}
		}()
	}
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "second Close")
	wg.Wait()
	_, err = m.Predict(ctx, c.Inputs[0], false)
	assert.Error(t, err)
}

func TestBadInputsAreErrors(t *testing.T) {
	ctx := context.Background()
	c := inferencetest.CaseNamed(t, "binary")
	_, m, err := loadGolden(t, c)
	require.NoError(t, err)
	defer m.Close()

	_, err = m.Predict(ctx, []float64{1, 2}, false)
	assert.Error(t, err, "short row")
	_, err = m.PredictBatch(ctx, make([]float64, len(c.FeatureNames)+1), false)
	assert.Error(t, err, "ragged batch")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Predict(cancelled, c.Inputs[0], false)
	assert.ErrorIs(t, err, context.Canceled)

	_, err = native.LoadLightGBM("not a model", native.Options{})
	assert.Equal(t, inference.CodeArtifactCorrupt, inference.ErrorCode(err))
}

// TestConcurrentContributions explains LightGBM and XGBoost models and the
// ensemble from many goroutines at once (run with -race): every set equals
// the one computed alone, bit for bit. The pure-Go build explains the
// LightGBM ones only.
func TestConcurrentContributions(t *testing.T) {
	ctx := context.Background()
	store := inferencetest.Store()
	type loaded struct {
		rows []float64 // finite golden rows, row-major
		nf   int
		m    inference.Model
		want [][]inference.ContributionSet
	}
	var models []loaded
	for _, name := range []string{"binary", "multiclass", "categorical", "xgb_multiclass", "ensemble"} {
		c := inferencetest.CaseNamed(t, name)
		art, err := store.Load(ctx, c.SHA)
		require.NoError(t, err)
		m, err := inference.OpenModel(art, loaders)
		require.NoError(t, err)
		defer m.Close()
		var rows []float64
		for _, r := range c.Inputs[len(c.Inputs)-8:] { // the decimal rows: finite
			rows = append(rows, r...)
		}
		want, err := inference.Explain(ctx, m, rows)
		if c.Ensemble() && native.Flavor == "purego" {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err, name)
		models = append(models, loaded{rows, len(c.FeatureNames), m, want})
	}
	hammer(t, 16, func(g int) string {
		for iter := 0; iter < 20; iter++ {
			l := models[(g+iter)%len(models)]
			i := (g + iter) % (len(l.rows) / l.nf)
			got, err := inference.Explain(ctx, l.m, l.rows[i*l.nf:(i+1)*l.nf])
			if err != nil {
				return err.Error()
			}
			for k, s := range got[0] {
				w := l.want[i][k]
				same := math.Float64bits(s.Bias) == math.Float64bits(w.Bias) && math.Float64bits(s.Raw) == math.Float64bits(w.Raw)
				for j := range s.Values {
					same = same && math.Float64bits(s.Values[j]) == math.Float64bits(w.Values[j])
				}
				if !same {
					return "a different explanation under concurrency"
				}
			}
		}
		return ""
	})
}

// hammer runs fn on goroutines goroutines at once; each non-empty answer
// fails the test.
func hammer(t *testing.T, goroutines int, fn func(g int) string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			if msg := fn(g); msg != "" {
				errs <- msg
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
