package rip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/pace"
	"github.com/ipxkit/ipxkit/ipx"
)

// Defaults for Config fields left zero.
const (
	// DefaultUpdateInterval is the period of full broadcasts.
	DefaultUpdateInterval = time.Minute
	// DefaultPacketGap separates the packets of one update, as Novell's
	// routers do, so slow receivers keep up.
	DefaultPacketGap = 55 * time.Millisecond
	// DefaultMaxPendingRequests bounds the queued answers to requests for
	// all routes.
	DefaultMaxPendingRequests = 32
	// DefaultCloseTimeout bounds Close: the final update that withdraws
	// the router's routes is spread over at most this long.
	DefaultCloseTimeout = 2 * time.Second
)

// Config configures a Router. The zero value is a router with the
// defaults of Novell's specification.
type Config struct {
	// UpdateInterval is the period of full broadcasts on every link.
	// Default DefaultUpdateInterval (60 s).
	UpdateInterval time.Duration
	// PacketGap is the least time between two packets the router sends
	// on one link (answers routed elsewhere count as one more link).
	// Default DefaultPacketGap (55 ms); negative means none.
	PacketGap time.Duration
	// ListenOnly makes a host that learns routes but never advertises
	// them nor answers requests, as a NetWare workstation.
	ListenOnly bool
	// Table configures the routing table (age, garbage time, bound).
	Table TableConfig
	// MaxPendingRequests bounds the queued answers to requests for all
	// routes; requests beyond it are dropped and counted. Default
	// DefaultMaxPendingRequests.
	MaxPendingRequests int
	// Routes, if not nil, is a route source the router consults for
	// networks its table has no reachable route to (before the table's
	// default route): static routes the embedder sets, such as an
	// ipx.StaticRoutes, which it may change at any time. Pass the
	// Stack's previous route source here to keep it: Close puts Routes
	// back as the Stack's source. The router does not advertise them.
	Routes ipx.RouteSource
	// CloseTimeout bounds Close (see Router.CloseContext). Default
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Shared gives the state of each network this server shares with
	// another (see SharedState), in force before the router's first
	// packet: a standby that starts with its shared network at
	// SharedStandby never advertises it as reachable. A network not yet
	// connected takes its state when a link with that number appears.
	// Change the states later with Router.SetShared. The router keeps
	// its own copy.
	Shared map[ipx.Network]SharedState
	// Logger receives route changes (debug) and send failures; nil
	// discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.UpdateInterval == 0 {
		c.UpdateInterval = DefaultUpdateInterval
	}
	if c.PacketGap == 0 {
		c.PacketGap = DefaultPacketGap
	}
	if c.PacketGap < 0 {
		c.PacketGap = 0
	}
	if c.MaxPendingRequests == 0 {
		c.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Table.setDefaults()
}

// Validate reports out-of-range fields, after filling in defaults for
// zero ones. Routes must live longer than one update interval, or they
// would age out between two broadcasts.
func (c *Config) Validate() error {
	if err := c.Table.Validate(); err != nil {
		return err
	}
	d := *c
	c = &d
	c.setDefaults()
	switch {
	case c.UpdateInterval < 0:
		return fmt.Errorf("rip: UpdateInterval %v: %w", c.UpdateInterval, ErrBadConfig)
	case c.MaxPendingRequests < 0:
		return fmt.Errorf("rip: MaxPendingRequests %d: %w", c.MaxPendingRequests, ErrBadConfig)
	case c.CloseTimeout < 0:
		return fmt.Errorf("rip: CloseTimeout %v: %w", c.CloseTimeout, ErrBadConfig)
	case c.Table.MaxAge <= c.UpdateInterval:
		return fmt.Errorf("rip: MaxAge %v not above UpdateInterval %v: %w", c.Table.MaxAge, c.UpdateInterval, ErrBadConfig)
	case c.PacketGap >= c.UpdateInterval:
		return fmt.Errorf("rip: PacketGap %v too long for UpdateInterval %v: %w", c.PacketGap, c.UpdateInterval, ErrBadConfig)
	}
	for n, s := range c.Shared {
		if !s.valid() {
			return fmt.Errorf("rip: Shared[%v] = %v: %w", n, s, ErrBadConfig)
		}
	}
	return nil
}

// Stats counts what a Router did.
type Stats struct {
	Requests, Responses uint64 // RIP packets received, by operation
	Malformed           uint64 // undecodable packets
	UnknownOp           uint64 // packets with another operation
	Sent                uint64 // RIP packets sent
	SendErrors          uint64 // sends that failed
	RequestsDropped     uint64 // requests for all routes over MaxPendingRequests
	TriggersDropped     uint64 // changes left to the periodic update, too many pending
	Table               TableStats
}

// Router speaks RIP on every link of an ipx.Stack and keeps a Table that
// it installs as the Stack's route source. See the package comment for
// the protocol. A Router owns two goroutines: one reads the RIP socket
// and only notes the work to do, the other sends, each link paced on its
// own, and runs the timers. Both end when the Router or its Stack
// closes. The protocol logic is an I/O-free core, as sap's.
type Router struct {
	cfg    Config
	log    *slog.Logger
	stack  *ipx.Stack
	table  *Table
	routes ipx.RouteSource // what the router installed on the Stack

	// conn is the RIP socket. It is replaced when the Stack comes back
	// from "all links down", which ends a socket for good.
	conn atomic.Pointer[ipx.Conn]

	kick pace.Waker
	stop chan struct{}
	// closeCtx bounds the final poison; set before stop is closed.
	closeCtx context.Context
	wg       sync.WaitGroup

	// shared is a copy of the core's shared states, replaced under mu,
	// for the senders to read without locks.
	shared atomic.Pointer[map[ipx.Network]SharedState]
	// sendMu orders what the router sends about shared networks: each
	// response packet reads their metrics from the table and goes out
	// under it, and SetShared changes the table and sends under it, so
	// no packet sent after SetShared carries the old metric. It is
	// taken before mu.
	sendMu sync.Mutex

	mu     sync.Mutex
	core   *core
	closed bool
	// closing makes the read loop ignore packets while the final poison
	// goes out, so the router does not answer for routes it withdraws.
	closing atomic.Bool

	requests, responses, malformed, unknownOp atomic.Uint64
	sent, sendErrors                          atomic.Uint64
}

// NewRouter binds the RIP socket (0x0453) on stack, installs a new Table
// as its route source (followed by Config.Routes) with the directly
// connected networks of its links, asks every link for all routes and,
// unless ListenOnly, starts advertising. Links added to the Stack later,
// removed or failed are taken into account at once: a new link is asked
// for all routes and, unless ListenOnly, told the whole table; the
// networks of links gone are advertised at 16 hops. A router's Stack
// should forward (ipx.StackConfig.Forward), or the routes it advertises
// lead nowhere; a ListenOnly host's need not.
func NewRouter(stack *ipx.Stack, cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	table, err := NewTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	conn, err := stack.Listen(ipx.SocketRIP)
	if err != nil {
		return nil, fmt.Errorf("rip: %w", err)
	}
	r := &Router{
		cfg: cfg, log: cfg.Logger, stack: stack, table: table,
		kick: pace.NewWaker(),
		stop: make(chan struct{}),
	}
	now := time.Now()
	r.core = newCore(cfg, table, now)
	shared := maps.Clone(r.core.shared)
	r.shared.Store(&shared)
	r.conn.Store(conn)
	changed := stack.LinksChanged()
	r.core.setLinks(now, stack.Links())
	r.routes = table
	if cfg.Routes != nil {
		r.routes = &routeChain{table: table, next: cfg.Routes}
	}
	stack.SetRoutes(r.routes)
	r.wg.Add(2)
	go r.readLoop()
	go r.sendLoop(changed)
	return r, nil
}

// Table returns the router's table, to look up or subscribe to routes.
func (r *Router) Table() *Table { return r.table }

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	dropped, triggers := r.core.requestsDropped, r.core.triggersDropped
	r.mu.Unlock()
	return Stats{
		Requests: r.requests.Load(), Responses: r.responses.Load(),
		Malformed: r.malformed.Load(), UnknownOp: r.unknownOp.Load(),
		Sent: r.sent.Load(), SendErrors: r.sendErrors.Load(),
		RequestsDropped: dropped, TriggersDropped: triggers,
		Table: r.table.Stats(),
	}
}

// Close is CloseContext bounded by Config.CloseTimeout.
func (r *Router) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CloseTimeout)
	defer cancel()
	return r.CloseContext(ctx)
}

// CloseContext stops the router. Unless ListenOnly, it first advertises
// every route it offers at 16 hops, so neighbours drop them at once
// instead of waiting for them to age out. Those packets go PacketGap
// apart on each link, as any update's, but if ctx has a deadline they
// are spread closer so that all go out before it; if ctx is cancelled
// the rest are not sent. CloseContext then releases the socket and puts
// Config.Routes back as the Stack's route source (nil: only the
// connected networks) in place of what the router installed. If the
// Stack is closed, there is nothing to send and CloseContext returns at
// once. A second call returns a *net.OpError wrapping net.ErrClosed.
func (r *Router) CloseContext(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errClosed("close")
	}
	r.closed = true
	r.closeCtx = ctx
	r.mu.Unlock()
	r.closing.Store(true)
	close(r.stop)
	r.wg.Wait() // the send loop has sent the poison
	r.stack.SetRoutes(r.cfg.Routes)
	return nil
}

// SetMetric sets the metric advertised for a directly connected network
// (see Table.SetMetric) and sends a triggered update at once if it
// changed. hops of Unreachable withdraws the network. For a network two
// servers share, use SetShared.
func (r *Router) SetMetric(n ipx.Network, hops, ticks uint16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	events, err := r.table.SetMetric(time.Now(), n, hops, ticks, nil)
	if err != nil {
		return err
	}
	r.core.note(events)
	if len(events) > 0 {
		r.kick.Wake()
	}
	return nil
}

// SetShared sets the state of the shared network n (see SharedState)
// and, unless ListenOnly, advertises its new metric at once on every
// link, in the caller's goroutine, ahead of any update under way. Every
// packet the router sends afterwards carries the new metric. n need not
// be connected yet: the state applies when a link with network n is
// added. An undefined state returns an error wrapping ErrBadConfig.
func (r *Router) SetShared(n ipx.Network, s SharedState) error {
	if !s.valid() {
		return fmt.Errorf("rip: shared state %v of network %v: %w", s, n, ErrBadConfig)
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errClosed("setshared")
	}
	r.core.shared[n] = s
	shared := maps.Clone(r.core.shared)
	r.shared.Store(&shared)
	hops, ticks := s.metric()
	events, err := r.table.SetMetric(time.Now(), n, hops, ticks, nil)
	for _, ev := range events {
		r.log.Debug("rip: shared network", "network", n, "state", s, "hops", ev.New.Hops, "ticks", ev.New.Ticks)
	}
	var links []ipx.LinkInfo
	for _, l := range r.core.links {
		if wiredLink(l) {
			links = append(links, l)
		}
	}
	r.mu.Unlock()
	if errors.Is(err, ErrNotConnected) || len(events) == 0 || r.cfg.ListenOnly {
		return nil
	}
	wire := make([]byte, 0, MaxLen)
	for _, l := range links {
		e, ok := r.table.AdvertEntry(n, l.ID, true)
		if !ok {
			continue
		}
		wire, _ = (&Packet{Operation: OpResponse, Entries: []Entry{e}}).AppendBinary(wire[:0])
		r.send(wire, l.ID, broadcastOn(l))
	}
	return nil
}

// Announce sends one RIP response to dst with the networks nets at the
// metrics the router advertises them now (16 hops for a network it has
// no route to), in as many packets as 50 entries a packet need. The
// packets are routed to dst like any other. A server that takes over a
// shared network announces it to the clients it knows, so that even a
// listener that missed the broadcast switches at once.
func (r *Router) Announce(dst ipx.Addr, nets ...ipx.Network) error {
	if r.isClosed() {
		return errClosed("announce")
	}
	entries := make([]Entry, 0, len(nets))
	for _, n := range nets {
		e, ok := r.table.AdvertEntry(n, 0, true)
		if !ok {
			e = Entry{Network: n, Hops: Unreachable}
		}
		entries = append(entries, e)
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	wire := make([]byte, 0, MaxLen)
	for p := range Split(OpResponse, entries) {
		r.refreshShared(p.Entries, 0)
		wire, _ = p.AppendBinary(wire[:0])
		if _, err := r.conn.Load().WriteMsg(wire, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
			r.sendErrors.Add(1)
			return fmt.Errorf("rip: announce to %v: %w", dst, err)
		}
		r.sent.Add(1)
	}
	return nil
}

func (r *Router) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// refreshShared sets the metric of the shared networks among entries,
// about to go out on link, to their current one. The caller holds
// sendMu.
func (r *Router) refreshShared(entries []Entry, link ipx.LinkID) {
	shared := *r.shared.Load()
	if len(shared) == 0 {
		return
	}
	for i, e := range entries {
		if _, ok := shared[e.Network]; !ok {
			continue
		}
		if a, ok := r.table.AdvertEntry(e.Network, link, true); ok {
			entries[i] = a
		}
	}
}

// readLoop reads the RIP socket and hands each packet to the core, which
// only notes the work; only the answer to a request for some networks,
// one packet, is sent from here. When every link of the Stack has
// failed, which ends a socket for good, it waits for a live link and
// binds the socket again.
func (r *Router) readLoop() {
	defer r.wg.Done()
	buf := make([]byte, ipx.MaxPacketLen)
	p := Packet{Entries: make([]Entry, 0, MaxEntries)}
	wire := make([]byte, 0, MaxLen)
	for {
		conn := r.conn.Load()
		n, info, err := conn.ReadMsg(buf)
		if err != nil {
			if errors.Is(err, ipx.ErrLinkDown) && r.rebind(conn) {
				continue
			}
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, ipx.ErrLinkDown) {
				r.log.Warn("rip: read failed", "err", err)
			}
			return
		}
		if r.closing.Load() {
			continue
		}
		if err := p.UnmarshalBinary(buf[:n]); err != nil {
			r.malformed.Add(1)
			continue
		}
		switch p.Operation {
		case OpResponse:
			r.responses.Add(1)
		case OpRequest:
			r.requests.Add(1)
		default:
			r.unknownOp.Add(1)
			continue
		}
		r.mu.Lock()
		reply, work := r.core.input(time.Now(), &p, info)
		r.mu.Unlock()
		if work {
			r.kick.Wake()
		}
		if reply != nil {
			r.sendMu.Lock()
			r.refreshShared(reply.pkt.Entries, info.Link)
			wire, _ = reply.pkt.AppendBinary(wire[:0])
			r.send(wire, reply.link, reply.dst)
			r.sendMu.Unlock()
		}
	}
}

// rebind waits until the Stack has a live link again, then replaces
// the socket old, which "all links down" ended. False if the router or
// the Stack closes first.
func (r *Router) rebind(old *ipx.Conn) bool {
	for {
		ch := r.stack.LinksChanged()
		if slices.ContainsFunc(r.stack.Links(), func(l ipx.LinkInfo) bool { return !l.Failed }) {
			break
		}
		select {
		case <-ch:
		case <-r.stop:
			return false
		case <-r.stack.Done():
			return false
		}
	}
	old.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	c, err := r.stack.Listen(ipx.SocketRIP)
	if err != nil {
		r.log.Warn("rip: cannot bind the socket again", "err", err)
		return false
	}
	r.conn.Store(c)
	return true
}

// send writes one encoded RIP packet to dst through link.
func (r *Router) send(wire []byte, link ipx.LinkID, dst ipx.Addr) bool {
	o := ipx.WriteOptions{Type: ipx.TypeRIP, Link: link}
	if _, err := r.conn.Load().WriteMsg(wire, dst, o); err != nil {
		r.sendErrors.Add(1)
		r.log.Debug("rip: send failed", "link", link, "dst", dst, "err", err)
		return !errors.Is(err, net.ErrClosed)
	}
	r.sent.Add(1)
	return true
}

// write sends one packet the core handed out, its shared networks at
// their current metric.
func (r *Router) write(o *out, wire []byte) []byte {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if o.pkt.Operation == OpResponse {
		r.refreshShared(o.pkt.Entries, o.link)
	}
	wire, _ = o.pkt.AppendBinary(wire[:0])
	r.send(wire, o.link, o.dst)
	return wire
}

// sendLoop sends what the core hands out, each link paced on its own,
// runs the core's timers and follows the Stack's links. On Close it
// withdraws the routes and closes the socket, which ends the reader; it
// ends, sending nothing more, when the Stack closes.
func (r *Router) sendLoop(changed <-chan struct{}) {
	defer r.wg.Done()
	pacer := pace.NewPacer[ipx.LinkID, out](r.core, r.cfg.PacketGap, jobKinds)
	wire := make([]byte, 0, MaxLen)
	timer := pace.NewTimer()
	defer timer.Stop()
	for {
		now := time.Now()
		r.mu.Lock()
		ready, wake := pacer.Poll(now)
		r.mu.Unlock()
		for i := range ready {
			wire = r.write(&ready[i], wire)
		}
		timer.Reset(wake)
		select {
		case <-timer.C():
		case <-r.kick.C():
		case <-changed:
			select {
			case <-r.stack.Done():
				r.conn.Load().Close()
				return
			default:
			}
			changed = r.stack.LinksChanged()
			links := r.stack.Links()
			r.mu.Lock()
			r.core.setLinks(time.Now(), links)
			// A table change (a network lost) may bring the
			// deadline forward.
			pacer.TickBy(time.Time{})
			r.mu.Unlock()
		case <-r.stack.Done():
			r.conn.Load().Close()
			return
		case <-r.stop:
			r.shutdown()
			return
		}
		// Events noted by the reader may bring the table's deadline
		// forward (a dying route): take it again.
		r.mu.Lock()
		pacer.TickBy(r.core.Deadline())
		r.mu.Unlock()
	}
}

// shutdown sends the withdrawal of the router's routes, each link paced
// on its own, PacketGap apart or closer so that all of it goes out
// before the close context's deadline, and none after the context ends;
// then it closes the socket.
func (r *Router) shutdown() {
	defer func() {
		r.mu.Lock()
		r.conn.Load().Close()
		r.mu.Unlock()
	}()
	r.mu.Lock()
	msgs := r.core.shutdown()
	ctx := r.closeCtx
	r.mu.Unlock()
	wire := make([]byte, 0, MaxLen)
	pace.Drain(ctx, r.stack.Done(), r.cfg.PacketGap, msgs,
		func(o *out) ipx.LinkID { return o.link },
		func(o *out) {
			wire, _ = o.pkt.AppendBinary(wire[:0])
			r.send(wire, o.link, o.dst)
		})
}

// errClosed is the error of a call on a closed Router, as the standard
// library's for a closed connection.
func errClosed(op string) error {
	return &net.OpError{Op: op, Net: "ipx", Err: net.ErrClosed}
}
