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

// TestNarrowPath crosses two routers joined by a segment of MTU 800,
// while both ends sit on segments of MTU 1500: the size probe is lost,
// so the connection settles at 576-byte packets instead of failing.
func TestNarrowPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		segA := memlan.NewSegment(memlan.Config{Seed: 1})
		segMid := memlan.NewSegment(memlan.Config{Seed: 2, MTU: 800})
		segB := memlan.NewSegment(memlan.Config{Seed: 3})
		node := func(n byte) ipx.Node { return ipx.Node{2, 0, 0, 0, 0, n} }
		stack := func(forward bool, routes ipx.RouteSource, links ...any) *ipx.Stack {
			s, err := ipx.NewStack(ipx.StackConfig{Forward: forward, Routes: routes})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			for i := 0; i < len(links); i += 3 {
				l, err := links[i].(*memlan.Segment).Attach(links[i+1].(ipx.Node))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddLink(l, links[i+2].(ipx.Network)); err != nil {
					t.Fatal(err)
				}
			}
			return s
		}
		var ra, rr1, rr2, rb ipx.StaticRoutes
		ra.Set(ipx.NetworkDefault, ipx.Route{Link: 1, NextHop: node(0x11), Hops: 1, Ticks: 1})
		rr1.Set(3, ipx.Route{Link: 2, NextHop: node(0x22), Hops: 1, Ticks: 1})
		rr2.Set(1, ipx.Route{Link: 1, NextHop: node(0x21), Hops: 1, Ticks: 1})
		rb.Set(ipx.NetworkDefault, ipx.Route{Link: 1, NextHop: node(0x32), Hops: 1, Ticks: 1})
		sa := stack(false, &ra, segA, node(1), ipx.Network(1))
		stack(true, &rr1, segA, node(0x11), ipx.Network(1), segMid, node(0x21), ipx.Network(2))
		stack(true, &rr2, segMid, node(0x22), ipx.Network(2), segB, node(0x32), ipx.Network(3))
		sb := stack(false, &rb, segB, node(3), ipx.Network(3))

		ln, err := Listen(sb, 0x5000)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.AcceptSPX()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.CloseWrite()
			c.Close()
		}()
		c, err := Dial(context.Background(), sa, ipx.Addr{Net: 3, Node: node(3), Socket: 0x5000})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got, want := c.MaxData(), ipx.MaxPacketLen-ipx.HeaderLen-HeaderLen2; got != want {
			t.Errorf("MaxData %d, want %d: the path carries 800 bytes only", got, want)
		}
		data := bytes.Repeat([]byte("narrow "), 5000)
		go func() {
			c.Write(data)
			c.CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("echo: %d bytes, %v", len(got), err)
		}
		if st := c.Stats(); st.Retransmits != probeRetries+1 {
			t.Errorf("%d retransmissions, want %d (the probe's)", st.Retransmits, probeRetries+1)
		}
	})
}
