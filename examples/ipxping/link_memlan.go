package main

import (
	"fmt"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// Nodes of the memlan demo.
var (
	demoLocal     = ipx.Node{0x02, 0, 0, 0, 0, 0x01}
	demoResponder = ipx.Node{0x02, 0, 0, 0, 0, 0x02}
)

// openMemlan builds the demo: our stack and a responder stack on one
// in-memory segment. The target defaults to the responder.
func openMemlan(o *options) (*ipx.Stack, ipx.Addr, func(), error) {
	seg := memlan.NewSegment(memlan.Config{Seed: 1})
	seg.SetImpairments(memlan.Impairments{Loss: o.loss, Delay: o.delay})
	mk := func(n ipx.Node) (*ipx.Stack, error) {
		l, err := seg.Attach(n)
		if err != nil {
			return nil, err
		}
		return linkflag.NewStack(l, o.link.Network, ipx.StackConfig{})
	}
	local, err := mk(demoLocal)
	if err != nil {
		return nil, ipx.Addr{}, nil, fmt.Errorf("memlan: %w", err)
	}
	remote, err := mk(demoResponder)
	if err != nil {
		local.Close()
		return nil, ipx.Addr{}, nil, fmt.Errorf("memlan: %w", err)
	}
	rc, err := remote.Listen(echo.Socket)
	if err != nil {
		local.Close()
		remote.Close()
		return nil, ipx.Addr{}, nil, fmt.Errorf("memlan: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		echo.NewResponder(rc).Serve()
	}()
	closeAll := func() {
		local.Close()
		remote.Close()
		<-done
	}
	return local, rc.Addr(), closeAll, nil
}
