package udp

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// memNet is an in-memory UDP network for tests: datagrams between
// memConns by AddrPort, through bounded queues (full => dropped). Its
// blocking uses channels and timers only, so it works inside
// testing/synctest bubbles. drop, if set, decides per datagram whether the
// network loses it.
type memNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
	drop  func(from, to netip.AddrPort, b []byte) bool
}

func newMemNet() *memNet { return &memNet{conns: make(map[netip.AddrPort]*memConn)} }

type datagram struct {
	from netip.AddrPort
	b    []byte
}

// listen returns a conn at addr ("1.2.3.4:5").
func (n *memNet) listen(addr string) *memConn {
	ap := netip.MustParseAddrPort(addr)
	c := &memConn{net: n, addr: ap, in: make(chan datagram, 64), closed: make(chan struct{}), dl: make(chan struct{})}
	n.mu.Lock()
	n.conns[ap] = c
	n.mu.Unlock()
	return c
}

type memConn struct {
	net    *memNet
	addr   netip.AddrPort
	in     chan datagram
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	dl    chan struct{} // closed when the read deadline passes
	timer *time.Timer
	gen   int // invalidates timers that fire after a reset
}

var _ net.PacketConn = (*memConn)(nil)
var _ addrPortConn = (*memConn)(nil)

func (c *memConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	dl := c.dl
	c.mu.Unlock()
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: net.ErrClosed}
	case <-dl:
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
	}
}

func (c *memConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	select {
	case <-c.closed:
		return 0, &net.OpError{Op: "write", Net: "udp", Err: net.ErrClosed}
	default:
	}
	c.net.mu.Lock()
	dst := c.net.conns[netip.AddrPortFrom(to.Addr().Unmap(), to.Port())]
	drop := c.net.drop
	c.net.mu.Unlock()
	if dst == nil || (drop != nil && drop(c.addr, to, b)) {
		return len(b), nil
	}
	select {
	case dst.in <- datagram{c.addr, append([]byte(nil), b...)}:
	default:
	}
	return len(b), nil
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, ap, err := c.ReadFromUDPAddrPort(b)
	return n, net.UDPAddrFromAddrPort(ap), err
}

func (c *memConn) WriteTo(b []byte, a net.Addr) (int, error) {
	return c.WriteToUDPAddrPort(b, a.(*net.UDPAddr).AddrPort())
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
		c.SetReadDeadline(time.Time{})
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	select {
	case <-c.dl:
		c.dl = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return nil
	}
	d := time.Until(t)
	if d <= 0 {
		close(c.dl)
		return nil
	}
	gen := c.gen
	c.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen == gen {
			close(c.dl)
		}
	})
	return nil
}

func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
