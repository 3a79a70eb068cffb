package rip

import (
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
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Table.setDefaults()
}

// Validate reports out-of-range fields, after filling in defaults for
// zero ones. Routes must live longer than one update interval, or they
// would age out between two broadcasts.
func (c Config) Validate() error {
	if err := c.Table.Validate(); err != nil {
		return err
	}
	c.setDefaults()
	switch {
	case c.UpdateInterval < 0:
		return fmt.Errorf("rip: UpdateInterval %v: %w", c.UpdateInterval, ErrBadConfig)
	case c.MaxPendingRequests < 0:
		return fmt.Errorf("rip: MaxPendingRequests %d: %w", c.MaxPendingRequests, ErrBadConfig)
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
// the other sends updates and answers and ages the table.
type Router struct {
	cfg   Config
	log   *slog.Logger
	stack *ipx.Stack
	conn  *ipx.Conn
	table *Table

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup

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
// as its route source with the directly connected networks of its links,
// asks every link for all routes and, unless ListenOnly, starts
// advertising. Links added to the Stack later are picked up at the next
// periodic update. A router's Stack should forward
// (ipx.StackConfig.Forward), or the routes it advertises lead nowhere; a
// ListenOnly host's need not.
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
		cfg: cfg, log: cfg.Logger, stack: stack, conn: conn, table: table,
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
	r.syncLinks(time.Now())
	stack.SetRoutes(table)
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

// Close stops the router. Unless ListenOnly, it first advertises every
// route it offers at 16 hops, so neighbours drop them at once instead of
// waiting for them to age out; that takes one PacketGap per packet of 50
// routes, as any update does. It then releases the socket and removes
// the table from the Stack (which keeps only its connected networks).
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errClosed("close")
	}
	r.closed = true
	r.mu.Unlock()
	r.closing.Store(true)
	close(r.stop)
	r.wg.Wait() // the loop has sent the poison
	r.stack.SetRoutes(nil)
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
		if _, err := r.conn.WriteMsg(wire, dst, ipx.WriteOptions{Type: ipx.TypeRIP}); err != nil {
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

// syncLinks records the Stack's links, internal networks included, as
// connected networks, a shared one at its state's metric.
func (r *Router) syncLinks(now time.Time) {
	var events []Event
	for _, l := range r.stack.Links() {
		var hops, ticks uint16
		if s, ok := r.sharedState(l.Network); ok {
			hops, ticks = s.metric()
		}
		events = r.table.setConnected(now, l.ID, l.Network, hops, ticks, events)
	}
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
func (r *Router) readLoop() {
	defer r.wg.Done()
	buf := make([]byte, ipx.MaxPacketLen)
	p := Packet{Entries: make([]Entry, 0, MaxEntries)}
	var events []Event
	reply := make([]Entry, 0, MaxEntries)
	wire := make([]byte, 0, MaxLen)
	for {
		n, info, err := r.conn.ReadMsg(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
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

// wired returns the links with a wire: internal networks are advertised
// but nothing is sent on them.
func wired(links []ipx.LinkInfo) []ipx.LinkInfo {
	return slices.DeleteFunc(links, func(l ipx.LinkInfo) bool { return l.Internal })
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
	if _, err := r.conn.WriteMsg(wire, dst, o); err != nil {
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

// sender sends the packets of one update or answer with the configured
// gap between them. The loop goroutine owns it.
type sender struct {
	r     *Router
	wire  []byte
	first bool
	// stop, if non-nil, aborts the pauses (nil during the final poison).
	stop <-chan struct{}
	// keep sends entries as given, without refreshShared (the final
	// poison).
	keep bool
}

// sendAll sends entries (operation op) to dst on link in packets of at
// most MaxEntries; false if the router is stopping.
func (s *sender) sendAll(op Operation, entries []Entry, link ipx.LinkID, dst ipx.Addr) bool {
	for p := range Split(op, entries) {
		if !s.first && s.r.cfg.PacketGap > 0 {
			t := time.NewTimer(s.r.cfg.PacketGap)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				return false
			}
		}
		s.first = false
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
// ages the table; on stop it poisons the router's routes and closes the
// socket.
func (r *Router) loop() {
	defer r.wg.Done()
	s := &sender{r: r, wire: make([]byte, 0, MaxLen), stop: r.stop}
	var entries []Entry
	var events []Event
	var nets []ipx.Network

	now := time.Now()
	links := wired(r.stack.Links())
	// At start: ask for all routes and, as a router, announce ours.
	s.first = true
	for _, l := range links {
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
		select {
		case <-r.stop:
			r.shutdown()
			return
		case <-r.kick:
		case <-timer.C:
		}
		now = time.Now()
		events = r.table.Expire(now, events[:0])
		r.noteEvents(events)

		full := false
		if !now.Before(nextUpdate) {
			full = !r.cfg.ListenOnly
			r.syncLinks(now)
			nextUpdate = now.Add(r.cfg.UpdateInterval)
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
		links = wired(r.stack.Links())

		s.first = true
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
// ListenOnly) and closes the socket, which ends the read loop.
func (r *Router) shutdown() {
	if !r.cfg.ListenOnly {
		s := &sender{r: r, wire: make([]byte, 0, MaxLen), first: true, keep: true}
		var entries []Entry
		for _, l := range wired(r.stack.Links()) {
			entries = r.table.AppendAdvert(entries[:0], l.ID)
			for i := range entries {
				entries[i].Hops = Unreachable
			}
			s.sendAll(OpResponse, entries, l.ID, broadcastOn(l))
		}
	}
	r.conn.Close()
}

// errClosed is the error of a call on a closed Router, as the standard
// library's for a closed connection.
func errClosed(op string) error {
	return &net.OpError{Op: op, Net: "ipx", Err: net.ErrClosed}
}
