//go:build linux

package main

import (
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

	// Other IPX may be on lo, such as the DOSBox tunnels of other tests:
	// the dump stops at our line, which the writer watches for.
	want := "Ethernet_II 1d0d7e57:020000000042:4712 > 1d0d7e57:ffffffffffff:4711: PEP len 34 hops 0\n"
	w := &stopAt{want: want}
	d := &dumper{w: w}
	done := make(chan error, 1)
	go func() { done <- d.readLive(t.Context(), "lo") }()
	// Send until the dump has printed our line. The ticker is real time,
	// since capture is real I/O.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-done:
			if !errors.Is(err, errSeen) {
				t.Fatalf("dump ended with %v; printed:\n%s", err, w.buf.String())
			}
			return
		case <-tick.C:
			if _, err := tx.WriteTo(frame, &packet.Addr{HardwareAddr: ipx.NodeBroadcast.HardwareAddr()}); err != nil {
				t.Fatalf("send on lo: %v", err)
			}
		case <-timeout:
			t.Fatalf("ipxdump did not print our frame in 10 s; printed:\n%s", w.buf.String())
		}
	}
}

var errSeen = errors.New("seen")

// stopAt keeps what is written and fails the write that holds want, so
// that the dump stops there.
type stopAt struct {
	want string
	buf  syncbuf.Buffer
}

func (s *stopAt) Write(b []byte) (int, error) {
	s.buf.Write(b)
	if strings.Contains(string(b), s.want) {
		return 0, errSeen
	}
	return len(b), nil
}
