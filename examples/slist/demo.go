package main

import (
	"fmt"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

func fileServer(name string) sap.Entry {
	return sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName(name), Addr: ipx.Addr{Socket: ipx.SocketNCP}, Hops: 1}
}

// segLink is one attachment of a demo host.
type segLink struct {
	seg *memlan.Segment
	net ipx.Network
}

// openDemo builds two in-memory segments: ours (network -net) with two
// file servers and a print server, and network -net plus one behind a
// router with one more file server. Every host but ours runs a SAP
// Advertiser; the router propagates the remote server to our segment one
// hop further.
func openDemo(o *options) (*ipx.Stack, func(), error) {
	localSeg := memlan.NewSegment(memlan.Config{Seed: 1})
	remoteSeg := memlan.NewSegment(memlan.Config{Seed: 2})
	local := segLink{localSeg, o.link.Network}
	remote := segLink{remoteSeg, o.link.Network + 1}

	var stacks []*ipx.Stack
	var advs []*sap.Advertiser
	closeAll := func() {
		for _, a := range advs {
			a.Close()
		}
		for _, s := range stacks {
			s.Close()
		}
	}
	host := func(n byte, forward bool, links ...segLink) (*ipx.Stack, error) {
		s, err := ipx.NewStack(ipx.StackConfig{Forward: forward})
		if err != nil {
			return nil, err
		}
		stacks = append(stacks, s)
		for _, sl := range links {
			l, err := sl.seg.Attach(ipx.Node{0x02, 0, 0, 0, 0, n})
			if err != nil {
				return nil, err
			}
			if _, err := s.AddLink(l, sl.net); err != nil {
				l.Close()
				return nil, err
			}
		}
		return s, nil
	}
	hosts := []struct {
		node    byte
		forward bool
		links   []segLink
		es      []sap.Entry
	}{
		{0x10, true, []segLink{local, remote}, nil}, // the router
		{0x20, false, []segLink{local}, []sap.Entry{fileServer("ACCOUNTING")}},
		{0x21, false, []segLink{local}, []sap.Entry{
			fileServer("ENGINEERING"),
			{Type: sap.TypePrintServer, Name: sap.MustName("LASER-2"), Addr: ipx.Addr{Socket: 0x8060}, Hops: 1},
		}},
		{0x30, false, []segLink{remote}, []sap.Entry{fileServer("WAREHOUSE")}},
	}
	for _, h := range hosts {
		s, err := host(h.node, h.forward, h.links...)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("memlan demo: %w", err)
		}
		a, err := sap.NewAdvertiser(s, sap.Config{})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("memlan demo: %w", err)
		}
		advs = append(advs, a)
		for _, e := range h.es {
			if err := a.Add(e); err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("memlan demo: %w", err)
			}
		}
	}
	// Let the router hear every server before we ask: a real network
	// has converged long before anyone runs slist.
	for i := 0; i < 200 && advs[0].Table().Len() < 4; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	client, err := host(0x01, false, local)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("memlan demo: %w", err)
	}
	return client, closeAll, nil
}
