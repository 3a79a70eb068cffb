package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// peerLink is a point-to-point IPX link over UDP between two routers, as
// a leased line joins two sites: each datagram holds one IPX packet, as
// on the DOSBox tunnel, but there is no server in between. A tunnel
// server relays only what its clients send from their own node, so two
// routing tunnel servers cannot forward through each other's tunnel:
// they forward over a peer link instead.
type peerLink struct {
	c          *net.UDPConn
	remote     netip.AddrPort
	node, peer ipx.Node
	closed     atomic.Bool
}

// parsePeer parses LOCAL=REMOTE/net, the value of -udp-peer: two IPv4
// host:port addresses and the network number of the line.
func parsePeer(spec string) (local, remote netip.AddrPort, network ipx.Network, err error) {
	addrs, netText, ok := strings.Cut(spec, "/")
	l, r, ok2 := strings.Cut(addrs, "=")
	if !ok || !ok2 {
		return local, remote, 0, fmt.Errorf("%q: want LOCAL=REMOTE/net, e.g. 127.0.0.1:21311=127.0.0.1:21312/c", spec)
	}
	if local, err = netip.ParseAddrPort(l); err != nil || !local.Addr().Is4() {
		return local, remote, 0, fmt.Errorf("%q: local %q is not an IPv4 address:port", spec, l)
	}
	if remote, err = netip.ParseAddrPort(r); err != nil || !remote.Addr().Is4() || remote.Port() == 0 {
		return local, remote, 0, fmt.Errorf("%q: remote %q is not an IPv4 address:port", spec, r)
	}
	if network, err = linkflag.ParseNetwork(netText); err != nil {
		return local, remote, 0, fmt.Errorf("%q: %w", spec, err)
	}
	return local, remote, network, nil
}

// listenPeer opens the local end of a peer link to remote.
func listenPeer(local, remote netip.AddrPort) (*peerLink, error) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, linkflag.BindError(local.String(), err)
	}
	bound := c.LocalAddr().(*net.UDPAddr).AddrPort()
	node, _ := udp.NodeFromAddrPort(netip.AddrPortFrom(local.Addr(), bound.Port()))
	peer, _ := udp.NodeFromAddrPort(remote)
	return &peerLink{c: c, remote: remote, node: node, peer: peer}, nil
}

// ReadPacket implements ipx.Link: the next packet from the peer.
// Datagrams from elsewhere and ones shorter than an IPX header are
// dropped; other read errors are retried until Close.
func (p *peerLink) ReadPacket(b []byte) (int, ipx.Node, error) {
	for {
		n, from, err := p.c.ReadFromUDPAddrPort(b)
		if err != nil {
			if p.closed.Load() || errors.Is(err, net.ErrClosed) {
				return 0, ipx.Node{}, &net.OpError{Op: "read", Net: "ipx", Err: net.ErrClosed}
			}
			continue
		}
		if n < ipx.HeaderLen || from.Port() != p.remote.Port() || from.Addr().Unmap() != p.remote.Addr() {
			continue
		}
		return n, p.peer, nil
	}
}

// WritePacket implements ipx.Link: the peer is the only node, so every
// packet, broadcast or not, goes to it.
func (p *peerLink) WritePacket(b []byte, dst ipx.Node) error {
	if len(b) > udp.MTU {
		return &net.OpError{Op: "write", Net: "ipx", Err: fmt.Errorf("%d bytes over MTU %d: %w", len(b), udp.MTU, ipx.ErrTooLarge)}
	}
	_, err := p.c.WriteToUDPAddrPort(b, p.remote)
	return err
}

// Node implements ipx.Link: the local address and port, as a tunnel node.
func (p *peerLink) Node() ipx.Node { return p.node }

// MTU implements ipx.Link: the tunnel's, so that any packet from a
// tunnel fits.
func (p *peerLink) MTU() int { return udp.MTU }

// Close implements ipx.Link.
func (p *peerLink) Close() error {
	if p.closed.Swap(true) {
		return &net.OpError{Op: "close", Net: "ipx", Err: net.ErrClosed}
	}
	return p.c.Close()
}
