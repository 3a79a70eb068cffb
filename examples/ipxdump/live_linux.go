//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/mdlayher/packet"
)

// ethPAll is ETH_P_ALL: every protocol, so that 802.3 frames arrive too.
const ethPAll = 0x0003

// readLive dumps frames captured on the named interface until an error
// or the -c limit.
func (d *dumper) readLive(name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	c, err := packet.Listen(ifi, packet.Raw, ethPAll, nil)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("capture on %s needs CAP_NET_RAW (run as root): %w", name, err)
		}
		return fmt.Errorf("capture on %s: %w", name, err)
	}
	defer c.Close()
	d.first = layers.LinkTypeEthernet
	buf := make([]byte, 65536)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("capture on %s: %w", name, err)
		}
		if err := d.frame(time.Now(), buf[:n]); err != nil {
			if errors.Is(err, errDone) {
				return nil
			}
			return err
		}
	}
}
