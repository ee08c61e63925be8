package api

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// loopbackNetworks are always allowed: inside a container its loopback
// reaches only the container's own processes (the health check among them).
var loopbackNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ParseClientNetworks reads INFERENCE_ALLOWED_CLIENTS: comma-separated CIDR
// prefixes or single addresses. Empty is nil: the caller's default applies.
func ParseClientNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("INFERENCE_ALLOWED_CLIENTS: %q is neither a CIDR prefix (10.89.0.0/24) nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if s != "" && len(out) == 0 {
		return nil, fmt.Errorf("INFERENCE_ALLOWED_CLIENTS=%q names no network", s)
	}
	return out, nil
}

// InterfaceNetworks are the subnets of the given interface addresses that a
// peer can reach: global unicast ones (a container's bridge networks), not
// loopback or link-local.
func InterfaceNetworks(addrs []net.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !ip.IsGlobalUnicast() {
			continue
		}
		ones, _ := ipn.Mask.Size()
		if ip.Is4() && ones > 32 {
			ones -= 96
		}
		out = append(out, netip.PrefixFrom(ip, ones).Masked())
	}
	return out
}

// ClientFilter lets through only connections from its networks. It is safe
// for concurrent use.
type ClientFilter struct {
	networks []netip.Prefix
	refused  func(remote string) // called for each refused connection
}

// NewClientFilter allows loopback plus networks; refused, when not nil, is
// told of every connection turned away.
func NewClientFilter(networks []netip.Prefix, refused func(remote string)) *ClientFilter {
	all := append(append([]netip.Prefix(nil), loopbackNetworks...), networks...)
	return &ClientFilter{networks: all, refused: refused}
}

// Networks is every network the filter allows, loopback first.
func (f *ClientFilter) Networks() []string {
	out := make([]string, len(f.networks))
	for i, p := range f.networks {
		out[i] = p.String()
	}
	return out
}

// Allows reports whether a connection from addr (host:port) may be served.
func (f *ClientFilter) Allows(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap().WithZone("")
	for _, p := range f.networks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Listener wraps l: a connection from outside the allowlist is reset as
// soon as it is accepted, before a byte of it is read, and never reaches
// the HTTP server.
func (f *ClientFilter) Listener(l net.Listener) net.Listener { return &filteredListener{l, f} }

type filteredListener struct {
	net.Listener
	f *ClientFilter
}

func (l *filteredListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.f.Allows(c.RemoteAddr()) {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset: the client learns at once
		}
		_ = c.Close()
		if l.f.refused != nil {
			l.f.refused(c.RemoteAddr().String())
		}
	}
}

// RefusalLog reports refused connections without letting a flood of them
// flood the log: at most one line per interval, carrying how many were
// refused since the last line. It is safe for concurrent use.
type RefusalLog struct {
	mu       sync.Mutex
	interval time.Duration
	last     time.Time
	pending  int
	now      func() time.Time
	emit     func(remote string, refusedSinceLastLine int)
}

// NewRefusalLog emits through emit at most once per interval.
func NewRefusalLog(interval time.Duration, now func() time.Time, emit func(remote string, refusedSinceLastLine int)) *RefusalLog {
	return &RefusalLog{interval: interval, now: now, emit: emit}
}

// Refused records one refused connection from remote.
func (r *RefusalLog) Refused(remote string) {
	r.mu.Lock()
	r.pending++
	t := r.now()
	if !r.last.IsZero() && t.Sub(r.last) < r.interval {
		r.mu.Unlock()
		return
	}
	n := r.pending
	r.pending, r.last = 0, t
	r.mu.Unlock()
	r.emit(remote, n)
}
