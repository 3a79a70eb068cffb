//go:build linux

package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"github.com/ipxkit/ipxkit/internal/syncbuf"
	"github.com/ipxkit/ipxkit/ipx"
)

// TestLive captures on the loopback interface while sending IPX frames
// with a network number no other test uses. It needs CAP_NET_RAW.
func TestLive(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	tx, err := packet.Listen(lo, packet.Raw, 0, nil)
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("live capture needs CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	const ipxNet = 0x1D0D7E57
	f := ipx.Frame{Type: ipx.FrameEthernetII, Dst: ipx.NodeBroadcast, Src: ipx.Node{2, 0, 0, 0, 0, 0x42},
		Packet: ipx.Packet{Header: ipx.Header{Checksum: ipx.ChecksumNone, Type: ipx.TypePEP,
			Dst: ipx.Addr{Net: ipxNet, Node: ipx.NodeBroadcast, Socket: 0x4711},
			Src: ipx.Addr{Net: ipxNet, Node: ipx.Node{2, 0, 0, 0, 0, 0x42}, Socket: 0x4712}},
			Payload: []byte("live")}}
	frame, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	out := &syncbuf.Buffer{}
	done := make(chan int, 1)
	go func() { done <- run([]string{"-ether", "lo", "-c", "1"}, out, &bytes.Buffer{}) }()
	// Send until ipxdump has printed a line; each frame is seen at least
	// once on lo. The ticker is real time, since capture is real I/O.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			got := out.String()
			want := "Ethernet_II 1d0d7e57:020000000042:4712 > 1d0d7e57:ffffffffffff:4711: PEP len 34 hops 0\n"
			if !strings.HasSuffix(got, want) {
				t.Errorf("got %q, want a line ending %q", got, want)
			}
			return
		case <-tick.C:
			if _, err := tx.WriteTo(frame, &packet.Addr{HardwareAddr: ipx.NodeBroadcast.HardwareAddr()}); err != nil {
				t.Fatalf("send on lo: %v", err)
			}
		case <-timeout:
			t.Fatal("ipxdump printed nothing in 10 s")
		}
	}
}
