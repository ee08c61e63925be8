package artifact_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// TestNumpyArrayForms decodes arrays Python pickled in every form artifacts
// can hold — protocol 5 (_frombuffer), protocol 3 (_reconstruct + BUILD),
// and protocol 3 with numpy 1.x module names — and compares every element
// with numpy's own C-order values.
func TestNumpyArrayForms(t *testing.T) {
	dir := filepath.Join(inferencetest.Dir(), "numpy")
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	require.NoError(t, err)
	var expected map[string]struct {
		Shape  []int    `json:"shape"`
		Values []string `json:"values"`
	}
	require.NoError(t, json.Unmarshal(raw, &expected))
	for _, file := range []string{"arrays_p5.pkl", "arrays_p3.pkl", "arrays_p3_numpy1.pkl"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, file))
			require.NoError(t, err)
			v, err := artifact.Unpickle(data, artifact.DefaultPickleLimits)
			require.NoError(t, err)
			d := v.(*types.Dict)
			for key, want := range expected {
				got, ok := d.Get(key)
				require.True(t, ok, key)
				if s, isScalar := got.(artifact.NumpyScalar); isScalar {
					f, err := s.Float64()
					require.NoError(t, err)
					assert.Equal(t, want.Values[0], bitsHex(f), key)
					continue
				}
				a, ok := got.(*artifact.NumpyArray)
				require.True(t, ok, "%s is %T", key, got)
				assert.Equal(t, want.Shape, a.Shape, key)
				if a.Objects != nil {
					require.Len(t, a.Objects, len(want.Values))
					for i, o := range a.Objects {
						assert.Equal(t, want.Values[i], o, key)
					}
					continue
				}
				vals, err := a.Float64s()
				require.NoError(t, err, key)
				require.Len(t, vals, len(want.Values), key)
				for i, f := range vals {
					assert.Equal(t, want.Values[i], bitsHex(f), "%s[%d]", key, i)
				}
			}
		})
	}
}

func bitsHex(f float64) string {
	const digits = "0123456789abcdef"
	u := math.Float64bits(f)
	out := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		out[i] = digits[u&15]
		u >>= 4
	}
	return string(out)
}
