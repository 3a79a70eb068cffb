package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// parseUDP parses host:port[/net], the value of -udp-server.
func parseUDP(spec string) (addr string, network ipx.Network, hasNet bool, err error) {
	addr, netText, hasNet := strings.Cut(spec, "/")
	if addr == "" {
		return "", 0, false, fmt.Errorf("%q: want host:port[/net]", spec)
	}
	if hasNet {
		if network, err = linkflag.ParseNetwork(netText); err != nil {
			return "", 0, false, fmt.Errorf("%q: %w", spec, err)
		}
	}
	return addr, network, hasNet, nil
}

// parseUDPListen parses host:port/net, the value of -udp-listen.
func parseUDPListen(spec string) (addr string, network ipx.Network, err error) {
	addr, netText, ok := strings.Cut(spec, "/")
	if !ok || addr == "" {
		return "", 0, fmt.Errorf("%q: want host:port/net, e.g. 127.0.0.1:21300/b", spec)
	}
	if network, err = linkflag.ParseNetwork(netText); err != nil {
		return "", 0, fmt.Errorf("%q: %w", spec, err)
	}
	return addr, network, nil
}

// parseEther parses IFACE:frame:net, the value of -ether: a router must
// number each of its segments.
func parseEther(spec string) (iface string, ft ipx.FrameType, network ipx.Network, err error) {
	iface, ft, network, hasNet, err := linkflag.ParseEther(spec)
	if err != nil {
		return "", 0, 0, err
	}
	if !hasNet {
		return "", 0, 0, fmt.Errorf("%q: a router numbers its segments: want IFACE:frame:net, e.g. eth0:802.2:0000000a", spec)
	}
	return iface, ft, network, nil
}

// addUDP joins the tunnel server named by spec, host:port[/net].
func addUDP(ctx context.Context, stack *ipx.Stack, spec string) error {
	addr, network, hasNet, err := parseUDP(spec)
	if err != nil {
		return fmt.Errorf("-udp-server %w", err)
	}
	l, learned, err := linkflag.DialTunnel(ctx, addr)
	if err != nil {
		return err
	}
	if !hasNet {
		network = learned
	}
	if _, err := stack.AddLink(l, network); err != nil {
		l.Close()
		return fmt.Errorf("-udp-server %s: %w", spec, err)
	}
	return nil
}

// addEther opens the raw Ethernet link named by spec, IFACE:frame:net.
func addEther(stack *ipx.Stack, spec string) error {
	iface, ft, network, err := parseEther(spec)
	if err != nil {
		return fmt.Errorf("-ether %w", err)
	}
	l, err := ether.Listen(iface, ether.Config{FrameType: ft})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("-ether %s: raw Ethernet needs CAP_NET_RAW (run as root): %w", spec, err)
		}
		return fmt.Errorf("-ether %s: %w", spec, err)
	}
	if _, err := stack.AddLink(l, network); err != nil {
		l.Close()
		return fmt.Errorf("-ether %s: %w", spec, err)
	}
	return nil
}

// addUDPServer runs a tunnel server on spec, host:port/net, and attaches
// the router to its Port, so that the server hands the router whatever
// its clients send to other networks.
func addUDPServer(stack *ipx.Stack, spec string, w io.Writer) (*udp.Server, error) {
	addr, network, err := parseUDPListen(spec)
	if err != nil {
		return nil, fmt.Errorf("-udp-listen %w", err)
	}
	srv, err := udp.ListenServer(addr, udp.ServerConfig{})
	if err != nil {
		return nil, fmt.Errorf("-udp-listen %s: %w", spec, linkflag.BindError(addr, err))
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
	fmt.Fprintf(w, "tunnel server on %v for network %v\n", srv.Addr(), network)
	return srv, nil
}

// addPeer opens the point-to-point link named by spec, LOCAL=REMOTE/net.
func addPeer(stack *ipx.Stack, spec string) error {
	local, remote, network, err := parsePeer(spec)
	if err != nil {
		return fmt.Errorf("-udp-peer %w", err)
	}
	l, err := listenPeer(local, remote)
	if err != nil {
		return fmt.Errorf("-udp-peer %s: %w", spec, err)
	}
	if _, err := stack.AddLink(l, network); err != nil {
		l.Close()
		return fmt.Errorf("-udp-peer %s: %w", spec, err)
	}
	return nil
}
