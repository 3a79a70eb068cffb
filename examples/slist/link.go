package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// openLink returns a Stack on the link o asks for and a function that
// closes everything.
func openLink(ctx context.Context, o options) (*ipx.Stack, func(), error) {
	switch {
	case o.demo:
		return openDemo(o)
	case o.server != "":
		return openUDP(ctx, o)
	}
	return openEther(o)
}

// stackOn returns a host Stack over l, closing l if that fails.
func stackOn(l ipx.Link, network ipx.Network, forward bool) (*ipx.Stack, error) {
	s, err := ipx.NewStack(ipx.StackConfig{Forward: forward})
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
	s, err := stackOn(l, l.Network(), false)
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
	s, err := stackOn(l, o.network, false)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
