package native_test

import (
	"context"
	"testing"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/native"
)

// benchRows tiles the golden inputs to n rows; testdata/bench/python_predict.py
// builds the identical matrix for the Python side of docs/benchmarks.md.
func benchRows(c inferencetest.Case, n int) []float64 {
	rows := make([]float64, 0, n*len(c.FeatureNames))
	for i := 0; i < n; i++ {
		rows = append(rows, c.Inputs[i%len(c.Inputs)]...)
	}
	return rows
}

// benchModels are the golden models benchmarked: LightGBM boosters, an
// XGBoost-only artifact and the 3-member ensemble.
var benchModels = []string{"trees500", "binary", "multiclass", "xgb_multiclass", "ensemble"}

// benchModel opens a golden artifact as the service does; models this build
// refuses (XGBoost in pure Go) are skipped.
func benchModel(b *testing.B, name string) (inferencetest.Case, inference.Model) {
	c := inferencetest.CaseNamed(b, name)
	store := inferencetest.Store()
	art, err := store.Load(context.Background(), c.SHA)
	if err != nil {
		b.Fatal(err)
	}
	m, err := inference.OpenModel(art, loaders)
	if err != nil {
		b.Skipf("%s: %v", name, err)
	}
	b.Cleanup(func() { m.Close() })
	return c, m
}

func BenchmarkPredictSingleRow(b *testing.B) {
	ctx := context.Background()
	for _, name := range benchModels {
		b.Run(name, func(b *testing.B) {
			c, m := benchModel(b, name)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Cycle through every golden row: path lengths differ by row.
				if _, err := m.Predict(ctx, c.Inputs[i%len(c.Inputs)], false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPredictBatch10k(b *testing.B) {
	ctx := context.Background()
	for _, name := range benchModels {
		b.Run(name, func(b *testing.B) {
			c, m := benchModel(b, name)
			rows := benchRows(c, 10_000)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.PredictBatch(ctx, rows, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/row")
		})
	}
}

// BenchmarkContributions10k: TreeSHAP over a 10 000-row batch of the demo
// model (80 trees, 15 leaves, 40 inputs), binary and multiclass, through this build's
// LightGBM and through goeval: ns per row.
func BenchmarkContributions10k(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"demo", "binary", "multiclass"} {
		c := inferencetest.CaseNamed(b, name)
		art, err := inferencetest.Store().Load(ctx, c.SHA)
		if err != nil {
			b.Fatal(err)
		}
		rows := benchRows(c, 10000)
		for evaluator, m := range map[string]inference.Explainer{
			native.Flavor: mustLoad(b, func() (inference.Explainer, error) {
				return native.LoadLightGBM(art.Payload.Booster.ModelText, native.Options{NumIteration: art.Payload.Booster.BestIteration})
			}),
			"goeval": mustLoad(b, func() (inference.Explainer, error) {
				return native.LoadGoLightGBM(art.Payload.Booster.ModelText, native.Options{NumIteration: art.Payload.Booster.BestIteration})
			}),
		} {
			b.Run(name+"/"+evaluator, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := m.Contributions(ctx, rows); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/row")
			})
		}
	}
}

func mustLoad(b *testing.B, load func() (inference.Explainer, error)) inference.Explainer {
	m, err := load()
	if err != nil {
		b.Fatal(err)
	}
	return m
}
