//go:build !linux

package ether

import (
	"fmt"
	"runtime"
)

// Listen needs Linux packet sockets; elsewhere it returns an error wrapping
// ErrUnsupported. New still works on any PacketConn.
func Listen(ifname string, cfg Config) (*Link, error) {
	return nil, fmt.Errorf("ether: listen %s: raw Ethernet on %s: %w", ifname, runtime.GOOS, ErrUnsupported)
}
