package udp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// reader drains l until it closes, answering pings on the way, and hands
// packets to out (if not nil).
func reader(l *Link, out chan<- []byte) {
	buf := make([]byte, MTU)
	for {
		n, _, err := l.ReadPacket(buf)
		if err != nil {
			return
		}
		if out != nil {
			out <- append([]byte(nil), buf[:n]...)
		}
	}
}

func TestServerExpiryAndKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{ClientTimeout: time.Minute, Keepalive: 10 * time.Second, KeepaliveMisses: -1})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error)
		go func() { served <- s.Serve() }()

		// A live Link, read by a goroutine, answers the keepalive pings.
		live, err := NewLink(t.Context(), mn.listen("10.0.0.2:4000"), netipOf(s), Config{})
		if err != nil {
			t.Fatal(err)
		}
		go reader(live, nil)
		// A client that registers and then says nothing.
		mute := mn.listen("10.0.0.3:4000")
		reg := registration()
		mute.WriteToUDPAddrPort(reg[:], netipOf(s))
		synctest.Wait()
		if err := s.Serve(); !errors.Is(err, ErrServerStarted) {
			t.Errorf("second Serve = %v, want ErrServerStarted", err)
		}
		if st := s.Stats(); st.Clients != 2 || st.Registrations != 2 {
			t.Fatalf("stats after registration %+v", st)
		}

		time.Sleep(59 * time.Second)
		synctest.Wait()
		if st := s.Stats(); st.Clients != 2 {
			t.Fatalf("a client expired early: %+v", st)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		cs := s.Clients()
		if len(cs) != 1 || cs[0].Node != live.Node() {
			t.Fatalf("clients after a minute: %+v, want only %v", cs, live.Node())
		}
		st := s.Stats()
		if st.Expired != 1 || st.PingsSent < 10 || live.Stats().PingsAnswered < 5 {
			t.Fatalf("server %+v, link %+v", st, live.Stats())
		}

		// A long while later the live one is still there.
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if cs := s.Clients(); len(cs) != 1 {
			t.Fatalf("clients after 10 min: %+v", cs)
		}

		live.Close()
		mute.Close()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatalf("Serve = %v, want nil after Close", err)
		}
		if err := s.Serve(); err != nil {
			t.Fatalf("Serve after Close = %v", err)
		}
	})
}

func TestServerOversize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{MaxPacketLen: 100})
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		defer s.Close()
		c := mn.listen("10.0.0.2:4000")
		defer c.Close()
		reg := registration()
		c.WriteToUDPAddrPort(append(reg[:], make([]byte, 71)...), netipOf(s))
		c.WriteToUDPAddrPort(append(reg[:], make([]byte, 70)...), netipOf(s))
		synctest.Wait()
		if st := s.Stats(); st.DropOversize != 1 || st.Registrations != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func netipOf(s *Server) netip.AddrPort { return addrPortOf(s.Addr()) }

// serve runs a Server with cfg on 127.0.0.1 until the test ends, when
// Serve must have returned without error.
func serve(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	s, err := ListenServer("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// dial returns a Link registered with s, closed when the test ends.
func dial(t *testing.T, s *Server) *Link {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l, err := Dial(ctx, s.Addr().String(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLoopback runs a Server and two Links over real UDP on 127.0.0.1.
func TestLoopback(t *testing.T) {
	s := serve(t, ServerConfig{})
	a, b := dial(t, s), dial(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if a.Node() == b.Node() || a.Node()[0] != 127 {
		t.Fatalf("nodes %v and %v", a.Node(), b.Node())
	}
	if got := AddrPortFromNode(a.Node()); got.Port() != addrPortOf(a.LocalAddr()).Port() {
		t.Errorf("node of A says %v, socket is %v", got, a.LocalAddr())
	}

	inB := make(chan []byte, 10)
	inA := make(chan []byte, 10)
	go reader(a, inA)
	go reader(b, inB)

	uni := pkt(t, a.Node(), b.Node(), 0x4000, "to b")
	bc := pkt(t, b.Node(), ipx.NodeBroadcast, 0x4000, "to all")
	if err := a.WritePacket(uni, b.Node()); err != nil {
		t.Fatal(err)
	}
	if err := b.WritePacket(bc, ipx.NodeBroadcast); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		ch   chan []byte
		want []byte
	}{{inB, uni}, {inA, bc}} {
		select {
		case got := <-w.ch:
			if !bytes.Equal(got, w.want) {
				t.Errorf("got % x, want % x", got, w.want)
			}
		case <-ctx.Done():
			t.Fatal("timeout waiting for relayed packet")
		}
	}
	st := s.Stats()
	if st.Clients != 2 || st.Unicasts != 1 || st.Broadcasts != 1 {
		t.Errorf("server stats %+v", st)
	}
}

// TestLoopbackAllocs checks the packet path (Link write, Server relay,
// Link read) allocates nothing.
func TestLoopbackAllocs(t *testing.T) {
	s := serve(t, ServerConfig{})
	a, b := dial(t, s), dial(t, s)
	p := pkt(t, a.Node(), b.Node(), 0x4000, "allocation-free")
	buf := make([]byte, MTU)
	b.pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	allocs := testing.AllocsPerRun(200, func() {
		if err := a.WritePacket(p, b.Node()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.ReadPacket(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}

func TestDialAddressForms(t *testing.T) {
	s := serve(t, ServerConfig{})
	port := addrPortOf(s.Addr()).Port()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, a := range []string{fmt.Sprintf("localhost:%d", port), fmt.Sprintf(":%d", port)} {
		l, err := Dial(ctx, a, Config{})
		if err != nil {
			t.Errorf("Dial(%q): %v", a, err)
			continue
		}
		l.Close()
	}
	short, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	// Nothing listens on the port of a closed socket.
	c, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	dead := c.LocalAddr().String()
	c.Close()
	if _, err := Dial(short, dead, Config{}); !errors.Is(err, ErrNoServer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial to nothing: %v", err)
	}
}

// TestLinkRefresh restarts the server: a Link with Refresh registers
// again on its next write after the interval and is relayed to again.
func TestLinkRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		start := func() (*Server, chan error) {
			s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve() }()
			return s, served
		}
		s, served := start()
		srv := netipOf(s)
		a, err := NewLink(t.Context(), mn.listen("10.0.0.2:4000"), srv, Config{Refresh: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := NewLink(t.Context(), mn.listen("10.0.0.3:4000"), srv, Config{Refresh: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		inB := make(chan []byte, 10)
		go reader(a, nil)
		go reader(b, inB)

		// The server restarts and has forgotten both.
		s.Close()
		<-served
		s, served = start()
		defer func() { s.Close(); <-served }()

		p := pkt(t, a.Node(), b.Node(), 0x4000, "x")
		a.WritePacket(p, b.Node()) // within the minute: dropped, A unknown
		synctest.Wait()
		if st := s.Stats(); st.DropUnregistered != 1 || len(inB) != 0 {
			t.Fatalf("before refresh: %+v", st)
		}
		time.Sleep(time.Minute)
		a.WritePacket(p, b.Node()) // A registers again; B is still unknown
		b.WritePacket(pkt(t, b.Node(), a.Node(), 0x4000, "y"), a.Node())
		a.WritePacket(p, b.Node())
		synctest.Wait()
		if got := len(inB); got != 1 {
			t.Fatalf("B received %d packets after refresh, want 1; server %+v", got, s.Stats())
		}
		if a.Stats().Refreshes != 1 || b.Stats().Refreshes != 1 || s.Stats().Clients != 2 {
			t.Fatalf("refreshes %d, %d; server %+v", a.Stats().Refreshes, b.Stats().Refreshes, s.Stats())
		}
	})
}

// TestServerNetwork: the registration reply carries ServerConfig.Network
// as the client's network, and a Link takes it.
func TestServerNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{Network: 0xCAFE0001})
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		defer s.Close()
		l, err := NewLink(t.Context(), mn.listen("10.0.0.2:4000"), netipOf(s), Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l.Network() != 0xCAFE0001 {
			t.Fatalf("Link network %v, want cafe0001", l.Network())
		}
	})
}
