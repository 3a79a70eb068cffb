package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
)

var frameNames = map[string]ipx.FrameType{
	"auto":        0,
	"ethernet_ii": ipx.FrameEthernetII,
	"802.3":       ipx.Frame8023Raw,
	"802.2":       ipx.Frame8022,
	"snap":        ipx.FrameSNAP,
}

// openEther opens a raw Ethernet link on o.iface.
func openEther(o options) (*ipx.Stack, ipx.Addr, func(), error) {
	if o.iface == "" {
		return nil, ipx.Addr{}, nil, errors.New("-link ether needs -I interface")
	}
	ft, ok := frameNames[strings.ToLower(o.frame)]
	if !ok {
		return nil, ipx.Addr{}, nil, fmt.Errorf("-frame %q: want auto, ethernet_ii, 802.3, 802.2 or snap", o.frame)
	}
	l, err := ether.Listen(o.iface, ether.Config{FrameType: ft})
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	s, err := stackOn(l, ipx.Network(o.network))
	if err != nil {
		return nil, ipx.Addr{}, nil, err
	}
	return s, ipx.Addr{}, func() { s.Close() }, nil
}
