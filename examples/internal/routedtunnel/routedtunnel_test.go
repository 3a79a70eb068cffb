package routedtunnel_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/routedtunnel"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/rip"
)

// station joins a new Stack to the tunnel on network lan.
func station(t *testing.T, tun *routedtunnel.Tunnel, lan ipx.Network) *ipx.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := udp.Dial(ctx, tun.Addr(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddLink(l, lan); err != nil {
		l.Close()
		t.Fatal(err)
	}
	return st
}

// router starts a RIP router on st, closed when the test ends.
func router(t *testing.T, st *ipx.Stack, cfg rip.Config) {
	t.Helper()
	r, err := rip.NewRouter(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
}

// TestRoutedRequest: a request to a server's internal network, which is
// no tunnel client's node, reaches the server through the relay's route,
// and the reply from that internal address comes back.
func TestRoutedRequest(t *testing.T) {
	const lan, internal ipx.Network = 1, 0x77
	internalNode := ipx.Node{2, 0, 0, 0, 0, 1}
	tun, err := routedtunnel.Listen("127.0.0.1:0", lan)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()

	srv := station(t, tun, lan)
	// Shared, as a mirrored pair's: the server's own traffic, RIP
	// included, keeps its tunnel address; only the echo socket answers
	// from the internal network.
	if _, err := srv.AddLinkConfig(ipx.NewInternalLink(internalNode), ipx.LinkConfig{Network: internal, Shared: true}); err != nil {
		t.Fatal(err)
	}
	router(t, srv, rip.Config{})
	echo, err := srv.Listen(0x4567)
	if err != nil {
		t.Fatal(err)
	}
	if err := echo.SetSource(internal); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, ipx.MaxPacketLen)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()

	cli := station(t, tun, lan)
	router(t, cli, rip.Config{ListenOnly: true})
	c, err := cli.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	dst := ipx.Addr{Net: internal, Node: internalNode, Socket: 0x4567}
	msg := []byte("routed")
	buf := make([]byte, ipx.MaxPacketLen)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no reply from %v; relay stats %+v", dst, tun.Stats())
		}
		// Until the client and the relay have learnt the route, the
		// request fails or is dropped: try again.
		if _, err := c.WriteTo(msg, dst); err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			continue
		}
		if !bytes.Equal(buf[:n], msg) || from.(ipx.Addr) != dst {
			t.Fatalf("reply %q from %v, want %q from %v", buf[:n], from, msg, dst)
		}
		break
	}
	if st := tun.Stats(); st.Routed == 0 || st.DropSpoofed != 0 {
		t.Fatalf("relay stats %+v: want the request routed and the reply from the internal address relayed", st)
	}
}
