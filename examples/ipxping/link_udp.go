package main

import (
	"context"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// openUDP registers with a DOSBox-compatible tunnel server. There is no
// default target: the other nodes' addresses are their IP:port.
func openUDP(ctx context.Context, o options) (*ipx.Stack, ipx.Addr, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := udp.Dial(ctx, o.server, udp.Config{})
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	s, err := stackOn(l, l.Network())
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	return s, ipx.Addr{}, func() { s.Close() }, nil
}
