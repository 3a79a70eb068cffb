package rip

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// lab is a set of memlan segments, one per network, and the nodes on
// them. It must be built inside a synctest bubble.
type lab struct {
	t    *testing.T
	segs map[ipx.Network]*memlan.Segment
	imp  memlan.Impairments
	seed uint64
}

func newLab(t *testing.T) *lab {
	return &lab{t: t, segs: make(map[ipx.Network]*memlan.Segment)}
}

func (l *lab) seg(n ipx.Network) *memlan.Segment {
	s, ok := l.segs[n]
	if !ok {
		l.seed++
		s = memlan.NewSegment(memlan.Config{Seed: l.seed})
		s.SetImpairments(l.imp)
		l.segs[n] = s
	}
	return s
}

func labNode(id int) ipx.Node { return ipxtest.Node(byte(id)) }

// node is one Stack on the lab, with its links and optional router.
type node struct {
	id     int
	stack  *ipx.Stack
	links  map[ipx.Network]*memlan.Link
	router *Router
}

// addStack attaches node id to the segments of nets.
func (l *lab) addStack(id int, forward bool, nets ...ipx.Network) *node {
	l.t.Helper()
	on := make([]ipxtest.On, len(nets))
	for i, n := range nets {
		on[i] = ipxtest.On{Seg: l.seg(n), Net: n}
	}
	st, links := ipxtest.Stack(l.t, ipx.StackConfig{Forward: forward}, labNode(id), on...)
	nd := &node{id: id, stack: st, links: make(map[ipx.Network]*memlan.Link)}
	for i, n := range nets {
		nd.links[n] = links[i]
	}
	return nd
}

// addRouter adds a forwarding Stack with a Router on nets.
func (l *lab) addRouter(id int, cfg Config, nets ...ipx.Network) *node {
	l.t.Helper()
	nd := l.addStack(id, !cfg.ListenOnly, nets...)
	r, err := NewRouter(nd.stack, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	nd.router = r
	l.t.Cleanup(func() { r.Close() })
	return nd
}

// hops returns the route's hops to n at nd, or -1 if none is reachable.
func (nd *node) hops(n ipx.Network) int {
	r, ok := nd.router.Table().Lookup(n)
	if !ok || !r.Reachable() {
		return -1
	}
	return int(r.Hops)
}

func TestRouterFiveNetworkRingConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		// Five networks in a ring: router i joins network i and i+1.
		var rs []*node
		for i := 1; i <= 5; i++ {
			rs = append(rs, l.addRouter(i, Config{}, ipx.Network(i), ipx.Network(i%5+1)))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for i, r := range rs {
			a, b := i+1, (i+1)%5+1
			for n := 1; n <= 5; n++ {
				want := 0 // connected
				if n != a && n != b {
					// Routers to cross: the shorter way round the ring.
					da := min((n-a+5)%5, (a-n+5)%5)
					db := min((n-b+5)%5, (b-n+5)%5)
					want = min(da, db)
				}
				if got := r.hops(ipx.Network(n)); got != want {
					t.Errorf("router %d: hops to %d = %d, want %d", i+1, n, got, want)
				}
			}
		}
		// Traffic crosses the ring: a host on network 1 reaches one on 3.
		h1 := l.addStack(101, false, 1)
		h3 := l.addStack(103, false, 3)
		hr, err := NewRouter(h1.stack, Config{ListenOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer hr.Close()
		time.Sleep(time.Second)
		synctest.Wait()
		info := l.send(h1, h3, ipx.Addr{Net: 3, Node: labNode(103), Socket: 0x5000}, "over two routers")
		if info.Header.TransportControl != 2 {
			t.Errorf("transport control %d, want 2 routers crossed", info.Header.TransportControl)
		}
	})
}

// send writes msg from a new socket on from to dst, where a socket on to
// is bound, and returns how it arrived.
func (l *lab) send(from, to *node, dst ipx.Addr, msg string) ipx.RecvInfo {
	l.t.Helper()
	srv, err := to.stack.Listen(dst.Socket)
	if err != nil {
		l.t.Fatal(err)
	}
	defer srv.Close()
	cli, err := from.stack.Listen(0)
	if err != nil {
		l.t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.WriteTo([]byte(msg), dst); err != nil {
		l.t.Fatal(err)
	}
	buf := make([]byte, len(msg)+1)
	n, info, err := srv.ReadMsg(buf)
	if err != nil || string(buf[:n]) != msg {
		l.t.Fatalf("read %q %v, want %q", buf[:n], err, msg)
	}
	return info
}

// chain builds routers 1..4 joining networks i and i+1, so network 5 is
// reachable only through router 4.
func chain(l *lab, cfg Config) []*node {
	var rs []*node
	for i := 1; i <= 4; i++ {
		rs = append(rs, l.addRouter(i, cfg, ipx.Network(i), ipx.Network(i+1)))
	}
	return rs
}

func TestRouterDiesRoutesAgeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		rs := chain(l, Config{})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := rs[0].hops(5); got != 3 {
			t.Fatalf("router 1: hops to 5 = %d, want 3", got)
		}
		// Router 4 loses power: silent, no goodbye.
		for _, link := range rs[3].links {
			link.Crash()
		}
		time.Sleep(2*time.Minute + 30*time.Second)
		synctest.Wait()
		if got := rs[2].hops(5); got != 1 {
			t.Errorf("router 3 dropped network 5 before it aged out (hops %d)", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, r := range rs[:3] {
			if got := r.hops(5); got != -1 {
				t.Errorf("router %d: network 5 still reachable (%d hops) after 3.5 min", r.id, got)
			}
		}
		// Network 4 stays: router 3 is connected to it.
		if got := rs[0].hops(4); got != 2 {
			t.Errorf("router 1: hops to 4 = %d, want 2", got)
		}
		// Advertised at 16 hops through the hold-down, then removed.
		time.Sleep(DefaultGarbage)
		synctest.Wait()
		for _, r := range rs[:3] {
			if _, ok := r.router.Table().Lookup(5); ok {
				t.Errorf("router %d: dead route to 5 not removed", r.id)
			}
		}
	})
}

func TestRouterShutdownPoisons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		rs := chain(l, Config{})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		sub := rs[0].router.Table().Subscribe(16)
		if err := rs[3].router.Close(); err != nil {
			t.Fatal(err)
		}
		if err := rs[3].router.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %v", err)
		}
		time.Sleep(time.Second) // well under one update interval
		synctest.Wait()
		for _, r := range rs[:3] {
			if got := r.hops(5); got != -1 {
				t.Errorf("router %d: network 5 reachable (%d hops) after shutdown", r.id, got)
			}
		}
		ev := <-sub.C
		if ev.Network != 5 || ev.Reason != ReasonPoisoned || ev.Old.Hops != 3 {
			t.Errorf("router 1 event %+v, want network 5 poisoned", ev)
		}
		// Nothing brings it back.
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := rs[0].hops(5); got != -1 {
			t.Errorf("network 5 came back with %d hops", got)
		}
	})
}

func TestRouterBetterRouteOneEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		// Router 1 joins 1 and 2; router 2 joins 2 and 9: network 9 is one
		// router beyond router 1, two from a node on network 1.
		r1 := l.addRouter(1, Config{}, 1, 2)
		l.addRouter(2, Config{}, 2, 9)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := r1.hops(9); got != 1 {
			t.Fatalf("router 1: hops to 9 = %d, want 1", got)
		}
		// Watch from a third router on network 1.
		r5 := l.addRouter(5, Config{}, 1, 7)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		sub := r5.router.Table().Subscribe(64)
		// Router 3 joins 1 and 9 directly: one router fewer.
		l.addRouter(3, Config{}, 1, 9)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		var got []Event
		for len(sub.C) > 0 {
			if ev := <-sub.C; ev.Network == 9 {
				got = append(got, ev)
			}
		}
		if len(got) != 1 {
			t.Fatalf("events for network 9: %+v, want exactly one", got)
		}
		ev := got[0]
		if ev.Reason != ReasonBetter || ev.Old.NextHop != labNode(1) || ev.New.NextHop != labNode(3) ||
			ev.Old.Hops != 2 || ev.New.Hops != 1 {
			t.Errorf("event %+v", ev)
		}
	})
}

func TestRouterLoopNoCountToInfinity(t *testing.T) {
	tests := []struct {
		name  string
		clean bool    // router D shuts down (else it crashes)
		loss  float64 // on the loop's segments once converged
		seed  uint64
	}{
		{name: "crash", seed: 1},
		{name: "shutdown", clean: true, seed: 1},
	}
	for seed := uint64(1); seed <= 6; seed++ {
		tests = append(tests,
			struct {
				name  string
				clean bool
				loss  float64
				seed  uint64
			}{fmt.Sprintf("crash lossy seed %d", seed), false, 0.5, seed},
			struct {
				name  string
				clean bool
				loss  float64
				seed  uint64
			}{fmt.Sprintf("shutdown lossy seed %d", seed), true, 0.5, seed})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLab(t)
				l.seed = tt.seed * 100
				l.imp = memlan.Impairments{Delay: time.Millisecond, Jitter: 20 * time.Millisecond}
				// Three routers in a loop (networks 10, 11, 12), router A
				// also on 13 where router D leads to network 20.
				a := l.addRouter(1, Config{}, 10, 11, 13)
				b := l.addRouter(2, Config{}, 11, 12)
				c := l.addRouter(3, Config{}, 12, 10)
				d := l.addRouter(4, Config{}, 13, 20)
				loop := []*node{a, b, c}
				subs := make([]*Subscription, len(loop))
				time.Sleep(3 * time.Second)
				synctest.Wait()
				for i, r := range loop {
					if got, want := r.hops(20), min(i, 1)+1; got != want {
						t.Fatalf("router %d: hops to 20 = %d, want %d", r.id, got, want)
					}
					subs[i] = r.router.Table().Subscribe(1024)
				}
				if tt.loss > 0 {
					for _, n := range []ipx.Network{10, 11, 12} {
						l.segs[n].SetImpairments(memlan.Impairments{Loss: tt.loss, Delay: time.Millisecond, Jitter: 20 * time.Millisecond})
					}
				}
				var deadline time.Duration
				switch {
				case tt.clean && tt.loss == 0:
					d.router.Close()
					deadline = 5 * time.Second
				case tt.clean:
					d.router.Close()
					// Poison lost on the loop: the routes age out.
					deadline = DefaultMaxAge + 5*time.Second
				case tt.loss == 0:
					for _, link := range d.links {
						link.Crash()
					}
					deadline = DefaultMaxAge + 5*time.Second
				default:
					for _, link := range d.links {
						link.Crash()
					}
					// A's route expires; B's and C's, if A's poison is
					// lost, a MaxAge after A last advertised it.
					deadline = 2*DefaultMaxAge + 5*time.Second
				}
				time.Sleep(deadline)
				synctest.Wait()
				for _, r := range loop {
					if got := r.hops(20); got != -1 {
						t.Errorf("router %d: network 20 still reachable (%d hops)", r.id, got)
					}
				}
				time.Sleep(10 * time.Minute)
				synctest.Wait()
				for i, r := range loop {
					if _, ok := r.router.Table().Lookup(20); ok {
						t.Errorf("router %d: route to 20 not removed", r.id)
					}
					changes := 0
					for len(subs[i].C) > 0 {
						ev := <-subs[i].C
						if ev.Network != 20 {
							continue
						}
						changes++
						if ev.New.Reachable() && ev.New.Hops > 3 {
							t.Errorf("router %d: counting up: %+v", r.id, ev)
						}
					}
					if changes > 4 {
						t.Errorf("router %d: %d changes of route to 20, want at most 4", r.id, changes)
					}
				}
			})
		})
	}
}

func TestListenerReroutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		// Router 1 reaches network 9 through router 2 (two routers).
		l.addRouter(1, Config{}, 1, 2)
		l.addRouter(2, Config{}, 2, 9)
		host := l.addRouter(100, Config{ListenOnly: true}, 1)
		server := l.addStack(200, false, 9)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := host.hops(9); got != 2 {
			t.Fatalf("host: hops to 9 = %d, want 2", got)
		}
		sub := host.router.Table().Subscribe(16)
		// Router 3 appears on 1 and 9: its first, unsolicited broadcast
		// offers one router fewer, and the host switches at once, long
		// before any periodic update.
		l.addRouter(3, Config{}, 1, 9)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		select {
		case ev := <-sub.C:
			if ev.Network != 9 || ev.Reason != ReasonBetter || ev.New.NextHop != labNode(3) {
				t.Fatalf("event %+v", ev)
			}
		default:
			t.Fatal("no event within 100 ms")
		}
		info := l.send(host, server, ipx.Addr{Net: 9, Node: labNode(200), Socket: 0x5000}, "hi")
		if info.From != labNode(3) {
			t.Errorf("packet came through %v, want router 3", info.From)
		}
		if st := host.router.Stats(); st.Sent != 1 {
			t.Errorf("listener sent %d packets, want only its start request", st.Sent)
		}
	})
}

func TestListenerPoisonSwitchesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		// Two routers between 1 and 9; the host uses whichever it heard
		// first, then that one shuts down.
		first := l.addRouter(1, Config{}, 1, 9)
		time.Sleep(time.Second)
		host := l.addRouter(100, Config{ListenOnly: true}, 1)
		time.Sleep(time.Second)
		l.addRouter(2, Config{}, 1, 9)
		time.Sleep(time.Second)
		synctest.Wait()
		r, _ := host.router.Table().Lookup(9)
		if r.NextHop != labNode(1) {
			t.Fatalf("host route %+v, want via router 1", r)
		}
		sub := host.router.Table().Subscribe(16)
		first.router.Close()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		r, _ = host.router.Table().Lookup(9)
		if !r.Reachable() || r.NextHop != labNode(2) {
			t.Fatalf("host route %+v, want via router 2 at once", r)
		}
		ev1, ev2 := <-sub.C, <-sub.C
		if ev1.Reason != ReasonPoisoned || ev2.Reason != ReasonNew || ev2.New.NextHop != labNode(2) {
			t.Errorf("events %+v then %+v", ev1, ev2)
		}
	})
}

func TestRouterAnswersRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		chain(l, Config{})
		client := l.addStack(100, false, 1)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		c, err := client.stack.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		ask := func(entries ...Entry) []Entry {
			t.Helper()
			wire, _ := (&Packet{Operation: OpRequest, Entries: entries}).MarshalBinary()
			dst := ipx.Addr{Net: 1, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP}
			if _, err := c.WriteMsg(wire, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			var got []Entry
			buf := make([]byte, 600)
			for {
				c.SetReadDeadline(time.Now().Add(time.Millisecond))
				n, _, err := c.ReadMsg(buf)
				if err != nil {
					return got
				}
				var p Packet
				if err := p.UnmarshalBinary(buf[:n]); err != nil || p.Operation != OpResponse {
					t.Fatalf("reply %v %+v", err, p)
				}
				got = append(got, p.Entries...)
			}
		}
		got := ask(RequestEntry(4), RequestEntry(5), RequestEntry(77))
		want := []Entry{{4, 3, 3}, {5, 4, 4}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("specific request: %v, want %v", got, want)
		}
		got = ask(RequestEntry(ipx.NetworkAll))
		// Router 1 on network 1 tells all but what it learned there.
		want = []Entry{{1, 1, 1}, {2, 1, 1}, {3, 2, 2}, {4, 3, 3}, {5, 4, 4}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request for all: %v, want %v", got, want)
		}
	})
}

func TestRouterBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		r := l.addRouter(1, Config{Table: TableConfig{MaxRoutes: 100, MaxPerNeighbour: 100}}, 1, 2)
		attacker := l.addStack(66, false, 1)
		time.Sleep(time.Second)
		synctest.Wait()
		c, err := attacker.stack.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		send := func(b []byte) {
			dst := ipx.Addr{Net: 1, Node: labNode(1), Socket: ipx.SocketRIP}
			if _, err := c.WriteMsg(b, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
				t.Fatal(err)
			}
		}
		send([]byte{0})                     // truncated
		send([]byte{0, 2, 0, 0, 0, 5, 0})   // partial entry
		send(make([]byte, MaxLen+EntryLen)) // 51 entries
		send([]byte{0, 9, 0, 0, 0, 5, 0, 1, 0, 1})
		bad, _ := (&Packet{Operation: OpResponse, Entries: []Entry{{0, 1, 1}, {0xFFFFFFFF, 1, 1}, {9, 17, 1}, {2, 1, 1}}}).MarshalBinary()
		send(bad)
		// A flood of bogus routes: 50 packets of 50.
		for i := range 50 {
			entries := make([]Entry, MaxEntries)
			for j := range entries {
				entries[j] = Entry{Network: ipx.Network(0x1000 + i*MaxEntries + j), Hops: 1, Ticks: 1}
			}
			b, _ := (&Packet{Operation: OpResponse, Entries: entries}).MarshalBinary()
			send(b)
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st := r.router.Stats()
		if st.Malformed != 3 || st.UnknownOp != 1 || st.Table.BadEntries != 3 {
			t.Errorf("stats %+v", st)
		}
		if st.Table.Learned != 100 || st.Table.Refused != 2400 {
			t.Errorf("table %+v, want 100 learned, 2400 refused", st.Table)
		}
		for _, n := range []ipx.Network{1, 2} {
			if rt, ok := r.router.Table().Lookup(n); !ok || rt.Origin != OriginConnected {
				t.Errorf("connected network %v lost: %+v", n, rt)
			}
		}
	})
}

func TestRouterInternalNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		// A server known by internal network 0x77, on network 1.
		server := l.addStack(7, true, 1)
		internal := ipx.Node{0, 0, 0, 0, 0, 1}
		if _, err := server.stack.AddLink(ipx.NewInternalLink(internal), 0x77); err != nil {
			t.Fatal(err)
		}
		sr, err := NewRouter(server.stack, Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer sr.Close()
		time.Sleep(time.Second)
		// The host has an internal network too, so its request carries
		// 0x88 as source network: the answer must still reach it.
		host := l.addStack(100, false, 1)
		if _, err := host.stack.AddLink(ipx.NewInternalLink(ipx.Node{0, 0, 0, 0, 0, 2}), 0x88); err != nil {
			t.Fatal(err)
		}
		hr, err := NewRouter(host.stack, Config{ListenOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer hr.Close()
		host.router = hr
		time.Sleep(time.Second)
		synctest.Wait()
		if st := hr.Stats(); st.Responses != 1 {
			t.Errorf("host got %d responses, want the answer to its request", st.Responses)
		}
		r, ok := host.router.Table().Lookup(0x77)
		if !ok || r.Hops != 1 || r.NextHop != labNode(7) {
			t.Fatalf("host route to the internal network: %+v %v", r, ok)
		}
		l.send(host, server, ipx.Addr{Net: 0x77, Node: internal, Socket: 0x5000}, "ping")
	})
}

func TestRouterAnswersRoutedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		chain(l, Config{})
		client := l.addRouter(100, Config{ListenOnly: true}, 1)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		c, err := client.stack.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		// Ask router 4, three routers away, about network 5.
		wire, _ := (&Packet{Operation: OpRequest, Entries: []Entry{RequestEntry(5)}}).MarshalBinary()
		dst := ipx.Addr{Net: 4, Node: labNode(4), Socket: ipx.SocketRIP}
		if _, err := c.WriteMsg(wire, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 600)
		n, info, err := c.ReadMsg(buf)
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		if err := p.UnmarshalBinary(buf[:n]); err != nil || len(p.Entries) != 1 || p.Entries[0] != (Entry{5, 1, 1}) {
			t.Errorf("answer %+v %v", p, err)
		}
		if info.Header.TransportControl != 3 {
			t.Errorf("answer crossed %d routers, want 3", info.Header.TransportControl)
		}
	})
}

// TestTakeoverBySetMetric plays a mirrored server pair sharing internal
// network 0x77: the active one advertises it at one tick more than it
// could, the standby withdraws it; when the active one dies silently,
// the standby advertises the better metric and a listener switches at
// once, with exactly one event.
func TestTakeoverBySetMetric(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		internal := ipx.Node{0, 0, 0, 0, 0, 1}
		server := func(id int) *node {
			nd := l.addStack(id, true, 1)
			if _, err := nd.stack.AddLink(ipx.NewInternalLink(internal), 0x77); err != nil {
				t.Fatal(err)
			}
			r, err := NewRouter(nd.stack, Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			nd.router = r
			return nd
		}
		active, standby := server(1), server(2)
		if err := active.router.SetMetric(0x77, 0, 1); err != nil {
			t.Fatal(err)
		}
		if err := standby.router.SetMetric(0x77, Unreachable, 0); err != nil {
			t.Fatal(err)
		}
		if err := standby.router.SetMetric(0x99, 0, 0); !errors.Is(err, ErrNotConnected) {
			t.Errorf("SetMetric of an unknown network: %v", err)
		}
		host := l.addRouter(100, Config{ListenOnly: true}, 1)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		r, _ := host.router.Table().Lookup(0x77)
		if !r.Reachable() || r.NextHop != labNode(1) || r.Ticks != 2 {
			t.Fatalf("host route %+v, want via the active server at 2 ticks", r)
		}
		sub := host.router.Table().Subscribe(16)
		for _, link := range active.links {
			link.Crash()
		}
		time.Sleep(10 * time.Second)
		if err := standby.router.SetMetric(0x77, 0, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		r, _ = host.router.Table().Lookup(0x77)
		if r.NextHop != labNode(2) || r.Hops != 1 || r.Ticks != 1 {
			t.Fatalf("host route %+v, want via the standby", r)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := len(sub.C); n != 1 {
			t.Errorf("%d events, want exactly one", n)
		}
		if ev := <-sub.C; ev.Reason != ReasonBetter {
			t.Errorf("event %+v", ev)
		}
	})
}

// TestRouterTiming records a router's broadcasts on a segment: a full
// update every UpdateInterval, its packets 55 ms apart, 50 entries at
// most in each.
func TestRouterTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		// Router 1 learns 120 routes on network 2 and advertises them
		// on network 1, with its 2 connected networks: 3 packets.
		r1 := l.addRouter(1, Config{}, 1, 2)
		feeder := l.addStack(2, false, 2)
		fc, err := feeder.stack.Listen(ipx.SocketRIP)
		if err != nil {
			t.Fatal(err)
		}
		entries := make([]Entry, 120)
		for i := range entries {
			entries[i] = Entry{Network: ipx.Network(0x1000 + i), Hops: 1, Ticks: 1}
		}
		feed := func() {
			for p := range Split(OpResponse, entries) {
				b, _ := p.MarshalBinary()
				dst := ipx.Addr{Net: 2, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP}
				if _, err := fc.WriteMsg(b, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
					t.Error(err)
				}
			}
		}
		feed()
		time.Sleep(time.Second)
		synctest.Wait()
		if st := r1.router.Table().Stats(); st.Learned != 120 {
			t.Fatalf("learned %d routes", st.Learned)
		}
		obs := l.addStack(3, false, 1)
		oc, err := obs.stack.Listen(ipx.SocketRIP)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var at []time.Duration
		var sizes []int
		go func() {
			buf := make([]byte, 600)
			for {
				n, info, err := oc.ReadMsg(buf)
				if err != nil {
					return
				}
				var p Packet
				if p.UnmarshalBinary(buf[:n]) != nil || p.Operation != OpResponse || info.From != labNode(1) {
					continue
				}
				at = append(at, time.Since(start))
				sizes = append(sizes, len(p.Entries))
			}
		}()
		for range 5 { // keep the routes alive for five minutes
			time.Sleep(time.Minute)
			feed()
		}
		synctest.Wait()
		oc.Close()
		synctest.Wait()
		if len(at) != 15 {
			t.Fatalf("%d packets at %v, want 3 per minute", len(at), at)
		}
		for i := 0; i < len(at); i += 3 {
			if sizes[i] != 50 || sizes[i+1] != 50 || sizes[i+2] != 22 {
				t.Errorf("update %d: packet sizes %v", i/3, sizes[i:i+3])
			}
			if g := at[i+1] - at[i]; g != DefaultPacketGap {
				t.Errorf("update %d: gap %v", i/3, g)
			}
			if g := at[i+2] - at[i+1]; g != DefaultPacketGap {
				t.Errorf("update %d: gap %v", i/3, g)
			}
			if i > 0 {
				if p := at[i] - at[i-3]; p != DefaultUpdateInterval {
					t.Errorf("update %d came %v after the previous", i/3, p)
				}
			}
		}
	})
}

func TestRouterCloseOrder(t *testing.T) {
	t.Run("stack first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t)
			r := l.addRouter(1, Config{}, 1, 2)
			time.Sleep(time.Second)
			if err := r.stack.Close(); err != nil {
				t.Fatal(err)
			}
			if err := r.router.Close(); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("during a long update", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t)
			r := l.addRouter(1, Config{}, 1, 2)
			peer := l.addStack(2, false, 2)
			c, err := peer.stack.Listen(ipx.SocketRIP)
			if err != nil {
				t.Fatal(err)
			}
			entries := make([]Entry, 1000)
			for i := range entries {
				entries[i] = Entry{Network: ipx.Network(0x1000 + i), Hops: 1, Ticks: 1}
			}
			for p := range Split(OpResponse, entries) {
				b, _ := p.MarshalBinary()
				c.WriteMsg(b, ipx.Addr{Net: 2, Node: labNode(1), Socket: ipx.SocketRIP}, ipx.WriteOptions{})
			}
			// The triggered update of 1000 routes takes 20 packets, 1 s;
			// Close in the middle waits only for the poison: 21 packets
			// on network 1 (1002 routes), 1 on network 2 (split horizon
			// leaves the 2 connected ones), so 20 gaps, the gap only
			// separating packets on the same link.
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			r.router.Close()
			want := 20 * DefaultPacketGap
			if d := time.Since(start); d != want {
				t.Errorf("Close took %v, want %v (the poison's gaps)", d, want)
			}
		})
	})
}
