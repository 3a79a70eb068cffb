package main

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/syncbuf"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/rip"
)

// TestUDPTunnel runs the router between the memlan demo and a DOSBox
// tunnel server on loopback; a host on the tunnel learns the demo's
// networks and the router answers its request. Real time, bounded waits.
func TestUDPTunnel(t *testing.T) {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var stdout, stderr syncbuf.Buffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, []string{"-memlan-demo", "-udp-server", srv.Addr().String() + "/b"}, &stdout, &stderr)
	}()
	defer func() { cancel(); wg.Wait() }()

	// The host on the tunnel: network b too (the router numbered it).
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	l, err := udp.Dial(dctx, srv.Addr().String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	host, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := host.AddLink(l, 0xb); err != nil {
		t.Fatal(err)
	}
	var hr *rip.Router
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Restart the listener until the router is up: its start request
		// is answered at once.
		hr, err = rip.NewRouter(host, rip.Config{ListenOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if r, ok := hr.Table().Lookup(4); ok && r.Reachable() {
			break
		}
		hr.Close()
		if time.Now().After(deadline) {
			t.Fatalf("host never learned network 4; router output:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	defer hr.Close()
	r, _ := hr.Table().Lookup(4)
	if r.Hops != 3 {
		t.Errorf("route to 4 from the tunnel: %+v, want 3 hops", r)
	}

	// Ask the router itself, at its tunnel node, for its route to 4. (A
	// tunnel server relays by the IPX header's nodes and drops packets
	// whose source node is not the sending client, so packets routed
	// through the tunnel do not pass; RIP between the router and the
	// tunnel's hosts does.)
	c, err := host.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := (&rip.Packet{Operation: rip.OpRequest, Entries: []rip.Entry{rip.RequestEntry(4)}}).MarshalBinary()
	dst := ipx.Addr{Net: 0xb, Node: r.NextHop, Socket: ipx.SocketRIP}
	if _, err := c.WriteMsg(req, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 600)
	n, info, err := c.ReadMsg(buf)
	if err != nil {
		t.Fatal(err)
	}
	var p rip.Packet
	if err := p.UnmarshalBinary(buf[:n]); err != nil || len(p.Entries) != 1 || p.Entries[0] != (rip.Entry{Network: 4, Hops: 3, Ticks: 3}) {
		t.Errorf("answer %+v %v", p, err)
	}
	if info.Header.Src != dst {
		t.Errorf("answer from %v, want %v", info.Header.Src, dst)
	}
}

// TestUDPListenRoutes runs the router as the tunnel server itself, beside
// the memlan demo: a host on the tunnel learns network 4 and gets an
// answer from router C there, through the router, both ways.
func TestUDPListenRoutes(t *testing.T) {
	// A free loopback port for the router's server.
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().String()
	probe.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var stdout, stderr syncbuf.Buffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, []string{"-memlan-demo", "-udp-listen", addr + "/b"}, &stdout, &stderr)
	}()
	defer func() { cancel(); wg.Wait() }()

	var host *ipx.Stack
	deadline := time.Now().Add(10 * time.Second)
	for host == nil {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		l, err := udp.Dial(dctx, addr, udp.Config{})
		dcancel()
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("no tunnel server at %s: %v\n%s", addr, err, stderr.String())
			}
			continue
		}
		host, err = ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := host.AddLink(l, 0xb); err != nil {
			t.Fatal(err)
		}
	}
	defer host.Close()
	hr, err := rip.NewRouter(host, rip.Config{ListenOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Close()
	for {
		if r, ok := hr.Table().Lookup(4); ok && r.Reachable() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host never learned network 4; router output:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Ask router C, on network 4 three routers away, for its route to 4.
	// C may not have learned the tunnel's network yet: ask until it has.
	c, err := host.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := (&rip.Packet{Operation: rip.OpRequest, Entries: []rip.Entry{rip.RequestEntry(4)}}).MarshalBinary()
	dst := ipx.Addr{Net: 4, Node: demoNode(3), Socket: ipx.SocketRIP}
	buf := make([]byte, 600)
	var (
		n    int
		info ipx.RecvInfo
	)
	for {
		if _, err := c.WriteMsg(req, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, info, err = c.ReadMsg(buf); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from network 4: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
	}
	var p rip.Packet
	if err := p.UnmarshalBinary(buf[:n]); err != nil || len(p.Entries) != 1 || p.Entries[0].Network != 4 {
		t.Errorf("answer %+v %v", p, err)
	}
	// C answers from its address on the network towards us (3), two
	// routers away: the tunnel server's router forwarded both ways.
	want := ipx.Addr{Net: 3, Node: demoNode(3), Socket: ipx.SocketRIP}
	if info.Header.Src != want || info.Header.TransportControl != 2 {
		t.Errorf("answer from %v after %d hops, want from %v after 2", info.Header.Src, info.Header.TransportControl, want)
	}
}
