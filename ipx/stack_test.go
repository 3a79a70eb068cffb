package ipx_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// node returns a node address ending in b.
func node(b byte) ipx.Node { return ipxtest.Node(b) }

// host makes a Stack with one link on seg.
func host(t *testing.T, seg *memlan.Segment, n ipx.Node, network ipx.Network, cfg ipx.StackConfig) *ipx.Stack {
	t.Helper()
	s, _ := ipxtest.Stack(t, cfg, n, ipxtest.On{Seg: seg, Net: network})
	return s
}

func attach(t *testing.T, s *ipx.Stack, seg *memlan.Segment, n ipx.Node, network ipx.Network) ipx.LinkID {
	t.Helper()
	l, err := seg.Attach(n)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.AddLink(l, network)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// inject writes a packet with header h (no checksum) onto raw's segment,
// to link-level node to, as a foreign or misbehaving host would.
func inject(t *testing.T, raw *memlan.Link, to ipx.Node, h ipx.Header) {
	t.Helper()
	h.Checksum = ipx.ChecksumNone
	p := ipx.Packet{Header: h, Payload: []byte{h.TransportControl}}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.WritePacket(b, to); err != nil {
		t.Fatal(err)
	}
}

func listen(t *testing.T, s *ipx.Stack, sock ipx.Socket) *ipx.Conn {
	t.Helper()
	c, err := s.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListen(t *testing.T) {
	s, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := listen(t, s, 0x4001)
	if _, err := s.Listen(0x4001); !errors.Is(err, ipx.ErrSocketInUse) {
		t.Fatalf("second Listen(0x4001) = %v, want ErrSocketInUse", err)
	}
	var opErr *net.OpError
	if _, err := s.Listen(0x4001); !errors.As(err, &opErr) {
		t.Fatalf("error %T is not a *net.OpError", err)
	}
	d := listen(t, s, 0)
	if got := d.Addr().Socket; !got.IsDynamic() || got == 0x4001 {
		t.Fatalf("dynamic socket %v", got)
	}
	c.Close()
	if _, err := s.Listen(0x4001); err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	// Exhaust the dynamic range: every socket is handed out once.
	seen := map[ipx.Socket]bool{}
	for {
		c, err := s.Listen(0)
		if err != nil {
			if !errors.Is(err, ipx.ErrSocketInUse) {
				t.Fatalf("exhausted: %v", err)
			}
			break
		}
		if seen[c.Addr().Socket] {
			t.Fatalf("socket %v handed out twice", c.Addr().Socket)
		}
		seen[c.Addr().Socket] = true
	}
	if want := int(ipx.SocketDynamicMax-ipx.SocketDynamicMin) + 1 - 2; len(seen) != want {
		t.Fatalf("dynamic sockets handed out = %d, want %d", len(seen), want)
	}
}

func TestUnicastAndHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 1})
		a := host(t, seg, node(1), 0x10, ipx.StackConfig{})
		b := host(t, seg, node(2), 0x10, ipx.StackConfig{})
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x5000)

		dst := ipx.Addr{Net: 0x10, Node: node(2), Socket: 0x5000}
		if _, err := ca.WriteMsg([]byte("hello"), dst, ipx.WriteOptions{Type: ipx.TypePEP, Checksum: true}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, info, err := cb.ReadMsg(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != "hello" {
			t.Errorf("payload %q", buf[:n])
		}
		h := info.Header
		wantSrc := ipx.Addr{Net: 0x10, Node: node(1), Socket: 0x4000}
		if h.Src != wantSrc || h.Dst != dst || h.Type != ipx.TypePEP || h.Length != ipx.HeaderLen+5 {
			t.Errorf("header %+v", h)
		}
		if h.Checksum == ipx.ChecksumNone {
			t.Errorf("checksum not computed")
		}
		if info.From != node(1) || info.Link != 1 {
			t.Errorf("info from %v link %d", info.From, info.Link)
		}

		// WriteTo/ReadFrom use the Conn's packet type and return the sender.
		cb.SetPacketType(ipx.TypeEcho)
		if _, err := cb.WriteTo([]byte("back"), wantSrc); err != nil {
			t.Fatal(err)
		}
		n, from, err := ca.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "back" || from != dst {
			t.Fatalf("ReadFrom = %q %v %v", buf[:n], from, err)
		}
		if _, err := cb.WriteTo([]byte("x"), &net.UDPAddr{}); !errors.Is(err, ipx.ErrBadAddr) {
			t.Fatalf("WriteTo UDPAddr: %v", err)
		}
	})
}

func TestWritePacketInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 0x10, ipx.StackConfig{})
		b := host(t, seg, node(2), 0x10, ipx.StackConfig{})
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x5000)
		dst := cb.Addr()

		// Whatever the header room holds is overwritten; the checksum
		// covers the header written in place (the receiver verifies it).
		p := append(bytes.Repeat([]byte{0xAA}, ipx.HeaderLen), "in place"...)
		n, err := ca.WritePacket(p, dst, ipx.WriteOptions{Type: ipx.TypeSPX, Checksum: true})
		if err != nil || n != len("in place") {
			t.Fatalf("WritePacket = %d, %v", n, err)
		}
		buf := make([]byte, 64)
		n, info, err := cb.ReadMsg(buf)
		if err != nil || string(buf[:n]) != "in place" {
			t.Fatalf("read %q %v", buf[:n], err)
		}
		h := info.Header
		if h.Src != ca.Addr() || h.Dst != dst || h.Type != ipx.TypeSPX || h.Length != uint16(len(p)) ||
			h.Checksum == ipx.ChecksumNone || h.TransportControl != 0 {
			t.Fatalf("header %+v", h)
		}

		if _, err := ca.WritePacket(make([]byte, ipx.HeaderLen-1), dst, ipx.WriteOptions{}); !errors.Is(err, ipx.ErrShortBuffer) {
			t.Fatalf("no room for the header: %v", err)
		}
		if _, err := ca.WritePacket(make([]byte, a.Links()[0].MTU+1), dst, ipx.WriteOptions{}); !errors.Is(err, ipx.ErrTooLarge) {
			t.Fatalf("over the MTU: %v", err)
		}
		if _, err := ca.WritePacket(make([]byte, ipx.HeaderLen), ipx.Addr{Net: 99, Socket: 1}, ipx.WriteOptions{}); !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("no route: %v", err)
		}
		// Both write paths honour a passed write deadline and Close.
		ca.SetWriteDeadline(time.Now().Add(-time.Second))
		if _, err := ca.WritePacket(p, dst, ipx.WriteOptions{}); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WritePacket past the deadline: %v", err)
		}
		if _, err := ca.WriteMsg(nil, dst, ipx.WriteOptions{}); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WriteMsg past the deadline: %v", err)
		}
		ca.SetWriteDeadline(time.Time{})
		if _, err := ca.WriteMsg(nil, dst, ipx.WriteOptions{}); err != nil {
			t.Fatalf("WriteMsg after clearing the deadline: %v", err)
		}
		ca.Close()
		if _, err := ca.WritePacket(p, dst, ipx.WriteOptions{}); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WritePacket after Close: %v", err)
		}
		synctest.Wait()
		if st := b.Stats(); st.Delivered != 2 || st.DropChecksum != 0 {
			t.Fatalf("receiver stats %+v", st)
		}
	})
}

// batchLink is a memlan Link that also takes batches, recording their
// sizes.
type batchLink struct {
	*memlan.Link
	batches []int
}

func (l *batchLink) WritePackets(ps [][]byte, dst ipx.Node) (int, error) {
	l.batches = append(l.batches, len(ps))
	for i, p := range ps {
		if err := l.WritePacket(p, dst); err != nil {
			return i, err
		}
	}
	return len(ps), nil
}

// TestWritePackets sends batches through a link that takes them and one
// that does not: the packets arrive in order with their headers written
// in place, a batch reaches a BatchWriter as one call, and a broadcast
// batch is sent packet by packet, reaching local sockets too.
func TestWritePackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		ml, err := seg.Attach(node(1))
		if err != nil {
			t.Fatal(err)
		}
		bl := &batchLink{Link: ml}
		a, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if _, err := a.AddLink(bl, 7); err != nil {
			t.Fatal(err)
		}
		b := host(t, seg, node(2), 7, ipx.StackConfig{})
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x4000)
		local := listen(t, a, 0x4001)

		batch := func(words ...string) [][]byte {
			var ps [][]byte
			for _, w := range words {
				ps = append(ps, append(make([]byte, ipx.HeaderLen), w...))
			}
			return ps
		}
		read := func(c *ipx.Conn, want string, dst ipx.Addr) {
			t.Helper()
			buf := make([]byte, 64)
			n, info, err := c.ReadMsg(buf)
			if err != nil || string(buf[:n]) != want || info.Header.Dst != dst ||
				info.Header.Src != ca.Addr() || info.Header.Type != ipx.TypeSPX {
				t.Fatalf("read %q %+v %v, want %q to %v", buf[:n], info.Header, err, want, dst)
			}
		}
		o := ipx.WriteOptions{Type: ipx.TypeSPX, Checksum: true}
		if n, err := ca.WritePackets(batch("one", "two", "three"), cb.Addr(), o); n != 3 || err != nil {
			t.Fatalf("WritePackets = %d, %v", n, err)
		}
		for _, w := range []string{"one", "two", "three"} {
			read(cb, w, cb.Addr())
		}
		if len(bl.batches) != 1 || bl.batches[0] != 3 {
			t.Fatalf("link saw batches %v, want one of 3", bl.batches)
		}
		// The other way the link takes no batches: one write per packet.
		if n, err := cb.WritePackets(batch("back", "again"), ca.Addr(), ipx.WriteOptions{Type: ipx.TypeSPX}); n != 2 || err != nil {
			t.Fatalf("WritePackets without batching = %d, %v", n, err)
		}
		buf := make([]byte, 64)
		for _, w := range []string{"back", "again"} {
			if n, _, err := ca.ReadMsg(buf); err != nil || string(buf[:n]) != w {
				t.Fatalf("read %q %v, want %q", buf[:n], err, w)
			}
		}
		// A broadcast batch goes packet by packet and loops back.
		bcast := ipx.Addr{Net: 7, Node: ipx.NodeBroadcast, Socket: 0x4001}
		if n, err := ca.WritePackets(batch("all"), bcast, o); n != 1 || err != nil {
			t.Fatalf("broadcast WritePackets = %d, %v", n, err)
		}
		read(local, "all", bcast)
		if len(bl.batches) != 1 {
			t.Fatalf("broadcast went to the link as a batch: %v", bl.batches)
		}
		n, err := ca.WritePackets([][]byte{batch("ok")[0], make([]byte, 3)}, cb.Addr(), o)
		if n != 0 || !errors.Is(err, ipx.ErrShortBuffer) {
			t.Fatalf("batch with a short packet = %d, %v; want 0 sent and ErrShortBuffer", n, err)
		}
		if st := a.Stats(); st.Sent != 4 {
			t.Fatalf("Sent = %d, want 4", st.Sent)
		}
	})
}

func TestShortBufferTruncates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 1, ipx.StackConfig{})
		b := host(t, seg, node(2), 1, ipx.StackConfig{})
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x4000)
		ca.WriteTo([]byte("0123456789"), cb.Addr())
		buf := make([]byte, 4)
		n, _, err := cb.ReadFrom(buf)
		if err != nil || n != 4 || string(buf) != "0123" {
			t.Fatalf("ReadFrom = %d %q %v", n, buf, err)
		}
	})
}

func TestBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 7, ipx.StackConfig{})
		b := host(t, seg, node(2), 7, ipx.StackConfig{})
		c := host(t, seg, node(3), 7, ipx.StackConfig{})
		sender := listen(t, a, 0x4000)
		localPeer := listen(t, a, 0x5000) // same Stack, other socket
		rb, rc := listen(t, b, 0x5000), listen(t, c, 0x5000)
		other := listen(t, c, 0x5001)

		bc := ipx.Addr{Node: ipx.NodeBroadcast, Socket: 0x5000}
		if _, err := sender.WriteTo([]byte("all"), bc); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for name, conn := range map[string]*ipx.Conn{"b": rb, "c": rc, "local": localPeer} {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 8)
			n, info, err := conn.ReadMsg(buf)
			if err != nil || string(buf[:n]) != "all" {
				t.Fatalf("%s: %q %v", name, buf[:n], err)
			}
			if info.Header.Dst.Net != 7 {
				t.Errorf("%s: network 0 not filled in: %v", name, info.Header.Dst)
			}
		}
		other.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := other.ReadFrom(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("socket 0x5001 got a broadcast for 0x5000: %v", err)
		}
		// The sender's own socket does not hear itself.
		sender.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := sender.ReadFrom(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("sender heard its own broadcast: %v", err)
		}
	})
}

func TestLoopbackToOwnNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 3, ipx.StackConfig{})
		c1, c2 := listen(t, a, 0x4000), listen(t, a, 0x4001)
		c1.WriteTo([]byte("me"), c2.Addr())
		buf := make([]byte, 8)
		n, from, err := c2.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "me" || from != c1.Addr() {
			t.Fatalf("%q %v %v", buf[:n], from, err)
		}
		if got := seg.Stats(); got.Delivered != 0 {
			t.Errorf("loopback went on the wire: %+v", got)
		}
	})
}

// router builds A (net 1) — R — B (net 2) with static routes on the ends.
func router(t *testing.T) (a, r, b *ipx.Stack, seg1, seg2 *memlan.Segment) {
	seg1 = memlan.NewSegment(memlan.Config{Seed: 1})
	seg2 = memlan.NewSegment(memlan.Config{Seed: 2})
	var ra, rb ipx.StaticRoutes
	ra.Set(2, ipx.Route{Link: 1, NextHop: node(0xa1), Hops: 1, Ticks: 1})
	rb.Set(1, ipx.Route{Link: 1, NextHop: node(0xa2), Hops: 1, Ticks: 1})
	a = host(t, seg1, node(1), 1, ipx.StackConfig{Routes: &ra})
	b = host(t, seg2, node(2), 2, ipx.StackConfig{Routes: &rb})
	var err error
	r, err = ipx.NewStack(ipx.StackConfig{Forward: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	attach(t, r, seg1, node(0xa1), 1)
	attach(t, r, seg2, node(0xa2), 2)
	return a, r, b, seg1, seg2
}

func TestForwarding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, r, b, _, _ := router(t)
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x4000)
		dst := ipx.Addr{Net: 2, Node: node(2), Socket: 0x4000}
		if _, err := ca.WriteTo([]byte("across"), dst); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		n, info, err := cb.ReadMsg(buf)
		if err != nil || string(buf[:n]) != "across" {
			t.Fatalf("%q %v", buf[:n], err)
		}
		if info.Header.TransportControl != 1 || info.From != node(0xa2) ||
			info.Header.Src != (ipx.Addr{Net: 1, Node: node(1), Socket: 0x4000}) {
			t.Fatalf("forwarded header %+v from %v", info.Header, info.From)
		}
		// And back, answering the source address as received.
		if _, err := cb.WriteTo([]byte("reply"), info.Header.Src); err != nil {
			t.Fatal(err)
		}
		if n, _, err := ca.ReadFrom(buf); err != nil || string(buf[:n]) != "reply" {
			t.Fatalf("reply %q %v", buf[:n], err)
		}
		synctest.Wait() // the router counts a packet after handing it on
		if got := r.Stats().Forwarded; got != 2 {
			t.Fatalf("router forwarded %d, want 2", got)
		}
		// No route: matchable error, nothing sent.
		_, err = ca.WriteTo([]byte("x"), ipx.Addr{Net: 99, Node: node(9), Socket: 1})
		if !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("send to network 99: %v", err)
		}
	})
}

func TestForwardingDisabledAndHopLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, r, b, seg1, _ := router(t)
		cb := listen(t, b, 0x4000)
		raw, err := seg1.Attach(node(0x77))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		dst := ipx.Addr{Net: 2, Node: node(2), Socket: 0x4000}
		src := ipx.Addr{Net: 1, Node: node(0x77), Socket: 0x4000}
		inject(t, raw, node(0xa1), ipx.Header{TransportControl: 14, Dst: dst, Src: src}) // arrives with 15
		inject(t, raw, node(0xa1), ipx.Header{TransportControl: 15, Dst: dst, Src: src}) // would reach 16: dropped
		synctest.Wait()
		buf := make([]byte, 4)
		_, info, err := cb.ReadMsg(buf)
		if err != nil || info.Header.TransportControl != 15 {
			t.Fatalf("got %+v %v", info.Header, err)
		}
		if got := r.Stats().DropHopLimit; got != 1 {
			t.Fatalf("DropHopLimit = %d, want 1", got)
		}

		// A host that does not forward drops transit packets.
		h := host(t, seg1, node(0x55), 1, ipx.StackConfig{})
		inject(t, raw, node(0x55), ipx.Header{Dst: dst, Src: src})
		synctest.Wait()
		if got := h.Stats(); got.DropNotForUs != 1 || got.Forwarded != 0 {
			t.Fatalf("host stats %+v", got)
		}
	})
}

func TestBadInputCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s := host(t, seg, node(1), 1, ipx.StackConfig{})
		c := listen(t, s, 0x4000)
		raw, _ := seg.Attach(node(2))
		defer raw.Close()

		good := ipx.Packet{Header: ipx.Header{Checksum: ipx.ChecksumNone,
			Dst: ipx.Addr{Net: 1, Node: node(1), Socket: 0x4000},
			Src: ipx.Addr{Net: 1, Node: node(2), Socket: 0x4000}}, Payload: []byte("ok")}
		gb, _ := good.MarshalBinary()
		badSum := bytes.Clone(gb)
		ipx.PutChecksum(badSum)
		badSum[31] ^= 1 // payload changed after the checksum
		longLen := bytes.Clone(gb)
		longLen[3] = 200 // length beyond the packet
		noSock := bytes.Clone(gb)
		noSock[17] = 0x99

		for _, b := range [][]byte{{1, 2, 3}, badSum, longLen, noSock, gb} {
			raw.WritePacket(b, node(1))
		}
		synctest.Wait()
		st := s.Stats()
		if st.DropMalformed != 2 || st.DropChecksum != 1 || st.DropNoSocket != 1 || st.Delivered != 1 {
			t.Fatalf("stats %+v", st)
		}
		buf := make([]byte, 8)
		if n, _, err := c.ReadFrom(buf); err != nil || string(buf[:n]) != "ok" {
			t.Fatalf("good packet after bad ones: %q %v", buf[:n], err)
		}
	})
}

func TestQueueFullDropsNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 1, ipx.StackConfig{})
		b := host(t, seg, node(2), 1, ipx.StackConfig{QueueLen: 4})
		ca, slow := listen(t, a, 0x4000), listen(t, b, 0x4000)
		fast := listen(t, b, 0x4001)
		for i := range 10 {
			ca.WriteTo([]byte{byte(i)}, slow.Addr())
			synctest.Wait()
		}
		// The slow socket does not block another socket on the same link.
		ca.WriteTo([]byte("f"), fast.Addr())
		buf := make([]byte, 4)
		if n, _, err := fast.ReadFrom(buf); err != nil || string(buf[:n]) != "f" {
			t.Fatalf("fast socket: %q %v", buf[:n], err)
		}
		if got := b.Stats().DropQueueFull; got != 6 {
			t.Fatalf("DropQueueFull = %d, want 6", got)
		}
		for want := range 4 { // the oldest four were kept, in order
			n, _, err := slow.ReadFrom(buf)
			if err != nil || n != 1 || buf[0] != byte(want) {
				t.Fatalf("packet %d: %v %v", want, buf[:n], err)
			}
		}
	})
}

func TestDeadlinesAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s := host(t, seg, node(1), 1, ipx.StackConfig{})
		c := listen(t, s, 0x4000)
		start := time.Now()
		c.SetReadDeadline(start.Add(3 * time.Second))
		_, _, err := c.ReadFrom(make([]byte, 1))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read past deadline: %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("deadline fired after %v", d)
		}
		// Extending the deadline re-arms it; clearing it blocks until Close.
		c.SetReadDeadline(time.Now().Add(time.Second))
		c.SetReadDeadline(time.Time{})
		done := make(chan error)
		go func() {
			_, _, err := c.ReadFrom(make([]byte, 1))
			done <- err
		}()
		time.Sleep(time.Hour) // fake clock: proves the cleared deadline never fires
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("read returned %v with no deadline", err)
		default:
		}
		c.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
		c.SetWriteDeadline(time.Now().Add(-time.Second))
		if _, err := c.WriteTo(nil, c.Addr()); err == nil {
			t.Fatal("write on closed conn succeeded")
		}
	})
}

func TestStackCloseEndsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		attach(t, s, seg, node(1), 1)
		c := listen(t, s, 0x4000)
		done := make(chan error)
		go func() {
			_, _, err := c.ReadFrom(make([]byte, 1))
			done <- err
		}()
		hc, _ := s.ListenFunc(0x4500, func([]byte, *ipx.RecvInfo) {})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Stack.Close: %v", err)
		}
		<-hc.Done() // a handler socket hears of the Stack's Close
		if err := hc.Err(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("handler socket Err after Stack.Close: %v", err)
		}
		if _, err := s.Listen(0); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Listen after Close: %v", err)
		}
		// synctest.Test fails if any goroutine the Stack started is left.
	})
}

func TestLinkFailureSurfacesOnRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()
		l, _ := seg.Attach(node(1))
		s.AddLink(l, 1)
		c := listen(t, s, 0x4000)
		l.Close() // the link dies underneath the Stack
		_, _, err := c.ReadFrom(make([]byte, 1))
		if !errors.Is(err, ipx.ErrLinkDown) || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a dead link: %v", err)
		}
		if got := s.Stats().LinkReadFailure; got != 1 {
			t.Fatalf("LinkReadFailure = %d", got)
		}
		// Handler sockets, before and after the failure, learn of it
		// through Done and Err.
		<-c.Done()
		if err := c.Err(); !errors.Is(err, ipx.ErrLinkDown) {
			t.Fatalf("Err on a dead link: %v", err)
		}
		late, err := s.ListenFunc(0x4500, func([]byte, *ipx.RecvInfo) {})
		if err != nil {
			t.Fatal(err)
		}
		<-late.Done()
	})
}

func TestSendAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector (sync.Pool drops items)")
	}
	seg := memlan.NewSegment(memlan.Config{})
	a := host(t, seg, node(1), 1, ipx.StackConfig{})
	b := host(t, seg, node(2), 1, ipx.StackConfig{})
	ca, cb := listen(t, a, 0x4000), listen(t, b, 0x4000)
	dst := cb.Addr()
	payload := make([]byte, 100)
	buf := make([]byte, 200)
	roundTrip := func() {
		if _, err := ca.WriteMsg(payload, dst, ipx.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cb.ReadMsg(buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 { // warm the pools
		roundTrip()
	}
	if n := testing.AllocsPerRun(1000, roundTrip); n != 0 {
		t.Fatalf("send+receive allocates %v per packet", n)
	}
}

func TestInternalNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		// The server: internal network 0xbeef added first, so its sockets
		// are addressed there; LAN network 1.
		srv, _ := ipx.NewStack(ipx.StackConfig{})
		defer srv.Close()
		internal := ipx.NewInternalLink(node(0xee))
		if _, err := srv.AddLink(internal, 0xbeef); err != nil {
			t.Fatal(err)
		}
		attach(t, srv, seg, node(1), 1)
		if got := srv.Links(); len(got) != 2 || !got[0].Internal || got[1].Internal {
			t.Fatalf("links %+v", got)
		}
		svc := listen(t, srv, 0x0451)
		if got := svc.Addr(); got != (ipx.Addr{Net: 0xbeef, Node: node(0xee), Socket: 0x0451}) {
			t.Fatalf("service address %v", got)
		}
		// The client reaches the internal network through the server's
		// LAN node, as a RIP route would say.
		var routes ipx.StaticRoutes
		routes.Set(0xbeef, ipx.Route{Link: 1, NextHop: node(1), Hops: 1, Ticks: 1})
		cli := host(t, seg, node(2), 1, ipx.StackConfig{Routes: &routes})
		cc := listen(t, cli, 0)
		if _, err := cc.WriteTo([]byte("req"), svc.Addr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		n, from, err := svc.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "req" || from != cc.Addr() {
			t.Fatalf("service got %q from %v: %v", buf[:n], from, err)
		}
		// The reply leaves from the internal address, on the LAN link.
		if _, err := svc.WriteTo([]byte("rep"), from); err != nil {
			t.Fatal(err)
		}
		n, info, err := cc.ReadMsg(buf)
		if err != nil || string(buf[:n]) != "rep" {
			t.Fatalf("client got %q: %v", buf[:n], err)
		}
		if info.Header.Src != svc.Addr() || info.From != node(1) {
			t.Fatalf("reply from %v via %v, want %v via the LAN node", info.Header.Src, info.From, svc.Addr())
		}
		// Broadcasts to network 0 use the LAN, not the internal link.
		bc := listen(t, cli, 0x4444)
		svc.WriteTo([]byte("b"), ipx.Addr{Node: ipx.NodeBroadcast, Socket: 0x4444})
		if n, _, err := bc.ReadFrom(buf); err != nil || string(buf[:n]) != "b" {
			t.Fatalf("broadcast %q %v", buf[:n], err)
		}
		if _, err := srv.AddLink(ipx.NewInternalLink(node(3)), 0); err == nil {
			t.Fatal("internal link without a network number accepted")
		}
	})
}

func TestUnknownNetworkLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 0x42, ipx.StackConfig{}) // knows the number
		b := host(t, seg, node(2), 0, ipx.StackConfig{})    // was not told
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x4000)
		buf := make([]byte, 8)
		for _, dst := range []ipx.Addr{
			{Net: 0x42, Node: node(2), Socket: 0x4000},
			{Net: 0x42, Node: ipx.NodeBroadcast, Socket: 0x4000},
		} {
			if _, err := ca.WriteTo([]byte("x"), dst); err != nil {
				t.Fatal(err)
			}
			if _, _, err := cb.ReadFrom(buf); err != nil {
				t.Fatalf("to %v: %v", dst, err)
			}
		}
		// A packet naming another node, even if the wire hands it to
		// us, is still not ours.
		raw, _ := seg.Attach(node(9))
		defer raw.Close()
		inject(t, raw, node(2), ipx.Header{
			Dst: ipx.Addr{Net: 0x42, Node: node(3), Socket: 0x4000},
			Src: ipx.Addr{Net: 0x42, Node: node(9), Socket: 0x4000}})
		synctest.Wait()
		if got := b.Stats(); got.Delivered != 2 || got.DropNotForUs != 1 {
			t.Fatalf("stats %+v, want 2 delivered and 1 not for us", got)
		}
	})
}

func TestListenFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 1, ipx.StackConfig{})
		b := host(t, seg, node(2), 1, ipx.StackConfig{})
		type got struct {
			data string
			src  ipx.Addr
			link ipx.LinkID
		}
		var received []got
		hc, err := b.ListenFunc(0x4500, func(p []byte, info *ipx.RecvInfo) {
			received = append(received, got{string(p), info.Header.Src, info.Link})
		})
		if err != nil {
			t.Fatal(err)
		}
		ca := listen(t, a, 0x4000)
		ca.WriteTo([]byte("one"), hc.Addr())
		ca.WriteTo([]byte("two"), hc.Addr())
		synctest.Wait()
		want := []got{{"one", ca.Addr(), 1}, {"two", ca.Addr(), 1}}
		if len(received) != 2 || received[0] != want[0] || received[1] != want[1] {
			t.Fatalf("handler got %+v, want %+v", received, want)
		}
		if _, _, err := hc.ReadMsg(make([]byte, 4)); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("ReadMsg on a handler socket: %v", err)
		}
		// It sends like any Conn, and stops receiving once closed.
		if _, err := hc.WriteTo([]byte("back"), ca.Addr()); err != nil {
			t.Fatal(err)
		}
		if n, _, err := ca.ReadFrom(make([]byte, 8)); err != nil || n != 4 {
			t.Fatalf("reply: %d %v", n, err)
		}
		hc.Close()
		ca.WriteTo([]byte("late"), hc.Addr())
		synctest.Wait()
		if len(received) != 2 {
			t.Fatalf("handler called after Close: %+v", received)
		}
		if _, err := b.ListenFunc(0x4501, nil); err == nil {
			t.Fatal("nil handler accepted")
		}
		select {
		case <-hc.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
		if err := hc.Err(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Err after Close: %v", err)
		}
	})
}

func TestListenFuncAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector (sync.Pool drops items)")
	}
	seg := memlan.NewSegment(memlan.Config{})
	a := host(t, seg, node(1), 1, ipx.StackConfig{})
	b := host(t, seg, node(2), 1, ipx.StackConfig{})
	got := make(chan int, 1)
	hc, err := b.ListenFunc(0x4500, func(p []byte, info *ipx.RecvInfo) { got <- len(p) })
	if err != nil {
		t.Fatal(err)
	}
	ca := listen(t, a, 0x4000)
	payload := make([]byte, 100)
	roundTrip := func() {
		if _, err := ca.WriteMsg(payload, hc.Addr(), ipx.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		<-got
	}
	for range 100 {
		roundTrip()
	}
	if n := testing.AllocsPerRun(1000, roundTrip); n != 0 {
		t.Fatalf("send + handler delivery allocates %v per packet", n)
	}
}

// Buffered counts the packets waiting to be read: a batch reader reads
// on while it is above zero. A handler's socket has none.
func TestBuffered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a := host(t, seg, node(1), 0x10, ipx.StackConfig{})
		b := host(t, seg, node(2), 0x10, ipx.StackConfig{})
		ca, cb := listen(t, a, 0x4000), listen(t, b, 0x5000)
		if n := cb.Buffered(); n != 0 {
			t.Fatalf("Buffered before any packet = %d", n)
		}
		dst := ipx.Addr{Net: 0x10, Node: node(2), Socket: 0x5000}
		for _, m := range []string{"one", "two", "three"} {
			if _, err := ca.WriteMsg([]byte(m), dst, ipx.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		buf := make([]byte, 16)
		for want := 3; want > 0; want-- {
			if n := cb.Buffered(); n != want {
				t.Fatalf("Buffered = %d, want %d", n, want)
			}
			if _, _, err := cb.ReadMsg(buf); err != nil {
				t.Fatal(err)
			}
		}
		if n := cb.Buffered(); n != 0 {
			t.Fatalf("Buffered after reading all = %d", n)
		}
		h, err := b.ListenFunc(0x5001, func([]byte, *ipx.RecvInfo) {})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if _, err := ca.WriteMsg([]byte("x"), ipx.Addr{Net: 0x10, Node: node(2), Socket: 0x5001}, ipx.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := h.Buffered(); n != 0 {
			t.Fatalf("a handler's socket: Buffered = %d", n)
		}
	})
}
