package udp

import (
	"errors"
	"net"
	"net/netip"
)

// Sentinel errors, matchable with errors.Is.
var (
	// ErrNoServer reports that registration got no answer before the
	// context ended; the error also wraps the context's error.
	ErrNoServer = errors.New("no answer from tunnel server")
	// ErrNotIPv4 reports an address the tunnel cannot carry: a node holds
	// an IPv4 address and a port, nothing longer.
	ErrNotIPv4 = errors.New("tunnel needs IPv4")
	// ErrServerStarted reports a second call to Server.Serve.
	ErrServerStarted = errors.New("server already serving")
	// ErrBadConfig reports a Config or ServerConfig that cannot work;
	// Validate's errors wrap it.
	ErrBadConfig = errors.New("invalid configuration")
)

// addrPortConn is the allocation-free datagram API of *net.UDPConn.
type addrPortConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// asAddrPortConn returns pc's AddrPort methods, or an adapter over
// ReadFrom and WriteTo (which allocate) for other net.PacketConns.
func asAddrPortConn(pc net.PacketConn) addrPortConn {
	if c, ok := pc.(addrPortConn); ok {
		return c
	}
	return pcAdapter{pc}
}

type pcAdapter struct{ net.PacketConn }

func (a pcAdapter) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, addr, err := a.ReadFrom(b)
	return n, addrPortOf(addr), err
}

func (a pcAdapter) WriteToUDPAddrPort(b []byte, ap netip.AddrPort) (int, error) {
	return a.WriteTo(b, net.UDPAddrFromAddrPort(ap))
}

// addrPortOf converts a net.Addr to an AddrPort; the zero AddrPort if it
// names none.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// opErr wraps err as a *net.OpError (nil for nil), as package net does.
func opErr(op string, src, dst net.Addr, err error) error {
	if err == nil {
		return nil
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: op, Net: "udp", Source: src, Addr: dst, Err: err}
}
