package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/udp"
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

// addUDPServer runs a tunnel server on spec, host:port/net, and attaches
// the router to its Port, so that the server hands the router whatever
// its clients send to other networks.
func addUDPServer(stack *ipx.Stack, spec string) (*udp.Server, error) {
	addr, netText, ok := strings.Cut(spec, "/")
	if !ok {
		return nil, fmt.Errorf("-udp-listen %q: want host:port/net, e.g. 0.0.0.0:213/b", spec)
	}
	network, err := linkflag.ParseNetwork(netText)
	if err != nil {
		return nil, fmt.Errorf("-udp-listen %s: %w", spec, err)
	}
	srv, err := udp.ListenServer(addr, udp.ServerConfig{})
	if err != nil {
		return nil, fmt.Errorf("-udp-listen %s: %w", spec, err)
	}
	go srv.Serve()
	port, err := srv.AttachPort()
	if err == nil {
		_, err = stack.AddLink(port, network)
	}
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("-udp-listen %s: %w", spec, err)
	}
	return srv, nil
}
