package spx

import (
	"context"
	"flag"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// Goodput benchmarks, all in one run so the ratios compare like with
// like:
//
//	go test -run '^$' -bench Goodput -benchmem -count 5 ./spx/
//
// One op moves one packet's worth of data (the SPX II payload of a full
// packet on that link), so MB/s compares directly. Memlan/SPX and
// UDP/SPX are an SPX connection between two Stacks. Baseline 1,
// Memlan/RawIPX and UDP/RawIPX, sends IPX datagrams of the same payload
// on the same link with at most benchWindow in flight, so that no queue
// overflows: the best rate that link gives, without reliability (more in
// flight makes the tunnel slower, as its socket buffers fill).
// Baseline 2, TCP/Loopback, is a TCP connection on 127.0.0.1.
const benchWindow = 64

// The SPX window benchmarked on each link covers its bandwidth-delay
// product. Acknowledgements on the tunnel cross two UDP hops and the
// server, so with a window of 64 packets the sender waits for them
// (goodput about 12% lower than with 256); on memlan a larger window
// only spreads the data over more memory (256 is about 20% slower). BENCHMARKS.md has the figures for 64, 128 and
// 256 on both.
const (
	benchWindowMemlan = 64
	benchWindowUDP    = 256
)

// -goodput.window sets one SPX window for both links instead, to compare
// (go test -bench Goodput ./spx/ -args -goodput.window 128).
var goodputWindow = flag.Int("goodput.window", 0, "SPX window for the goodput benchmarks on every link (0: per link)")

// -goodput.sysbuf keeps the kernel's default socket buffers on the tunnel
// (about 90 full packets), where a large window overflows the server's
// socket: a test of loss recovery and the congestion window.
var goodputSysBuf = flag.Bool("goodput.sysbuf", false, "use the system's default UDP socket buffers for the tunnel")

type benchLinks func(b *testing.B) (a, c ipx.Link, network ipx.Network)

func memlanLinks(b *testing.B) (ipx.Link, ipx.Link, ipx.Network) {
	seg := memlan.NewSegment(memlan.Config{})
	l1, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	if err != nil {
		b.Fatal(err)
	}
	l2, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 2})
	if err != nil {
		b.Fatal(err)
	}
	return l1, l2, 1
}

func udpLinks(b *testing.B) (ipx.Link, ipx.Link, ipx.Network) {
	buf := 0 // udp.DefaultSocketBuffer
	if *goodputSysBuf {
		buf = -1
	}
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{SocketBuffer: buf})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve() }()
	b.Cleanup(func() { srv.Close(); <-done })
	dial := func() ipx.Link {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{SocketBuffer: buf})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	return dial(), dial(), 0
}

func benchStacks(b *testing.B, links benchLinks) (*ipx.Stack, *ipx.Stack, ipx.Network) {
	l1, l2, network := links(b)
	mk := func(l ipx.Link) *ipx.Stack {
		s, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if _, err := s.AddLink(l, network); err != nil {
			b.Fatal(err)
		}
		return s
	}
	return mk(l1), mk(l2), network
}

func BenchmarkGoodput(b *testing.B) {
	for _, lk := range []struct {
		name   string
		links  benchLinks
		window int
	}{{"Memlan", memlanLinks, benchWindowMemlan}, {"UDP", udpLinks, benchWindowUDP}} {
		w := lk.window
		if *goodputWindow > 0 {
			w = *goodputWindow
		}
		b.Run(lk.name+"/SPX", func(b *testing.B) { benchSPX(b, lk.links, Config{Window: w}) })
		b.Run(lk.name+"/RawIPX", func(b *testing.B) { benchRawIPX(b, lk.links) })
	}
	b.Run("TCP/Loopback", benchTCP)
}

// payloadFor is the SPX II payload of a full packet on the link.
func payloadFor(s *ipx.Stack) int {
	return s.Links()[0].MTU - ipx.HeaderLen - HeaderLen2
}

func benchSPX(b *testing.B, links benchLinks, cfg Config) {
	sa, sb, network := benchStacks(b, links)
	ln, err := ListenConfig(sb, 0x5000, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := ln.AcceptSPX()
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	lb := sb.Links()[0]
	c, err := DialConfig(context.Background(), sa, ipx.Addr{Net: network, Node: lb.Node, Socket: 0x5000}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := <-accepted
	size := payloadFor(sa)
	total := int64(b.N) * int64(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64*size)
		left := total
		for left > 0 {
			k := min(left, int64(len(chunk)))
			if _, err := c.Write(chunk[:k]); err != nil {
				errc <- err
				return
			}
			left -= k
		}
		errc <- nil
	}()
	buf := make([]byte, 64<<10)
	var got int64
	s.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for got < total {
		n, err := s.Read(buf)
		if err != nil {
			b.Fatalf("read after %d of %d bytes: %v", got, total, err)
		}
		got += int64(n)
	}
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	st := c.Stats()
	b.ReportMetric(float64(st.Retransmits)/float64(b.N), "retx/op")
	b.ReportMetric(float64(sa.Stats().DropQueueFull+sb.Stats().DropQueueFull), "qdrops")
	b.ReportMetric(float64(st.Timeouts), "timeouts")
	// Packets the receiver sent (acknowledgements, window updates) per
	// data packet: each costs the link as much as a data packet.
	b.ReportMetric(float64(s.Stats().PacketsSent)/float64(b.N), "acks/op")
	c.Close()
	s.Close()
}

func benchRawIPX(b *testing.B, links benchLinks) {
	sa, sb, network := benchStacks(b, links)
	ca, err := sa.Listen(0)
	if err != nil {
		b.Fatal(err)
	}
	cb, err := sb.Listen(0)
	if err != nil {
		b.Fatal(err)
	}
	dst := cb.Addr()
	dst.Net = network
	size := payloadFor(sa)
	out, in := make([]byte, size), make([]byte, 2048)
	cb.SetReadDeadline(time.Now().Add(time.Minute))
	b.SetBytes(int64(size))
	ipxtest.Pump(b, benchWindow, func() error {
		_, err := ca.WriteMsg(out, dst, ipx.WriteOptions{Type: ipx.TypeSPX})
		return err
	}, func() error {
		_, _, err := cb.ReadMsg(in)
		return err
	})
}

func benchTCP(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	defer s.Close()
	const size = 1500 - ipx.HeaderLen - HeaderLen2 // as on memlan
	total := int64(b.N) * size
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		chunk := make([]byte, 64*size)
		left := total
		for left > 0 {
			k := min(left, int64(len(chunk)))
			if _, err := c.Write(chunk[:k]); err != nil {
				return
			}
			left -= k
		}
	}()
	if _, err := io.CopyN(io.Discard, s, total); err != nil {
		b.Fatal(err)
	}
}
