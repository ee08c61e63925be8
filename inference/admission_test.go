package inference

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdmissionRunsWaitsAndRefuses(t *testing.T) {
	a := newAdmission(1, 1)
	ctx := context.Background()
	rel1, err := a.acquire(ctx)
	require.NoError(t, err)

	got := make(chan func(), 1)
	go func() { rel, _ := a.acquire(ctx); got <- rel }() // waits in the queue
	require.Eventually(t, func() bool { _, w := a.load(); return w == 1 }, 5*time.Second, time.Millisecond)

	_, err = a.acquire(ctx)
	assert.Equal(t, CodeBackfillBusy, ErrorCode(err), "one running, one waiting: the third is refused")
	assert.Equal(t, map[string]any{"running": 1, "waiting": 1}, err.(*Error).Details)

	rel1()
	rel1() // idempotent
	rel2 := <-got
	require.NotNil(t, rel2, "the waiting one runs once a slot frees")
	r, w := a.load()
	assert.Equal(t, [2]int{1, 0}, [2]int{r, w})

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := a.acquire(cctx); done <- err }()
	require.Eventually(t, func() bool { _, w := a.load(); return w == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled, "a waiter leaves at its own deadline")
	_, w = a.load()
	assert.Zero(t, w)
	rel2()
}
