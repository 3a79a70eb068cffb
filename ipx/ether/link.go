package ether

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/mdlayher/packet"
)

// DefaultMaxPeers bounds the auto-mode table of peers' frame types.
const DefaultMaxPeers = 1024

// ethernetMTU is the Ethernet payload size IPX framings are fitted into.
const ethernetMTU = 1500

// frameBufLen holds the largest frame a Link reads or writes, with room
// for an interface whose MTU exceeds 1500 (such frames are still refused).
const frameBufLen = 14 + ethernetMTU + 64

// ErrUnsupported is returned (wrapped) by Listen on systems without Linux
// packet sockets.
var ErrUnsupported = errors.ErrUnsupported

// Config configures a Link.
type Config struct {
	// FrameType is the framing the Link sends and accepts. Zero selects
	// auto mode: every framing is accepted, each peer is answered in the
	// framing it last used, and broadcasts and packets to peers not yet
	// heard go out as Ethernet II.
	FrameType ipx.FrameType
	// MaxPeers bounds the auto-mode table of peer framings (default
	// DefaultMaxPeers). When it is full an arbitrary entry is forgotten;
	// that peer is then sent Ethernet II until it is heard again.
	MaxPeers int
}

// Validate reports whether the configuration is usable.
func (c *Config) Validate() error {
	if c.FrameType > ipx.FrameSNAP {
		return fmt.Errorf("ether: frame type %v: %w", c.FrameType, ipx.ErrUnknownFrame)
	}
	if c.MaxPeers < 0 {
		return fmt.Errorf("ether: negative MaxPeers %d", c.MaxPeers)
	}
	return nil
}

// Stats are a Link's counters since it was opened. The drop counters
// count frames that reached the Link: on a Link from Listen the kernel
// filter already discards foreign, own and non-IPX frames uncounted, so
// there they mostly stay zero; they matter for Links built with New.
type Stats struct {
	Received uint64 // IPX packets returned by ReadPacket
	Sent     uint64 // frames written

	OwnFrames      uint64 // frames from our own MAC (our transmissions seen again)
	OtherHost      uint64 // unicast for another MAC (a bridge floods unknown unicast)
	NotIPX         uint64 // frames that carry no IPX in any framing
	OtherFrameType uint64 // IPX in a framing this Link is not configured for
	Malformed      uint64 // runt frames, group or zero source MACs, bad IPX header or length
	Truncated      uint64 // packets longer than ReadPacket's buffer
	ReadErrors     uint64 // transient read errors retried (interface down)
	SendErrors     uint64 // WritePacket failures
}

type counters struct {
	received, sent, own, otherHost, notIPX, otherType atomic.Uint64
	malformed, truncated, readErrors, sendErrors      atomic.Uint64
}

// PacketConn is what a Link reads and writes whole Ethernet frames
// through: a *packet.Conn, or a fake in tests. WriteTo is given a
// *packet.Addr naming the destination MAC, which is also in the frame.
type PacketConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// fastIO is an allocation-free path to the socket that bypasses
// PacketConn's sockaddr handling; Listen supplies one on Linux.
type fastIO interface {
	readFrame(b []byte) (int, error)
	writeFrame(w *writer) error
	// readError returns nil for a transient read error, to be retried,
	// else the error that ends the Link.
	readError(err error) error
}

// writer is one send's scratch state, recycled through Link.free so that
// concurrent WritePacket calls neither allocate nor contend.
type writer struct {
	buf   []byte
	frame []byte
	mac   [6]byte
	addr  packet.Addr // HardwareAddr aliases mac
	err   error
	fn    func(fd uintptr) bool // fastIO's bound callback, made once
}

// Link is an ipx.Link on one Ethernet interface. It is safe for concurrent
// use; reads are serialised.
type Link struct {
	cfg  Config
	name string
	node ipx.Node
	mtu  int
	conn PacketConn
	fast fastIO

	closed atomic.Bool
	free   chan *writer

	rmu  sync.Mutex
	rbuf []byte
	rdl  atomic.Pointer[time.Time] // the caller's read deadline, nil if unset

	pmu   sync.RWMutex
	peers map[ipx.Node]ipx.FrameType

	c counters
}

var _ ipx.Link = (*Link)(nil)

// New returns a Link that exchanges frames through c, an existing
// connection carrying whole Ethernet frames (header included, no FCS), for
// the interface whose MAC is node. It applies the same filters as Listen
// in Go. It is the injection point for tests and for callers that open
// their own packet socket. The Link owns c and closes it.
func New(c PacketConn, node ipx.Node, cfg Config) (*Link, error) {
	return newLink(c, "", node, ethernetMTU, cfg)
}

func newLink(c PacketConn, name string, node ipx.Node, ifMTU int, cfg Config) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if node[0]&1 != 0 || node == ipx.NodeZero {
		return nil, fmt.Errorf("ether: node %v is not a unicast MAC: %w", node, ipx.ErrBadAddr)
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if name == "" {
		name = node.String()
	}
	// Auto mode must fit the framing with the most overhead, since any
	// peer may ask for it.
	mtu := min(ifMTU, ethernetMTU) - overhead(cfg.FrameType)
	if mtu < ipx.HeaderLen {
		return nil, fmt.Errorf("ether: %s: MTU %d below an IPX header: %w", name, ifMTU, ipx.ErrTooLarge)
	}
	l := &Link{
		cfg:  cfg,
		name: name,
		node: node,
		mtu:  mtu,
		conn: c,
		free: make(chan *writer, 16),
		rbuf: make([]byte, frameBufLen),
	}
	if cfg.FrameType == 0 {
		l.peers = make(map[ipx.Node]ipx.FrameType)
	}
	return l, nil
}

// overhead is the bytes an 802.3 framing adds inside the 1500-byte
// payload; auto mode (0) counts SNAP's, the largest.
func overhead(t ipx.FrameType) int {
	switch t {
	case ipx.FrameEthernetII, ipx.Frame8023Raw:
		return 0
	case ipx.Frame8022:
		return 3
	}
	return 8
}

// Node is the interface's MAC address.
func (l *Link) Node() ipx.Node { return l.node }

// MTU is the largest IPX packet the Link carries: 1500 (or the interface
// MTU if smaller) less the framing's LLC/SNAP overhead, SNAP's in auto
// mode.
func (l *Link) MTU() int { return l.mtu }

// FrameType is the configured framing, 0 in auto mode.
func (l *Link) FrameType() ipx.FrameType { return l.cfg.FrameType }

// PeerFrameType reports the framing auto mode will use towards n, and
// whether n has been heard. In fixed mode it returns the configured
// framing and true.
func (l *Link) PeerFrameType(n ipx.Node) (ipx.FrameType, bool) {
	if l.cfg.FrameType != 0 {
		return l.cfg.FrameType, true
	}
	l.pmu.RLock()
	t, ok := l.peers[n]
	l.pmu.RUnlock()
	if !ok {
		return ipx.FrameEthernetII, false
	}
	return t, true
}

// Stats returns the Link's counters.
func (l *Link) Stats() Stats {
	return Stats{
		Received:       l.c.received.Load(),
		Sent:           l.c.sent.Load(),
		OwnFrames:      l.c.own.Load(),
		OtherHost:      l.c.otherHost.Load(),
		NotIPX:         l.c.notIPX.Load(),
		OtherFrameType: l.c.otherType.Load(),
		Malformed:      l.c.malformed.Load(),
		Truncated:      l.c.truncated.Load(),
		ReadErrors:     l.c.readErrors.Load(),
		SendErrors:     l.c.sendErrors.Load(),
	}
}

// SetReadDeadline sets the deadline for ReadPacket, as net.Conn's does:
// past it ReadPacket returns an error wrapping os.ErrDeadlineExceeded.
func (l *Link) SetReadDeadline(t time.Time) error {
	l.rdl.Store(&t)
	if err := l.conn.SetReadDeadline(t); err != nil {
		return fmt.Errorf("ether: %s: %w", l.name, err)
	}
	return nil
}

// ReadPacket implements ipx.Link. It skips (and counts) frames that are not
// IPX, not for this node, sent by this node, in another framing than the
// configured one, or malformed, and returns the IPX packet, cut to its
// length field, and the sender's MAC. The checksum is not verified here;
// the Stack does that. The interface going down is retried, as the Link
// works again once it is back up; its removal ends the Link with an error
// wrapping syscall.ENODEV. After Close the error wraps net.ErrClosed.
func (l *Link) ReadPacket(b []byte) (int, ipx.Node, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for {
		n, err := l.readFrame(l.rbuf)
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return 0, ipx.Node{}, fmt.Errorf("ether: read %s: %w", l.name, net.ErrClosed)
			}
			if l.fast != nil {
				if err = l.fast.readError(err); err == nil {
					l.c.readErrors.Add(1)
					continue
				}
			}
			return 0, ipx.Node{}, fmt.Errorf("ether: read %s: %w", l.name, err)
		}
		p, src, ok := l.classify(l.rbuf[:n])
		if !ok {
			continue
		}
		l.c.received.Add(1)
		if len(p) > len(b) {
			l.c.truncated.Add(1)
		}
		return copy(b, p), src, nil
	}
}

// readDeadline is the caller's read deadline, zero if none.
func (l *Link) readDeadline() time.Time {
	if t := l.rdl.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

func (l *Link) readFrame(b []byte) (int, error) {
	if l.fast != nil {
		return l.fast.readFrame(b)
	}
	n, _, err := l.conn.ReadFrom(b)
	return n, err
}

// classify applies the receive filters to frame f, counts what it drops,
// learns the sender's framing in auto mode, and returns the IPX packet.
func (l *Link) classify(f []byte) (pkt []byte, src ipx.Node, ok bool) {
	if len(f) < 14 {
		l.c.malformed.Add(1)
		return nil, src, false
	}
	dst := ipx.Node(f[0:6])
	src = ipx.Node(f[6:12])
	switch {
	case src == l.node:
		l.c.own.Add(1)
		return nil, src, false
	case dst != l.node && !dst.IsBroadcast():
		l.c.otherHost.Add(1)
		return nil, src, false
	}
	ft, off, err := ipx.DetectFrame(f)
	switch {
	case errors.Is(err, ipx.ErrUnknownFrame):
		l.c.notIPX.Add(1)
		return nil, src, false
	case err != nil:
		l.c.malformed.Add(1)
		return nil, src, false
	case l.cfg.FrameType != 0 && ft != l.cfg.FrameType:
		l.c.otherType.Add(1)
		return nil, src, false
	}
	// The IPX length decides: padding and the 802.3 length are ignored.
	var h ipx.Header
	if err := h.UnmarshalBinary(f[off:]); err != nil || int(h.Length) > len(f)-off || src[0]&1 != 0 || src == ipx.NodeZero {
		l.c.malformed.Add(1)
		return nil, src, false
	}
	if l.cfg.FrameType == 0 {
		l.learn(src, ft)
	}
	return f[off : off+int(h.Length)], src, true
}

// learn records that peer n sends in framing t.
func (l *Link) learn(n ipx.Node, t ipx.FrameType) {
	l.pmu.RLock()
	old, ok := l.peers[n]
	l.pmu.RUnlock()
	if ok && old == t {
		return
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if _, ok := l.peers[n]; !ok && len(l.peers) >= l.cfg.MaxPeers {
		for k := range l.peers {
			delete(l.peers, k)
			break
		}
	}
	l.peers[n] = t
}

// frameFor is the framing for a frame to dst.
func (l *Link) frameFor(dst ipx.Node) ipx.FrameType {
	if l.cfg.FrameType != 0 {
		return l.cfg.FrameType
	}
	if dst.IsBroadcast() {
		return ipx.FrameEthernetII
	}
	t, _ := l.PeerFrameType(dst)
	return t
}

// WritePacket implements ipx.Link: it frames the encoded IPX packet p for
// dst (padded to the 60-byte minimum) and sends it. p must hold a valid
// IPX header whose length field does not exceed len(p); bytes past it are
// not sent. A packet with a checksum cannot go out as raw 802.3 (the
// framing is told by the 0xFFFF) and is refused with ipx.ErrBadChecksum.
func (l *Link) WritePacket(p []byte, dst ipx.Node) error {
	if l.closed.Load() {
		return fmt.Errorf("ether: write %s: %w", l.name, net.ErrClosed)
	}
	var pk ipx.Packet
	err := l.decodeOut(p, &pk)
	if err == nil {
		err = l.send(&ipx.Frame{Type: l.frameFor(dst), Dst: dst, Src: l.node, Packet: pk})
	}
	if err != nil {
		l.c.sendErrors.Add(1)
		if l.closed.Load() {
			err = net.ErrClosed
		}
		return fmt.Errorf("ether: write %s to %v: %w", l.name, dst, err)
	}
	l.c.sent.Add(1)
	return nil
}

// decodeOut decodes the outgoing packet p without verifying its checksum
// (the caller computed it) and with the length field deciding its extent.
func (l *Link) decodeOut(p []byte, pk *ipx.Packet) error {
	var h ipx.Header
	if err := h.UnmarshalBinary(p); err != nil {
		return err
	}
	if int(h.Length) > len(p) {
		return fmt.Errorf("length %d beyond %d bytes: %w", h.Length, len(p), ipx.ErrBadLength)
	}
	if int(h.Length) > l.mtu {
		return fmt.Errorf("packet of %d bytes over MTU %d: %w", h.Length, l.mtu, ipx.ErrTooLarge)
	}
	pk.Header = h
	pk.Payload = p[ipx.HeaderLen:h.Length]
	return nil
}

func (l *Link) send(f *ipx.Frame) error {
	w := l.getWriter()
	defer l.putWriter(w)
	b, err := f.AppendBinary(w.buf[:0])
	if err != nil {
		return err
	}
	w.buf = b[:0]
	w.frame = b
	if l.fast != nil {
		return l.fast.writeFrame(w)
	}
	w.mac = f.Dst
	_, err = l.conn.WriteTo(b, &w.addr)
	return err
}

func (l *Link) getWriter() *writer {
	select {
	case w := <-l.free:
		return w
	default:
		w := &writer{buf: make([]byte, 0, frameBufLen)}
		w.addr.HardwareAddr = w.mac[:]
		return w
	}
}

func (l *Link) putWriter(w *writer) {
	w.frame = nil
	select {
	case l.free <- w:
	default:
	}
}

// Close closes the socket and unblocks ReadPacket. A second Close returns
// a *net.OpError wrapping net.ErrClosed, as the ipx package's Close rule
// says.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		return &net.OpError{Op: "close", Net: "ipx", Addr: ipx.Addr{Node: l.node}, Err: net.ErrClosed}
	}
	if err := l.conn.Close(); err != nil {
		return fmt.Errorf("ether: close %s: %w", l.name, err)
	}
	return nil
}
