package rip

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// routerGoroutines counts the goroutines running a Router's code.
func routerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("rip.(*Router).")) {
			n++
		}
	}
	return n
}

// TestRouterStopsWithStack: closing the Stack ends the router's
// goroutines, with no Router.Close; a Close afterwards returns nil, a
// second one net.ErrClosed in a *net.OpError.
func TestRouterStopsWithStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		nd := l.addStack(1, true, 1, 2)
		r, err := NewRouter(nd.stack, Config{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := routerGoroutines(); n != 2 {
			t.Fatalf("%d router goroutines, want 2", n)
		}
		nd.stack.Close()
		synctest.Wait()
		if n := routerGoroutines(); n != 0 {
			t.Fatalf("%d router goroutines left after the Stack closed", n)
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		err = r.Close()
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "close" || !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %#v, want *net.OpError wrapping net.ErrClosed", err)
		}
	})
}

// feedRoutes makes a peer Stack on network n announce count routes
// (from network base) once.
func (l *lab) feedRoutes(id int, n ipx.Network, base ipx.Network, count int) *ipx.Conn {
	l.t.Helper()
	peer := l.addStack(id, false, n)
	c, err := peer.stack.Listen(ipx.SocketRIP)
	if err != nil {
		l.t.Fatal(err)
	}
	entries := make([]Entry, count)
	for i := range entries {
		entries[i] = Entry{Network: base + ipx.Network(i), Hops: 1, Ticks: 1}
	}
	for p := range Split(OpResponse, entries) {
		b, _ := p.MarshalBinary()
		dst := ipx.Addr{Net: n, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP}
		if _, err := c.WriteMsg(b, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
			l.t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // let the router read them
	}
	return c
}

// TestRouterCloseBounded: a router holding 4,096 routes on two links
// needs 83 packets to withdraw them, 4.5 s at 55 ms apart; Close spreads
// them over CloseTimeout and every route still goes out at 16 hops.
// CloseContext with a cancelled context returns at once.
func TestRouterCloseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		tp := newTap(t, l.seg(1))
		r := l.addRouter(1, Config{}, 1, 2)
		l.feedRoutes(2, 2, 0x10000, 4096)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.router.Table().Stats().Learned; got != 4096 {
			t.Fatalf("learned %d routes", got)
		}
		tp.take()
		start := time.Now()
		if err := r.router.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > DefaultCloseTimeout {
			t.Errorf("Close took %v, over %v", d, DefaultCloseTimeout)
		}
		synctest.Wait()
		dead := map[ipx.Network]bool{}
		for _, p := range tp.take() {
			for _, e := range p.entries {
				if e.Hops == Unreachable {
					dead[e.Network] = true
				}
			}
		}
		if len(dead) != 4096+2 {
			t.Errorf("%d routes withdrawn on network 1, want 4098", len(dead))
		}

		r2 := l.addRouter(3, Config{}, 1, 2)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start = time.Now()
		if err := r2.router.CloseContext(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("CloseContext(cancelled) took %v", d)
		}
	})
}

// TestRouteSourcesCompose: static routes the embedder passes as
// Config.Routes answer for networks the table has no route to; learned
// routes win where both have one; Close puts the static routes back as
// the Stack's source.
func TestRouteSourcesCompose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		var static ipx.StaticRoutes
		static.Set(0x500, ipx.Route{Link: 1, NextHop: labNode(7), Hops: 1, Ticks: 1})
		static.Set(0x600, ipx.Route{Link: 1, NextHop: labNode(7), Hops: 1, Ticks: 1})
		nd := l.addStack(1, true, 1)
		nd.stack.SetRoutes(&static)
		r, err := NewRouter(nd.stack, Config{Routes: &static})
		if err != nil {
			t.Fatal(err)
		}
		// Router 2 on network 1 offers 0x600 (and 0x700).
		l.addRouter(2, Config{}, 1, 0x600)
		l.addRouter(3, Config{}, 0x600, 0x700)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		src := nd.stack // sends from here; who receives them on network 1?
		via := func(n ipx.Network) ipx.Node {
			t.Helper()
			got, ok := r.routes.LookupRoute(n)
			if !ok {
				return ipx.Node{}
			}
			return got.NextHop
		}
		if got := via(0x500); got != labNode(7) {
			t.Errorf("0x500 via %v, want the static route's 7", got)
		}
		if got := via(0x600); got != labNode(2) {
			t.Errorf("0x600 via %v, want the learned route's 2", got)
		}
		if got := via(0x700); got != labNode(2) {
			t.Errorf("0x700 via %v, want the learned route's 2", got)
		}
		// The Stack uses the composition: a packet for 0x500 leaves for
		// node 7, on network 1.
		seven, err := l.seg(1).Attach(labNode(7))
		if err != nil {
			t.Fatal(err)
		}
		defer seven.Close()
		c, err := src.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WriteTo([]byte("x"), ipx.Addr{Net: 0x500, Node: labNode(50), Socket: 0x5000}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, _, err := seven.ReadPacket(buf); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		// The static routes stay, alone: 0x700 is no longer reachable.
		if _, err := c.WriteTo([]byte("x"), ipx.Addr{Net: 0x500, Node: labNode(50), Socket: 0x5000}); err != nil {
			t.Errorf("static route gone after Close: %v", err)
		}
		if _, err := c.WriteTo([]byte("x"), ipx.Addr{Net: 0x700, Node: labNode(50), Socket: 0x5000}); !errors.Is(err, ipx.ErrNoRoute) {
			t.Errorf("learned route still used after Close: %v", err)
		}
	})
}

// TestRouterFollowsLinks: a link added is asked for routes and told the
// table at once, not at the next periodic update; a link removed has its
// network withdrawn at once.
func TestRouterFollowsLinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		r := l.addRouter(1, Config{}, 1)
		host1 := l.addRouter(101, Config{ListenOnly: true}, 1)
		host3 := l.addRouter(103, Config{ListenOnly: true}, 3)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		link, err := l.seg(3).Attach(labNode(1))
		if err != nil {
			t.Fatal(err)
		}
		id, err := r.stack.AddLink(link, 3)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := host3.hops(1); got != 1 {
			t.Errorf("host on 3: hops to 1 = %d, want 1 at once", got)
		}
		if got := host1.hops(3); got != 1 {
			t.Errorf("host on 1: hops to 3 = %d, want 1 at once", got)
		}
		if err := r.stack.RemoveLink(id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := host1.hops(3); got != -1 {
			t.Errorf("host on 1: hops to 3 = %d after the link went", got)
		}
		if rt, _ := r.router.Table().Lookup(3); rt.Reachable() {
			t.Errorf("router still has %+v", rt)
		}
	})
}

// TestRouterAfterAllLinksDown: when every link has failed, which ends the
// RIP socket, a link added afterwards brings the router back.
func TestRouterAfterAllLinksDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		r := l.addRouter(1, Config{}, 1)
		time.Sleep(time.Second)
		r.links[1].Close() // the link fails under the Stack
		time.Sleep(time.Second)
		synctest.Wait()
		host := l.addRouter(103, Config{ListenOnly: true}, 3)
		link, err := l.seg(3).Attach(labNode(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.stack.AddLink(link, 3); err != nil {
			t.Fatal(err)
		}
		l.addRouter(2, Config{}, 3, 4)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := r.hops(4); got != 1 {
			t.Errorf("router: hops to 4 = %d, want 1", got)
		}
		if rt, _ := host.router.Table().Lookup(1); rt.Reachable() {
			t.Errorf("host learned the failed link's network: %+v", rt)
		}
		if got := host.hops(4); got != 1 {
			t.Errorf("host: hops to 4 = %d", got)
		}
	})
}
