//go:build linux

package ether

import (
	"net"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/mdlayher/packet"
)

// BenchmarkNetnsFrame sends one frame from one namespace and reads it in
// another, across a bridge, per operation: through two Links, and, as the
// baseline, through two bare packet.Conns (ReadFrom/WriteTo) carrying the
// same Ethernet II frame.
func BenchmarkNetnsFrame(b *testing.B) {
	seg := newSegment(b, false)
	src, dst := seg.macs[0], seg.macs[1]
	pkt := testPacket(b, src, dst, "benchmark payload of some length, as a small request would be")

	b.Run("baseline=packet.Conn", func(b *testing.B) {
		conns := make([]*packet.Conn, 2)
		for i := range conns {
			netnstest.MustIn(b, seg.hosts[i], func() error {
				ifi, err := net.InterfaceByName("eth0")
				if err != nil {
					return err
				}
				conns[i], err = packet.Listen(ifi, packet.Raw, ipx.EtherType, nil)
				return err
			})
			defer conns[i].Close()
		}
		frame := testFrame(b, ipx.FrameEthernetII, src, dst, pkt)
		to := &packet.Addr{HardwareAddr: dst.HardwareAddr()}
		buf := make([]byte, 2048)
		conns[1].SetReadDeadline(time.Now().Add(time.Minute))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := conns[0].WriteTo(frame, to); err != nil {
				b.Fatal(err)
			}
			if _, _, err := conns[1].ReadFrom(buf); err != nil {
				b.Fatal(err)
			}
		}
	})

	for _, ft := range append([]ipx.FrameType{0}, allTypes...) {
		b.Run("Link="+cfgName(ft), func(b *testing.B) {
			l0 := listenIn(b, seg.hosts[0], "eth0", Config{FrameType: ft})
			l1 := listenIn(b, seg.hosts[1], "eth0", Config{FrameType: ft})
			defer l0.Close()
			defer l1.Close()
			buf := make([]byte, 2048)
			l1.SetReadDeadline(time.Now().Add(time.Minute))
			b.ReportAllocs()
			for b.Loop() {
				if err := l0.WritePacket(pkt, dst); err != nil {
					b.Fatal(err)
				}
				if _, _, err := l1.ReadPacket(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
