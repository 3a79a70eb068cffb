package udp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// TestPortRoutes joins a tunnel client (network 0x10) to a host on an
// in-memory LAN (network 0x20) through a router attached to the tunnel
// server's Port: the packets DOSBox-style clients send to hosts the server
// does not know go to the router, and the router's packets reach the
// clients, whatever their IPX source.
func TestPortRoutes(t *testing.T) {
	s := startServer(t)
	port, err := s.AttachPort()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AttachPort(); !errors.Is(err, udp.ErrPortAttached) {
		t.Fatalf("second AttachPort: %v", err)
	}

	// The router: the Port on network 0x10, a memlan segment on 0x20.
	seg := memlan.NewSegment(memlan.Config{})
	routerLAN := ipx.Node{2, 0, 0, 0, 0, 0xa2}
	router, err := ipx.NewStack(ipx.StackConfig{Forward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer router.Close()
	if _, err := router.AddLink(port, 0x10); err != nil {
		t.Fatal(err)
	}
	rl, _ := seg.Attach(routerLAN)
	if _, err := router.AddLink(rl, 0x20); err != nil {
		t.Fatal(err)
	}
	routerSock, _ := router.Listen(0x4545)
	routerSock.SetDeadline(time.Now().Add(10 * time.Second))

	// Host B on the LAN.
	var toTunnel ipx.StaticRoutes
	toTunnel.Set(0x10, ipx.Route{Link: 1, NextHop: routerLAN, Hops: 1, Ticks: 1})
	b, _ := ipx.NewStack(ipx.StackConfig{Routes: &toTunnel})
	defer b.Close()
	bl, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 0xb})
	b.AddLink(bl, 0x20)
	cb, _ := b.Listen(0x5000)
	cb.SetDeadline(time.Now().Add(10 * time.Second))

	// Client A on the tunnel, routing 0x20 through the server's node.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	al, err := udp.Dial(ctx, s.Addr().String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var toLAN ipx.StaticRoutes
	toLAN.Set(0x20, ipx.Route{Link: 1, NextHop: port.Node(), Hops: 1, Ticks: 1})
	a, _ := ipx.NewStack(ipx.StackConfig{Routes: &toLAN})
	defer a.Close()
	a.AddLink(al, 0x10)
	ca, _ := a.Listen(0x5000)
	ca.SetDeadline(time.Now().Add(10 * time.Second))

	buf := make([]byte, 1500)
	if _, err := ca.WriteTo([]byte("to the LAN"), cb.Addr()); err != nil {
		t.Fatal(err)
	}
	n, info, err := cb.ReadMsg(buf)
	if err != nil || string(buf[:n]) != "to the LAN" {
		t.Fatalf("LAN host got %q: %v", buf[:n], err)
	}
	if info.Header.Src != ca.Addr() || info.Header.TransportControl != 1 || info.From != routerLAN {
		t.Fatalf("LAN host got %+v via %v", info.Header, info.From)
	}
	if _, err := cb.WriteTo([]byte("to the tunnel"), info.Header.Src); err != nil {
		t.Fatal(err)
	}
	n, info, err = ca.ReadMsg(buf)
	if err != nil || string(buf[:n]) != "to the tunnel" {
		t.Fatalf("tunnel client got %q: %v", buf[:n], err)
	}
	if info.Header.Src != cb.Addr() || info.Header.TransportControl != 1 {
		t.Fatalf("tunnel client got %+v", info.Header)
	}

	// A client's broadcast reaches the router too (RIP and SAP need it).
	if _, err := ca.WriteTo([]byte("all"), ipx.Addr{Node: ipx.NodeBroadcast, Socket: 0x4545}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := routerSock.ReadFrom(buf); err != nil || string(buf[:n]) != "all" {
		t.Fatalf("router got %q: %v", buf[:n], err)
	}
	st := s.Stats()
	if st.ToPort != 2 || st.FromPort != 1 || st.DropSpoofed != 0 {
		t.Fatalf("server stats %+v", st)
	}

	// Closing the server ends the Port, so the router's read loop ends.
	s.Close()
	if _, _, err := port.ReadPacket(buf); err == nil {
		t.Fatal("Port read after server Close succeeded")
	}
}
