package sap_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/sap"
)

// rip.Table is what an Advertiser normally takes its route metrics from.
var _ ipx.RouteSource = (*rip.Table)(nil)

func (h *host) router(cfg rip.Config) *rip.Router {
	h.t.Helper()
	r, err := rip.NewRouter(h.stack, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { r.Close() })
	return r
}

// TestWithRIP runs SAP beside RIP on two routers: server S on net 1,
// R1 between nets 1 and 2, R2 between nets 2 and 3, client C on net 3. The
// client finds S through both routers and reaches it at the advertised
// address over the routes RIP learned.
func TestWithRIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg1 := memlan.NewSegment(memlan.Config{Seed: 11})
		seg2 := memlan.NewSegment(memlan.Config{Seed: 12})
		seg3 := memlan.NewSegment(memlan.Config{Seed: 13})
		s := newHost(t, 1, false, attach{seg1, 1})
		r1 := newHost(t, 2, true, attach{seg1, 1}, attach{seg2, 2})
		r2 := newHost(t, 3, true, attach{seg2, 2}, attach{seg3, 3})
		c := newHost(t, 4, false, attach{seg3, 3})
		s.router(rip.Config{ListenOnly: true})
		c.router(rip.Config{ListenOnly: true})
		rr1 := r1.router(rip.Config{})
		rr2 := r2.router(rip.Config{})
		r1.advertiser(sap.Config{Routes: rr1.Table()})
		r2.advertiser(sap.Config{Routes: rr2.Table()})
		ncp, err := s.stack.Listen(ipx.SocketNCP)
		if err != nil {
			t.Fatal(err)
		}
		s.advertiser(sap.Config{}).Add(fileServer("FS1", 1))
		time.Sleep(time.Second) // triggered RIP and SAP updates settle
		synctest.Wait()

		near, err := sap.Nearest(context.Background(), c.stack, sap.TypeFileServer)
		if err != nil {
			t.Fatal(err)
		}
		want := ipx.Addr{Net: 1, Node: node(1), Socket: ipx.SocketNCP}
		if near.Addr != want || near.Hops != 3 || near.From.Node != node(3) {
			t.Fatalf("nearest %+v, want %v at 3 hops from R2", near, want)
		}

		// The advertised address is reachable through RIP's routes.
		conn, err := c.stack.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.WriteMsg([]byte("hello"), near.Addr, ipx.WriteOptions{Type: ipx.TypeNCP}); err != nil {
			t.Fatalf("send to the advertised address: %v", err)
		}
		buf := make([]byte, 64)
		ncp.SetReadDeadline(time.Now().Add(time.Second))
		n, info, err := ncp.ReadMsg(buf)
		if err != nil || string(buf[:n]) != "hello" || info.Header.TransportControl != 2 {
			t.Fatalf("server got %q %v (hops %d)", buf[:n], err, info.Header.TransportControl)
		}
	})
}
