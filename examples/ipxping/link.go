package main

import (
	"context"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
)

// openLink returns a Stack on the link o asks for, a default target
// (the zero Addr if none) and a function that closes everything. A
// tunnel has no default target: the other nodes' addresses are their
// IP:port.
func openLink(ctx context.Context, o *options) (*ipx.Stack, ipx.Addr, func(), error) {
	if o.link.Kind == linkflag.Demo {
		return openMemlan(o)
	}
	s, err := o.link.Open(ctx, ipx.StackConfig{})
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	return s, ipx.Addr{}, func() { s.Close() }, nil
}
