package rip

import (
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// heard is one RIP packet captured on a segment.
type heard struct {
	at      time.Time
	from    ipx.Node
	dst     ipx.Addr
	op      Operation
	entries []Entry
}

// tap captures every RIP packet on a segment, broadcast or not, through
// a link with no Stack.
type tap struct {
	link *memlan.Link
	done chan struct{}
	mu   sync.Mutex
	pkts []heard
}

// newTap attaches node 0x02..fe to seg and records its RIP packets until
// the test ends.
func newTap(t *testing.T, seg *memlan.Segment) *tap {
	t.Helper()
	link, err := seg.Attach(labNode(0xfe))
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{link: link, done: make(chan struct{})}
	go func() {
		defer close(tp.done)
		buf := make([]byte, ipx.MaxPacketLen)
		for {
			n, from, err := link.ReadPacket(buf)
			if err != nil {
				return
			}
			var p ipx.Packet
			var rp Packet
			if p.UnmarshalBinary(buf[:n]) != nil || p.Header.Dst.Socket != ipx.SocketRIP ||
				rp.UnmarshalBinary(p.Payload) != nil {
				continue
			}
			tp.mu.Lock()
			tp.pkts = append(tp.pkts, heard{at: time.Now(), from: from, dst: p.Header.Dst, op: rp.Operation, entries: rp.Entries})
			tp.mu.Unlock()
		}
	}()
	t.Cleanup(func() { link.Close(); <-tp.done })
	return tp
}

// take returns and forgets the packets captured so far.
func (tp *tap) take() []heard {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	p := tp.pkts
	tp.pkts = nil
	return p
}

// offers returns the metrics at which node offered network n, in order.
func offers(pkts []heard, from ipx.Node, n ipx.Network) []Entry {
	var out []Entry
	for _, p := range pkts {
		if p.from != from || p.op != OpResponse {
			continue
		}
		for _, e := range p.entries {
			if e.Network == n {
				out = append(out, e)
			}
		}
	}
	return out
}

const sharedNet ipx.Network = 0x77

var sharedNode = ipx.Node{0, 0, 0, 0, 0, 1}

// addServer adds a forwarding Stack on network 1 with the shared
// internal network, and a router started by cfg.
func (l *lab) addServer(id int, cfg Config) *node {
	l.t.Helper()
	nd := l.addStack(id, true, 1)
	if _, err := nd.stack.AddLink(ipx.NewInternalLink(sharedNode), sharedNet); err != nil {
		l.t.Fatal(err)
	}
	r, err := NewRouter(nd.stack, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { r.Close() })
	nd.router = r
	return nd
}

func TestSharedStateString(t *testing.T) {
	for s, want := range map[SharedState]string{
		SharedStandby: "standby", SharedActive: "active", SharedTakingOver: "taking-over", 7: "shared(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", s, got, want)
		}
	}
}

// TestStandbyRestartsNeverAdvertise restarts a standby server 1,000 times
// while every RIP packet on its segment is captured: Config.Shared
// withdraws the shared network before the router's first packet, so not
// one packet offers it as reachable. (A SetMetric right after NewRouter
// loses the race to the first update in about a third of the restarts.)
func TestStandbyRestartsNeverAdvertise(t *testing.T) {
	restarts := 1000
	if testing.Short() {
		restarts = 100
	}
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		tp := newTap(t, l.seg(1))
		for i := range restarts {
			nd := l.addStack(2, true, 1)
			if _, err := nd.stack.AddLink(ipx.NewInternalLink(sharedNode), sharedNet); err != nil {
				t.Fatal(err)
			}
			r, err := NewRouter(nd.stack, Config{Shared: map[ipx.Network]SharedState{sharedNet: SharedStandby}})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			nd.stack.Close()
			synctest.Wait()
			pkts := tp.take()
			if len(pkts) == 0 {
				t.Fatalf("restart %d: nothing captured", i)
			}
			for _, e := range offers(pkts, labNode(2), sharedNet) {
				if e.Hops < Unreachable {
					t.Fatalf("restart %d: standby offered network %v at %d hops, %d ticks", i, sharedNet, e.Hops, e.Ticks)
				}
			}
		}
	})
}

// TestSharedTakeover: a listener on another node follows the active
// server (2 ticks); the active server crashes; the standby's
// SetShared(SharedTakingOver) moves the listener at once; a return to
// SharedActive from the same next hop is accepted too; and a standby
// that withdraws again is dropped at once.
func TestSharedTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		tp := newTap(t, l.seg(1))
		active := l.addServer(1, Config{Shared: map[ipx.Network]SharedState{sharedNet: SharedActive}})
		standby := l.addServer(2, Config{Shared: map[ipx.Network]SharedState{sharedNet: SharedStandby}})
		host := l.addRouter(100, Config{ListenOnly: true}, 1)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		r, _ := host.router.Table().Lookup(sharedNet)
		if !r.Reachable() || r.NextHop != labNode(1) || r.Hops != 1 || r.Ticks != 2 {
			t.Fatalf("host route %+v, want via the active server, 1 hop, 2 ticks", r)
		}
		for _, e := range offers(tp.take(), labNode(2), sharedNet) {
			if e.Hops < Unreachable {
				t.Fatalf("standby offered %+v", e)
			}
		}
		sub := host.router.Table().Subscribe(16)
		for _, link := range active.links {
			link.Crash()
		}
		time.Sleep(10 * time.Second)
		if err := standby.router.SetShared(sharedNet, SharedTakingOver); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // at once: no timer has run
		r, _ = host.router.Table().Lookup(sharedNet)
		if r.NextHop != labNode(2) || r.Hops != 1 || r.Ticks != 1 {
			t.Fatalf("host route %+v, want via the new active server at once", r)
		}
		if ev := <-sub.C; ev.Reason != ReasonBetter {
			t.Errorf("event %+v, want better", ev)
		}
		// Mirrored again: back to SharedActive, the same next hop's word.
		time.Sleep(time.Minute)
		if err := standby.router.SetShared(sharedNet, SharedActive); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r, _ = host.router.Table().Lookup(sharedNet)
		if r.NextHop != labNode(2) || r.Hops != 1 || r.Ticks != 2 {
			t.Fatalf("host route %+v, want via server 2 at 2 ticks", r)
		}
		if ev := <-sub.C; ev.Reason != ReasonMetric {
			t.Errorf("event %+v, want metric", ev)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if r, _ := host.router.Table().Lookup(sharedNet); r.NextHop != labNode(2) || r.Ticks != 2 {
			t.Fatalf("host route %+v after 5 minutes", r)
		}
		if n := len(sub.C); n != 0 {
			t.Errorf("%d more events", n)
		}
		// Back to standby: withdrawn at once.
		if err := standby.router.SetShared(sharedNet, SharedStandby); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r, _ := host.router.Table().Lookup(sharedNet); r.Reachable() {
			t.Fatalf("host route %+v after withdrawal", r)
		}
		if err := standby.router.SetShared(sharedNet, 9); !errors.Is(err, ErrBadConfig) {
			t.Errorf("SetShared(9) = %v", err)
		}
	})
}

// TestAnnounce: a server that takes over announces the shared network to
// a listener it knows, which switches at once, from the unicast alone.
func TestAnnounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		active := l.addServer(1, Config{Shared: map[ipx.Network]SharedState{sharedNet: SharedActive}})
		standby := l.addServer(2, Config{Shared: map[ipx.Network]SharedState{sharedNet: SharedStandby}})
		host := l.addRouter(100, Config{ListenOnly: true}, 1)
		time.Sleep(time.Second)
		synctest.Wait()
		if r, _ := host.router.Table().Lookup(sharedNet); r.NextHop != labNode(1) {
			t.Fatalf("host route %+v", r)
		}
		for _, link := range active.links {
			link.Crash()
		}
		// The standby's broadcast does not reach the host; the unicast does.
		l.seg(1).SetReachable(labNode(2), labNode(100), false)
		if err := standby.router.SetShared(sharedNet, SharedTakingOver); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r, _ := host.router.Table().Lookup(sharedNet); r.NextHop != labNode(1) {
			t.Fatalf("host heard the broadcast: %+v", r)
		}
		l.seg(1).SetReachable(labNode(2), labNode(100), true)
		sent := standby.router.Stats().Sent
		dst := ipx.Addr{Net: 1, Node: labNode(100), Socket: ipx.SocketRIP}
		if err := standby.router.Announce(dst, sharedNet, 0x4242); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r, _ := host.router.Table().Lookup(sharedNet)
		if r.NextHop != labNode(2) || r.Hops != 1 || r.Ticks != 1 {
			t.Fatalf("host route %+v, want via server 2 at 1 tick", r)
		}
		if _, ok := host.router.Table().Lookup(0x4242); ok {
			t.Error("unknown network learned from its 16-hop entry")
		}
		if got := standby.router.Stats().Sent - sent; got != 1 {
			t.Errorf("Announce sent %d packets, want 1", got)
		}
		standby.router.Close()
		if err := standby.router.Announce(dst, sharedNet); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Announce after Close = %v", err)
		}
	})
}
