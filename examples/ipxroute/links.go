package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// addUDP joins the tunnel server named by spec, host:port[/net].
func addUDP(ctx context.Context, stack *ipx.Stack, spec string) error {
	addr, netText, hasNet := strings.Cut(spec, "/")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := udp.Dial(ctx, addr, udp.Config{})
	if err != nil {
		return fmt.Errorf("-udp-server %s: %w", spec, err)
	}
	network := l.Network()
	if hasNet {
		if network, err = parseNet(netText); err != nil {
			l.Close()
			return fmt.Errorf("-udp-server %s: %w", spec, err)
		}
	}
	if _, err := stack.AddLink(l, network); err != nil {
		l.Close()
		return fmt.Errorf("-udp-server %s: %w", spec, err)
	}
	return nil
}

var frameNames = map[string]ipx.FrameType{
	"auto":        0,
	"ethernet_ii": ipx.FrameEthernetII,
	"802.3":       ipx.Frame8023Raw,
	"802.2":       ipx.Frame8022,
	"snap":        ipx.FrameSNAP,
}

// addEther opens the raw Ethernet link named by spec, iface:frame:net.
func addEther(stack *ipx.Stack, spec string) error {
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return fmt.Errorf("-ether %q: want iface:frame:net, e.g. eth0:802.2:0000000a", spec)
	}
	ft, ok := frameNames[strings.ToLower(parts[1])]
	if !ok {
		return fmt.Errorf("-ether %q: frame %q: want auto, ethernet_ii, 802.3, 802.2 or snap", spec, parts[1])
	}
	network, err := parseNet(parts[2])
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
