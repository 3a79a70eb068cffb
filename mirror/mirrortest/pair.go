package mirrortest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/ipxarbiter"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/spx"
)

// T is what a Pair needs of its owner: *testing.T and *testing.B
// satisfy it, and so does Cleanups for code outside tests.
type T interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// Cleanups is a T for programs and examples: Fatal panics, and Close runs
// the cleanups in reverse order.
type Cleanups struct{ fs []func() }

// Helper does nothing.
func (c *Cleanups) Helper() {}

// Fatal panics with its arguments.
func (c *Cleanups) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// Cleanup registers f to run at Close.
func (c *Cleanups) Cleanup(f func()) { c.fs = append(c.fs, f) }

// Close runs the registered cleanups, last first.
func (c *Cleanups) Close() {
	for i := len(c.fs) - 1; i >= 0; i-- {
		c.fs[i]()
	}
	c.fs = nil
}

// Addresses of a test pair.
const (
	LANNet      ipx.Network = 0x00000001 // servers' and clients' segment
	MSLNet      ipx.Network = 0x0000000A // the dedicated MSL segment
	InternalNet ipx.Network = 0x00C0FFEE // the engine's internal network
	MSLSocket   ipx.Socket  = 0x4B00
)

// MSLConfig is the SPX configuration of a test pair's MSL: on a LAN, a
// retransmission timeout capped well below the MSL timeout, so that a
// stall shorter than that timeout is repaired before it expires; and
// acks carried by the answers each MSL message gets at once.
var MSLConfig = spx.Config{MaxRTO: mirror.DefaultMSLTimeout / 5, Linger: -1, PiggybackAcks: true}

// InternalNode is the engine's node on the internal network.
var InternalNode = ipx.Node{0, 0, 0, 0, 0, 1}

// Key is the MSL key of test pairs.
var Key = []byte("mirrortest MSL key, 32 bytes....")

// Server is one server of a Pair.
type Server struct {
	Name   string
	Node   ipx.Node
	Stack  *ipx.Stack
	LAN    *memlan.Link
	MSL    *memlan.Link
	Router *rip.Router
	KV     *KV
	*mirror.Server
	Config mirror.Config
}

// Client is a client of a Pair: a Stack on the LAN with a listen-only
// RIP router, and a mirror.Client.
type Client struct {
	Stack  *ipx.Stack
	Router *rip.Router
	*mirror.Client
}

// PairConfig configures NewPair.
type PairConfig struct {
	Clients int
	Seed    uint64
	// Server adjusts each server's Config before it starts.
	Server func(*mirror.Config)
	Logger *slog.Logger
	// Alone starts only the primary: an unmirrored server, to measure
	// what mirroring costs.
	Alone bool
	// Arbiter runs an ipxarbiter.Server on the LAN, at ArbiterNode, and
	// gives both servers a client of it.
	Arbiter bool
}

// ArbiterNode is the LAN node of a Pair's arbiter.
var ArbiterNode = Node(9)

// ArbiterKey is the key of a Pair's arbiter.
var ArbiterKey = []byte("mirrortest arbiter key, 32 bytes")

// Pair is a primary (A) and a secondary (B) on a LAN segment and a
// dedicated MSL segment, with clients on the LAN.
type Pair struct {
	t       T
	cfg     PairConfig
	LAN     *memlan.Segment
	MSLSeg  *memlan.Segment
	A, B    *Server
	Clients []*Client
	// Addr is the engine's address clients use.
	Addr ipx.Addr
	// Arbiter and its LAN link, with PairConfig.Arbiter.
	Arbiter     *ipxarbiter.Server
	ArbiterLink *memlan.Link
}

// Node returns the test node 02:00:00:00:00:n.
func Node(n byte) ipx.Node { return ipx.Node{2, 0, 0, 0, 0, n} }

// NewPair starts a pair, A primary and B secondary, and cfg.Clients
// clients. Everything is closed when the test ends.
func NewPair(t T, cfg PairConfig) *Pair {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pair{
		t: t, cfg: cfg,
		LAN:    memlan.NewSegment(memlan.Config{Seed: cfg.Seed}),
		MSLSeg: memlan.NewSegment(memlan.Config{Seed: cfg.Seed + 1}),
		Addr:   ipx.Addr{Net: InternalNet, Node: InternalNode, Socket: mirror.DefaultSocket},
	}
	if cfg.Arbiter {
		p.startArbiter()
	}
	p.A = p.StartServer("A", Node(1), Node(2), mirror.RolePrimary)
	if !cfg.Alone {
		p.B = p.StartServer("B", Node(2), Node(1), mirror.RoleSecondary)
	}
	for i := range cfg.Clients {
		p.Clients = append(p.Clients, p.NewClient(Node(byte(10+i))))
	}
	return p
}

func (p *Pair) startArbiter() {
	t := p.t
	st, err := ipx.NewStack(ipx.StackConfig{Logger: p.cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if p.ArbiterLink, err = p.LAN.Attach(ArbiterNode); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddLink(p.ArbiterLink, LANNet); err != nil {
		t.Fatal(err)
	}
	if p.Arbiter, err = ipxarbiter.NewServer(ipxarbiter.Config{Stack: st, Key: ArbiterKey, Logger: p.cfg.Logger.With("server", "arbiter")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Arbiter.Close() })
}

// StartServer starts a server at node on both memlan segments, with peer
// as the other server, in role start.
func (p *Pair) StartServer(name string, node, peer ipx.Node, start mirror.Role) *Server {
	t := p.t
	t.Helper()
	s := p.newServerStack(name)
	var err error
	if s.LAN, err = p.LAN.Attach(node); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stack.AddLink(s.LAN, LANNet); err != nil {
		t.Fatal(err)
	}
	if s.MSL, err = p.MSLSeg.Attach(node); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stack.AddLink(s.MSL, MSLNet); err != nil {
		t.Fatal(err)
	}
	s.Node = node
	p.startServer(s, ipx.Addr{Net: MSLNet, Node: peer, Socket: MSLSocket}, peer, start)
	return s
}

func (p *Pair) newServerStack(name string) *Server {
	st, err := ipx.NewStack(ipx.StackConfig{Logger: p.cfg.Logger})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { st.Close() })
	return &Server{Name: name, Stack: st, KV: NewKV()}
}

// startServer gives s, whose Stack has its LAN (and MSL) links, the
// shared internal network, a router and a mirror.Server.
func (p *Pair) startServer(s *Server, peerMSL ipx.Addr, peer ipx.Node, start mirror.Role) {
	t := p.t
	t.Helper()
	st := s.Stack
	if _, err := st.AddLinkConfig(ipx.NewInternalLink(InternalNode), ipx.LinkConfig{Network: InternalNet, Shared: true}); err != nil {
		t.Fatal(err)
	}
	var err error
	s.Router, err = rip.NewRouter(st, rip.Config{
		Shared: map[ipx.Network]rip.SharedState{InternalNet: rip.SharedStandby},
		Logger: p.cfg.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Router.Close() })
	ln, err := spx.ListenConfig(st, MSLSocket, MSLConfig)
	if err != nil {
		t.Fatal(err)
	}
	s.Config = mirror.Config{
		Stack: st, Router: s.Router, Engine: s.KV, EngineVersion: "kv1",
		Network: InternalNet, Node: InternalNode, Start: start, Key: Key,
		Peer:     ipx.Addr{Net: LANNet, Node: peer},
		Listener: ln,
		Dial: func(ctx context.Context) (net.Conn, error) {
			return spx.DialConfig(ctx, st, peerMSL, MSLConfig)
		},
		Logger: p.cfg.Logger.With("server", s.Name),
	}
	if p.Arbiter != nil {
		arb, err := ipxarbiter.NewClient(ipxarbiter.ClientConfig{Stack: st,
			Arbiter: ipx.Addr{Net: LANNet, Node: ArbiterNode}, Network: InternalNet, Key: ArbiterKey})
		if err != nil {
			t.Fatal(err)
		}
		s.Config.Arbiter = arb
	}
	if p.cfg.Server != nil {
		p.cfg.Server(&s.Config)
	}
	if s.Server, err = mirror.NewServer(s.Config); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Server.Close() })
}

// Call sends req and waits up to timeout for the reply, failing t if
// none comes or it does not parse; it returns the reply's status and
// value.
func (c *Client) Call(t T, req []byte, timeout time.Duration) (byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := c.Do(ctx, req)
	if err != nil {
		t.Fatal(fmt.Sprintf("Do(%q): %v", req, err))
	}
	st, v, err := ParseReply(r)
	if err != nil {
		t.Fatal(err)
	}
	return st, v
}

// NewClient starts a client at node on the LAN.
func (p *Pair) NewClient(node ipx.Node) *Client {
	t := p.t
	t.Helper()
	st, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := p.LAN.Attach(node)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddLink(l, LANNet); err != nil {
		t.Fatal(err)
	}
	c := &Client{Stack: st}
	if c.Router, err = rip.NewRouter(st, rip.Config{ListenOnly: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Router.Close() })
	if c.Client, err = mirror.NewClient(mirror.ClientConfig{Stack: st, Server: p.Addr}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Client.Close() })
	return c
}

// Crash powers s off: both its links fall silent.
func (p *Pair) Crash(s *Server) {
	s.LAN.Crash()
	s.MSL.Crash()
}

// CutMSL cuts the MSL segment between the servers; HealMSL mends it.
func (p *Pair) CutMSL() { p.MSLSeg.Partition([]ipx.Node{p.A.Node}, []ipx.Node{p.B.Node}) }

// CutLAN stops the servers hearing each other on the LAN; both still
// reach the clients and the arbiter. HealLAN mends it.
func (p *Pair) CutLAN() {
	p.LAN.SetReachable(p.A.Node, p.B.Node, false)
	p.LAN.SetReachable(p.B.Node, p.A.Node, false)
}

// HealLAN mends what CutLAN cut.
func (p *Pair) HealLAN() {
	p.LAN.SetReachable(p.A.Node, p.B.Node, true)
	p.LAN.SetReachable(p.B.Node, p.A.Node, true)
}

// HealMSL mends the MSL segment.
func (p *Pair) HealMSL() { p.MSLSeg.Heal() }

// WaitMirrored waits, on the test's clock, until both servers report
// mirrored operation or timeout passes; it reports whether they did.
func (p *Pair) WaitMirrored(timeout time.Duration) bool {
	return WaitFor(timeout, func() bool {
		if p.B == nil || p.B.Server == nil {
			return true
		}
		a, b := p.A.Status(), p.B.Status()
		return a.Peer == mirror.PeerMirrored && b.Peer == mirror.PeerMirrored
	})
}

// WaitRoutes waits until every client has a route to the internal
// network, or timeout passes; it reports whether they do.
func (p *Pair) WaitRoutes(timeout time.Duration) bool {
	return WaitFor(timeout, func() bool {
		for _, c := range p.Clients {
			if _, ok := c.Router.Table().Lookup(InternalNet); !ok {
				return false
			}
		}
		return true
	})
}

// WaitFor polls cond every 10 ms of the clock until it holds or timeout
// passes. Under testing/synctest the clock is fake and the wait costs
// nothing.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
