package ipx_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// Packet-rate benchmarks. Each moves b.N packets of benchPayload bytes
// of IPX data from a sender goroutine to the benchmark goroutine, with at
// most benchWindow packets in flight (so no queue overflows), and reports
// pkts/s. allocs/op counts every goroutine involved (links, read loops,
// tunnel server): it is allocations per packet end to end.
//
// The baselines use net.UDPConn's AddrPort methods, which do not
// allocate: UDPDirect is one UDP hop, UDPRelay two (via a relay
// goroutine), the same path as the tunnel, where a server relays between
// the two clients.
//
//	go test -run '^$' -bench 'PacketRate|StackSend|StackReceive' -benchmem ./ipx/
const (
	benchPayload = 64
	benchWindow  = 64
)

// pump runs the windowed transfer (ipxtest.Pump) and reports the rate.
func pump(b *testing.B, send func() error, recv func() error) {
	b.Helper()
	ipxtest.Pump(b, benchWindow, send, recv)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func benchUDPConn(b *testing.B) *net.UDPConn {
	b.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	// A lost packet fails the benchmark instead of hanging it.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	return c
}

func apOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func BenchmarkPacketRate(b *testing.B) {
	// UDP datagrams as large as the IPX packets of the other cases.
	const size = ipx.HeaderLen + benchPayload

	b.Run("UDPDirect", func(b *testing.B) {
		tx, rx := benchUDPConn(b), benchUDPConn(b)
		dst := apOf(rx)
		out, in := make([]byte, size), make([]byte, 2048)
		pump(b, func() error {
			_, err := tx.WriteToUDPAddrPort(out, dst)
			return err
		}, func() error {
			_, _, err := rx.ReadFromUDPAddrPort(in)
			return err
		})
	})

	b.Run("UDPRelay", func(b *testing.B) {
		tx, relay, rx := benchUDPConn(b), benchUDPConn(b), benchUDPConn(b)
		relay.SetReadDeadline(time.Time{})
		dst, via := apOf(rx), apOf(relay)
		go func() {
			buf := make([]byte, 2048)
			for {
				n, _, err := relay.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				relay.WriteToUDPAddrPort(buf[:n], dst)
			}
		}()
		out, in := make([]byte, size), make([]byte, 2048)
		pump(b, func() error {
			_, err := tx.WriteToUDPAddrPort(out, via)
			return err
		}, func() error {
			_, _, err := rx.ReadFromUDPAddrPort(in)
			return err
		})
	})

	b.Run("StackMemlan", func(b *testing.B) {
		seg := memlan.NewSegment(memlan.Config{})
		ca, cb := benchPair(b, func(i byte) ipx.Link {
			l, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, i})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}, 1)
		benchConns(b, ca, cb)
	})

	b.Run("StackUDP", func(b *testing.B) {
		srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve() }()
		b.Cleanup(func() { srv.Close(); <-done })
		ca, cb := benchPair(b, func(byte) ipx.Link {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}, 0)
		benchConns(b, ca, cb)
	})
}

// benchPair returns a socket on each of two host Stacks whose links
// newLink makes, on one segment numbered network.
func benchPair(b *testing.B, newLink func(i byte) ipx.Link, network ipx.Network) (*ipx.Conn, *ipx.Conn) {
	b.Helper()
	conn := func(i byte) *ipx.Conn {
		s, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if _, err := s.AddLink(newLink(i), network); err != nil {
			b.Fatal(err)
		}
		c, err := s.Listen(0)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	return conn(1), conn(2)
}

func benchConns(b *testing.B, ca, cb *ipx.Conn) {
	dst := cb.Addr()
	cb.SetReadDeadline(time.Now().Add(time.Minute))
	out, in := make([]byte, benchPayload), make([]byte, 2048)
	pump(b, func() error {
		_, err := ca.WriteMsg(out, dst, ipx.WriteOptions{})
		return err
	}, func() error {
		_, _, err := cb.ReadMsg(in)
		return err
	})
}

// BenchmarkStackSend is the send path alone: WriteMsg down to a memlan
// link, towards a node not on the segment (the wire drops it).
func BenchmarkStackSend(b *testing.B) {
	seg := memlan.NewSegment(memlan.Config{})
	ca, _ := benchPair(b, func(i byte) ipx.Link {
		l, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, i})
		return l
	}, 1)
	dst := ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 99}, Socket: 0x4000}
	out := make([]byte, benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.WriteMsg(out, dst, ipx.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkStackReceive is the receive path alone: encoded packets
// written straight onto a memlan link, read by the Stack's read loop and
// a Conn.
func BenchmarkStackReceive(b *testing.B) {
	seg := memlan.NewSegment(memlan.Config{})
	raw, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 9})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	_, cb := benchPair(b, func(i byte) ipx.Link {
		l, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, i})
		return l
	}, 1)
	dst := cb.Addr()
	p := ipx.Packet{
		Header: ipx.Header{
			Checksum: ipx.ChecksumNone,
			Dst:      dst,
			Src:      ipx.Addr{Net: 1, Node: raw.Node(), Socket: 0x4001},
		},
		Payload: make([]byte, benchPayload),
	}
	pkt, _ := p.MarshalBinary()
	cb.SetReadDeadline(time.Now().Add(time.Minute))
	in := make([]byte, 2048)
	pump(b, func() error {
		return raw.WritePacket(pkt, dst.Node)
	}, func() error {
		_, _, err := cb.ReadMsg(in)
		return err
	})
}
