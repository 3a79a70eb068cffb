// Package routedtunnel is an IPX-over-UDP relay for the examples that run
// a mirrored pair on a tunnel (mirrordemo, mirrorkv): it relays as
// DOSBox's own server does, and routes packets for the pair's internal
// network by RIP.
package routedtunnel

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/rip"
)

// Tunnel is an IPX-over-UDP relay that relays as DOSBox's own
// server does, by destination node, without checking the source node;
// and that routes a packet for a node it does not know by its
// destination network, to the next hop RIP names.
//
// Both are what a mirrored pair on a tunnel needs. Its requests go to the
// pair's internal network and node, which is no tunnel client's: the
// tunnel must route them, and to whichever server advertises the best
// route now, or a takeover changes nothing. Its replies come from that
// internal address, which udp.Server drops as spoofed
// (ServerStats.DropSpoofed), since it is not the sender's tunnel node.
type Tunnel struct {
	pc   *net.UDPConn
	self ipx.Node

	// The relay's own station on the tunnel, whose listen-only RIP
	// router learns the routes.
	stack  *ipx.Stack
	router atomic.Pointer[rip.Router]

	mu      sync.Mutex
	clients map[netip.AddrPort]bool
	done    chan struct{}
}

// MaxClients bounds the relay's table.
const MaxClients = 256

// Listen starts a relay on UDP address addr ("host:port"); its own
// station, which learns the routes, is on network lanNet.
func Listen(addr string, lanNet ipx.Network) (*Tunnel, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, err
	}
	self, _ := udp.NodeFromAddrPort(pc.LocalAddr().(*net.UDPAddr).AddrPort())
	t := &Tunnel{pc: pc, self: self, clients: make(map[netip.AddrPort]bool), done: make(chan struct{})}
	go t.serve()
	ctx, cancel := context.WithTimeout(context.Background(), linkflag.RegisterTimeout)
	defer cancel()
	l, err := udp.Dial(ctx, t.Addr(), udp.Config{})
	if err != nil {
		t.Close()
		return nil, err
	}
	if t.stack, err = ipx.NewStack(ipx.StackConfig{}); err != nil {
		l.Close()
		t.Close()
		return nil, err
	}
	if _, err := t.stack.AddLink(l, lanNet); err != nil {
		l.Close()
		t.Close()
		return nil, err
	}
	r, err := rip.NewRouter(t.stack, rip.Config{ListenOnly: true})
	if err != nil {
		t.Close()
		return nil, err
	}
	t.router.Store(r)
	return t, nil
}

// nextHop returns the client that routes to network n.
func (t *Tunnel) nextHop(n ipx.Network) (netip.AddrPort, bool) {
	rt := t.router.Load()
	if rt == nil {
		return netip.AddrPort{}, false
	}
	r, ok := rt.Table().Lookup(n)
	if !ok || r.NextHop == (ipx.Node{}) || r.Hops >= rip.Unreachable {
		return netip.AddrPort{}, false
	}
	return udp.AddrPortFromNode(r.NextHop), true
}

// Addr returns the relay's "host:port".
func (t *Tunnel) Addr() string { return t.pc.LocalAddr().String() }

// Close stops the relay and waits for it.
func (t *Tunnel) Close() error {
	if r := t.router.Load(); r != nil {
		r.Close()
	}
	if t.stack != nil {
		t.stack.Close()
	}
	err := t.pc.Close()
	<-t.done
	return err
}

// Offsets into the IPX header.
const (
	offLength  = 2
	offDstNet  = 6
	offDstNode = 10
	offDstSock = 16
)

func (t *Tunnel) serve() {
	defer close(t.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := t.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		b := buf[:n]
		if len(b) < ipx.HeaderLen || int(binary.BigEndian.Uint16(b[offLength:])) > len(b) {
			continue
		}
		b = b[:binary.BigEndian.Uint16(b[offLength:])]
		dstAddr := binary.BigEndian.Uint32(b[offDstNode:])
		if binary.BigEndian.Uint16(b[offDstSock:]) == 2 && dstAddr == 0 {
			t.register(from)
			continue
		}
		t.mu.Lock()
		known := t.clients[from]
		var to []netip.AddrPort
		if known && dstAddr == 0xFFFFFFFF {
			for c := range t.clients {
				if c != from {
					to = append(to, c)
				}
			}
		} else if known {
			d := udp.AddrPortFromNode(ipx.Node(b[offDstNode : offDstNode+6]))
			if !t.clients[d] {
				d, _ = t.nextHop(ipx.Network(binary.BigEndian.Uint32(b[offDstNet:])))
			}
			if t.clients[d] {
				to = append(to, d)
			}
		}
		t.mu.Unlock()
		for _, d := range to {
			t.pc.WriteToUDPAddrPort(b, d)
		}
	}
}

// register admits from and answers with its node, as DOSBox does.
func (t *Tunnel) register(from netip.AddrPort) {
	node, ok := udp.NodeFromAddrPort(from)
	if !ok {
		return
	}
	t.mu.Lock()
	if len(t.clients) >= MaxClients && !t.clients[from] {
		t.mu.Unlock()
		return
	}
	t.clients[from] = true
	t.mu.Unlock()
	h := ipx.Header{
		Checksum: ipx.ChecksumNone, Length: ipx.HeaderLen,
		Dst: ipx.Addr{Net: 0, Node: node, Socket: 2},
		Src: ipx.Addr{Net: 1, Node: t.self, Socket: 2},
	}
	p, err := h.AppendBinary(nil)
	if err != nil {
		return
	}
	t.pc.WriteToUDPAddrPort(p, from)
}
