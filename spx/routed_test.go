package spx

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/synctest"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// TestThroughRouter connects across a forwarding Stack between two
// segments: the connection crosses networks, and the acceptor answers
// through its route back.
func TestThroughRouter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg1 := memlan.NewSegment(memlan.Config{Seed: 1})
		seg2 := memlan.NewSegment(memlan.Config{Seed: 2, MTU: 1000})
		a1 := ipx.Node{2, 0, 0, 0, 1, 1}
		r1, r2 := ipx.Node{2, 0, 0, 0, 1, 0xfe}, ipx.Node{2, 0, 0, 0, 2, 0xfe}
		b2 := ipx.Node{2, 0, 0, 0, 2, 2}
		stack := func(forward bool, routes ipx.RouteSource, links ...func() (ipx.Link, ipx.Network)) *ipx.Stack {
			s, err := ipx.NewStack(ipx.StackConfig{Forward: forward, Routes: routes})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			for _, mk := range links {
				l, n := mk()
				if _, err := s.AddLink(l, n); err != nil {
					t.Fatal(err)
				}
			}
			return s
		}
		on := func(seg *memlan.Segment, node ipx.Node, n ipx.Network) func() (ipx.Link, ipx.Network) {
			return func() (ipx.Link, ipx.Network) {
				l, err := seg.Attach(node)
				if err != nil {
					t.Fatal(err)
				}
				return l, n
			}
		}
		var ra, rb ipx.StaticRoutes
		ra.Set(2, ipx.Route{Link: 1, NextHop: r1, Hops: 1, Ticks: 1})
		rb.Set(1, ipx.Route{Link: 1, NextHop: r2, Hops: 1, Ticks: 1})
		sa := stack(false, &ra, on(seg1, a1, 1))
		stack(true, nil, on(seg1, r1, 1), on(seg2, r2, 2))
		sb := stack(false, &rb, on(seg2, b2, 2))

		ln, err := Listen(sb, 0x5000)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		data := bytes.Repeat([]byte("routed "), 3000)
		go func() {
			c, err := ln.AcceptSPX()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.CloseWrite()
			c.Close()
		}()
		c, err := Dial(context.Background(), sa, ipx.Addr{Net: 2, Node: b2, Socket: 0x5000})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Network 2 is not directly connected, so the dialler's size is
		// bounded by its smallest link; the acceptor's link takes 1000.
		if got, want := c.MaxData(), 1000-ipx.HeaderLen-HeaderLen2; got != want {
			t.Errorf("MaxData %d, want %d (the acceptor's MTU)", got, want)
		}
		go func() {
			c.Write(data)
			c.CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("echo: %d bytes, %v", len(got), err)
		}
	})
}
