package api

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseClientNetworks(t *testing.T) {
	got, err := ParseClientNetworks(" 10.89.0.0/24, 10.89.1.7 ,fd00:1::/64,10.89.2.9/16,::ffff:10.1.2.3")
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.89.0.0/24"), netip.MustParsePrefix("10.89.1.7/32"),
		netip.MustParsePrefix("fd00:1::/64"), netip.MustParsePrefix("10.89.0.0/16"), netip.MustParsePrefix("10.1.2.3/32")}, got)
	none, err := ParseClientNetworks("")
	require.NoError(t, err)
	assert.Nil(t, none, "empty: the default applies")
	for _, bad := range []string{"10.89.0.0/33", "everyone", "10.89.0.0/24;10.1.0.0/16", ",", "*"} {
		_, err := ParseClientNetworks(bad)
		assert.Error(t, err, bad)
	}
}

func TestInterfaceNetworks(t *testing.T) {
	ipn := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		require.NoError(t, err)
		n.IP = ip
		return n
	}
	got := InterfaceNetworks([]net.Addr{ipn("127.0.0.1/8"), ipn("::1/128"), ipn("10.89.0.5/24"),
		ipn("fe80::1/64"), ipn("fd00:aa::5/64"), &net.IPAddr{IP: net.ParseIP("10.1.1.1")},
		&net.IPNet{IP: net.ParseIP("10.90.3.4"), Mask: net.CIDRMask(120, 128)}})
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.89.0.0/24"), netip.MustParsePrefix("fd00:aa::/64"),
		netip.MustParsePrefix("10.90.3.0/24")}, got, "bridge subnets only: not loopback, not link-local")
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// fakeConn records whether anything read from it or closed it.
type fakeConn struct {
	net.Conn
	remote       string
	read, closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr       { return fakeAddr(c.remote) }
func (c *fakeConn) Read(p []byte) (int, error) { c.read = true; return 0, errors.New("read") }
func (c *fakeConn) Close() error               { c.closed = true; return nil }

type fakeListener struct {
	net.Listener
	conns []*fakeConn
}

func (l *fakeListener) Accept() (net.Conn, error) {
	if len(l.conns) == 0 {
		return nil, net.ErrClosed
	}
	c := l.conns[0]
	l.conns = l.conns[1:]
	return c, nil
}

// TestClientFilterListener: a connection from outside the allowlist is
// closed before a byte is read and reported; allowed ones pass through.
func TestClientFilterListener(t *testing.T) {
	conns := []*fakeConn{{remote: "192.0.2.7:5000"}, {remote: "10.89.0.9:40000"}, {remote: "[::ffff:10.89.0.10]:1"},
		{remote: "[fd00:bb::1]:2"}, {remote: "127.0.0.1:3"}, {remote: "[::1]:4"}, {remote: "[fe80::1%eth0]:5"}, {remote: "garbage"}}
	var refused []string
	f := NewClientFilter([]netip.Prefix{netip.MustParsePrefix("10.89.0.0/24")}, func(r string) { refused = append(refused, r) })
	assert.Equal(t, []string{"127.0.0.0/8", "::1/128", "10.89.0.0/24"}, f.Networks())
	ln := f.Listener(&fakeListener{conns: append([]*fakeConn(nil), conns...)})
	var served []string
	for {
		c, err := ln.Accept()
		if err != nil {
			require.ErrorIs(t, err, net.ErrClosed)
			break
		}
		served = append(served, c.RemoteAddr().String())
	}
	assert.Equal(t, []string{"10.89.0.9:40000", "[::ffff:10.89.0.10]:1", "127.0.0.1:3", "[::1]:4"}, served)
	assert.Equal(t, []string{"192.0.2.7:5000", "[fd00:bb::1]:2", "[fe80::1%eth0]:5", "garbage"}, refused)
	for _, c := range conns {
		assert.False(t, c.read, "%s: nothing is read", c.remote)
	}
	assert.True(t, conns[0].closed)
	assert.False(t, conns[1].closed)
}

// TestClientFilterOnARealSocket: a refused client sees its connection end
// at once, without an HTTP answer.
func TestClientFilterOnARealSocket(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// Loopback is always allowed, so the test narrows what counts as allowed
	// to judge this client by a network it is not in.
	f := &ClientFilter{networks: []netip.Prefix{netip.MustParsePrefix("10.89.0.0/24")}, refused: func(string) {}}
	ln := f.Listener(raw)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		assert.ErrorContains(t, err, "reset", "reset as soon as accepted")
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := c.Read(make([]byte, 64))
	assert.Zero(t, n)
	assert.Error(t, err, "the connection is reset or closed, never answered")
}

func TestRefusalLogIsBounded(t *testing.T) {
	var mu sync.Mutex
	var lines []int
	now := time.Unix(0, 0)
	rl := NewRefusalLog(10*time.Second, func() time.Time { return now }, func(_ string, n int) {
		mu.Lock()
		lines = append(lines, n)
		mu.Unlock()
	})
	for i := 0; i < 1000; i++ {
		rl.Refused("192.0.2.1:1")
	}
	now = now.Add(11 * time.Second)
	rl.Refused("192.0.2.1:1")
	assert.Equal(t, []int{1, 1000}, lines, "one line at once, then one per interval with the count since")
}
