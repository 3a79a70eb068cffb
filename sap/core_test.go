package sap

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

var coreLinks = []ipx.LinkInfo{
	{ID: 1, Network: 0xA, Node: ipx.Node{2, 0, 0, 0, 0, 1}},
	{ID: 2, Network: 0xB, Node: ipx.Node{2, 0, 0, 0, 0, 1}},
}

// newTestCore returns a core on coreLinks with its start-up query and
// first update already taken.
func newTestCore(t *testing.T, cfg Config) *core {
	t.Helper()
	cfg.setDefaults()
	c, err := newCore(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	c.setLinks(t0, coreLinks)
	c.Tick(t0)
	drain(c)
	return c
}

// drain takes every job the core has, link by link.
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

func response(es ...Entry) *Message { return &Message{Op: OpGeneralResponse, Entries: es} }

func recv(link ipx.LinkID, from ipx.Node) ipx.RecvInfo {
	return ipx.RecvInfo{Link: link, From: from, Header: ipx.Header{Src: ipx.Addr{Node: from, Socket: 0x4001}}}
}

// sent flattens the messages for one link into "name/hops" strings.
func sent(msgs []out, link ipx.LinkID) []string {
	var s []string
	for _, o := range msgs {
		if o.link != link {
			continue
		}
		for _, e := range o.msg.Entries {
			s = append(s, fmt.Sprintf("%s/%d", e.Name, e.Hops))
		}
	}
	return s
}

func TestCoreSplitHorizon(t *testing.T) {
	c := newTestCore(t, Config{})
	// Learned on link 1: propagated at once on link 2 only, one hop on.
	c.input(t0, response(fs("FS1", 7, 1)), recv(1, nodeA))
	msgs := drain(c)
	if got := sent(msgs, 1); got != nil {
		t.Fatalf("sent back on link 1: %v", got)
	}
	if got := fmt.Sprint(sent(msgs, 2)); got != "[FS1/2]" {
		t.Fatalf("link 2 got %v", got)
	}
	// Periodic: same rule.
	c.Tick(t0.Add(time.Minute))
	msgs = drain(c)
	if got := sent(msgs, 1); got != nil {
		t.Fatalf("periodic on link 1: %v", got)
	}
	if got := fmt.Sprint(sent(msgs, 2)); got != "[FS1/2]" {
		t.Fatalf("periodic on link 2: %v", got)
	}
	// A query from link 1 is not answered with what link 1 told us.
	if c.input(t0, &Message{Op: OpGeneralQuery, ServiceType: TypeWildcard}, recv(1, nodeB)) {
		t.Fatal("queued an answer")
	}
	if msgs := drain(c); msgs != nil {
		t.Fatalf("answered %v", msgs)
	}
	// Going down: propagated at 16 hops, still not back.
	c.input(t0, response(fs("FS1", 7, 16)), recv(1, nodeA))
	msgs = drain(c)
	if got := fmt.Sprint(sent(msgs, 2)); got != "[FS1/16]" || sent(msgs, 1) != nil {
		t.Fatalf("withdrawal sent %v / %v", sent(msgs, 1), sent(msgs, 2))
	}
	// A service 15 hops away would be 16 from us: learned, not passed on.
	c.input(t0, response(fs("FAR", 7, 15)), recv(1, nodeA))
	if got := sent(drain(c), 2); got != nil {
		t.Fatalf("15-hop service sent as %v", got)
	}
	if c.table.Len() != 1 {
		t.Fatal("15-hop service not learned")
	}
	c.Tick(t0.Add(2 * time.Minute))
	if got := sent(drain(c), 2); got != nil {
		t.Fatalf("periodic carries %v", got)
	}
}

// TestCoreTriggeredCoalesce: changes noted while a link is busy go out
// once each, in their latest state, in one update.
func TestCoreTriggeredCoalesce(t *testing.T) {
	c := newTestCore(t, Config{})
	c.input(t0, response(fs("FS1", 7, 1), fs("FS2", 7, 1)), recv(1, nodeA))
	c.input(t0, response(fs("FS1", 7, 3)), recv(1, nodeA))
	if err := c.addLocal(fs("MINE", 0, 1)); err != nil {
		t.Fatal(err)
	}
	c.removeLocal(TypeFileServer, MustName("MINE"))
	if got := fmt.Sprint(sent(drain(c), 2)); got != "[FS1/4 FS2/2 MINE/16]" {
		t.Fatalf("link 2 got %v", got)
	}
}

func TestCoreAnswers(t *testing.T) {
	c := newTestCore(t, Config{})
	for i := range 9 {
		if err := c.addLocal(Entry{Type: TypeFileServer, Name: MustName(fmt.Sprintf("L%d", i)), Addr: ipx.Addr{Socket: 0x451}, Hops: 1}); err != nil {
			t.Fatal(err)
		}
	}
	drain(c)
	q := &Message{Op: OpGeneralQuery, ServiceType: TypeFileServer}
	info := recv(2, nodeB)
	if !c.input(t0, q, info) {
		t.Fatal("no answer queued")
	}
	msgs := drain(c)
	if len(msgs) != 2 || len(msgs[0].msg.Entries) != 7 || len(msgs[1].msg.Entries) != 2 {
		t.Fatalf("answer in %d messages", len(msgs))
	}
	if msgs[0].dst != info.Header.Src || msgs[0].link != 2 || msgs[0].msg.Op != OpGeneralResponse {
		t.Fatalf("answer to %v on link %d op %v", msgs[0].dst, msgs[0].link, msgs[0].msg.Op)
	}
	// A local service without an address takes the link's.
	if a := msgs[0].msg.Entries[0].Addr; a != (ipx.Addr{Net: 0xB, Node: coreLinks[1].Node, Socket: 0x451}) {
		t.Fatalf("local address filled as %v", a)
	}
	// With an internal network, that address instead.
	withInternal := append(coreLinks[:2:2], ipx.LinkInfo{ID: 3, Network: 0x99, Node: ipx.Node{0, 0, 0, 0, 0, 1}, Internal: true})
	c.setLinks(t0, withInternal)
	c.input(t0, &Message{Op: OpNearestQuery, ServiceType: TypeFileServer}, info)
	msgs = drain(c)
	if len(msgs) != 1 || msgs[0].msg.Op != OpNearestResponse || msgs[0].msg.Entries[0].Addr.Net != 0x99 {
		t.Fatalf("nearest answer %+v", msgs)
	}
	// No answer for a type we do not know.
	if c.input(t0, &Message{Op: OpGeneralQuery, ServiceType: TypePrintServer}, info) {
		t.Fatal("answer queued")
	}
	// Our own broadcast heard back is ignored.
	own := recv(1, coreLinks[0].Node)
	own.Header.Src.Socket = ipx.SocketSAP
	if c.input(t0, response(fs("X", 1, 1)), own) || c.table.Len() != 0 {
		t.Fatal("learned from ourselves")
	}
	// Bad local services are refused.
	if err := c.addLocal(Entry{Type: 4, Hops: 1}); err == nil {
		t.Fatal("nameless local service accepted")
	}
	if err := c.addLocal(fs("DOWN", 1, 16)); err == nil {
		t.Fatal("16-hop local service accepted")
	}
}

// TestCoreQueryQueue: queries wait in a bounded queue, each once.
func TestCoreQueryQueue(t *testing.T) {
	c := newTestCore(t, Config{MaxPendingQueries: 2})
	if err := c.addLocal(fs("L", 0, 1)); err != nil {
		t.Fatal(err)
	}
	drain(c)
	q := &Message{Op: OpGeneralQuery, ServiceType: TypeWildcard}
	for i := range 4 {
		info := recv(2, nodeB)
		info.Header.Src.Socket = ipx.Socket(0x4001 + i%3)
		c.input(t0, q, info)
	}
	if c.stats.queries != 4 || c.stats.queriesDropped != 1 || len(c.queries) != 2 {
		t.Fatalf("stats %+v, %d waiting", c.stats, len(c.queries))
	}
	if msgs := drain(c); len(msgs) != 2 || c.stats.answered != 2 {
		t.Fatalf("answers %v, stats %+v", msgs, c.stats)
	}
}

// TestCoreLinks: a new link is queried and updated at once; a link gone
// takes its services with it.
func TestCoreLinks(t *testing.T) {
	c := newTestCore(t, Config{})
	c.input(t0, response(fs("FS1", 7, 1)), recv(1, nodeA))
	drain(c)
	three := append(coreLinks[:2:2], ipx.LinkInfo{ID: 3, Network: 0xC, Node: ipx.Node{2, 0, 0, 0, 0, 1}})
	c.setLinks(t0, three)
	msgs := drain(c)
	if len(msgs) != 2 || msgs[0].link != 3 || msgs[0].msg.Op != OpGeneralQuery || fmt.Sprint(sent(msgs, 3)) != "[FS1/2]" {
		t.Fatalf("new link got %+v", msgs)
	}
	c.setLinks(t0, three[1:])
	if c.table.Len() != 0 {
		t.Fatal("service behind a removed link kept")
	}
	msgs = drain(c)
	if got := fmt.Sprint(sent(msgs, 2), sent(msgs, 3)); got != "[FS1/16] [FS1/16]" || sent(msgs, 1) != nil {
		t.Fatalf("withdrawal %v", got)
	}
	// Closing withdraws what is left, and stops the core.
	c.addLocal(fs("MINE", 0, 1))
	drain(c)
	if got := fmt.Sprint(sent(c.shutdown(), 2)); got != "[MINE/16]" {
		t.Fatalf("shutdown sent %v", got)
	}
	if err := c.addLocal(fs("LATE", 0, 1)); err == nil || c.input(t0, response(fs("FS2", 7, 1)), recv(2, nodeA)) {
		t.Fatal("closed core still works")
	}
}

func TestCoreNearestWithoutRoutes(t *testing.T) {
	c := newTestCore(t, Config{})
	c.input(t0, response(fs("B", 7, 3), fs("A", 8, 2), fs("C", 9, 4)), recv(1, nodeA))
	e, ok := c.nearest(coreLinks[1], TypeFileServer)
	if !ok || e.Name.String() != "A" || e.Hops != 3 {
		t.Fatalf("nearest %v %v, want A at 3 hops", e, ok)
	}
	// With routes, an unreachable network is skipped.
	var routes ipx.StaticRoutes
	routes.Set(7, ipx.Route{Link: 1, Hops: 1, Ticks: 2})
	routes.Set(9, ipx.Route{Link: 1, Hops: 1, Ticks: 2})
	c.cfg.Routes = &routes
	e, ok = c.nearest(coreLinks[1], TypeFileServer)
	if !ok || e.Name.String() != "B" {
		t.Fatalf("nearest %v %v, want B", e, ok)
	}
	if _, ok := c.nearest(coreLinks[0], TypeFileServer); ok {
		t.Fatal("answered link 1 with services learned there")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"fast", Config{Interval: time.Second, Table: TableConfig{MaxAge: 3 * time.Second}, PacketGap: -1}, true},
		{"negative interval", Config{Interval: -1}, false},
		{"age not above interval", Config{Interval: 5 * time.Minute}, false},
		{"gap too long", Config{Interval: time.Second, Table: TableConfig{MaxAge: time.Minute}, PacketGap: time.Second}, false},
		{"negative table size", Config{Table: TableConfig{MaxServices: -1}}, false},
		{"negative table age", Config{Table: TableConfig{MaxAge: -1}}, false},
		{"negative pending queries", Config{MaxPendingQueries: -1}, false},
		{"negative close timeout", Config{CloseTimeout: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrBadConfig) {
				t.Fatalf("Validate: %v, want ok=%v or ErrBadConfig", err, tt.ok)
			}
		})
	}
}

// TestCoreTriggeredBound: the entries waiting for a busy link's triggered
// update are bounded, however many services come and go meanwhile.
func TestCoreTriggeredBound(t *testing.T) {
	c := newTestCore(t, Config{Table: TableConfig{MaxServices: 2}})
	for i := range 6 {
		name := fmt.Sprintf("S%d", i)
		c.input(t0, response(fs(name, 7, 1)), recv(1, nodeA))
		c.input(t0, response(fs(name, 7, 16)), recv(1, nodeA))
	}
	// Room for 4 per link: S4 and S5 come and go unannounced, on both
	// links.
	if c.stats.triggeredDropped != 8 {
		t.Fatalf("stats %+v", c.stats)
	}
	if got := fmt.Sprint(sent(drain(c), 2)); got != "[S0/16 S1/16 S2/16 S3/16]" {
		t.Fatalf("link 2 got %v", got)
	}
}
