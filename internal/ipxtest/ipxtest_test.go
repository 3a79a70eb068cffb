package ipxtest

import (
	"testing"
	"testing/synctest"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// TestStack builds a two-link Stack and checks that it has the links
// asked for and can reach a second Stack on one of them.
func TestStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg1, seg2 := memlan.NewSegment(memlan.Config{}), memlan.NewSegment(memlan.Config{})
		a, links := Stack(t, ipx.StackConfig{Forward: true}, Node(1), On{Seg: seg1, Net: 1}, On{Seg: seg2, Net: 2})
		if got := a.Links(); len(got) != 2 || len(links) != 2 || got[0].Network != 1 || got[1].Network != 2 ||
			got[0].Node != Node(1) || links[1].Node() != Node(1) {
			t.Fatalf("links %+v", got)
		}
		b, _ := Stack(t, ipx.StackConfig{}, Node(2), On{Seg: seg2, Net: 2})
		r, _ := Stack(t, ipx.StackConfig{}, Node(3), On{Seg: seg1, Net: 1}, On{Seg: seg2, Net: 2, Node: Node(4)})
		if got := r.Links(); got[0].Node != Node(3) || got[1].Node != Node(4) {
			t.Fatalf("per-link nodes %v %v, want %v %v", got[0].Node, got[1].Node, Node(3), Node(4))
		}
		ca, err := a.Listen(0x4000)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := b.Listen(0x4000)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ca.WriteTo([]byte("hi"), cb.Addr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		if n, _, err := cb.ReadFrom(buf); err != nil || string(buf[:n]) != "hi" {
			t.Fatalf("read %q %v", buf[:n], err)
		}
	})
}
