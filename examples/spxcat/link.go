package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/spx"
)

// echoSocket is where the demo's echo service listens.
const echoSocket ipx.Socket = 0x5000

// openLink returns a Stack on the link o asks for, the demo service's
// address (zero without -memlan-demo) and a function closing everything.
func openLink(ctx context.Context, o options) (*ipx.Stack, ipx.Addr, func(), error) {
	switch {
	case o.demo:
		return openDemo(o)
	case o.server != "":
		s, closeAll, err := openUDP(ctx, o)
		return s, ipx.Addr{}, closeAll, err
	}
	s, closeAll, err := openEther(o)
	return s, ipx.Addr{}, closeAll, err
}

// stackOn returns a host Stack over l, closing l if that fails.
func stackOn(l ipx.Link, network ipx.Network) (*ipx.Stack, error) {
	s, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		l.Close()
		return nil, err
	}
	if _, err := s.AddLink(l, network); err != nil {
		s.Close()
		l.Close()
		return nil, err
	}
	return s, nil
}

// openDemo puts two stacks on an in-memory segment; the second runs an
// SPX echo service on echoSocket that sends back what it reads.
func openDemo(o options) (*ipx.Stack, ipx.Addr, func(), error) {
	seg := memlan.NewSegment(memlan.Config{Seed: 1})
	seg.SetImpairments(memlan.Impairments{Loss: o.loss})
	network := ipx.Network(o.network)
	mk := func(n byte) (*ipx.Stack, error) {
		l, err := seg.Attach(ipx.Node{0x02, 0, 0, 0, 0, n})
		if err != nil {
			return nil, err
		}
		return stackOn(l, network)
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

func openUDP(ctx context.Context, o options) (*ipx.Stack, func(), error) {
	server := o.server
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "213")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := udp.Dial(ctx, server, udp.Config{})
	if err != nil {
		return nil, nil, err
	}
	s, err := stackOn(l, l.Network())
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

var frameNames = map[string]ipx.FrameType{
	"auto":        0,
	"ethernet_ii": ipx.FrameEthernetII,
	"802.3":       ipx.Frame8023Raw,
	"802.2":       ipx.Frame8022,
	"snap":        ipx.FrameSNAP,
}

func openEther(o options) (*ipx.Stack, func(), error) {
	ft, ok := frameNames[strings.ToLower(o.frame)]
	if !ok {
		return nil, nil, fmt.Errorf("-frame %q: want auto, ethernet_ii, 802.3, 802.2 or snap", o.frame)
	}
	l, err := ether.Listen(o.iface, ether.Config{FrameType: ft})
	if err != nil {
		return nil, nil, err
	}
	s, err := stackOn(l, ipx.Network(o.network))
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
