package inference

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemberColumns(t *testing.T) {
	inputs := []string{"interval_indicator", "b", "a", "c"}
	cols, err := memberColumns(0, KindLightGBM, inputs, inputs)
	require.NoError(t, err)
	assert.Nil(t, cols, "same order: no copy")
	cols, err = memberColumns(0, KindLightGBM, nil, inputs)
	require.NoError(t, err)
	assert.Nil(t, cols, "no names: input order")

	cols, err = memberColumns(1, KindXGBoost, []string{"a", "b", "c", "interval_indicator"}, inputs)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 1, 3, 0}, cols, "member column j reads input column cols[j]")

	for name, names := range map[string][]string{
		"unknown name": {"a", "b", "c", "d"},
		"fewer":        {"a", "b", "c"},
		"duplicate":    {"a", "a", "b", "c"},
	} {
		_, err := memberColumns(2, KindLightGBM, names, inputs)
		assert.Equal(t, CodeArtifactCorrupt, ErrorCode(err), name)
	}
}

// A member fit on another column order reads its own order.
func TestEnsembleMemberReadsItsOwnOrder(t *testing.T) {
	m := ensembleMember{kind: KindLogReg, cols: []int{1, 0},
		logistic: &Logistic{Coef: [][]float64{{1, 0}, {0, 1}}, Intercept: []float64{0, 0}, Mean: []float64{0, 0}, Scale: []float64{1, 1}}}
	swapped := ensembleMember{kind: KindLogReg, logistic: m.logistic}
	rows := []float64{3, -2, 0.5, 7}
	got, err := m.predict(t.Context(), rows, 2, 2)
	require.NoError(t, err)
	want, err := swapped.predict(t.Context(), []float64{-2, 3, 7, 0.5}, 2, 2)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
