package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
)

// addUDP joins the tunnel server named by spec, host:port[/net].
func addUDP(ctx context.Context, stack *ipx.Stack, spec string) error {
	addr, netText, hasNet := strings.Cut(spec, "/")
	var network ipx.Network
	if hasNet {
		// Checked before registering, so a typo fails at once.
		var err error
		if network, err = linkflag.ParseNetwork(netText); err != nil {
			return fmt.Errorf("-udp-server %s: %w", spec, err)
		}
	}
	l, err := linkflag.DialUDP(ctx, addr)
	if err != nil {
		return fmt.Errorf("-udp-server %s: %w", spec, err)
	}
	if !hasNet {
		network = l.Network()
	}
	if _, err := stack.AddLink(l, network); err != nil {
		l.Close()
		return fmt.Errorf("-udp-server %s: %w", spec, err)
	}
	return nil
}

// addEther opens the raw Ethernet link named by spec, iface:frame:net.
func addEther(stack *ipx.Stack, spec string) error {
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return fmt.Errorf("-ether %q: want iface:frame:net, e.g. eth0:802.2:0000000a", spec)
	}
	ft, err := linkflag.ParseFrame(parts[1])
	if err != nil {
		return fmt.Errorf("-ether %q: %w", spec, err)
	}
	network, err := linkflag.ParseNetwork(parts[2])
	if err != nil {
		return fmt.Errorf("-ether %q: %w", spec, err)
	}
	l, err := ether.Listen(parts[0], ether.Config{FrameType: ft})
	if err != nil {
		return fmt.Errorf("-ether %q: %w", spec, err)
	}
	if _, err := stack.AddLink(l, network); err != nil {
		l.Close()
		return fmt.Errorf("-ether %q: %w", spec, err)
	}
	return nil
}
