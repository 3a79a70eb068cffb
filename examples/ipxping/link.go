package main

import (
	"context"
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
)

// openLink returns a Stack on the link o asks for, a default target
// (the zero Addr if none) and a function that closes everything.
func openLink(ctx context.Context, o options) (*ipx.Stack, ipx.Addr, func(), error) {
	switch o.link {
	case "memlan":
		return openMemlan(o)
	case "udp":
		return openUDP(ctx, o)
	case "ether":
		return openEther(o)
	}
	return nil, ipx.Addr{}, nil, fmt.Errorf("-link %q: want memlan, udp or ether", o.link)
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
