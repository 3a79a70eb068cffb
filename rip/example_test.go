package rip_test

import (
	"fmt"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/rip"
)

func ExamplePacket_MarshalBinary() {
	req := rip.Packet{Operation: rip.OpRequest, Entries: []rip.Entry{rip.RequestEntry(ipx.NetworkAll)}}
	b, _ := req.MarshalBinary()
	fmt.Printf("% x\n", b)

	var resp rip.Packet
	_ = resp.UnmarshalBinary([]byte{0, 2, 0, 0, 0, 0x2a, 0, 1, 0, 2})
	fmt.Println(resp.Operation, resp.Entries)
	// Output:
	// 00 01 ff ff ff ff ff ff ff ff
	// response [{0000002a 1 2}]
}

func ExampleTable() {
	table, _ := rip.NewTable(rip.TableConfig{})
	now := time.Now()
	router := ipx.Node{2, 0, 0, 0, 0, 1}
	// A response heard on link 1 from router 020000000001.
	events := table.Apply(now, 1, router, []rip.Entry{{Network: 0x2a, Hops: 1, Ticks: 2}}, nil)
	fmt.Println(events[0].Reason, events[0].New.Hops, events[0].New.Ticks)

	// The Stack asks the table for the next hop.
	r, ok := table.LookupRoute(0x2a)
	fmt.Println(ok, r.Link, r.NextHop)

	// Three minutes of silence and the route is gone.
	events = table.Expire(now.Add(rip.DefaultMaxAge), nil)
	fmt.Println(events[0].Reason)
	_, ok = table.LookupRoute(0x2a)
	fmt.Println(ok)
	// Output:
	// new 1 2
	// true 1 020000000001
	// expired
	// false
}

// A router on network 1 and 2, and a host on network 1 that learns the
// route to network 2 from it.
func ExampleNewRouter() {
	seg1 := memlan.NewSegment(memlan.Config{})
	seg2 := memlan.NewSegment(memlan.Config{})

	routerStack, _ := ipx.NewStack(ipx.StackConfig{Forward: true})
	defer routerStack.Close()
	l1, _ := seg1.Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	l2, _ := seg2.Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	routerStack.AddLink(l1, 1)
	routerStack.AddLink(l2, 2)
	router, _ := rip.NewRouter(routerStack, rip.Config{})
	defer router.Close()

	hostStack, _ := ipx.NewStack(ipx.StackConfig{})
	defer hostStack.Close()
	h, _ := seg1.Attach(ipx.Node{2, 0, 0, 0, 0, 9})
	hostStack.AddLink(h, 1)
	// A listener learns routes (its start request is answered at once)
	// and installs them as the host Stack's route source.
	listener, _ := rip.NewRouter(hostStack, rip.Config{ListenOnly: true})
	defer listener.Close()
	sub := listener.Table().Subscribe(8)

	ev := <-sub.C
	fmt.Println(ev.Network, ev.Reason, ev.New.Hops, "hop via", ev.New.NextHop)
	// Output:
	// 00000002 new 1 hop via 020000000001
}
