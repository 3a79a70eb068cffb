package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// flaky is a batchConn whose writes go to a recorder but take at most
// two datagrams per call and fail every datagram to bad.
type flaky struct {
	rec   recorder
	bad   netip.AddrPort
	calls int
}

func (f *flaky) readBatch([]msg) (int, error) { panic("not used") }

func (f *flaky) writeBatch(ms []msg) (int, error) {
	f.calls++
	for i := range ms[:min(len(ms), 2)] {
		if ms[i].addr == f.bad {
			if i == 0 {
				return 0, errors.New("refused")
			}
			return i, nil // as sendmmsg: the error waits for the retry
		}
		f.rec.WriteToUDPAddrPort(ms[i].buf[:ms[i].n], ms[i].addr)
	}
	return min(len(ms), 2), nil
}

// TestRelayFlush sends a broadcast through an outbox whose writes are
// partial and fail for one client: the others still get it, in order,
// and the counters say which went out.
func TestRelayFlush(t *testing.T) {
	f := &flaky{bad: addrB}
	r := newRelay(ServerConfig{}.withDefaults(), mustNode(t, srvAddr), f, t0)
	others := []netip.AddrPort{addrA, addrB, addrC}
	for i := range 4 {
		others = append(others, netip.AddrPortFrom(addrC.Addr(), uint16(5000+i)))
	}
	for _, a := range others {
		reg := registration()
		r.handle(t0, a, reg[:])
	}
	f.rec.take()
	r.st = ServerStats{}
	src := netip.MustParseAddrPort("10.0.0.9:9")
	reg := registration()
	r.receive(t0, src, reg[:])
	bc := pkt(t, mustNode(t, src), ipx.NodeBroadcast, 0x4000, "to all")
	r.receive(t0, src, bc)
	r.flush(t0)

	got := f.rec.take()
	if len(got) != len(others) { // the reply and six copies
		t.Fatalf("sent %d datagrams, want %d", len(got), len(others))
	}
	if got[0].from != src || !bytes.Equal(got[0].b[:], func() []byte { p := registrationReply(mustNode(t, src), 0, r.self); return p[:] }()) {
		t.Errorf("first datagram % x to %v, want the registration reply to %v", got[0].b, got[0].from, src)
	}
	for _, d := range got[1:] {
		if d.from == addrB || !bytes.Equal(d.b, bc) {
			t.Errorf("sent % x to %v", d.b, d.from)
		}
	}
	st := r.st
	if st.Sent != uint64(len(others)) || st.WriteErrors != 1 || st.Broadcasts != 1 {
		t.Errorf("stats %+v, want Sent %d, WriteErrors 1", st, len(others))
	}
	if c := r.table[addrB]; c.tx != 0 { // its registration reply failed too
		t.Errorf("failed client tx %d, want 0", c.tx)
	}
	if c := r.table[addrA]; c.tx != 2 {
		t.Errorf("client tx %d, want 2", c.tx)
	}
	if len(r.outq) != 0 || f.calls < 4 {
		t.Errorf("outbox left %d, %d write calls", len(r.outq), f.calls)
	}

	// More than an outbox of sends flushes on the way: a broadcast to
	// more clients than outboxLen.
	f.bad = netip.AddrPort{}
	for i := range outboxLen + 1 {
		reg := registration()
		r.handle(t0, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 7), reg[:])
	}
	f.rec.take()
	r.handle(t0, src, bc)
	if got, want := len(f.rec.take()), len(r.table)-1; got != want {
		t.Errorf("large broadcast reached %d clients, want %d", got, want)
	}
}

// loopbackUDP returns a UDP socket on 127.0.0.1, closed at the end of t.
func loopbackUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

// TestServerBatch queues two registrations and three packets at the
// server before it serves: whatever batches it reads them in, each
// registration is answered before the packets are relayed, in order.
func TestServerBatch(t *testing.T) {
	s, err := ListenServer("127.0.0.1:0", ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := loopbackUDP(t), loopbackUDP(t)
	srv := netipOf(s)
	reg := registration()
	a.WriteToUDPAddrPort(reg[:], srv)
	b.WriteToUDPAddrPort(reg[:], srv)
	na, nb := mustNode(t, apOf(a)), mustNode(t, apOf(b))
	for i := range 3 {
		a.WriteToUDPAddrPort(pkt(t, na, nb, 0x4000, fmt.Sprint("packet ", i)), srv)
	}
	go s.Serve()

	buf := make([]byte, MTU)
	want := registrationReply(nb, 0, mustNode(t, srv))
	if n, _, err := b.ReadFromUDPAddrPort(buf); err != nil || !bytes.Equal(buf[:n], want[:]) {
		t.Fatalf("B got % x, %v; want its registration reply", buf[:n], err)
	}
	for i := range 3 {
		n, from, err := b.ReadFromUDPAddrPort(buf)
		if err != nil || from != srv || !bytes.Equal(buf[:n], pkt(t, na, nb, 0x4000, fmt.Sprint("packet ", i))) {
			t.Fatalf("B got % x from %v, %v; want packet %d", buf[:n], from, err, i)
		}
	}
	if st := s.Stats(); st.Registrations != 2 || st.Unicasts != 3 || st.Sent != 5 || st.Received != 5 {
		t.Errorf("stats %+v", st)
	}
}

func apOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// directLink returns a Link registered with srv, a bare socket standing
// in for the server.
func directLink(t *testing.T, srv *net.UDPConn) *Link {
	t.Helper()
	c := loopbackUDP(t)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, MTU)
		_, from, err := srv.ReadFromUDPAddrPort(buf)
		if err == nil {
			r := registrationReply(mustNode(t, from), 0, mustNode(t, apOf(srv)))
			_, err = srv.WriteToUDPAddrPort(r[:], from)
		}
		done <- err
	}()
	l, err := NewLink(t.Context(), c, apOf(srv), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLinkBatch writes datagrams at a Link faster than it reads: it
// returns every packet in order whether it reads them one or several at
// a time, skips foreign and malformed ones among them, and returns
// nothing it has buffered once closed.
func TestLinkBatch(t *testing.T) {
	srv, stranger := loopbackUDP(t), loopbackUDP(t)
	l := directLink(t, srv)
	peer := ipx.Node{127, 0, 0, 1, 0, 9}
	la := apOf(l.pc.(*net.UDPConn))
	const count = 20
	for i := range count {
		p := pkt(t, peer, l.Node(), 0x4000, fmt.Sprint("packet ", i))
		switch i % 5 {
		case 1:
			stranger.WriteToUDPAddrPort(p, la)
		case 2:
			srv.WriteToUDPAddrPort(p[:20], la)
		}
		srv.WriteToUDPAddrPort(p, la)
	}
	buf := make([]byte, MTU)
	for i := range count {
		n, from, err := l.ReadPacket(buf)
		want := pkt(t, peer, l.Node(), 0x4000, fmt.Sprint("packet ", i))
		if err != nil || from != peer || !bytes.Equal(buf[:n], want) {
			t.Fatalf("packet %d: % x from %v, %v", i, buf[:n], from, err)
		}
	}
	st := l.Stats()
	if st.Received != count || st.DropForeign != count/5 || st.DropMalformed != count/5 {
		t.Errorf("stats %+v", st)
	}

	// Two more packets arrive; after reading one (which may buffer the
	// other), Close: the next read reports the close.
	for range 2 {
		srv.WriteToUDPAddrPort(pkt(t, peer, l.Node(), 0x4000, "late"), la)
	}
	if _, _, err := l.ReadPacket(buf); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, _, err := l.ReadPacket(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadPacket after Close: %v, want net.ErrClosed", err)
	}
}

// TestLinkBatchDeadline checks that a read deadline still ends a batched
// read, as a timeout.
func TestLinkBatchDeadline(t *testing.T) {
	srv := loopbackUDP(t)
	l := directLink(t, srv)
	defer l.Close()
	l.pc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, _, err := l.ReadPacket(make([]byte, MTU))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("ReadPacket past the deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("error %v, want a read *net.OpError", err)
	}
}
