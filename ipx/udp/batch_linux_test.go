package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNewBatchConn checks which sockets get recvmmsg and sendmmsg.
func TestNewBatchConn(t *testing.T) {
	v4 := loopbackUDP(t)
	if _, ok := newBatchConn(v4, v4); !ok {
		t.Error("IPv4 *net.UDPConn not batched")
	}
	if v6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		defer v6.Close()
		if _, ok := newBatchConn(v6, v6); ok {
			t.Error("IPv6 *net.UDPConn batched; its zones need the standard library")
		}
	}
	mc := newMemNet().listen("10.0.0.1:1")
	if bc, ok := newBatchConn(mc, mc); ok || bc == nil {
		t.Errorf("memConn: batched %v, conn %v", ok, bc)
	}
}

// TestMmsgConn reads datagrams from two senders in batches and writes a
// batch to several destinations, one of which the kernel refuses.
func TestMmsgConn(t *testing.T) {
	rx, a, b := loopbackUDP(t), loopbackUDP(t), loopbackUDP(t)
	mc, err := newMmsgConn(rx)
	if err != nil {
		t.Fatal(err)
	}
	to := apOf(rx)
	type sent struct {
		from netip.AddrPort
		b    []byte
	}
	var want []sent
	for i := range 6 {
		c := a
		if i%3 == 2 {
			c = b
		}
		p := bytes.Repeat([]byte{byte(i)}, 10+i*10)
		c.WriteToUDPAddrPort(p, to)
		want = append(want, sent{apOf(c), p})
	}
	ms := newMsgs(4, 40) // the last two datagrams are longer: cut
	var got []sent
	for len(got) < len(want) {
		n, err := mc.readBatch(ms)
		if err != nil || n < 1 || n > len(ms) {
			t.Fatalf("readBatch = %d, %v", n, err)
		}
		for _, m := range ms[:n] {
			got = append(got, sent{m.addr, append([]byte(nil), m.buf[:m.n]...)})
		}
	}
	for i := range want {
		w := want[i].b[:min(len(want[i].b), 40)]
		if got[i].from != want[i].from || !bytes.Equal(got[i].b, w) {
			t.Errorf("datagram %d: % x from %v, want % x from %v", i, got[i].b, got[i].from, w, want[i].from)
		}
	}

	// Writes: to a, to an address the socket cannot reach (port 0), to b.
	out := []msg{
		{buf: []byte("one"), n: 3, addr: apOf(a)},
		{buf: []byte("two"), n: 3, addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)},
		{buf: []byte("three"), n: 5, addr: apOf(b)},
		{buf: []byte("v6"), n: 2, addr: netip.MustParseAddrPort("[::1]:9")},
	}
	var results []string
	for done := 0; done < len(out); {
		n, err := mc.writeBatch(out[done:])
		results = append(results, func() string {
			if err != nil {
				return "error"
			}
			return "ok"
		}())
		done += n
		if err != nil || n == 0 {
			done++
		}
	}
	buf := make([]byte, 10)
	if n, from, err := a.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "one" || from != to {
		t.Errorf("a got %q from %v, %v", buf[:n], from, err)
	}
	if n, from, err := b.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "three" || from != to {
		t.Errorf("b got %q from %v, %v", buf[:n], from, err)
	}
	if want := []string{"ok", "error", "ok", "error"}; !slices.Equal(results, want) {
		t.Errorf("write calls %v, want %v", results, want)
	}

	// A deadline ends a blocked read, and reads and writes after Close
	// fail, with the poller's errors.
	rx.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := mc.readBatch(ms); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("readBatch past the deadline: %v", err)
	}
	rx.Close()
	if _, err := mc.readBatch(ms); !errors.Is(err, net.ErrClosed) {
		t.Errorf("readBatch after Close: %v", err)
	}
	if _, err := mc.writeBatch(out[:1]); !errors.Is(err, net.ErrClosed) {
		t.Errorf("writeBatch after Close: %v", err)
	}
}

// TestMmsgGSO writes runs of datagrams that go as segmentation offload
// sends, and a run the kernel refuses, which falls back to one datagram
// a message: every receiver gets the same datagrams as without offload.
func TestMmsgGSO(t *testing.T) {
	tx, a, b := loopbackUDP(t), loopbackUDP(t), loopbackUDP(t)
	mc, err := newMmsgConn(tx)
	if err != nil {
		t.Fatal(err)
	}
	gso := mc.gso
	if !gso {
		t.Log("kernel without UDP_SEGMENT: testing plain sendmmsg")
	}
	bad := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0) // port 0: EINVAL
	var ms []msg
	add := func(to netip.AddrPort, size int) {
		p := bytes.Repeat([]byte{byte(len(ms))}, size)
		ms = append(ms, msg{buf: p, n: size, addr: to})
	}
	for range 5 {
		add(apOf(a), 50)
	}
	add(apOf(a), 20) // shorter: ends the run
	add(apOf(a), 50)
	add(apOf(a), 50)
	for range 3 {
		add(apOf(b), 40)
	}
	add(bad, 30)
	add(bad, 30)
	add(apOf(b), 40)

	if mc.gso {
		mc.prepareWrite(ms, true)
		if got, want := mc.groups[:mc.w.n], []int{6, 2, 3, 2, 1}; !slices.Equal(got, want) {
			t.Errorf("runs %v, want %v", got, want)
		}
	}
	var results []string
	for done := 0; done < len(ms); {
		n, err := mc.writeBatch(ms[done:])
		results = append(results, fmt.Sprintf("%d %v", n, err != nil))
		done += n
		if err != nil || n == 0 {
			done++
		}
	}
	// Sent up to the bad run; the run refused, then its first datagram
	// alone; the second bad datagram; the last datagram.
	want := []string{"11 false", "0 true", "0 true", "1 false"}
	if !slices.Equal(results, want) {
		t.Errorf("write calls %q, want %q", results, want)
	}
	if mc.gso != gso {
		t.Error("a destination's error turned offload off")
	}
	buf := make([]byte, 100)
	for _, m := range ms {
		var c *net.UDPConn
		switch m.addr {
		case apOf(a):
			c = a
		case apOf(b):
			c = b
		default:
			continue
		}
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], m.buf) {
			t.Fatalf("got % x, %v; want % x", buf[:n], err, m.buf)
		}
	}
}

// TestSocketBuffers checks that Dial and ListenServer ask for
// SocketBuffer-sized socket buffers, and that a negative size keeps the
// system's.
func TestSocketBuffers(t *testing.T) {
	rcvbuf := func(pc net.PacketConn) int {
		rc, err := pc.(*net.UDPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		rc.Control(func(fd uintptr) { n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
		return n
	}
	def := loopbackUDP(t)
	sys := rcvbuf(def)
	srv, err := ListenServer("127.0.0.1:0", ServerConfig{SocketBuffer: 4 * sys})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	got := rcvbuf(srv.pc)
	if got <= sys {
		t.Skipf("the kernel caps socket buffers at the default (%d bytes): nothing to check", sys)
	}
	l, err := Dial(t.Context(), srv.Addr().String(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n := rcvbuf(l.pc); n <= sys {
		t.Errorf("Dial's socket buffer %d, want above the system's %d", n, sys)
	}
	l2, err := Dial(t.Context(), srv.Addr().String(), Config{SocketBuffer: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if n := rcvbuf(l2.pc); n != sys {
		t.Errorf("SocketBuffer -1: buffer %d, want the system's %d", n, sys)
	}
}
