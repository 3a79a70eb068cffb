package udp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/clock"
	"github.com/ipxkit/ipxkit/ipx"
)

// Config tunes a Link. The zero value is ready to use.
type Config struct {
	// RetryInitial is the wait for a registration reply before the first
	// retry; each retry doubles it up to RetryMax. Default 250 ms.
	RetryInitial time.Duration
	// RetryMax caps the wait between registration attempts. Default 4 s
	// (DOSBox itself gives up after one attempt and 5 s).
	RetryMax time.Duration
	// Refresh, if positive, repeats the registration (without waiting
	// for the reply) before a write once this long has passed since the
	// last one, so that a server that restarted or forgot the client
	// learns it again. DOSBox clients never do this; the default is off.
	Refresh time.Duration
	// SocketBuffer is the receive and send buffer, in bytes, that Dial
	// asks for its socket (the kernel caps it at net.core.rmem_max and
	// wmem_max). Default 1 MiB, room for a few hundred full packets, so
	// that a burst, such as an SPX window, is not dropped on arrival;
	// negative keeps the system's default. NewLink leaves the socket it
	// is given as it is.
	SocketBuffer int
	// Logger receives registration events; nil discards them.
	Logger *slog.Logger
}

// DefaultSocketBuffer is the default Config.SocketBuffer and
// ServerConfig.SocketBuffer.
const DefaultSocketBuffer = 1 << 20

// setBuffers asks for n-byte receive and send buffers on pc, unless n is
// negative. The kernel caps them; failure leaves the default, which
// still works.
func setBuffers(pc *net.UDPConn, n int) {
	if n < 0 {
		return
	}
	if n == 0 {
		n = DefaultSocketBuffer
	}
	pc.SetReadBuffer(n)
	pc.SetWriteBuffer(n)
}

// Validate checks the configuration for values that cannot work.
func (c *Config) Validate() error {
	if c.RetryInitial < 0 || c.RetryMax < 0 || c.Refresh < 0 {
		return fmt.Errorf("udp: negative retry interval: %w", ErrBadConfig)
	}
	if c.RetryMax != 0 && c.RetryInitial > c.RetryMax {
		return fmt.Errorf("udp: RetryInitial %v above RetryMax %v: %w", c.RetryInitial, c.RetryMax, ErrBadConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.RetryInitial == 0 {
		c.RetryInitial = 250 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 4 * time.Second
	}
	if c.RetryInitial > c.RetryMax {
		c.RetryInitial = c.RetryMax
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// LinkStats counts a Link's traffic.
type LinkStats struct {
	Received      uint64 // packets returned by ReadPacket
	Sent          uint64 // packets written by WritePacket (queued ones once sent)
	PingsAnswered uint64 // tunnel pings answered
	Control       uint64 // other control packets (late registration replies, ping answers) dropped
	DropForeign   uint64 // datagrams from an address other than the server
	DropMalformed uint64 // datagrams without a valid IPX header and length
	Refreshes     uint64 // registrations repeated (Config.Refresh)
	WriteErrors   uint64 // queued packets the socket refused or Close could not send
}

// Link is the client end of the tunnel: one registered node on the
// server's segment. It implements ipx.Link and is safe for concurrent use.
//
// The server relays by the destination node in the IPX header, so
// WritePacket ignores its dst argument. A packet for a node of another
// network still gets there when the server has a router on its Port (see
// Server.AttachPort): the server hands it every packet for a node it does
// not know. Without one, the tunnel is one segment of directly reachable
// nodes.
type Link struct {
	pc     net.PacketConn
	conn   addrPortConn
	server netip.AddrPort // as given, for writes
	peer   netip.AddrPort // unmapped, for comparing senders
	node   ipx.Node
	net    ipx.Network
	log    *slog.Logger

	refresh time.Duration
	lastReg atomic.Int64 // clock.Since at the last registration sent
	closed  atomic.Bool

	// Reads come in batches; ReadPacket hands out rms[rnext:rlen] one
	// at a time before it reads again.
	rmu         sync.Mutex
	batch       batchConn
	rms         []msg
	rnext, rlen int

	wq *writeQueue // nil: every WritePacket sends inline

	received, sent, pings, control, foreign, malformed, refreshes, writeErrors atomic.Uint64
}

var (
	_ ipx.Link        = (*Link)(nil)
	_ ipx.BatchWriter = (*Link)(nil)
)

// maxDatagram bounds what ReadPacket reads: the largest UDP payload.
const maxDatagram = 65535

// linkBatch bounds the datagrams one Link read takes. Each needs a
// buffer of maxDatagram bytes (an IPX length field reaches 65535),
// mostly never touched.
const linkBatch = 8

// Dial opens a UDP socket and registers with the tunnel server at
// server ("host:port"; the port defaults to 213, the host to 127.0.0.1),
// retrying with exponential backoff until ctx ends; then the error wraps
// ErrNoServer and ctx's error. ctx bounds only the registration.
func Dial(ctx context.Context, server string, cfg Config) (*Link, error) {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, fmt.Sprint(DefaultPort))
	}
	host := hostOf(server)
	if host == "" {
		host = "127.0.0.1" // ":213" means this machine, as for net.Dial
	}
	var r net.Resolver
	addrs, err := r.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return nil, fmt.Errorf("udp: resolve %s: %w", server, err)
	}
	port, err := net.LookupPort("udp", portOf(server))
	if err != nil {
		return nil, fmt.Errorf("udp: resolve %s: %w", server, err)
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	setBuffers(pc, cfg.SocketBuffer)
	l, err := NewLink(ctx, pc, netip.AddrPortFrom(addrs[0], uint16(port)), cfg)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return l, nil
}

// setConn sets up the Link's I/O over pc.
func (l *Link) setConn(pc net.PacketConn) {
	l.conn = asAddrPortConn(pc)
	bc, batched := newBatchConn(pc, l.conn)
	n := 1
	if batched {
		n = batchLen(maxDatagram, linkBatch)
	}
	l.batch, l.rms = bc, newMsgs(n, maxDatagram)
	if batched {
		l.wq = l.newWriteQueue()
	}
}

func hostOf(hp string) string { h, _, _ := net.SplitHostPort(hp); return h }
func portOf(hp string) string { _, p, _ := net.SplitHostPort(hp); return p }

// NewLink registers with the tunnel server at server over pc, retrying
// with exponential backoff until ctx ends; then ErrNoServer (also wrapping
// ctx's error). The Link owns pc from then on and closes it on Close; on
// error pc is left open for the caller. pc should be a *net.UDPConn for
// allocation-free I/O (on Linux, an IPv4 one also reads, and writes
// packets that queue up, several datagrams per system call); other
// net.PacketConns work through ReadFrom and WriteTo. pc's read deadline
// is used during registration and cleared after it.
func NewLink(ctx context.Context, pc net.PacketConn, server netip.AddrPort, cfg Config) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l := &Link{
		pc:      pc,
		server:  server,
		peer:    netip.AddrPortFrom(server.Addr().Unmap(), server.Port()),
		log:     cfg.Logger,
		refresh: cfg.Refresh,
	}
	l.setConn(pc)
	if err := l.register(ctx, cfg); err != nil {
		return nil, err
	}
	l.log.Info("udp: registered", "server", server, "node", l.node)
	return l, nil
}

// register sends registrations until a reply arrives or ctx ends.
func (l *Link) register(ctx context.Context, cfg Config) error {
	// A context that ends must interrupt a blocked read: move the read
	// deadline into the past. mu and done keep that from happening once
	// register has returned and cleared the deadline.
	var (
		mu   sync.Mutex
		done bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			l.pc.SetReadDeadline(time.Unix(1, 0))
		}
	})
	defer func() {
		stop()
		mu.Lock()
		done = true
		mu.Unlock()
		l.pc.SetReadDeadline(time.Time{})
	}()

	reg := registration()
	wait := cfg.RetryInitial
	for attempt := 1; ; attempt++ {
		l.lastReg.Store(int64(clock.Since()))
		if _, err := l.conn.WriteToUDPAddrPort(reg[:], l.server); err != nil {
			l.log.Debug("udp: registration send failed", "server", l.server, "err", err)
		}
		mu.Lock()
		if ctx.Err() == nil {
			l.pc.SetReadDeadline(time.Now().Add(wait))
		}
		mu.Unlock()
		for {
			buf := l.rms[0].buf
			n, from, err := l.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("udp: register with %v: %d attempts: %w: %w", l.server, attempt, ErrNoServer, ctx.Err())
				}
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					break
				}
				return opErr("register", l.pc.LocalAddr(), net.UDPAddrFromAddrPort(l.server), err)
			}
			if node, netw, ok := l.registrationReply(buf[:n], from); ok {
				l.node, l.net = node, netw
				return nil
			}
		}
		wait = min(2*wait, cfg.RetryMax)
	}
}

// registrationReply reports whether b from from is the server's answer
// to a registration, and the node and network it assigns. Like ipxbox's
// client it wants both sockets 2 and a destination that is not broadcast
// (a ping) nor zero (another registration).
func (l *Link) registrationReply(b []byte, from netip.AddrPort) (ipx.Node, ipx.Network, bool) {
	if !l.fromServer(from) {
		l.foreign.Add(1)
		return ipx.Node{}, 0, false
	}
	if _, ok := checkPacket(b); !ok {
		l.malformed.Add(1)
		return ipx.Node{}, 0, false
	}
	dst := dstNode(b)
	if dstSocket(b) != controlSocket || srcSocket(b) != controlSocket ||
		dst == ipx.NodeBroadcast || dst == ipx.NodeZero {
		l.control.Add(1)
		return ipx.Node{}, 0, false
	}
	return dst, dstNetwork(b), true
}

func (l *Link) fromServer(from netip.AddrPort) bool {
	return from.Port() == l.peer.Port() && from.Addr().Unmap() == l.peer.Addr()
}

// ReadPacket blocks until the server relays a packet, copies it into b
// (truncated to len(b)) and returns its length and its sender's node: the
// server relays without routing, so the header's source node is the
// previous hop. Datagrams from other addresses and ones without a valid
// IPX header are counted and skipped; bytes past the header's length field
// are dropped. Tunnel pings are answered here and not returned, as DOSBox
// does; so are other header-only packets to socket 2 (control traffic).
//
// Datagrams that arrived together are read together (one system call on
// Linux) and returned by the following calls without another read, even
// once pc's read deadline has passed; after Close they are dropped.
func (l *Link) ReadPacket(b []byte) (int, ipx.Node, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for {
		if l.closed.Load() {
			l.rnext, l.rlen = 0, 0
			return 0, ipx.Node{}, opErr("read", l.pc.LocalAddr(), nil, net.ErrClosed)
		}
		if l.rnext == l.rlen {
			n, err := l.batch.readBatch(l.rms)
			if err != nil {
				return 0, ipx.Node{}, opErr("read", l.pc.LocalAddr(), nil, err)
			}
			l.rnext, l.rlen = 0, n
		}
		m := &l.rms[l.rnext]
		l.rnext++
		if !l.fromServer(m.addr) {
			l.foreign.Add(1)
			continue
		}
		if p, ok := l.input(m.buf[:m.n]); ok {
			l.received.Add(1)
			return copy(b, p), srcNode(p), nil
		}
	}
}

// input checks datagram d from the server and returns the IPX packet to
// deliver (d without padding), or handles d as control traffic or counts
// it as malformed and returns false.
func (l *Link) input(d []byte) ([]byte, bool) {
	m, ok := checkPacket(d)
	if !ok {
		l.malformed.Add(1)
		return nil, false
	}
	p := d[:m]
	if isControl(p) {
		l.handleControl(p)
		return nil, false
	}
	return p, true
}

func (l *Link) handleControl(p []byte) {
	pinger := srcNode(p)
	if !isPing(p) || pinger == l.node {
		l.control.Add(1)
		return
	}
	ans := pingAnswer(pinger, l.node)
	if _, err := l.conn.WriteToUDPAddrPort(ans[:], l.server); err != nil {
		l.log.Debug("udp: ping answer failed", "err", err)
		return
	}
	l.pings.Add(1)
}

// WritePacket sends the encoded IPX packet p to the server, which relays
// it by the destination node in p's header; dst is not used (see Link).
// p must hold at least a header and at most MTU bytes. It does not retain
// p.
//
// With batched I/O (an IPv4 *net.UDPConn on Linux) p is usually copied
// into a queue of 64 packets and sent by the Link's writer goroutine
// together with whatever else has queued, with one system call;
// WritePacket then returns nil at once, or waits while the queue is full.
// When the writer keeps finding a single packet to send (writes in
// lockstep with reads, or seldom ones), WritePacket sends p itself before
// it returns, as without batched I/O, for up to 4095 packets at a time
// (see writer.go). Packets leave in the order WritePacket accepted them.
// If the socket refuses a queued packet, the packet is counted in
// LinkStats.WriteErrors and the next WritePacket returns the error.
func (l *Link) WritePacket(p []byte, dst ipx.Node) error {
	if err := l.checkSize(p); err != nil {
		return err
	}
	if l.refresh > 0 {
		l.maybeRefresh()
	}
	if l.wq != nil {
		return l.writeQueued(p)
	}
	if _, err := l.conn.WriteToUDPAddrPort(p, l.server); err != nil {
		return opErr("write", l.pc.LocalAddr(), nil, err)
	}
	l.sent.Add(1)
	return nil
}

// WritePackets sends ps to dst as WritePacket would send each, in order.
// With batched I/O, when nothing is queued or being sent, it sends them
// itself with one sendmmsg (one UDP_SEGMENT message per run of equal
// sizes); otherwise it queues them behind the packets already waiting.
// It implements ipx.BatchWriter.
func (l *Link) WritePackets(ps [][]byte, dst ipx.Node) (int, error) {
	for _, p := range ps {
		if err := l.checkSize(p); err != nil {
			return 0, err // checked first: none is sent
		}
	}
	if l.refresh > 0 {
		l.maybeRefresh()
	}
	if l.wq == nil {
		for i, p := range ps {
			if _, err := l.conn.WriteToUDPAddrPort(p, l.server); err != nil {
				return i, opErr("write", l.pc.LocalAddr(), nil, err)
			}
			l.sent.Add(1)
		}
		return len(ps), nil
	}
	return l.writeBatchQueued(ps)
}

// checkSize refuses a packet the tunnel cannot carry.
func (l *Link) checkSize(p []byte) error {
	if len(p) < ipx.HeaderLen {
		return opErr("write", l.pc.LocalAddr(), nil, fmt.Errorf("udp: packet of %d bytes: %w", len(p), ipx.ErrShortBuffer))
	}
	if len(p) > MTU {
		return opErr("write", l.pc.LocalAddr(), nil, fmt.Errorf("udp: packet of %d bytes above MTU %d: %w", len(p), MTU, ipx.ErrTooLarge))
	}
	return nil
}

// maybeRefresh sends a registration if Refresh has passed since the last.
// The reply arrives as control traffic and is dropped by ReadPacket.
func (l *Link) maybeRefresh() {
	now := int64(clock.Since()) // on every write: the cheaper, monotonic clock
	last := l.lastReg.Load()
	if now-last < int64(l.refresh) || !l.lastReg.CompareAndSwap(last, now) {
		return
	}
	reg := registration()
	if _, err := l.conn.WriteToUDPAddrPort(reg[:], l.server); err != nil {
		l.log.Debug("udp: registration refresh failed", "err", err)
		return
	}
	l.refreshes.Add(1)
}

// Node is the node the server assigned: this end's IPv4 address and UDP
// port as the server sees them.
func (l *Link) Node() ipx.Node { return l.node }

// Network is the network number in the server's registration reply
// (DOSBox sends 0, "this network").
func (l *Link) Network() ipx.Network { return l.net }

// MTU returns MTU (1424), what a DOSBox client receives whole.
func (l *Link) MTU() int { return MTU }

// Server is the tunnel server's address.
func (l *Link) Server() netip.AddrPort { return l.server }

// LocalAddr is the local UDP address.
func (l *Link) LocalAddr() net.Addr { return l.pc.LocalAddr() }

// Stats returns the Link's counters.
func (l *Link) Stats() LinkStats {
	return LinkStats{
		Received:      l.received.Load(),
		Sent:          l.sent.Load(),
		PingsAnswered: l.pings.Load(),
		Control:       l.control.Load(),
		DropForeign:   l.foreign.Load(),
		DropMalformed: l.malformed.Load(),
		Refreshes:     l.refreshes.Load(),
		WriteErrors:   l.writeErrors.Load(),
	}
}

// Close closes the UDP socket and unblocks ReadPacket, which then
// returns an error wrapping net.ErrClosed. Packets WritePacket has queued
// are sent first (Close waits up to one second for the socket to take
// them; any it cannot send are counted in LinkStats.WriteErrors), and the
// writer goroutine exits before Close returns. WritePacket after Close
// returns an error wrapping net.ErrClosed. The server is not told: the
// DOSBox protocol has no unregistration; it forgets silent clients. A
// second Close returns a *net.OpError wrapping net.ErrClosed, as the ipx
// package's Close rule says.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		return opErr("close", l.pc.LocalAddr(), nil, net.ErrClosed)
	}
	if l.wq != nil {
		l.closeQueue()
	}
	return l.pc.Close()
}
