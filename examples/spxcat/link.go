package main

import (
	"context"
	"io"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/spx"
)

// echoSocket is where the demo's echo service listens.
const echoSocket ipx.Socket = 0x5000

// openLink returns a Stack on the link o asks for, the demo service's
// address (zero without -memlan-demo) and a function closing everything.
func openLink(ctx context.Context, o *options) (*ipx.Stack, ipx.Addr, func(), error) {
	if o.link.Kind == linkflag.Demo {
		return openDemo(o)
	}
	s, err := o.link.Open(ctx, ipx.StackConfig{})
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	return s, ipx.Addr{}, func() { s.Close() }, nil
}

// openDemo puts two stacks on an in-memory segment; the second runs an
// SPX echo service on echoSocket that sends back what it reads.
func openDemo(o *options) (*ipx.Stack, ipx.Addr, func(), error) {
	seg := memlan.NewSegment(memlan.Config{Seed: 1})
	seg.SetImpairments(memlan.Impairments{Loss: o.loss})
	network := o.link.Network
	mk := func(n byte) (*ipx.Stack, error) {
		l, err := seg.Attach(ipx.Node{0x02, 0, 0, 0, 0, n})
		if err != nil {
			return nil, err
		}
		return linkflag.NewStack(l, network, ipx.StackConfig{})
	}
	local, err := mk(1)
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	remote, err := mk(2)
	if err != nil {
		local.Close()
		return nil, ipx.Addr{}, nil, err
	}
	ln, err := spx.ListenConfig(remote, echoSocket, spx.Config{PlainSPX: o.plain})
	if err != nil {
		local.Close()
		remote.Close()
		return nil, ipx.Addr{}, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.AcceptSPX()
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	closeAll := func() {
		ln.Close()
		<-done
		local.Close()
		remote.Close()
	}
	return local, ipx.Addr{Net: network, Node: ipx.Node{0x02, 0, 0, 0, 0, 2}, Socket: echoSocket}, closeAll, nil
}

// echo sends back what it reads, then releases its direction (SPX II) or
// ends the connection (plain SPX) when the peer's data ends.
func echo(c *spx.Conn) {
	defer c.Close()
	if _, err := io.Copy(c, c); err != nil {
		return
	}
	if c.SPX2() {
		c.CloseWrite()
	}
}
