package ipx_test

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// A server holds its own identity (internal network 0xA) and a mirrored
// engine's (shared internal network 0xB) on one Stack. Sockets send from
// the server's own address unless told otherwise; the engine's socket
// replies from the shared network's address.
func TestSourcePerSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lanNet, ownNet, sharedNet = 1, 0xA, 0xB
		seg := memlan.NewSegment(memlan.Config{})
		srv, _ := ipx.NewStack(ipx.StackConfig{})
		defer srv.Close()
		attach(t, srv, seg, node(1), lanNet)
		// The shared network first: it must not become the default
		// source address for being the first internal link.
		if _, err := srv.AddLinkConfig(ipx.NewInternalLink(node(0x51)), ipx.LinkConfig{Network: sharedNet, Shared: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.AddLink(ipx.NewInternalLink(node(0x01)), ownNet); err != nil {
			t.Fatal(err)
		}
		if ls := srv.Links(); !ls[1].Shared || ls[0].Shared || ls[2].Shared {
			t.Fatalf("Links = %+v", ls)
		}

		// A client on the LAN reaches both internal networks through the
		// server's LAN node.
		var routes ipx.StaticRoutes
		cli := host(t, seg, node(2), lanNet, ipx.StackConfig{Routes: &routes})
		via := cli.Links()[0].ID
		routes.Set(ownNet, ipx.Route{Link: via, NextHop: node(1), Hops: 1, Ticks: 1})
		routes.Set(sharedNet, ipx.Route{Link: via, NextHop: node(1), Hops: 1, Ticks: 1})

		own := listen(t, srv, 0x4000)
		engine := listen(t, srv, 0x4001)
		if err := engine.SetSource(sharedNet); err != nil {
			t.Fatal(err)
		}
		wantOwn := ipx.Addr{Net: ownNet, Node: node(0x01), Socket: 0x4000}
		wantEngine := ipx.Addr{Net: sharedNet, Node: node(0x51), Socket: 0x4001}
		if own.Addr() != wantOwn || engine.Addr() != wantEngine {
			t.Fatalf("Addr: own %v, engine %v", own.Addr(), engine.Addr())
		}

		c := listen(t, cli, 0x4000)
		buf := make([]byte, 16)
		for _, tc := range []struct {
			name string
			srv  *ipx.Conn
			addr ipx.Addr
		}{{"own", own, wantOwn}, {"engine", engine, wantEngine}} {
			// Ask the server's socket at its address; it replies to the
			// asker, from its source address.
			if _, err := c.WriteTo([]byte("q"), tc.addr); err != nil {
				t.Fatal(err)
			}
			_, info, err := tc.srv.ReadMsg(buf)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tc.srv.WriteTo([]byte("r"), info.Header.Src); err != nil {
				t.Fatal(err)
			}
			_, got, err := c.ReadMsg(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got.Header.Src != tc.addr {
				t.Errorf("%s: reply from %v, want %v", tc.name, got.Header.Src, tc.addr)
			}
		}

		// No local link on the network: refused. 0 restores the default.
		if err := engine.SetSource(0x77); !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("SetSource on a foreign network: %v", err)
		}
		if engine.Addr() != wantEngine {
			t.Fatalf("a refused SetSource changed the source: %v", engine.Addr())
		}
		if err := engine.SetSource(0); err != nil {
			t.Fatal(err)
		}
		if want := (ipx.Addr{Net: ownNet, Node: node(0x01), Socket: 0x4001}); engine.Addr() != want {
			t.Fatalf("SetSource(0): Addr %v, want %v", engine.Addr(), want)
		}
		// A LAN network works as a source too.
		if err := engine.SetSource(lanNet); err != nil {
			t.Fatal(err)
		}
		if want := (ipx.Addr{Net: lanNet, Node: node(1), Socket: 0x4001}); engine.Addr() != want {
			t.Fatalf("SetSource(lan): Addr %v, want %v", engine.Addr(), want)
		}
	})
}

// A socket whose source network's link is removed fails its sends
// rather than send from an address the host no longer has.
func TestSourceLinkRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		srv, _ := ipx.NewStack(ipx.StackConfig{})
		defer srv.Close()
		attach(t, srv, seg, node(1), 1)
		id, err := srv.AddLinkConfig(ipx.NewInternalLink(node(0x51)), ipx.LinkConfig{Network: 0xB, Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		c := listen(t, srv, 0)
		if err := c.SetSource(0xB); err != nil {
			t.Fatal(err)
		}
		if err := srv.RemoveLink(id); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteTo([]byte("x"), ipx.Addr{Net: 1, Node: node(2), Socket: 0x4000}); !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("send from a removed source network: %v", err)
		}
	})
}
