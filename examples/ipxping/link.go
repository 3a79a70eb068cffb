package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
)

// openLink returns a Stack on the link o asks for, a default target
// (the zero Addr if none) and a function that closes everything. A
// tunnel has no default target: the other nodes' addresses are their
// IP:port.
func openLink(ctx context.Context, o options) (*ipx.Stack, ipx.Addr, func(), error) {
	l := o.link
	switch o.kind {
	case "memlan":
		return openMemlan(o)
	case "udp":
		l.Kind = linkflag.UDP
	case "ether":
		if l.Iface == "" {
			return nil, ipx.Addr{}, nil, errors.New("-link ether needs -I interface")
		}
		l.Kind = linkflag.Ether
	default:
		return nil, ipx.Addr{}, nil, fmt.Errorf("-link %q: want memlan, udp or ether", o.kind)
	}
	s, err := l.Open(ctx, ipx.StackConfig{})
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	return s, ipx.Addr{}, func() { s.Close() }, nil
}
