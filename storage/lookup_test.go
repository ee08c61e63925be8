package storage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// scriptedLookup answers each call with the next step: an answer at once,
// or a block until released (or the lookup's context ends).
type scriptedLookup struct {
	steps   []func(ctx context.Context) ([]string, error)
	calls   int
	release chan struct{}
}

func (s *scriptedLookup) lookup(ctx context.Context, _ string) ([]string, error) {
	step := s.steps[s.calls]
	s.calls++
	return step(ctx)
}

func answer(addrs ...string) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) { return addrs, nil }
}

func failure(context.Context) ([]string, error) { return nil, errors.New("no such host") }

func (s *scriptedLookup) blockThen(addrs ...string) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		select {
		case <-s.release:
			return addrs, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func testResolver(s *scriptedLookup, timeout time.Duration) *hostResolver {
	r := newHostResolver(timeout)
	r.lookup, r.grace = s.lookup, 20*time.Millisecond
	return r
}

func TestLookupUsesTheLastAnswerWhileTheResolverStalls(t *testing.T) {
	s := &scriptedLookup{release: make(chan struct{})}
	s.steps = append(s.steps, answer("10.89.1.2"), s.blockThen("10.89.1.7"), answer("10.89.1.9"))
	r := testResolver(s, time.Minute)
	ctx := context.Background()

	if got, err := r.LookupHost(ctx, "postgres"); err != nil || !slices.Equal(got, []string{"10.89.1.2"}) {
		t.Fatalf("first lookup = %v, %v", got, err)
	}
	// The resolver stalls (a container joining the network): the known
	// address is answered without waiting for it.
	if got, err := r.LookupHost(ctx, "postgres"); err != nil || !slices.Equal(got, []string{"10.89.1.2"}) {
		t.Fatalf("stalled lookup = %v, %v; want the last answer", got, err)
	}
	// The stalled lookup finishes in the background and its answer is kept.
	close(s.release)
	waitKnown(t, r, "postgres", "10.89.1.7")
	if got, err := r.LookupHost(ctx, "postgres"); err != nil || !slices.Equal(got, []string{"10.89.1.9"}) {
		t.Fatalf("healthy lookup = %v, %v; want the fresh answer", got, err)
	}
}

func TestLookupFailureFallsBackToTheLastAnswerOnly(t *testing.T) {
	s := &scriptedLookup{steps: []func(context.Context) ([]string, error){failure, answer("10.89.1.2"), failure}}
	r := testResolver(s, time.Minute)
	ctx := context.Background()
	if _, err := r.LookupHost(ctx, "postgres"); err == nil {
		t.Fatal("a host never resolved must fail, not invent an address")
	}
	if got, err := r.LookupHost(ctx, "postgres"); err != nil || !slices.Equal(got, []string{"10.89.1.2"}) {
		t.Fatalf("lookup = %v, %v", got, err)
	}
	if got, err := r.LookupHost(ctx, "postgres"); err != nil || !slices.Equal(got, []string{"10.89.1.2"}) {
		t.Fatalf("failed lookup of a known host = %v, %v; want the last answer", got, err)
	}
}

func TestFirstLookupWaitsButIsBoundedByTheConnectTimeout(t *testing.T) {
	// No previous answer: the lookup is waited for, longer than the grace...
	s := &scriptedLookup{release: make(chan struct{})}
	s.steps = append(s.steps, s.blockThen("10.89.1.2"))
	r := testResolver(s, time.Minute)
	go func() { time.Sleep(3 * r.grace); close(s.release) }()
	if got, err := r.LookupHost(context.Background(), "postgres"); err != nil || !slices.Equal(got, []string{"10.89.1.2"}) {
		t.Fatalf("first lookup = %v, %v", got, err)
	}
	// ...but never past the connect timeout, which pgx does not apply to it.
	s = &scriptedLookup{release: make(chan struct{})}
	s.steps = append(s.steps, s.blockThen("10.89.1.2"))
	r = testResolver(s, 50*time.Millisecond)
	if _, err := r.LookupHost(context.Background(), "postgres"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled first lookup: err = %v, want the connect timeout", err)
	}
}

func waitKnown(t *testing.T, r *hostResolver, host, want string) {
	t.Helper()
	for range 500 {
		r.mu.Lock()
		got := r.known[host]
		r.mu.Unlock()
		if slices.Equal(got, []string{want}) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the background lookup's answer %s was never kept", want)
}
