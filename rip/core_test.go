package rip

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

var coreLinks = []ipx.LinkInfo{
	{ID: 1, Network: 0xA, Node: ipx.Node{2, 0, 0, 0, 0, 1}},
	{ID: 2, Network: 0xB, Node: ipx.Node{2, 0, 0, 0, 0, 1}},
	{ID: 3, Network: 0x77, Node: ipx.Node{0, 0, 0, 0, 0, 1}, Internal: true},
}

// newTestCore returns a core on coreLinks with its start-up work taken.
func newTestCore(t *testing.T, cfg Config) *core {
	t.Helper()
	cfg.setDefaults()
	table, err := NewTable(cfg.Table)
	if err != nil {
		t.Fatal(err)
	}
	c := newCore(cfg, table, t0)
	c.setLinks(t0, coreLinks)
	c.Tick(t0)
	drain(c)
	return c
}

// drain takes every job the core has, link by link, kind by kind.
func drain(c *core) []out {
	var msgs []out
	for _, k := range c.Links(nil) {
		for kind := range jobKinds {
			for {
				job := c.Next(k, kind)
				if job == nil {
					break
				}
				msgs = append(msgs, job...)
			}
		}
	}
	return msgs
}

func from(link ipx.LinkID, n byte) ipx.RecvInfo {
	node := ipx.Node{2, 0, 0, 0, 0, n}
	return ipx.RecvInfo{Link: link, From: node, Header: ipx.Header{Src: ipx.Addr{Net: 0xA, Node: node, Socket: ipx.SocketRIP}}}
}

func TestCoreStart(t *testing.T) {
	cfg := Config{}
	cfg.setDefaults()
	table, _ := NewTable(cfg.Table)
	c := newCore(cfg, table, t0)
	c.setLinks(t0, coreLinks)
	c.Tick(t0)
	// Each wired link: the request for all routes first, then the
	// update with the three connected networks; nothing on the internal
	// one.
	for _, id := range []ipx.LinkID{1, 2} {
		req := c.Next(id, jobTriggered)
		if len(req) != 1 || req[0].pkt.Operation != OpRequest || req[0].pkt.Entries[0].Network != ipx.NetworkAll {
			t.Errorf("link %d: first job %+v", id, req)
		}
		upd := c.Next(id, jobPeriodic)
		if len(upd) != 1 || len(upd[0].pkt.Entries) != 3 || upd[0].dst.Node != ipx.NodeBroadcast {
			t.Errorf("link %d: update %+v", id, upd)
		}
	}
	if job := c.Next(3, jobTriggered); job != nil {
		t.Errorf("internal link has work: %+v", job)
	}
	if !c.Deadline().Equal(t0.Add(DefaultUpdateInterval)) {
		t.Errorf("deadline %v", c.Deadline())
	}
}

// TestCoreTriggeredNotHeldUp: while a long periodic update is under way,
// a change is handed out as a job of its own, to go between its packets.
func TestCoreTriggeredNotHeldUp(t *testing.T) {
	c := newTestCore(t, Config{})
	many := make([]Entry, 400)
	for i := range many {
		many[i] = Entry{Network: ipx.Network(0x1000 + i), Hops: 1, Ticks: 1}
	}
	c.input(t0, &Packet{Operation: OpResponse, Entries: many}, from(1, 9))
	c.Tick(t0.Add(DefaultUpdateInterval))
	drain(c)
	c.Tick(t0.Add(2 * DefaultUpdateInterval))
	upd := c.Next(2, jobPeriodic)
	if len(upd) != 9 {
		t.Fatalf("periodic update of %d packets, want 9", len(upd))
	}
	// The route to 0x1000 is poisoned by its next hop.
	c.input(t0.Add(2*DefaultUpdateInterval), &Packet{Operation: OpResponse, Entries: []Entry{{0x1000, Unreachable, 1}}}, from(1, 9))
	job := c.Next(2, jobTriggered)
	if len(job) != 1 || job[0].pkt.Entries[0] != (Entry{0x1000, Unreachable, 2}) {
		t.Errorf("triggered job %+v", job)
	}
	// And a request for an alternative follows.
	if job := c.Next(2, jobTriggered); len(job) != 1 || job[0].pkt.Operation != OpRequest {
		t.Errorf("request job %+v", job)
	}
}

// TestCoreRequests: a request for all routes is queued, once, up to
// MaxPendingRequests; one for some networks is answered at once; a
// listener answers nothing.
func TestCoreRequests(t *testing.T) {
	c := newTestCore(t, Config{MaxPendingRequests: 2})
	all := &Packet{Operation: OpRequest, Entries: []Entry{RequestEntry(ipx.NetworkAll)}}
	for i := range 4 {
		if _, work := c.input(t0, all, from(1, byte(10+i))); work != (i < 2) {
			t.Errorf("request %d: work %v", i, work)
		}
	}
	if _, work := c.input(t0, all, from(1, 10)); work {
		t.Error("the same request queued twice")
	}
	if c.requestsDropped != 2 {
		t.Errorf("dropped %d", c.requestsDropped)
	}
	for range 2 {
		job := c.Next(1, jobAnswer)
		// Split horizon: link 1's own network is not learned there,
		// so all three connected networks go out.
		if len(job) != 1 || len(job[0].pkt.Entries) != 3 || job[0].dst.Node.IsBroadcast() {
			t.Errorf("answer %+v", job)
		}
	}
	if job := c.Next(1, jobAnswer); job != nil {
		t.Errorf("third answer %+v", job)
	}
	reply, work := c.input(t0, &Packet{Operation: OpRequest, Entries: []Entry{RequestEntry(0xB), RequestEntry(0x99)}}, from(1, 10))
	if work || reply == nil || len(reply.pkt.Entries) != 1 || reply.pkt.Entries[0] != (Entry{0xB, 1, 1}) {
		t.Errorf("reply %+v, work %v", reply, work)
	}

	l := newTestCore(t, Config{ListenOnly: true})
	if reply, work := l.input(t0, all, from(1, 10)); reply != nil || work {
		t.Error("a listener answers")
	}
	if msgs := drain(l); len(msgs) != 0 {
		t.Errorf("listener sends %+v", msgs)
	}
}

// TestCoreLinks: a link that appears is asked for routes and sent the
// table; the network of one that fails is withdrawn on the others.
func TestCoreLinks(t *testing.T) {
	c := newTestCore(t, Config{})
	links := append(coreLinks[:3:3], ipx.LinkInfo{ID: 4, Network: 0xC, Node: ipx.Node{2, 0, 0, 0, 0, 1}})
	c.setLinks(t0.Add(time.Second), links)
	if job := c.Next(4, jobTriggered); len(job) != 1 || job[0].pkt.Operation != OpRequest {
		t.Errorf("new link: %+v", job)
	}
	if job := c.Next(4, jobPeriodic); len(job) != 1 || len(job[0].pkt.Entries) != 4 {
		t.Errorf("new link: %+v", job)
	}
	if job := c.Next(1, jobTriggered); len(job) != 1 || job[0].pkt.Entries[0] != (Entry{0xC, 1, 1}) {
		t.Errorf("old link told %+v", job)
	}
	links[3].Failed = true
	c.setLinks(t0.Add(2*time.Second), links)
	if _, ok := c.work[4]; ok {
		t.Error("failed link still has work")
	}
	if job := c.Next(1, jobTriggered); len(job) != 1 || job[0].pkt.Entries[0] != (Entry{0xC, Unreachable, 1}) {
		t.Errorf("failed link's network: %+v", job)
	}
}

// TestRouterTriggeredDuringLongUpdate: a route lost while a periodic
// update of 4,096 routes is under way (4.5 s of packets) is withdrawn
// between its packets, not after them.
func TestRouterTriggeredDuringLongUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		tp := newTap(t, l.seg(1))
		start := time.Now()
		l.addRouter(1, Config{}, 1, 2)
		feeder := l.feedRoutes(2, 2, 0x10000, 4096)
		// The router started at the bubble's start: its next periodic
		// update starts at one minute; be half a second into it.
		time.Sleep(time.Until(start.Add(DefaultUpdateInterval + 500*time.Millisecond)))
		tp.take()
		b, _ := (&Packet{Operation: OpResponse, Entries: []Entry{{0x10000, Unreachable, 1}}}).MarshalBinary()
		dst := ipx.Addr{Net: 2, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP}
		sentAt := time.Now()
		if _, err := feeder.WriteMsg(b, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var at time.Duration = -1
		updates := 0
		for _, p := range tp.take() {
			if p.from != labNode(1) || p.op != OpResponse {
				continue
			}
			updates++
			for _, e := range p.entries {
				if e.Network == 0x10000 && e.Hops == Unreachable && at < 0 {
					at = p.at.Sub(sentAt)
				}
			}
		}
		if updates < 70 {
			t.Fatalf("only %d packets: no long update under way", updates)
		}
		if at < 0 || at > 2*DefaultPacketGap {
			t.Errorf("withdrawal went out %v after the poison, want within %v", at, 2*DefaultPacketGap)
		}
	})
}
