package udp

import (
	"context"
	"net"
	"testing"
	"time"
)

// The benchmarks send one packet and receive it, in lockstep, over
// loopback: BenchmarkUDPBaseline with two bare *net.UDPConn (AddrPort
// methods, the same two syscalls per packet as a direct exchange), and
// BenchmarkLinkRelay with two Links through a Server (four syscalls in
// two hops). Compare ns/op as a ratio in one run:
//
//	go test -run='^$' -bench=. -benchmem ./ipx/udp/

const benchPayload = 512

func BenchmarkUDPBaseline(b *testing.B) {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	p := make([]byte, benchPayload+30)
	buf := make([]byte, MTU)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.WriteToUDPAddrPort(p, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLinkRelay(b *testing.B) {
	s := serve(b, ServerConfig{})
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	la, err := Dial(ctx, s.Addr().String(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer la.Close()
	lb, err := Dial(ctx, s.Addr().String(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer lb.Close()
	p := pkt(b, la.Node(), lb.Node(), 0x4000, string(make([]byte, benchPayload)))
	buf := make([]byte, MTU)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if err := la.WritePacket(p, lb.Node()); err != nil {
			b.Fatal(err)
		}
		if _, _, err := lb.ReadPacket(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkDirect measures the Link's own cost over the baseline: two
// Links whose "server" is each other's socket, so every packet takes the
// same two syscalls as BenchmarkUDPBaseline plus the Link's checks.
func BenchmarkLinkDirect(b *testing.B) {
	mk := func() (*net.UDPConn, *Link) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
		node, _ := NodeFromAddrPort(ap)
		l := &Link{pc: c, node: node}
		l.setConn(c)
		return c, l
	}
	ca, la := mk()
	defer ca.Close()
	cb, lb := mk()
	defer cb.Close()
	la.server, la.peer = cb.LocalAddr().(*net.UDPAddr).AddrPort(), cb.LocalAddr().(*net.UDPAddr).AddrPort()
	lb.server, lb.peer = ca.LocalAddr().(*net.UDPAddr).AddrPort(), ca.LocalAddr().(*net.UDPAddr).AddrPort()
	p := pkt(b, la.Node(), lb.Node(), 0x4000, string(make([]byte, benchPayload)))
	buf := make([]byte, MTU)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if err := la.WritePacket(p, lb.Node()); err != nil {
			b.Fatal(err)
		}
		if _, _, err := lb.ReadPacket(buf); err != nil {
			b.Fatal(err)
		}
	}
}
