package spx

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/synctest"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
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
		stack := func(forward bool, routes ipx.RouteSource, on ...ipxtest.On) *ipx.Stack {
			s, _ := ipxtest.Stack(t, ipx.StackConfig{Forward: forward, Routes: routes}, ipx.Node{}, on...)
			return s
		}
		var ra, rb ipx.StaticRoutes
		ra.Set(2, ipx.Route{Link: 1, NextHop: r1, Hops: 1, Ticks: 1})
		rb.Set(1, ipx.Route{Link: 1, NextHop: r2, Hops: 1, Ticks: 1})
		sa := stack(false, &ra, ipxtest.On{Seg: seg1, Net: 1, Node: a1})
		stack(true, nil, ipxtest.On{Seg: seg1, Net: 1, Node: r1}, ipxtest.On{Seg: seg2, Net: 2, Node: r2})
		sb := stack(false, &rb, ipxtest.On{Seg: seg2, Net: 2, Node: b2})

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
		node := ipxtest.Node
		stack := func(forward bool, routes ipx.RouteSource, on ...ipxtest.On) *ipx.Stack {
			s, _ := ipxtest.Stack(t, ipx.StackConfig{Forward: forward, Routes: routes}, ipx.Node{}, on...)
			return s
		}
		var ra, rr1, rr2, rb ipx.StaticRoutes
		ra.Set(ipx.NetworkDefault, ipx.Route{Link: 1, NextHop: node(0x11), Hops: 1, Ticks: 1})
		rr1.Set(3, ipx.Route{Link: 2, NextHop: node(0x22), Hops: 1, Ticks: 1})
		rr2.Set(1, ipx.Route{Link: 1, NextHop: node(0x21), Hops: 1, Ticks: 1})
		rb.Set(ipx.NetworkDefault, ipx.Route{Link: 1, NextHop: node(0x32), Hops: 1, Ticks: 1})
		sa := stack(false, &ra, ipxtest.On{Seg: segA, Net: 1, Node: node(1)})
		stack(true, &rr1, ipxtest.On{Seg: segA, Net: 1, Node: node(0x11)}, ipxtest.On{Seg: segMid, Net: 2, Node: node(0x21)})
		stack(true, &rr2, ipxtest.On{Seg: segMid, Net: 2, Node: node(0x22)}, ipxtest.On{Seg: segB, Net: 3, Node: node(0x32)})
		sb := stack(false, &rb, ipxtest.On{Seg: segB, Net: 3, Node: node(3)})

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
