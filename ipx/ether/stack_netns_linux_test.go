//go:build linux

package ether

import (
	"errors"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
)

const testSocket ipx.Socket = 0x4545

func newStack(t testing.TB, cfg ipx.StackConfig, links []*Link, nets []ipx.Network) *ipx.Stack {
	t.Helper()
	s, err := ipx.NewStack(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Stack.Close: %v", err)
		}
	})
	for i, l := range links {
		if _, err := s.AddLink(l, nets[i]); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func listenConn(t testing.TB, s *ipx.Stack) *ipx.Conn {
	t.Helper()
	c, err := s.Listen(testSocket)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recv reads one datagram from c and checks its payload.
func recv(t *testing.T, c *ipx.Conn, want string) ipx.RecvInfo {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, 2048)
	n, info, err := c.ReadMsg(b)
	if err != nil {
		t.Fatalf("ReadMsg on %v (want %q): %v", c.Addr(), want, err)
	}
	if got := string(b[:n]); got != want {
		t.Fatalf("%v received %q, want %q", c.Addr(), got, want)
	}
	return info
}

func send(t *testing.T, c *ipx.Conn, payload string, dst ipx.Addr, o ipx.WriteOptions) {
	t.Helper()
	if _, err := c.WriteMsg([]byte(payload), dst, o); err != nil {
		t.Fatalf("WriteMsg %q to %v: %v", payload, dst, err)
	}
}

// TestNetnsStack runs a Stack in each of three namespaces on one bridge
// and exchanges datagrams through ipx.Conn in every framing.
func TestNetnsStack(t *testing.T) {
	seg := newSegment(t, false)
	const network ipx.Network = 0x10
	for _, ft := range append([]ipx.FrameType{0}, allTypes...) {
		t.Run(cfgName(ft), func(t *testing.T) {
			cfg := Config{FrameType: ft}
			var conns []*ipx.Conn
			for _, l := range seg.links(t, cfg, cfg, cfg) {
				s := newStack(t, ipx.StackConfig{}, []*Link{l}, []ipx.Network{network})
				conns = append(conns, listenConn(t, s))
			}
			addr := func(i int) ipx.Addr { return ipx.Addr{Net: network, Node: seg.macs[i], Socket: testSocket} }
			if got := conns[1].Addr(); got != addr(1) {
				t.Fatalf("Conn.Addr = %v, want %v", got, addr(1))
			}

			send(t, conns[0], "ping", addr(1), ipx.WriteOptions{Type: ipx.TypePEP})
			info := recv(t, conns[1], "ping")
			if info.Header.Src != addr(0) || info.From != seg.macs[0] || info.Header.Type != ipx.TypePEP {
				t.Fatalf("ping header %+v from %v", info.Header, info.From)
			}
			if _, err := conns[1].WriteTo([]byte("pong"), info.Header.Src); err != nil {
				t.Fatal(err)
			}
			recv(t, conns[0], "pong")

			// Broadcast to "this network" reaches both other hosts.
			send(t, conns[2], "to all", ipx.Addr{Node: ipx.NodeBroadcast, Socket: testSocket}, ipx.WriteOptions{})
			for _, i := range []int{0, 1} {
				if info := recv(t, conns[i], "to all"); info.Header.Src != addr(2) {
					t.Fatalf("broadcast from %v, want %v", info.Header.Src, addr(2))
				}
			}

			// A computed checksum survives every framing but raw 802.3,
			// which cannot carry one.
			if ft != ipx.Frame8023Raw {
				send(t, conns[2], "summed", addr(0), ipx.WriteOptions{Checksum: true})
				if info := recv(t, conns[0], "summed"); info.Header.Checksum == ipx.ChecksumNone {
					t.Fatal("checksum lost on the way")
				}
			}
		})
	}
}

// TestNetnsStackForward routes between two bridges through a middle
// namespace whose Stack forwards: network 1 in Ethernet II, network 2 in
// 802.2, the router's network-2 link in auto mode.
func TestNetnsStackForward(t *testing.T) {
	tp := netnstest.New(t, "ipxe")
	b1, b2 := tp.Bridge("b1", false), tp.Bridge("b2", false)
	h0, r, h1 := tp.Namespace("h0"), tp.Namespace("r"), tp.Namespace("h1")
	macH0, macR1, macR2, macH1 := mac(2, 0), mac(2, 1), mac(2, 2), mac(2, 3)
	tp.Plug(b1, h0, "eth0", macH0.HardwareAddr())
	tp.Plug(b1, r, "eth0", macR1.HardwareAddr())
	tp.Plug(b2, r, "eth1", macR2.HardwareAddr())
	tp.Plug(b2, h1, "eth0", macH1.HardwareAddr())
	for _, pair := range [][2][2]string{{{h0, "eth0"}, {r, "eth0"}}, {{r, "eth1"}, {h1, "eth0"}}} {
		a := listenIn(t, pair[0][0], pair[0][1], Config{FrameType: ipx.FrameEthernetII})
		b := listenIn(t, pair[1][0], pair[1][1], Config{FrameType: ipx.FrameEthernetII})
		waitReady(t, a, b)
		a.Close()
		b.Close()
	}

	routes0, routes1 := &ipx.StaticRoutes{}, &ipx.StaticRoutes{}
	routes0.Set(2, ipx.Route{Link: 1, NextHop: macR1, Hops: 1, Ticks: 1})
	routes1.Set(1, ipx.Route{Link: 1, NextHop: macR2, Hops: 1, Ticks: 1})
	s0 := newStack(t, ipx.StackConfig{Routes: routes0},
		[]*Link{listenIn(t, h0, "eth0", Config{FrameType: ipx.FrameEthernetII})}, []ipx.Network{1})
	sr := newStack(t, ipx.StackConfig{Forward: true}, []*Link{
		listenIn(t, r, "eth0", Config{FrameType: ipx.FrameEthernetII}),
		listenIn(t, r, "eth1", Config{}),
	}, []ipx.Network{1, 2})
	s1 := newStack(t, ipx.StackConfig{Routes: routes1},
		[]*Link{listenIn(t, h1, "eth0", Config{FrameType: ipx.Frame8022})}, []ipx.Network{2})
	c0, c1 := listenConn(t, s0), listenConn(t, s1)
	addr0 := ipx.Addr{Net: 1, Node: macH0, Socket: testSocket}
	addr1 := ipx.Addr{Net: 2, Node: macH1, Socket: testSocket}

	// Network 2 speaks first, so the router learns that h1 wants 802.2.
	send(t, c1, "from net 2", addr0, ipx.WriteOptions{Type: ipx.TypePEP})
	info := recv(t, c0, "from net 2")
	if info.Header.Src != addr1 || info.From != macR1 || info.Header.TransportControl != 1 {
		t.Fatalf("at h0: src %v from %v hops %d; want %v from %v hops 1",
			info.Header.Src, info.From, info.Header.TransportControl, addr1, macR1)
	}
	send(t, c0, "from net 1", info.Header.Src, ipx.WriteOptions{Type: ipx.TypePEP})
	info = recv(t, c1, "from net 1")
	if info.Header.Src != addr0 || info.From != macR2 || info.Header.TransportControl != 1 {
		t.Fatalf("at h1: src %v from %v hops %d; want %v from %v hops 1",
			info.Header.Src, info.From, info.Header.TransportControl, addr0, macR2)
	}
	// The hop count and the previous hop above prove the forwarding; the
	// router's Forwarded counter is bumped after its write returns, so it
	// may still lag the delivery and is not checked here.
	if st := sr.Stats(); st.Received != 2 || st.DropNoRoute != 0 || st.DropLinkError != 0 {
		t.Fatalf("router stats %+v, want 2 received and no drops", st)
	}
	// No route back to network 3: the send fails with ErrNoRoute.
	if _, err := c0.WriteMsg([]byte("x"), ipx.Addr{Net: 3, Node: macH1, Socket: testSocket}, ipx.WriteOptions{}); !errors.Is(err, ipx.ErrNoRoute) {
		t.Fatalf("send to an unrouted network = %v, want ErrNoRoute", err)
	}
}
