package udp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// fakeServer answers registrations on a memConn the way DOSBox does,
// ignoring the first ignore of them; it returns the time of each.
func fakeServer(t *testing.T, c *memConn, ignore int) chan time.Time {
	seen := make(chan time.Time, 100)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < ipx.HeaderLen || !isRegistration(buf[:n]) {
				continue
			}
			seen <- time.Now()
			if ignore > 0 {
				ignore--
				continue
			}
			node, _ := NodeFromAddrPort(from)
			self, _ := NodeFromAddrPort(c.addr)
			reply := registrationReply(node, 0, self)
			c.WriteToUDPAddrPort(reply[:], from)
		}
	}()
	return seen
}

func TestLinkRegisterBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		srv := mn.listen("10.0.0.1:213")
		defer srv.Close()
		seen := fakeServer(t, srv, 3)
		pc := mn.listen("10.0.0.2:4000")
		start := time.Now()
		l, err := NewLink(t.Context(), pc, srv.addr, Config{RetryInitial: 100 * time.Millisecond, RetryMax: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if want := (ipx.Node{10, 0, 0, 2, 0x0f, 0xa0}); l.Node() != want {
			t.Errorf("Node = %v, want %v", l.Node(), want)
		}
		var at []time.Duration
		for range 4 {
			at = append(at, (<-seen).Sub(start))
		}
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("registrations at %v, want %v", at, want)
			}
		}
	})
}

func TestLinkNoServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		pc := mn.listen("10.0.0.2:4000")
		defer pc.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := NewLink(ctx, pc, netip.MustParseAddrPort("10.0.0.1:213"), Config{})
		if !errors.Is(err, ErrNoServer) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrNoServer and DeadlineExceeded", err)
		}
		if el := time.Since(start); el != 5*time.Second {
			t.Errorf("gave up after %v, want 5s", el)
		}
		// The socket is left to the caller and usable.
		if err := pc.SetReadDeadline(time.Now()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLinkCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		pc := mn.listen("10.0.0.2:4000")
		defer pc.Close()
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1500*time.Millisecond, cancel)
		_, err := NewLink(ctx, pc, netip.MustParseAddrPort("10.0.0.1:213"), Config{RetryInitial: time.Hour, RetryMax: time.Hour})
		if !errors.Is(err, ErrNoServer) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// linkPair registers a Link at 10.0.0.2:4000 with a fake server at
// 10.0.0.1:213 on mn and returns both.
func linkPair(t *testing.T, mn *memNet) (*Link, *memConn) {
	t.Helper()
	srv := mn.listen("10.0.0.1:213")
	reg := mn.listen("10.0.0.2:4000")
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		_, from, _ := srv.ReadFromUDPAddrPort(buf)
		// Stray datagrams before the reply must not confuse registration.
		other := mn.listen("10.0.0.9:9")
		other.WriteToUDPAddrPort([]byte("stray"), from)
		other.Close()
		srv.WriteToUDPAddrPort(make([]byte, 10), from)
		p := ping(ipx.Node{10, 0, 0, 5, 0, 5})
		srv.WriteToUDPAddrPort(p[:], from)
		r := registrationReply(mustNode(t, from), 0, mustNode(t, srv.addr))
		srv.WriteToUDPAddrPort(r[:], from)
	}()
	l, err := NewLink(t.Context(), reg, srv.addr, Config{})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	t.Cleanup(func() { l.Close(); srv.Close() })
	return l, srv
}

func TestLinkReadWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		l, srv := linkPair(t, mn)
		self := l.Node()
		peer := ipx.Node{10, 0, 0, 7, 0, 7}
		stranger := mn.listen("10.0.0.66:66")
		defer stranger.Close()

		data := pkt(t, peer, self, 0x4000, "payload")
		echoReq := pkt(t, peer, ipx.NodeBroadcast, controlSocket, "echo with data")
		p := ping(peer)
		lateReply := registrationReply(self, 0, mustNode(t, srv.addr))
		la := l.conn.(*memConn).addr
		stranger.WriteToUDPAddrPort(data, la) // foreign sender
		srv.WriteToUDPAddrPort(data[:20], la) // malformed
		srv.WriteToUDPAddrPort(lateReply[:], la)
		srv.WriteToUDPAddrPort(p[:], la)
		srv.WriteToUDPAddrPort(append(data, 0, 0), la) // padded
		srv.WriteToUDPAddrPort(echoReq, la)

		buf := make([]byte, MTU)
		n, from, err := l.ReadPacket(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], data) || from != peer {
			t.Fatalf("ReadPacket = % x from %v, want % x from %v", buf[:n], from, data, peer)
		}
		n, _, err = l.ReadPacket(buf)
		if err != nil || !bytes.Equal(buf[:n], echoReq) {
			t.Fatalf("echo request with data not delivered: % x, %v", buf[:n], err)
		}
		// The ping was answered to the server, addressed to the pinger.
		ans := make([]byte, 64)
		n, _, err = srv.ReadFromUDPAddrPort(ans)
		want := pingAnswer(peer, self)
		if err != nil || !bytes.Equal(ans[:n], want[:]) {
			t.Fatalf("ping answer = % x, %v; want % x", ans[:n], err, want)
		}
		// Short buffers truncate.
		srv.WriteToUDPAddrPort(data, la)
		n, _, err = l.ReadPacket(buf[:10])
		if err != nil || n != 10 {
			t.Fatalf("short buffer: n=%d err=%v", n, err)
		}

		st := l.Stats()
		// Control counts the late reply here and the ping sent during registration.
		wantSt := LinkStats{Received: 3, PingsAnswered: 1, Control: 2, DropForeign: 2, DropMalformed: 2}
		if st != wantSt {
			t.Errorf("Stats = %+v, want %+v", st, wantSt)
		}

		// Writes go to the server whatever dst says.
		out := pkt(t, self, peer, 0x4000, "out")
		if err := l.WritePacket(out, ipx.NodeBroadcast); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 100)
		n, from2, _ := srv.ReadFromUDPAddrPort(got)
		if !bytes.Equal(got[:n], out) || from2 != la {
			t.Fatalf("server got % x from %v, want % x from %v", got[:n], from2, out, la)
		}
	})
}

func TestLinkWriteErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := linkPair(t, newMemNet())
		tests := []struct {
			name string
			p    []byte
			want error
		}{
			{"short", make([]byte, 29), ipx.ErrShortBuffer},
			{"above MTU", make([]byte, MTU+1), ipx.ErrTooLarge},
		}
		for _, tt := range tests { // no t.Run inside a bubble
			err := l.WritePacket(tt.p, ipx.NodeBroadcast)
			var oe *net.OpError
			if !errors.Is(err, tt.want) || !errors.As(err, &oe) {
				t.Errorf("%s: err = %v, want *net.OpError wrapping %v", tt.name, err, tt.want)
			}
		}
		if err := l.WritePacket(make([]byte, MTU), ipx.NodeBroadcast); err != nil {
			t.Errorf("MTU-sized write: %v", err)
		}
	})
}

func TestLinkClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := linkPair(t, newMemNet())
		errc := make(chan error)
		go func() {
			_, _, err := l.ReadPacket(make([]byte, MTU))
			errc <- err
		}()
		synctest.Wait()
		l.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadPacket after Close: %v", err)
		}
		if err := l.WritePacket(make([]byte, 30), ipx.NodeBroadcast); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WritePacket after Close: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{RetryInitial: -1}, {RetryInitial: time.Second, RetryMax: time.Millisecond}} {
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: Validate = %v, want ErrBadConfig", c, err)
		}
	}
}
