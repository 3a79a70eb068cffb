// Package ipxtest builds Stacks on in-memory segments for the tests of
// the packages above ipx, so that each test says only what differs.
package ipxtest

import (
	"errors"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// Node returns the test node 02:00:00:00:00:n (a locally administered
// address, so it can be no real card's).
func Node(n byte) ipx.Node { return ipx.Node{2, 0, 0, 0, 0, n} }

// On is one link of a test Stack: the segment it attaches to, the
// network number it has there, and its node if not the Stack's (a router
// may have one per segment).
type On struct {
	Seg  *memlan.Segment
	Net  ipx.Network
	Node ipx.Node // zero: the node given to Stack
}

// Stack returns a Stack with configuration cfg and, in order, one link at
// node (or On.Node) on each segment of on, and those links. The Stack is closed when
// the test ends; any failure ends the test.
func Stack(t testing.TB, cfg ipx.StackConfig, node ipx.Node, on ...On) (*ipx.Stack, []*memlan.Link) {
	t.Helper()
	s, err := ipx.NewStack(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	links := make([]*memlan.Link, 0, len(on))
	for _, o := range on {
		n := node
		if o.Node != (ipx.Node{}) {
			n = o.Node
		}
		l, err := o.Seg.Attach(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddLink(l, o.Net); err != nil {
			l.Close()
			t.Fatal(err)
		}
		links = append(links, l)
	}
	return s, links
}

// Pump runs a benchmark's windowed transfer: send in a goroutine, recv in
// the benchmark's, b.N times each, with at most window packets sent and
// not yet received, so that no queue on the way overflows. It is the raw
// datagram baseline the Stack and SPX benchmarks measure against.
func Pump(b *testing.B, window int, send, recv func() error) {
	b.Helper()
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	stop := make(chan struct{})
	defer close(stop)
	errc := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			select {
			case <-credits:
			case <-stop:
				errc <- errors.New("receiver gave up")
				return
			}
			if err := send(); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if err := recv(); err != nil {
			b.Fatalf("receive: %v", err)
		}
		credits <- struct{}{}
	}
	if err := <-errc; err != nil {
		b.Fatalf("send: %v", err)
	}
	b.StopTimer()
}
