package ipx_test

import (
	"fmt"
	"log"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// Two hosts on one in-memory segment, network 0x2a, exchange a datagram.
func ExampleStack() {
	seg := memlan.NewSegment(memlan.Config{Seed: 1})
	newHost := func(node ipx.Node) *ipx.Stack {
		l, err := seg.Attach(node)
		if err != nil {
			log.Fatal(err)
		}
		s, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := s.AddLink(l, 0x2a); err != nil {
			log.Fatal(err)
		}
		return s
	}
	a, b := newHost(ipx.Node{2, 0, 0, 0, 0, 1}), newHost(ipx.Node{2, 0, 0, 0, 0, 2})
	defer a.Close()
	defer b.Close()

	server, _ := b.Listen(0x4545)
	client, _ := a.Listen(0) // a free dynamic socket
	if _, err := client.WriteTo([]byte("hello"), server.Addr()); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 64)
	n, info, err := server.ReadMsg(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q from %v to %v\n", buf[:n], info.Header.Src, info.Header.Dst)
	// Output: "hello" from 0000002a:020000000001:4000 to 0000002a:020000000002:4545
}

// A router joins network 1 and network 2; hosts reach each other through
// it with static routes (a rip.Router would learn them).
func ExampleStackConfig_forward() {
	seg1, seg2 := memlan.NewSegment(memlan.Config{}), memlan.NewSegment(memlan.Config{})
	attach := func(s *ipx.Stack, seg *memlan.Segment, node ipx.Node, n ipx.Network) {
		l, err := seg.Attach(node)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := s.AddLink(l, n); err != nil {
			log.Fatal(err)
		}
	}
	r1, r2 := ipx.Node{2, 0, 0, 0, 1, 1}, ipx.Node{2, 0, 0, 0, 2, 1}
	router, _ := ipx.NewStack(ipx.StackConfig{Forward: true})
	attach(router, seg1, r1, 1)
	attach(router, seg2, r2, 2)
	defer router.Close()

	var toNet2, toNet1 ipx.StaticRoutes
	toNet2.Set(2, ipx.Route{Link: 1, NextHop: r1, Hops: 1, Ticks: 1})
	toNet1.Set(1, ipx.Route{Link: 1, NextHop: r2, Hops: 1, Ticks: 1})
	a, _ := ipx.NewStack(ipx.StackConfig{Routes: &toNet2})
	attach(a, seg1, ipx.Node{2, 0, 0, 0, 1, 9}, 1)
	defer a.Close()
	b, _ := ipx.NewStack(ipx.StackConfig{Routes: &toNet1})
	attach(b, seg2, ipx.Node{2, 0, 0, 0, 2, 9}, 2)
	defer b.Close()

	server, _ := b.Listen(0x4545)
	client, _ := a.Listen(0x4000)
	client.WriteTo([]byte("across"), server.Addr())
	buf := make([]byte, 64)
	n, info, _ := server.ReadMsg(buf)
	fmt.Printf("%q hops=%d via %v\n", buf[:n], info.Header.TransportControl, info.From)
	// Output: "across" hops=1 via 020000000201
}
