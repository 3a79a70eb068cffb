package udp_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// TestStacks runs two ipx.Stacks over a tunnel Server on loopback and
// exchanges datagrams between their sockets: unicast both ways and a
// broadcast.
func TestStacks(t *testing.T) {
	s := startServer(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	newStack := func() (*ipx.Stack, *ipx.Conn) {
		l, err := udp.Dial(ctx, s.Addr().String(), udp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.AddLink(l, 0); err != nil {
			t.Fatal(err)
		}
		c, err := st.Listen(0x5000)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return st, c
	}
	_, ca := newStack()
	_, cb := newStack()

	recv := func(c *ipx.Conn, want string, from ipx.Addr) {
		t.Helper()
		buf := make([]byte, 1500)
		n, info, err := c.ReadMsg(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != want || info.Header.Src != from {
			t.Fatalf("got %q from %v, want %q from %v", got, info.Header.Src, want, from)
		}
	}
	if _, err := ca.WriteTo([]byte("hello b"), cb.Addr()); err != nil {
		t.Fatal(err)
	}
	recv(cb, "hello b", ca.Addr())
	if _, err := cb.WriteTo([]byte("hello a"), ca.Addr()); err != nil {
		t.Fatal(err)
	}
	recv(ca, "hello a", cb.Addr())
	bc := ipx.Addr{Node: ipx.NodeBroadcast, Socket: 0x5000}
	if _, err := ca.WriteMsg([]byte("everyone"), bc, ipx.WriteOptions{Type: ipx.TypePEP}); err != nil {
		t.Fatal(err)
	}
	recv(cb, "everyone", ca.Addr())
	var _ net.PacketConn = ca
}

// startServer runs a tunnel Server on a loopback port until the test ends
// (or the test closes it), and checks that Serve ends cleanly.
func startServer(t *testing.T) *udp.Server {
	t.Helper()
	s, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
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
