//go:build !linux

package main

import (
	"context"
	"errors"
)

// readLive is only implemented on Linux, where mdlayher/packet offers
// AF_PACKET sockets.
func (d *dumper) readLive(ctx context.Context, name string) error {
	return errors.New("live capture (-ether) is supported on Linux only; use -r with a capture file")
}
