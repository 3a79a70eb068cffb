//go:build !linux

package main

import "errors"

// readLive is only implemented on Linux, where mdlayher/packet offers
// AF_PACKET sockets.
func (d *dumper) readLive(name string) error {
	return errors.New("live capture (-i) is supported on Linux only; use -r with a capture file")
}
