package udp

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// ErrPortAttached reports a second AttachPort on one Server.
var ErrPortAttached = errors.New("udp: server already has a port")

// DefaultPortQueueLen bounds a Port's receive queue, in packets.
const DefaultPortQueueLen = 256

// Port is the server's own place on the tunnel: an ipx.Link through which
// a router on the server's host (an ipx.Stack with forwarding and a
// rip.Router) joins the tunnel's clients to other networks.
//
// DOSBox's IPX has no notion of a router: a DOS program addresses a host
// on another network by that host's node, and the client sends it to the
// server like any packet. So the server hands the Port every packet it
// cannot relay to a client (an unknown destination node that
// ServerConfig.Route, if set, routes to no client either), every packet
// addressed to the server's own node, and every broadcast. What the
// router writes to the Port goes to the client whose node is the
// link-level destination (or to all for a broadcast), whatever the IPX
// header's source says: the Port is trusted, clients are not.
type Port struct {
	s    *Server
	node ipx.Node
	mtu  int

	q    chan []byte // packets for ReadPacket, copies
	free chan []byte // their buffers, for reuse

	once sync.Once
	done chan struct{}

	drops atomic.Uint64
}

var _ ipx.Link = (*Port)(nil)

// AttachPort returns the server's Port; there is at most one. Its node is
// the server's node (its IPv4 address and port).
func (s *Server) AttachPort() (*Port, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return nil, opErr("attach", s.pc.LocalAddr(), nil, net.ErrClosed)
	default:
	}
	if s.port != nil {
		return nil, opErr("attach", s.pc.LocalAddr(), nil, ErrPortAttached)
	}
	p := &Port{
		s:    s,
		node: s.core.self,
		mtu:  s.max,
		q:    make(chan []byte, DefaultPortQueueLen),
		free: make(chan []byte, DefaultPortQueueLen),
		done: make(chan struct{}),
	}
	s.port = p
	s.core.port = p.input
	return p, nil
}

// input queues a copy of b for the router; called under the server's
// lock from the relay core. A full queue drops the packet, as a busy
// router would.
func (p *Port) input(b []byte) {
	var buf []byte
	select {
	case buf = <-p.free:
	default:
		if len(p.q) == cap(p.q) {
			p.drops.Add(1)
			return
		}
		buf = make([]byte, 0, p.mtu)
	}
	select {
	case p.q <- append(buf[:0], b...):
	default:
		p.drops.Add(1)
		p.recycle(buf)
	}
}

func (p *Port) recycle(buf []byte) {
	select {
	case p.free <- buf[:0]:
	default:
	}
}

// Node is the server's node.
func (p *Port) Node() ipx.Node { return p.node }

// MTU is the server's largest packet.
func (p *Port) MTU() int { return p.mtu }

// Drops counts packets lost because the router read too slowly.
func (p *Port) Drops() uint64 { return p.drops.Load() }

// ReadPacket returns the next packet the server hands the router, and the
// client node it came from.
func (p *Port) ReadPacket(b []byte) (int, ipx.Node, error) {
	select {
	case buf := <-p.q:
		n := copy(b, buf)
		from := srcNode(buf)
		p.recycle(buf)
		return n, from, nil
	case <-p.done:
		return 0, ipx.Node{}, opErr("read", p.s.pc.LocalAddr(), nil, net.ErrClosed)
	}
}

// WritePacket sends packet b to the client with node dst, or to every
// client for ipx.NodeBroadcast. A packet for no registered client is
// dropped, as on a wire.
func (p *Port) WritePacket(b []byte, dst ipx.Node) error {
	if _, ok := checkPacket(b); !ok {
		return opErr("write", p.s.pc.LocalAddr(), nil, fmt.Errorf("udp: port write of %d bytes: %w", len(b), ipx.ErrBadLength))
	}
	if len(b) > p.mtu {
		return opErr("write", p.s.pc.LocalAddr(), nil, fmt.Errorf("udp: %d bytes over %d: %w", len(b), p.mtu, ipx.ErrTooLarge))
	}
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-p.done:
		return opErr("write", s.pc.LocalAddr(), nil, net.ErrClosed)
	default:
	}
	s.core.fromPort(time.Now(), dst, b)
	return nil
}

// Close detaches the Port from the server and unblocks ReadPacket. The
// server goes on relaying between its clients.
func (p *Port) Close() error {
	p.once.Do(func() {
		p.s.mu.Lock()
		if p.s.port == p {
			p.s.port = nil
			p.s.core.port = nil
		}
		p.s.mu.Unlock()
		close(p.done)
	})
	return nil
}
