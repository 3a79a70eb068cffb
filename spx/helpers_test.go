package spx

import (
	"context"
	"testing"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// testNet is two stacks on one in-memory segment, network 1.
type testNet struct {
	seg          *memlan.Segment
	a, b         *ipx.Stack
	nodeA, nodeB ipx.Node
}

func newTestNet(t testing.TB, mc memlan.Config) *testNet {
	t.Helper()
	n := &testNet{
		seg:   memlan.NewSegment(mc),
		nodeA: ipx.Node{2, 0, 0, 0, 0, 0xa},
		nodeB: ipx.Node{2, 0, 0, 0, 0, 0xb},
	}
	mk := func(node ipx.Node) *ipx.Stack {
		s, _ := ipxtest.Stack(t, ipx.StackConfig{QueueLen: 1024}, node, ipxtest.On{Seg: n.seg, Net: 1})
		return s
	}
	n.a, n.b = mk(n.nodeA), mk(n.nodeB)
	return n
}

// connect listens on b and dials from a, returning (dialled, accepted).
func (n *testNet) connect(t testing.TB, cc, sc Config) (*Conn, *Conn, *Listener) {
	t.Helper()
	ln, err := ListenConfig(n.b, 0x5000, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.AcceptSPX()
		ch <- res{c, err}
	}()
	c, err := DialConfig(context.Background(), n.a, ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}, cc)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c, r.c, ln
}
