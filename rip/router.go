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
	// PacketGap is the pause between the packets of one update or
	// answer. Default DefaultPacketGap (55 ms); negative means none.
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
	Table               TableStats
}

// answer is a queued reply to a request for all routes: the entries
// follow split horizon on link; the packets go to dst through via.
type answer struct {
	link, via ipx.LinkID
	dst       ipx.Addr
}

// Router speaks RIP on every link of an ipx.Stack and keeps a Table that
// it installs as the Stack's route source. See the package comment for
// the protocol. A Router owns two goroutines: one reads the RIP socket,
// the other sends updates and answers and ages the table. Both end when
// the Router or its Stack closes.
type Router struct {
	cfg    Config
	log    *slog.Logger
	stack  *ipx.Stack
	table  *Table
	routes ipx.RouteSource // what the router installed on the Stack

	// conn is the RIP socket. It is replaced when the Stack comes back
	// from "all links down", which ends a socket for good.
	conn atomic.Pointer[ipx.Conn]

	kick chan struct{}
	stop chan struct{}
	// closeCtx bounds the final poison; set before stop is closed.
	closeCtx context.Context
	wg       sync.WaitGroup

	// shared holds the SharedState of shared networks; copy-on-write
	// under mu, read without locks by the senders.
	shared atomic.Pointer[map[ipx.Network]SharedState]
	// sendMu orders what the router sends about shared networks: each
	// response packet reads their metrics from the table and goes out
	// under it, and SetShared changes the table and sends under it, so
	// no packet sent after SetShared carries the old metric.
	sendMu sync.Mutex

	mu        sync.Mutex
	triggered map[ipx.Network]struct{} // networks to advertise at once
	wanted    map[ipx.Network]struct{} // networks to ask about
	answers   []answer
	closed    bool
	// closing makes the read loop ignore packets while the final poison
	// goes out, so the router does not answer for routes it withdraws.
	closing atomic.Bool

	requests, responses, malformed, unknownOp atomic.Uint64
	sent, sendErrors, requestsDropped         atomic.Uint64
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
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		triggered: make(map[ipx.Network]struct{}),
		wanted:    make(map[ipx.Network]struct{}),
	}
	shared := maps.Clone(cfg.Shared)
	if shared == nil {
		shared = make(map[ipx.Network]SharedState)
	}
	r.shared.Store(&shared)
	r.conn.Store(conn)
	r.syncLinks(time.Now(), stack.Links())
	r.routes = table
	if cfg.Routes != nil {
		r.routes = &routeChain{table: table, next: cfg.Routes}
	}
	stack.SetRoutes(r.routes)
	r.wg.Add(2)
	go r.readLoop()
	go r.loop()
	return r, nil
}

// Table returns the router's table, to look up or subscribe to routes.
func (r *Router) Table() *Table { return r.table }

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	return Stats{
		Requests: r.requests.Load(), Responses: r.responses.Load(),
		Malformed: r.malformed.Load(), UnknownOp: r.unknownOp.Load(),
		Sent: r.sent.Load(), SendErrors: r.sendErrors.Load(),
		RequestsDropped: r.requestsDropped.Load(),
		Table:           r.table.Stats(),
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
// apart, as any update's, but if ctx has a deadline they are spread
// closer so that all go out before it; if ctx is cancelled the rest are
// not sent. CloseContext then releases the socket and puts Config.Routes
// back as the Stack's route source (nil: only the connected networks)
// in place of what the router installed. If the Stack is closed, there
// is nothing to send and CloseContext returns at once. A second call
// returns a *net.OpError wrapping net.ErrClosed.
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
	r.wg.Wait() // the loop has sent the poison
	r.stack.SetRoutes(r.cfg.Routes)
	return nil
}

// SetMetric sets the metric advertised for a directly connected network
// (see Table.SetMetric) and sends a triggered update at once if it
// changed. hops of Unreachable withdraws the network.
func (r *Router) SetMetric(n ipx.Network, hops, ticks uint16) error {
	events, err := r.table.SetMetric(time.Now(), n, hops, ticks, nil)
	if err != nil {
		return err
	}
	r.noteEvents(events)
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
	shared := maps.Clone(*r.shared.Load())
	shared[n] = s
	r.shared.Store(&shared)
	r.mu.Unlock()
	hops, ticks := s.metric()
	events, err := r.table.SetMetric(time.Now(), n, hops, ticks, nil)
	if errors.Is(err, ErrNotConnected) || len(events) == 0 {
		return nil
	}
	r.logEvents(events)
	if r.cfg.ListenOnly {
		return nil
	}
	wire := make([]byte, 0, MaxLen)
	for _, l := range wired(r.stack.Links()) {
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

// sharedState returns the state of n and whether n is shared.
func (r *Router) sharedState(n ipx.Network) (SharedState, bool) {
	s, ok := (*r.shared.Load())[n]
	return s, ok
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

// syncLinks records the networks of links, the Stack's live ones,
// internal networks included, as connected, a shared one at its state's
// metric; and those of links removed or failed as lost.
func (r *Router) syncLinks(now time.Time, links []ipx.LinkInfo) {
	var events []Event
	live := make(map[ipx.Network]ipx.LinkID, len(links))
	for _, l := range links {
		if l.Failed || l.Network == 0 {
			continue
		}
		live[l.Network] = l.ID
		var hops, ticks uint16
		if s, ok := r.sharedState(l.Network); ok {
			hops, ticks = s.metric()
		}
		events = r.table.setConnected(now, l.ID, l.Network, hops, ticks, events)
	}
	events = r.table.disconnect(now, live, events)
	r.noteEvents(events)
}

func (r *Router) logEvents(events []Event) {
	for _, ev := range events {
		r.log.Debug("rip: route changed", "network", ev.Network, "reason", ev.Reason,
			"link", ev.New.Link, "next_hop", ev.New.NextHop, "hops", ev.New.Hops, "ticks", ev.New.Ticks)
	}
}

// noteEvents queues triggered updates (and, for lost routes, requests
// for alternatives) for the events and wakes the loop.
func (r *Router) noteEvents(events []Event) {
	if len(events) == 0 {
		return
	}
	r.logEvents(events)
	r.mu.Lock()
	for _, ev := range events {
		if !r.cfg.ListenOnly {
			r.triggered[ev.Network] = struct{}{}
		}
		if ev.Reason == ReasonPoisoned || ev.Reason == ReasonExpired {
			r.wanted[ev.Network] = struct{}{}
		}
	}
	r.mu.Unlock()
	r.wake()
}

func (r *Router) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// readLoop handles every packet on the RIP socket until it is closed.
// When every link of the Stack has failed, which ends a socket for good,
// it waits for a live link and binds the socket again.
func (r *Router) readLoop() {
	defer r.wg.Done()
	buf := make([]byte, ipx.MaxPacketLen)
	p := Packet{Entries: make([]Entry, 0, MaxEntries)}
	var events []Event
	reply := make([]Entry, 0, MaxEntries)
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
			if r.isOwnNode(info.Link, info.From) {
				continue
			}
			events = r.table.Apply(time.Now(), info.Link, info.From, p.Entries, events[:0])
			r.noteEvents(events)
		case OpRequest:
			r.requests.Add(1)
			if r.cfg.ListenOnly {
				continue
			}
			dst, via := r.replyAddr(info)
			reply = reply[:0]
			all := false
			for _, e := range p.Entries {
				if e.Network == ipx.NetworkAll {
					all = true
					break
				}
				if a, ok := r.table.AdvertEntry(e.Network, info.Link, false); ok {
					reply = append(reply, a)
				}
			}
			if all {
				r.queueAnswer(answer{link: info.Link, via: via, dst: dst})
			} else if len(reply) > 0 {
				r.sendMu.Lock()
				r.refreshShared(reply, info.Link)
				wire, _ = (&Packet{Operation: OpResponse, Entries: reply}).AppendBinary(wire[:0])
				r.send(wire, via, dst)
				r.sendMu.Unlock()
			}
		default:
			r.unknownOp.Add(1)
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

// replyAddr is where the answer to a request goes, and the link to send
// it on (0: route by destination). That is the request's source, on the
// arrival link if the source is there, else routed (a request from
// another network); but if there is no route to the source's network (a
// host known by an internal network it does not advertise), the same
// socket at the link-level sender on the arrival link, which for such a
// local request is the requester.
func (r *Router) replyAddr(info ipx.RecvInfo) (ipx.Addr, ipx.LinkID) {
	src := info.Header.Src
	var arrival ipx.LinkInfo
	for _, l := range r.stack.Links() {
		if l.ID == info.Link {
			arrival = l
		}
	}
	if src.Net == 0 || src.Net == arrival.Network {
		return src, info.Link
	}
	if rt, ok := r.table.Lookup(src.Net); ok && rt.Reachable() {
		return src, 0
	}
	return ipx.Addr{Net: arrival.Network, Node: info.From, Socket: src.Socket}, info.Link
}

// wired returns the links with a wire that works: internal networks are
// advertised but nothing is sent on them, nor on failed links.
func wired(links []ipx.LinkInfo) []ipx.LinkInfo {
	return slices.DeleteFunc(links, func(l ipx.LinkInfo) bool { return l.Internal || l.Failed })
}

func (r *Router) isOwnNode(link ipx.LinkID, n ipx.Node) bool {
	for _, l := range r.stack.Links() {
		if l.ID == link {
			return l.Node == n
		}
	}
	return false
}

func (r *Router) queueAnswer(a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.answers, a) {
		return
	}
	if len(r.answers) >= r.cfg.MaxPendingRequests {
		r.requestsDropped.Add(1)
		return
	}
	r.answers = append(r.answers, a)
	r.wake()
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

func broadcastOn(l ipx.LinkInfo) ipx.Addr {
	return ipx.Addr{Net: l.Network, Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP}
}

// sender sends the packets of updates and answers so that no two leave
// on the same link less than the configured gap apart: the gap spares
// slow receivers on a segment, and keeps a packet from overtaking the
// one before it on a segment that reorders; other segments need not
// wait. The loop goroutine owns it.
type sender struct {
	r    *Router
	wire []byte
	// lastAt is when the last packet left on each link (0: routed).
	lastAt map[ipx.LinkID]time.Time
	// gap is the pause between packets.
	gap time.Duration
	// stop and done abort the pauses and the rest of the packets: the
	// router or its Stack closing.
	stop, done <-chan struct{}
	// keep sends entries as given, without refreshShared (the final
	// poison).
	keep bool
}

func (r *Router) newSender() *sender {
	return &sender{
		r: r, wire: make([]byte, 0, MaxLen), lastAt: make(map[ipx.LinkID]time.Time),
		gap: r.cfg.PacketGap, stop: r.stop, done: r.stack.Done(),
	}
}

// sendAll sends entries (operation op) to dst on link in packets of at
// most MaxEntries; false if the router is stopping.
func (s *sender) sendAll(op Operation, entries []Entry, link ipx.LinkID, dst ipx.Addr) bool {
	for p := range Split(op, entries) {
		if last, ok := s.lastAt[link]; ok && time.Since(last) < s.gap {
			t := time.NewTimer(s.gap - time.Since(last))
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				return false
			case <-s.done:
				t.Stop()
				return false
			}
		}
		s.lastAt[link] = time.Now()
		s.r.sendMu.Lock()
		if op == OpResponse && !s.keep {
			s.r.refreshShared(p.Entries, link)
		}
		s.wire, _ = p.AppendBinary(s.wire[:0])
		ok := s.r.send(s.wire, link, dst)
		s.r.sendMu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// loop sends periodic and triggered updates, answers queued requests and
// ages the table; it follows the Stack's links as they change; on stop it
// poisons the router's routes and closes the socket. It ends, sending
// nothing more, when the Stack closes.
func (r *Router) loop() {
	defer r.wg.Done()
	s := r.newSender()
	var entries []Entry
	var events []Event
	var nets []ipx.Network
	done := r.stack.Done()

	now := time.Now()
	linksCh := r.stack.LinksChanged()
	links := wired(r.stack.Links())
	known := make(map[ipx.LinkID]bool, len(links))
	// At start: ask for all routes and, as a router, announce ours.
	for _, l := range links {
		known[l.ID] = true
		s.sendAll(OpRequest, []Entry{RequestEntry(ipx.NetworkAll)}, l.ID, broadcastOn(l))
	}
	// Every interval the links are synced and, unless ListenOnly, the
	// whole table goes out; the first time at once.
	nextUpdate := now
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake := r.table.NextDeadline()
		if wake.IsZero() || nextUpdate.Before(wake) {
			wake = nextUpdate
		}
		timer.Reset(max(time.Until(wake), 0))
		changed := false
		select {
		case <-r.stop:
			r.shutdown(s)
			return
		case <-done:
			r.conn.Load().Close()
			return
		case <-linksCh:
			changed = true
		case <-r.kick:
		case <-timer.C:
		}
		select {
		case <-done: // the Stack's Close also closes linksCh
			r.conn.Load().Close()
			return
		default:
		}
		now = time.Now()
		events = r.table.Expire(now, events[:0])
		r.noteEvents(events)

		full := false
		if !now.Before(nextUpdate) {
			full = !r.cfg.ListenOnly
			nextUpdate = now.Add(r.cfg.UpdateInterval)
			changed = true
		}
		var fresh []ipx.LinkInfo // links new since the last sync
		if changed {
			linksCh = r.stack.LinksChanged()
			all := r.stack.Links()
			r.syncLinks(now, all)
			links = wired(all)
			for id := range known {
				if !slices.ContainsFunc(links, func(l ipx.LinkInfo) bool { return l.ID == id }) {
					delete(known, id)
				}
			}
			for _, l := range links {
				if !known[l.ID] {
					known[l.ID] = true
					fresh = append(fresh, l)
				}
			}
		}
		r.mu.Lock()
		nets = nets[:0]
		for n := range r.triggered {
			nets = append(nets, n)
		}
		clear(r.triggered)
		wanted := slices.Collect(maps.Keys(r.wanted))
		clear(r.wanted)
		answers := slices.Clone(r.answers)
		r.answers = r.answers[:0]
		r.mu.Unlock()
		slices.Sort(nets)
		slices.Sort(wanted)

		// A new link: ask it for all routes and tell it ours.
		for _, l := range fresh {
			s.sendAll(OpRequest, []Entry{RequestEntry(ipx.NetworkAll)}, l.ID, broadcastOn(l))
			if !full && !r.cfg.ListenOnly {
				entries = r.table.AppendAdvert(entries[:0], l.ID)
				s.sendAll(OpResponse, entries, l.ID, broadcastOn(l))
			}
		}
		if full {
			for _, l := range links {
				entries = r.table.AppendAdvert(entries[:0], l.ID)
				if !s.sendAll(OpResponse, entries, l.ID, broadcastOn(l)) {
					break
				}
			}
		} else if len(nets) > 0 {
			for _, l := range links {
				entries = r.triggeredEntries(entries[:0], nets, l.ID)
				if !s.sendAll(OpResponse, entries, l.ID, broadcastOn(l)) {
					break
				}
			}
		}
		if len(wanted) > 0 {
			entries = entries[:0]
			for _, n := range wanted {
				if rt, ok := r.table.Lookup(n); !ok || !rt.Reachable() {
					entries = append(entries, RequestEntry(n))
				}
			}
			for _, l := range links {
				s.sendAll(OpRequest, entries, l.ID, broadcastOn(l))
			}
		}
		for _, a := range answers {
			entries = r.table.AppendAdvert(entries[:0], a.link)
			s.sendAll(OpResponse, entries, a.via, a.dst)
		}
	}
}

// triggeredEntries appends the entries of a triggered update on link for
// the changed networks nets. It uses poison reverse: a route now learned
// on link goes out there at 16 hops, so a neighbour there that routed
// through us drops the route at once instead of letting it age out.
func (r *Router) triggeredEntries(dst []Entry, nets []ipx.Network, link ipx.LinkID) []Entry {
	for _, n := range nets {
		rt, ok := r.table.Lookup(n)
		if !ok {
			continue
		}
		e := advertised(rt.Network, rt.Hops, rt.Ticks)
		if rt.Origin == OriginRIP && rt.Link == link {
			e.Hops = Unreachable
		}
		dst = append(dst, e)
	}
	return dst
}

// shutdown advertises every offered route at 16 hops (unless
// ListenOnly), within the bound of closeCtx, and closes the socket,
// which ends the read loop.
func (r *Router) shutdown(s *sender) {
	ctx := r.closeCtx
	if !r.cfg.ListenOnly {
		s.keep, s.stop = true, ctx.Done()
		var entries []Entry
		links := wired(r.stack.Links())
		per := make([][]Entry, len(links))
		packets := 0
		for i, l := range links {
			entries = r.table.AppendAdvert(nil, l.ID)
			for j := range entries {
				entries[j].Hops = Unreachable
			}
			per[i] = entries
			packets += (len(entries) + MaxEntries - 1) / MaxEntries
		}
		// Spread the packets to fit before the deadline, gaps included.
		if d, ok := ctx.Deadline(); ok && packets > 1 {
			s.gap = min(s.gap, time.Until(d)/time.Duration(packets))
		}
		for i, l := range links {
			if !s.sendAll(OpResponse, per[i], l.ID, broadcastOn(l)) {
				break
			}
		}
	}
	r.mu.Lock()
	r.conn.Load().Close()
	r.mu.Unlock()
}

// errClosed is the error of a call on a closed Router, as the standard
// library's for a closed connection.
func errClosed(op string) error {
	return &net.OpError{Op: op, Net: "ipx", Err: net.ErrClosed}
}
