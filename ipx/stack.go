package ipx

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// Errors returned (wrapped in *net.OpError) by the Stack and its Conns.
var (
	// ErrSocketInUse reports a Listen on a socket already bound, or no
	// free dynamic socket.
	ErrSocketInUse = errors.New("socket in use")
	// ErrNoRoute reports a destination network with no link and no route.
	ErrNoRoute = errors.New("no route to network")
	// ErrNoLinks reports a send on a Stack without links.
	ErrNoLinks = errors.New("stack has no links")
	// ErrLinkDown reports that every link of the Stack has failed.
	ErrLinkDown = errors.New("all links down")
	// ErrNoLink reports a LinkID that names none of the Stack's links.
	ErrNoLink = errors.New("no such link")
)

// DefaultQueueLen is the default per-socket receive queue, in packets.
const DefaultQueueLen = 256

// StackConfig configures a Stack. The zero value is a host (no
// forwarding, no routes beyond the directly connected networks).
type StackConfig struct {
	// Forward makes the Stack a router: packets for other networks are
	// sent on through the next hop, with the transport control (hop
	// count) incremented; a packet that would reach MaxHops is dropped.
	Forward bool
	// Routes gives next hops for networks not directly connected. It may
	// be nil, and can be replaced later with SetRoutes.
	Routes RouteSource
	// QueueLen bounds each socket's receive queue, in packets (default
	// DefaultQueueLen). When a queue is full the newest packet is dropped
	// and counted, so a slow reader never blocks the link.
	QueueLen int
	// Logger receives link failures; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether the configuration is usable.
func (c *StackConfig) Validate() error {
	if c.QueueLen < 0 {
		return fmt.Errorf("ipx: negative QueueLen %d", c.QueueLen)
	}
	return nil
}

// LinkConfig says how a Stack uses a link; see AddLinkConfig.
type LinkConfig struct {
	// Network is the link's network number; 0 if unknown, as on a
	// DOSBox tunnel. An InternalLink needs one.
	Network Network
	// Shared marks a network this host shares with another machine, such
	// as the internal network of a mirrored server pair, which moves
	// between them. Local sockets never send from it by default (see
	// Conn.SetSource): the host's own identity must not move with it.
	Shared bool
}

// LinkInfo describes one of a Stack's links.
type LinkInfo struct {
	// ID names the link for as long as the Stack lives; it is never
	// reused, even after RemoveLink.
	ID      LinkID
	Network Network
	Node    Node
	MTU     int
	// Internal marks an InternalLink: a network with no wire.
	Internal bool
	// Shared is LinkConfig.Shared.
	Shared bool
	// Failed marks a link whose ReadPacket failed for good. It stays
	// listed, and its network taken, until RemoveLink.
	Failed bool
}

// StackStats are a Stack's counters since it was created.
type StackStats struct {
	Received  uint64 // packets read from links
	Delivered uint64 // packets queued to a local socket
	Sent      uint64 // packets written to links by local sockets
	Forwarded uint64 // packets routed on to another hop

	DropMalformed   uint64 // undecodable header or length
	DropChecksum    uint64 // checksum neither 0xFFFF nor correct
	DropNoSocket    uint64 // no socket bound to the destination
	DropQueueFull   uint64 // the socket's receive queue was full
	DropNotForUs    uint64 // for another node, and not forwarding
	DropNoRoute     uint64 // forwarding found no route
	DropHopLimit    uint64 // forwarding would exceed MaxHops
	DropLinkError   uint64 // a link's write failed while forwarding
	DropOversize    uint64 // forwarding to a link with a smaller MTU
	LinkReadFailure uint64 // links whose ReadPacket failed for good
}

type stackCounters struct {
	received, delivered, sent, forwarded                 atomic.Uint64
	malformed, checksum, noSocket, queueFull, notForUs   atomic.Uint64
	noRoute, hopLimit, linkError, oversize, linkFailures atomic.Uint64
}

// Stack is an IPX protocol stack: it owns links, binds sockets,
// demultiplexes arriving packets to them, and routes packets for other
// networks through a next hop given by a RouteSource. It is safe for
// concurrent use.
type Stack struct {
	cfg StackConfig
	log *slog.Logger

	// links, in ID order, is copy-on-write under mu; read without locks.
	links atomic.Pointer[[]*stackLink]
	// internal is the first InternalLink not Shared, whose address local
	// sockets send from by default; nil without one. Kept apart so sends
	// need not search.
	internal atomic.Pointer[stackLink]
	routes   atomic.Pointer[routeHolder]

	mu       sync.RWMutex
	socks    map[Socket]*Conn
	nextDyn  Socket
	nextLink LinkID // the last LinkID given out
	closed   bool
	changed  chan struct{} // closed at the next link change; see LinksChanged
	downErr  error         // non-nil while every link (of at least one) has failed

	done chan struct{} // closed by Close

	bufSize atomic.Int64 // largest link MTU, at least MaxPacketLen
	pool    sync.Pool    // *pbuf of bufSize bytes

	wg sync.WaitGroup
	c  stackCounters
}

type stackLink struct {
	LinkInfo // Failed is unused: see failed
	link     Link

	failed  atomic.Bool   // set under Stack.mu
	removed bool          // under Stack.mu: a removal, not a failure, ends the read loop
	exited  chan struct{} // closed when the read loop returns

	closeOnce sync.Once
	closeErr  error
}

// close closes the link once, whoever asks first (RemoveLink, Close).
// A link that reports it was already closed (by its owner, which made it
// fail) is no error here.
func (sl *stackLink) close() error {
	sl.closeOnce.Do(func() {
		if err := sl.link.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			sl.closeErr = err
		}
	})
	return sl.closeErr
}

func (sl *stackLink) info() LinkInfo {
	i := sl.LinkInfo
	i.Failed = sl.failed.Load()
	return i
}

type routeHolder struct{ rs RouteSource }

// pbuf is a pooled packet buffer with its receive metadata.
type pbuf struct {
	b    []byte
	n    int
	info RecvInfo
}

// NewStack returns a Stack without links; add them with AddLink.
func NewStack(cfg StackConfig) (*Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stack{
		cfg:     cfg,
		log:     log,
		socks:   make(map[Socket]*Conn),
		nextDyn: SocketDynamicMin,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.bufSize.Store(MaxPacketLen)
	s.links.Store(new([]*stackLink))
	s.routes.Store(&routeHolder{cfg.Routes})
	return s, nil
}

// AddLink attaches l as a directly connected segment with network number
// network (0 if unknown, as on a DOSBox tunnel) and starts reading from it.
// It is AddLinkConfig(l, LinkConfig{Network: network}).
func (s *Stack) AddLink(l Link, network Network) (LinkID, error) {
	return s.AddLinkConfig(l, LinkConfig{Network: network})
}

// AddLinkConfig attaches l as a directly connected segment configured by
// cfg and starts reading from it. The Stack owns l from then on and
// closes it on RemoveLink or Close. Each network number may be on one
// link only. Adding a link ends the "all links down" state: sockets
// opened from then on are not done (those it ended stay ended).
func (s *Stack) AddLinkConfig(l Link, cfg LinkConfig) (LinkID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, opErr("addlink", nil, net.ErrClosed)
	}
	old := *s.links.Load()
	for _, sl := range old {
		if cfg.Network != 0 && sl.Network == cfg.Network {
			return 0, opErr("addlink", nil, fmt.Errorf("ipx: network %v already on link %d", cfg.Network, sl.ID))
		}
	}
	sl := &stackLink{
		LinkInfo: LinkInfo{Network: cfg.Network, Node: l.Node(), MTU: min(l.MTU(), 0xFFFF), Shared: cfg.Shared}, // the length field's limit
		link:     l,
		exited:   make(chan struct{}),
	}
	_, sl.Internal = l.(*InternalLink)
	if sl.Internal && cfg.Network == 0 {
		return 0, opErr("addlink", nil, fmt.Errorf("ipx: internal link needs a network number"))
	}
	if int64(sl.MTU) > s.bufSize.Load() {
		s.bufSize.Store(int64(sl.MTU))
	}
	s.nextLink++
	sl.ID = s.nextLink
	links := append(append([]*stackLink(nil), old...), sl)
	s.setLinksLocked(links)
	s.downErr = nil
	s.notifyLocked()
	s.wg.Add(1)
	go s.readLoop(sl)
	return sl.ID, nil
}

// RemoveLink closes the link id and removes it from the Stack, failed or
// not, and waits for its read goroutine to end. Sockets stay bound and
// keep working on the other links. An unknown id returns an error
// wrapping ErrNoLink. It must not be called from a Handler, which may run
// in that very goroutine.
func (s *Stack) RemoveLink(id LinkID) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return opErr("removelink", nil, net.ErrClosed)
	}
	old := *s.links.Load()
	var sl *stackLink
	links := make([]*stackLink, 0, len(old))
	for _, l := range old {
		if l.ID == id {
			sl = l
			continue
		}
		links = append(links, l)
	}
	if sl == nil {
		s.mu.Unlock()
		return opErr("removelink", nil, fmt.Errorf("ipx: link %d: %w", id, ErrNoLink))
	}
	sl.removed = true
	s.setLinksLocked(links)
	if len(links) == 0 {
		s.downErr = nil // a Stack without links, as when new
	}
	s.checkDownLocked(sl, errLinkRemoved)
	s.notifyLocked()
	s.mu.Unlock()

	err := sl.close()
	<-sl.exited
	return opErr("removelink", nil, err)
}

// setLinksLocked publishes links and the default source link they give.
func (s *Stack) setLinksLocked(links []*stackLink) {
	s.links.Store(&links)
	var def *stackLink
	for _, sl := range links {
		if sl.Internal && !sl.Shared {
			def = sl
			break
		}
	}
	s.internal.Store(def)
}

// errLinkRemoved is why the Stack is down when removing its last live link
// left only failed ones.
var errLinkRemoved = errors.New("ipx: last live link removed")

// checkDownLocked enters the "all links down" state if the Stack has
// links and all have failed, and ends every socket then; last is the
// link whose failure (err) or removal brought it.
func (s *Stack) checkDownLocked(last *stackLink, err error) {
	links := *s.links.Load()
	if len(links) == 0 || s.downErr != nil {
		return
	}
	for _, sl := range links {
		if !sl.failed.Load() {
			return
		}
	}
	s.downErr = fmt.Errorf("ipx: link %d: %w: %w", last.ID, ErrLinkDown, err)
	for _, c := range s.socks {
		c.markDone(s.downErr)
	}
}

// notifyLocked wakes those waiting on LinksChanged.
func (s *Stack) notifyLocked() {
	if s.closed {
		return // changed stays closed
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// LinksChanged returns a channel that is closed at the next change of the
// link set or of a link's state: a link added, removed or failed; and when
// the Stack closes. To miss no change, take the channel before reading
// the links:
//
//	ch := s.LinksChanged()
//	links := s.Links()
//	// use links
//	<-ch
func (s *Stack) LinksChanged() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// Done returns a channel that is closed when the Stack is closed.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Links describes the Stack's links in ID order.
func (s *Stack) Links() []LinkInfo {
	links := *s.links.Load()
	out := make([]LinkInfo, len(links))
	for i, sl := range links {
		out[i] = sl.info()
	}
	return out
}

// SetRoutes replaces the RouteSource; nil leaves only directly connected
// networks reachable. Sends after it returns use the new source.
func (s *Stack) SetRoutes(r RouteSource) { s.routes.Store(&routeHolder{r}) }

// Stats returns a snapshot of the Stack's counters.
func (s *Stack) Stats() StackStats {
	c := &s.c
	return StackStats{
		Received: c.received.Load(), Delivered: c.delivered.Load(),
		Sent: c.sent.Load(), Forwarded: c.forwarded.Load(),
		DropMalformed: c.malformed.Load(), DropChecksum: c.checksum.Load(),
		DropNoSocket: c.noSocket.Load(), DropQueueFull: c.queueFull.Load(),
		DropNotForUs: c.notForUs.Load(), DropNoRoute: c.noRoute.Load(),
		DropHopLimit: c.hopLimit.Load(), DropLinkError: c.linkError.Load(),
		DropOversize: c.oversize.Load(), LinkReadFailure: c.linkFailures.Load(),
	}
}

// Handler receives a socket's packets inline, as ListenFunc arranges.
// payload and info are valid only during the call. It may run in several
// goroutines at once (one per link, and any local sender's), must not
// block, and may be re-entered if it sends to another local handler
// socket: so it must not hold a lock while calling WriteMsg.
type Handler func(payload []byte, info *RecvInfo)

// Listen binds socket sock and returns its Conn. Socket 0 picks a free
// socket in the dynamic range 0x4000–0x7FFF.
func (s *Stack) Listen(sock Socket) (*Conn, error) {
	return s.listen(sock, nil)
}

// ListenFunc binds socket sock like Listen, but hands each arriving packet
// to h in the goroutine that received it, with no queue and no copy. It
// is for protocols built on IPX (SPX, RIP, SAP) that demultiplex packets
// themselves: it saves a queue and a goroutine switch per packet. The
// returned Conn sends; its reads fail. Calls under way may finish after
// Close returns.
func (s *Stack) ListenFunc(sock Socket, h Handler) (*Conn, error) {
	if h == nil {
		return nil, opErr("listen", nil, errors.New("ipx: nil handler"))
	}
	return s.listen(sock, h)
}

func (s *Stack) listen(sock Socket, h Handler) (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, opErr("listen", nil, net.ErrClosed)
	}
	if sock == 0 {
		n := int(SocketDynamicMax-SocketDynamicMin) + 1
		for i := 0; i < n; i++ {
			cand := s.nextDyn
			s.nextDyn++
			if s.nextDyn > SocketDynamicMax {
				s.nextDyn = SocketDynamicMin
			}
			if _, used := s.socks[cand]; !used {
				sock = cand
				break
			}
		}
		if sock == 0 {
			return nil, opErr("listen", nil, fmt.Errorf("ipx: no free dynamic socket: %w", ErrSocketInUse))
		}
	} else if _, used := s.socks[sock]; used {
		return nil, opErr("listen", Addr{Socket: sock}, fmt.Errorf("ipx: socket %v: %w", sock, ErrSocketInUse))
	}
	c := newConn(s, sock, h)
	s.socks[sock] = c
	if s.downErr != nil {
		c.markDone(s.downErr)
	}
	return c, nil
}

// Close closes every Conn and link and waits for the Stack's goroutines.
// A second Close does nothing and returns a *net.OpError wrapping
// net.ErrClosed (see the package's Close rule).
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return opErr("close", nil, net.ErrClosed)
	}
	s.closed = true
	close(s.done)
	close(s.changed)
	conns := make([]*Conn, 0, len(s.socks))
	for _, c := range s.socks {
		conns = append(conns, c)
	}
	links := *s.links.Load()
	s.mu.Unlock()

	for _, c := range conns {
		c.Close()
	}
	var errs []error
	for _, sl := range links {
		if err := sl.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *Stack) unbind(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.socks[c.sock] == c {
		delete(s.socks, c.sock)
	}
}

func (s *Stack) getBuf() *pbuf {
	size := int(s.bufSize.Load())
	if p, _ := s.pool.Get().(*pbuf); p != nil && cap(p.b) >= size {
		p.b = p.b[:size]
		return p
	}
	return &pbuf{b: make([]byte, size)}
}

func (s *Stack) putBuf(p *pbuf) { s.pool.Put(p) }

func (s *Stack) readLoop(sl *stackLink) {
	defer s.wg.Done()
	defer close(sl.exited)
	buf := make([]byte, max(sl.MTU, MaxPacketLen))
	for {
		n, from, err := sl.link.ReadPacket(buf)
		if err != nil {
			s.linkFailed(sl, err)
			return
		}
		s.c.received.Add(1)
		s.input(sl, buf[:n], from)
	}
}

// linkFailed records that sl can read no more, unless the Stack closed
// or removed it.
func (s *Stack) linkFailed(sl *stackLink, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || sl.removed {
		return
	}
	s.c.linkFailures.Add(1)
	s.log.Warn("ipx: link failed", "link", sl.ID, "network", sl.Network, "err", err)
	sl.failed.Store(true)
	s.checkDownLocked(sl, err)
	s.notifyLocked()
}

// input handles one packet read from link in.
func (s *Stack) input(in *stackLink, b []byte, from Node) {
	var p Packet
	if err := p.UnmarshalBinary(b); err != nil {
		if errors.Is(err, ErrBadChecksum) {
			s.c.checksum.Add(1)
		} else {
			s.c.malformed.Add(1)
		}
		return
	}
	b = b[:p.Header.Length]
	dst := p.Header.Dst
	switch {
	case dst.Net == 0 || dst.Net == in.Network:
		if dst.Node == in.Node || dst.Node.IsBroadcast() {
			s.deliver(&p, in.ID, from, nil)
			return
		}
		s.c.notForUs.Add(1)
		return
	}
	// Another network: one of ours behind another link, or a remote one.
	out := s.linkForNetwork(dst.Net)
	switch {
	case out != nil && dst.Node == out.Node:
		s.deliver(&p, in.ID, from, nil)
		return
	case out != nil && dst.Node.IsBroadcast():
		s.deliver(&p, in.ID, from, nil) // and forward it below
	case out == nil && in.Network == 0 && (dst.Node == in.Node || dst.Node.IsBroadcast()):
		// A link whose number we were not told (a DOSBox tunnel): a
		// packet naming our node there is ours, whatever its network.
		// A routed packet would name its final host, not us.
		s.deliver(&p, in.ID, from, nil)
		return
	}
	if !s.cfg.Forward {
		s.c.notForUs.Add(1)
		return
	}
	s.forward(in, b, &p.Header)
}

// forward sends a transit packet on towards its destination.
func (s *Stack) forward(in *stackLink, b []byte, h *Header) {
	if int(h.TransportControl)+1 >= MaxHops {
		s.c.hopLimit.Add(1)
		return
	}
	out, next, err := s.nextHop(h.Dst, 0)
	if err != nil {
		s.c.noRoute.Add(1)
		return
	}
	if out == in && next == h.Src.Node {
		s.c.noRoute.Add(1) // would go straight back to its sender
		return
	}
	if len(b) > out.MTU {
		s.c.oversize.Add(1)
		return
	}
	// The transport control byte is outside the checksum, so the checksum
	// stays valid. Work on a copy: b is the read loop's buffer.
	p := s.getBuf()
	defer s.putBuf(p)
	fb := p.b[:len(b)]
	copy(fb, b)
	fb[4] = h.TransportControl + 1
	if err := out.link.WritePacket(fb, next); err != nil {
		s.c.linkError.Add(1)
		return
	}
	s.c.forwarded.Add(1)
}

// deliver queues a packet to the socket bound to its destination. For a
// broadcast looped back from local socket sender, a missing socket (or the
// sender itself) is not a drop.
func (s *Stack) deliver(p *Packet, link LinkID, from Node, sender *Conn) {
	s.mu.RLock()
	c := s.socks[p.Header.Dst.Socket]
	s.mu.RUnlock()
	if sender != nil && (c == nil || c == sender) {
		return
	}
	if c == nil {
		s.c.noSocket.Add(1)
		return
	}
	if c.handler != nil {
		if c.isClosed() {
			s.c.noSocket.Add(1)
			return
		}
		// The info lives in a pooled buffer: &info of a local would
		// escape to the heap through the unknown handler.
		pb := s.getBuf()
		pb.info = RecvInfo{Header: p.Header, Link: link, From: from}
		c.handler(p.Payload, &pb.info)
		s.putBuf(pb)
		s.c.delivered.Add(1)
		return
	}
	pb := s.getBuf()
	pb.n = copy(pb.b, p.Payload)
	pb.info = RecvInfo{Header: p.Header, Link: link, From: from}
	if !c.enqueue(pb) {
		s.putBuf(pb)
		s.c.queueFull.Add(1)
		return
	}
	s.c.delivered.Add(1)
}

func (s *Stack) linkForNetwork(n Network) *stackLink {
	for _, sl := range *s.links.Load() {
		if sl.Network == n {
			return sl
		}
	}
	return nil
}

// linkByID finds link id. Links are in ID order and IDs are given in
// sequence, so until a link is removed link id is at id-1; after, a short
// search finds it.
func (s *Stack) linkByID(id LinkID) *stackLink {
	links := *s.links.Load()
	if i := int(id) - 1; i >= 0 && i < len(links) && links[i].ID == id {
		return links[i]
	}
	for _, sl := range links {
		if sl.ID == id {
			return sl
		}
	}
	return nil
}

// nextHop picks the outgoing link and the link-level destination for dst:
// the node itself on a directly connected network, else the route's next
// hop. via, if non-zero, forces the outgoing link.
func (s *Stack) nextHop(dst Addr, via LinkID) (*stackLink, Node, error) {
	links := *s.links.Load()
	if len(links) == 0 {
		return nil, Node{}, ErrNoLinks
	}
	if via != 0 {
		out := s.linkByID(via)
		if out == nil {
			return nil, Node{}, fmt.Errorf("ipx: no link %d: %w", via, ErrNoRoute)
		}
		if dst.Net == 0 || dst.Net == out.Network || dst.Node.IsBroadcast() {
			return out, dst.Node, nil
		}
		if r, ok := s.lookup(dst.Net); ok && r.Link == via {
			return out, r.NextHop, nil
		}
		return nil, Node{}, fmt.Errorf("ipx: network %v via link %d: %w", dst.Net, via, ErrNoRoute)
	}
	if dst.Net == 0 {
		// "This network": the first link with a wire.
		for _, sl := range links {
			if !sl.Internal {
				return sl, dst.Node, nil
			}
		}
		return links[0], dst.Node, nil
	}
	for _, sl := range links {
		if sl.Network == dst.Net {
			return sl, dst.Node, nil
		}
	}
	r, ok := s.lookup(dst.Net)
	if !ok || r.Hops >= MaxHops {
		return nil, Node{}, fmt.Errorf("ipx: network %v: %w", dst.Net, ErrNoRoute)
	}
	out := s.linkByID(r.Link)
	if out == nil {
		return nil, Node{}, fmt.Errorf("ipx: network %v: route via missing link %d: %w", dst.Net, r.Link, ErrNoRoute)
	}
	return out, r.NextHop, nil
}

// srcLink is the link whose address packets from socket c leaving on out
// carry: the one on c's source network (Conn.SetSource); else the first
// InternalLink not Shared (a server is known by its internal address,
// whatever link a reply leaves on); else out.
// It is small enough to inline into the send path.
func (s *Stack) srcLink(c *Conn, out *stackLink) (*stackLink, error) {
	if c.src.Load() != 0 {
		return s.chosenSrc(Network(c.src.Load()))
	}
	if in := s.internal.Load(); in != nil {
		return in, nil
	}
	return out, nil
}

// chosenSrc is the link on source network n that Conn.SetSource chose.
func (s *Stack) chosenSrc(n Network) (*stackLink, error) {
	if sl := s.linkForNetwork(n); sl != nil {
		return sl, nil
	}
	return nil, fmt.Errorf("ipx: source network %v: no local link: %w", n, ErrNoRoute)
}

func (s *Stack) lookup(n Network) (Route, bool) {
	h := s.routes.Load()
	if h.rs == nil {
		return Route{}, false
	}
	return h.rs.LookupRoute(n)
}

// send encodes and transmits a packet from local socket c.
func (s *Stack) send(c *Conn, payload []byte, dst Addr, o WriteOptions) error {
	out, next, err := s.route(c, dst, o, HeaderLen+len(payload))
	if err != nil {
		return err
	}
	pb := s.getBuf()
	defer s.putBuf(pb)
	p := pb.b[:HeaderLen+len(payload)] // the MTU check keeps it in the buffer
	copy(p[HeaderLen:], payload)
	return s.transmit(c, p, out, next, dst, o)
}

// sendPacket sends the packet in p, whose header it writes, from socket c.
func (s *Stack) sendPacket(c *Conn, p []byte, dst Addr, o WriteOptions) error {
	out, next, err := s.route(c, dst, o, len(p))
	if err != nil {
		return err
	}
	return s.transmit(c, p, out, next, dst, o)
}

// sendPackets sends the packets in ps, whose headers it writes, from
// socket c to dst: in one batch where the link takes batches.
func (s *Stack) sendPackets(c *Conn, ps [][]byte, dst Addr, o WriteOptions) (int, error) {
	size := 0
	for _, p := range ps {
		if len(p) < HeaderLen {
			return 0, errShortHeader(len(p)) // checked first: all or none
		}
		size = max(size, len(p))
	}
	if len(ps) == 0 {
		return 0, nil
	}
	out, next, err := s.route(c, dst, o, size)
	if err != nil {
		return 0, err
	}
	bw, ok := out.link.(BatchWriter)
	if !ok || next == out.Node || next.IsBroadcast() || len(ps) == 1 {
		for i, p := range ps {
			if err := s.transmit(c, p, out, next, dst, o); err != nil {
				return i, err
			}
		}
		return len(ps), nil
	}
	for _, p := range ps {
		s.putHeader(c, p, out, dst, o)
	}
	n, err := bw.WritePackets(ps, next)
	s.c.sent.Add(uint64(n))
	return n, err
}

// route picks the link and next hop for a packet of n bytes from c to dst.
func (s *Stack) route(c *Conn, dst Addr, o WriteOptions, n int) (*stackLink, Node, error) {
	out, next, err := s.nextHop(dst, o.Link)
	if err != nil {
		return nil, Node{}, err
	}
	if n > out.MTU {
		return nil, Node{}, fmt.Errorf("ipx: packet of %d bytes over link %d MTU %d: %w", n, out.ID, out.MTU, ErrTooLarge)
	}
	if c.src.Load() != 0 {
		if _, err := s.chosenSrc(Network(c.src.Load())); err != nil {
			return nil, Node{}, err
		}
	}
	return out, next, nil
}

// transmit writes the header into p[:HeaderLen] and sends p on out to
// next.
func (s *Stack) transmit(c *Conn, p []byte, out *stackLink, next Node, dst Addr, o WriteOptions) error {
	s.putHeader(c, p, out, dst, o)
	// Packets for ourselves never touch the wire; broadcasts go out and
	// also reach the other local sockets, as on Linux.
	if next == out.Node {
		s.c.sent.Add(1)
		s.loopback(p, out, nil)
		return nil
	}
	if err := out.link.WritePacket(p, next); err != nil {
		return err
	}
	s.c.sent.Add(1)
	if next.IsBroadcast() {
		s.loopback(p, out, c)
	}
	return nil
}

// putHeader writes into p[:HeaderLen] the header of a packet from socket
// c to dst leaving on out, and the checksum if o asks for one.
func (s *Stack) putHeader(c *Conn, p []byte, out *stackLink, dst Addr, o WriteOptions) {
	if dst.Net == 0 {
		dst.Net = out.Network
	}
	src := out
	if c.src.Load() != 0 {
		// route checked that the link exists; should RemoveLink take it
		// since, send from out rather than fail half-way.
		if sl, err := s.chosenSrc(Network(c.src.Load())); err == nil {
			src = sl
		}
	} else if in := s.internal.Load(); in != nil {
		src = in
	}
	h := Header{
		Checksum: ChecksumNone,
		Length:   uint16(len(p)),
		Type:     o.Type,
		Dst:      dst,
		Src:      Addr{Net: src.Network, Node: src.Node, Socket: c.sock},
	}
	h.AppendBinary(p[:0])
	if o.Checksum {
		PutChecksum(p)
	}
}

// loopback delivers a packet this Stack sent to its own sockets.
func (s *Stack) loopback(b []byte, out *stackLink, sender *Conn) {
	var p Packet
	if err := p.UnmarshalBinary(b); err != nil {
		return // we encoded it; cannot happen
	}
	s.deliver(&p, out.ID, out.Node, sender)
}

// opErr wraps err as the *net.OpError every Stack and Conn method returns.
func opErr(op string, addr net.Addr, err error) error {
	if err == nil {
		return nil
	}
	e := &net.OpError{Op: op, Net: "ipx", Err: err}
	if addr != nil {
		e.Addr = addr
	}
	return e
}
