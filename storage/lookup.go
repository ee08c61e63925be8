package storage

import (
	"context"
	"net"
	"sync"
	"time"
)

// lookupGrace is how long a lookup may take when the host's previous
// answer is known; after that the previous answer is used while the lookup
// finishes in the background. A healthy resolver answers in milliseconds.
const lookupGrace = 500 * time.Millisecond

// hostResolver resolves the database host for every new connection.
//
// pgx resolves the host before INFERENCE_DB_CONNECT_TIMEOUT starts, so a
// stalled resolver stalls the request that needed the connection. On a
// container network the resolver is the network's DNS (Docker's embedded
// server, podman's aardvark-dns), which drops queries while it reloads for
// a container joining the network: measured here, a lookup then takes the
// resolver's 5 s timeout per attempt, and a batch-predict waiting on it
// outlived the feature service's 30 s budget. So every lookup is bounded
// by the connect timeout, and a host that has answered before is never
// waited on for more than lookupGrace: its last answer is used (a stale
// address fails fast and the next connection looks again), while the
// fresh lookup completes in the background and replaces it.
type hostResolver struct {
	lookup  func(ctx context.Context, host string) ([]string, error)
	timeout time.Duration // bounds each lookup; 0: only the caller's context
	grace   time.Duration

	mu    sync.Mutex
	known map[string][]string
}

func newHostResolver(timeout time.Duration) *hostResolver {
	return &hostResolver{lookup: net.DefaultResolver.LookupHost, timeout: timeout, grace: lookupGrace, known: map[string][]string{}}
}

type lookupAnswer struct {
	addrs []string
	err   error
}

// LookupHost is pgconn.LookupFunc.
func (r *hostResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	r.mu.Lock()
	known := r.known[host]
	r.mu.Unlock()

	lctx, cancel := ctx, context.CancelFunc(func() {})
	if known != nil {
		// The refresh outlives this caller when the previous answer is used.
		lctx = context.WithoutCancel(ctx)
	}
	if r.timeout > 0 {
		lctx, cancel = context.WithTimeout(lctx, r.timeout)
	}
	done := make(chan lookupAnswer, 1)
	go func() {
		defer cancel()
		addrs, err := r.lookup(lctx, host)
		if err == nil && len(addrs) > 0 {
			r.mu.Lock()
			r.known[host] = addrs
			r.mu.Unlock()
		}
		done <- lookupAnswer{addrs, err}
	}()

	if known == nil {
		select {
		case a := <-done:
			return a.addrs, a.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	grace := time.NewTimer(r.grace)
	defer grace.Stop()
	select {
	case a := <-done:
		if a.err == nil && len(a.addrs) > 0 {
			return a.addrs, nil
		}
	case <-grace.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return append([]string(nil), known...), nil
}
