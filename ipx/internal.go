package ipx

import (
	"fmt"
	"net"
	"sync"
)

// InternalLink is a link with no wire: the internal network of a NetWare
// server. Adding one to a Stack gives the host an address on a network of
// its own, reachable from the others through the Stack's routing (and
// advertised by RIP as directly connected). A service that should survive
// the loss of one machine, such as a mirrored server pair, lives on an
// internal network both machines can advertise.
type InternalLink struct {
	node Node
	once sync.Once
	done chan struct{}
}

var _ Link = (*InternalLink)(nil)

// NewInternalLink returns an internal link whose node is node.
func NewInternalLink(node Node) *InternalLink {
	return &InternalLink{node: node, done: make(chan struct{})}
}

// Node returns the internal node address.
func (l *InternalLink) Node() Node { return l.node }

// MTU is 1500, what Ethernet carries: packets on an internal network are
// meant to leave it through a real link.
func (l *InternalLink) MTU() int { return 1500 }

// ReadPacket blocks until Close: nothing arrives on an internal network
// from outside the Stack.
func (l *InternalLink) ReadPacket([]byte) (int, Node, error) {
	<-l.done
	return 0, Node{}, fmt.Errorf("ipx: internal link: %w", net.ErrClosed)
}

// WritePacket discards p: the Stack delivers packets for the internal
// node itself, and there is no other node to reach.
func (l *InternalLink) WritePacket([]byte, Node) error { return nil }

// Close unblocks ReadPacket. A second Close returns a *net.OpError
// wrapping net.ErrClosed (see the package's Close rule).
func (l *InternalLink) Close() error {
	first := false
	l.once.Do(func() {
		first = true
		close(l.done)
	})
	if !first {
		return &net.OpError{Op: "close", Net: "ipx", Addr: Addr{Node: l.node}, Err: net.ErrClosed}
	}
	return nil
}
