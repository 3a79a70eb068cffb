package linkflag

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/rip"
)

// serveTunnel starts a tunnel server on loopback; with network not 0 a
// RIP router on its Port numbers the tunnel, as ipxroute -udp-listen.
func serveTunnel(t *testing.T, network ipx.Network) string {
	t.Helper()
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	if network == 0 {
		return srv.Addr().String()
	}
	port, err := srv.AttachPort()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStack(port, network, ipx.StackConfig{Forward: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r, err := rip.NewRouter(s, rip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return srv.Addr().String()
}

// TestDialTunnelLearnsNetwork registers with a routing tunnel server, which
// assigns no network in its reply, and learns it from RIP; a plain
// server leaves it 0. The learning reads ahead: the Stack then works.
func TestDialTunnelLearnsNetwork(t *testing.T) {
	for _, want := range []ipx.Network{0xa, 0} {
		t.Run(want.String(), func(t *testing.T) {
			addr := serveTunnel(t, want)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			l, got, err := DialTunnel(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("network %v, want %v", got, want)
			}
			if d := time.Since(start); want != 0 && d >= LearnWait {
				t.Errorf("learning took %v, not the first answer", d)
			}
			s, err := NewStack(l, got, ipx.StackConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestOpenWaitRoute opens a tunnel link to a routing tunnel server: its
// Stack is on the router's network and learns the routes it advertises.
func TestOpenWaitRoute(t *testing.T) {
	addr := serveTunnel(t, 0xa)
	l := Link{Kind: UDP, Server: addr}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := l.Open(ctx, ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ls := s.Links(); len(ls) != 1 || ls[0].Network != 0xa {
		t.Fatalf("links %+v, want one on network a", ls)
	}
	for _, n := range []ipx.Network{0, 0xa} {
		if err := l.WaitRoute(ctx, s, n); err != nil {
			t.Errorf("WaitRoute(%v) = %v", n, err)
		}
	}
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if err := l.WaitRoute(short, s, 0x1234); !errors.Is(err, ErrNoRoute) {
		t.Errorf("WaitRoute(1234) = %v, want ErrNoRoute", err)
	}
}
