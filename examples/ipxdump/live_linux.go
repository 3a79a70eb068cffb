//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
)

// ethPAll is ETH_P_ALL: every protocol, so that 802.3 frames arrive too.
const ethPAll = 0x0003

// packetOutgoing is the kernel's PACKET_OUTGOING packet type.
const packetOutgoing = 4

// notOutgoing is a socket filter that drops frames this host sends.
var notOutgoing = mustAssemble([]bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtType},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 1},
	bpf.RetConstant{Val: 1 << 18},
	bpf.RetConstant{Val: 0},
})

func mustAssemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err) // a constant program
	}
	return raw
}

// readLive dumps frames captured on the named interface until an error,
// the -c limit or the end of ctx (an interrupt), which is no error.
func (d *dumper) readLive(ctx context.Context, name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	var cfg *packet.Config
	if ifi.Flags&net.FlagLoopback != 0 {
		// On loopback each frame is seen going out and coming in: keep
		// one, as tcpdump does.
		cfg = &packet.Config{Filter: notOutgoing}
	}
	c, err := packet.Listen(ifi, packet.Raw, ethPAll, cfg)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("capture on %s needs CAP_NET_RAW (run as root): %w", name, err)
		}
		return fmt.Errorf("capture on %s: %w", name, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	d.first = layers.LinkTypeEthernet
	if d.status != nil {
		fmt.Fprintf(d.status, "ipxdump: listening on %s\n", name)
	}
	buf := make([]byte, 65536)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
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
