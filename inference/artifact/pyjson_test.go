package artifact_test

import (
	"math"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/artifact"
)

// Expectations are what CPython 3.11's json.dumps prints for the same values.
func TestPyFloatRepr(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.1, "0.1"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{123456789012345678.0, "1.2345678901234568e+17"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
		{math.Copysign(0, -1), "-0.0"}, {1.5e-7, "1.5e-07"}, {5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {100, "100.0"}, {2.5, "2.5"}, {12345.678, "12345.678"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, artifact.PyFloatRepr(tt.in), "repr(%v)", tt.in)
	}
}

func TestPyJSON(t *testing.T) {
	list := types.NewListFromSlice([]any{true, nil, "é\u2028\U0001F600\x7f\x01\n\"/<&"})
	d := types.NewDict()
	d.Set("b", 1)
	d.Set("a", list)
	got, err := artifact.PyJSON(d)
	require.NoError(t, err)
	assert.Equal(t, `{"a": [true, null, "\u00e9\u2028\ud83d\ude00\u007f\u0001\n\"/<&"], "b": 1}`, got)

	got, err = artifact.PyJSON([]any{math.NaN(), math.Inf(1), math.Inf(-1)})
	require.NoError(t, err)
	assert.Equal(t, `[NaN, Infinity, -Infinity]`, got)

	_, err = artifact.PyJSON(types.NewSet())
	assert.Error(t, err, "a set goes through str() in Python; we refuse rather than guess")
}
