package inference

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An error value can be shared between requests (a closed model's, a
// translated one): adding a backfill's count must never write into it.
func TestWithRowsWrittenLeavesSharedErrorsAlone(t *testing.T) {
	shared := Errorf(CodeDBUnavailable, "the database is unavailable").WithDetails(map[string]any{"wait_s": 5})
	var wg sync.WaitGroup
	got := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = withRowsWritten(shared, i*100) }()
	}
	wg.Wait()
	assert.Equal(t, map[string]any{"wait_s": 5}, shared.Details, "the shared error is unchanged")
	for i, err := range got {
		e, ok := err.(*Error)
		require.True(t, ok)
		assert.Equal(t, CodeDBUnavailable, e.Code)
		assert.Equal(t, i*100, e.Details["rows_written_before_error"])
		assert.Equal(t, 5, e.Details["wait_s"])
	}

	// A cancelled context is not coded; the count must survive it too.
	err := withRowsWritten(context.Canceled, 20000)
	assert.Equal(t, CodeInternal, ErrorCode(err))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 20000, err.(*Error).Details["rows_written_before_error"])
}
