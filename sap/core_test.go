package sap

import (
	"fmt"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

var coreLinks = []ipx.LinkInfo{
	{ID: 1, Network: 0xA, Node: ipx.Node{2, 0, 0, 0, 0, 1}},
	{ID: 2, Network: 0xB, Node: ipx.Node{2, 0, 0, 0, 0, 1}},
}

func newTestCore(t *testing.T, cfg Config) *core {
	t.Helper()
	cfg.setDefaults()
	c, err := newCore(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
	msgs := c.input(t0, response(fs("FS1", 7, 1)), recv(1, nodeA), coreLinks)
	if got := sent(msgs, 1); got != nil {
		t.Fatalf("sent back on link 1: %v", got)
	}
	if got := fmt.Sprint(sent(msgs, 2)); got != "[FS1/2]" {
		t.Fatalf("link 2 got %v", got)
	}
	// Periodic: same rule.
	msgs = c.tick(t0, coreLinks)
	if got := sent(msgs, 1); got != nil {
		t.Fatalf("periodic on link 1: %v", got)
	}
	if got := fmt.Sprint(sent(msgs, 2)); got != "[FS1/2]" {
		t.Fatalf("periodic on link 2: %v", got)
	}
	// A query from link 1 is not answered with what link 1 told us.
	if msgs := c.input(t0, &Message{Op: OpGeneralQuery, ServiceType: TypeWildcard}, recv(1, nodeB), coreLinks); msgs != nil {
		t.Fatalf("answered %v", msgs)
	}
	// Going down: propagated at 16 hops, still not back.
	msgs = c.input(t0, response(fs("FS1", 7, 16)), recv(1, nodeA), coreLinks)
	if got := fmt.Sprint(sent(msgs, 2)); got != "[FS1/16]" || sent(msgs, 1) != nil {
		t.Fatalf("withdrawal sent %v / %v", sent(msgs, 1), sent(msgs, 2))
	}
	// A service 15 hops away would be 16 from us: learned, not passed on.
	msgs = c.input(t0, response(fs("FAR", 7, 15)), recv(1, nodeA), coreLinks)
	if got := sent(msgs, 2); got != nil {
		t.Fatalf("15-hop service sent as %v", got)
	}
	if c.table.Len() != 1 {
		t.Fatal("15-hop service not learned")
	}
	if got := sent(c.tick(t0.Add(time.Minute), coreLinks), 2); got != nil {
		t.Fatalf("periodic carries %v", got)
	}
}

func TestCoreAnswers(t *testing.T) {
	c := newTestCore(t, Config{})
	for i := range 9 {
		if _, err := c.addLocal(Entry{Type: TypeFileServer, Name: MustName(fmt.Sprintf("L%d", i)), Addr: ipx.Addr{Socket: 0x451}, Hops: 1}, coreLinks); err != nil {
			t.Fatal(err)
		}
	}
	q := &Message{Op: OpGeneralQuery, ServiceType: TypeFileServer}
	info := recv(2, nodeB)
	msgs := c.input(t0, q, info, coreLinks)
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
	msgs = c.input(t0, &Message{Op: OpNearestQuery, ServiceType: TypeFileServer}, info, withInternal)
	if len(msgs) != 1 || msgs[0].msg.Op != OpNearestResponse || msgs[0].msg.Entries[0].Addr.Net != 0x99 {
		t.Fatalf("nearest answer %+v", msgs)
	}
	// No answer for a type we do not know.
	if msgs := c.input(t0, &Message{Op: OpGeneralQuery, ServiceType: TypePrintServer}, info, coreLinks); msgs != nil {
		t.Fatalf("answered %v", msgs)
	}
	// Our own broadcast heard back is ignored.
	own := recv(1, coreLinks[0].Node)
	own.Header.Src.Socket = ipx.SocketSAP
	if msgs := c.input(t0, response(fs("X", 1, 1)), own, coreLinks); msgs != nil || c.table.Len() != 0 {
		t.Fatal("learned from ourselves")
	}
	// Bad local services are refused.
	if _, err := c.addLocal(Entry{Type: 4, Hops: 1}, coreLinks); err == nil {
		t.Fatal("nameless local service accepted")
	}
	if _, err := c.addLocal(fs("DOWN", 1, 16), coreLinks); err == nil {
		t.Fatal("16-hop local service accepted")
	}
}

func TestCoreNearestWithoutRoutes(t *testing.T) {
	c := newTestCore(t, Config{})
	c.input(t0, response(fs("B", 7, 3), fs("A", 8, 2), fs("C", 9, 4)), recv(1, nodeA), coreLinks)
	e, ok := c.nearest(coreLinks[1], coreLinks, TypeFileServer)
	if !ok || e.Name.String() != "A" || e.Hops != 3 {
		t.Fatalf("nearest %v %v, want A at 3 hops", e, ok)
	}
	// With routes, an unreachable network is skipped.
	var routes ipx.StaticRoutes
	routes.Set(7, ipx.Route{Link: 1, Hops: 1, Ticks: 2})
	routes.Set(9, ipx.Route{Link: 1, Hops: 1, Ticks: 2})
	c.cfg.Routes = &routes
	e, ok = c.nearest(coreLinks[1], coreLinks, TypeFileServer)
	if !ok || e.Name.String() != "B" {
		t.Fatalf("nearest %v %v, want B", e, ok)
	}
	if _, ok := c.nearest(coreLinks[0], coreLinks, TypeFileServer); ok {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
