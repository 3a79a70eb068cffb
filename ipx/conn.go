package ipx

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/deadline"
)

// RecvInfo describes a received packet beyond its payload.
type RecvInfo struct {
	// Header is the IPX header as received.
	Header Header
	// Link is the link the packet arrived on.
	Link LinkID
	// From is the link-level sender: the previous hop, which is a router
	// rather than Header.Src.Node for packets from another network.
	From Node
}

// WriteOptions control one send.
type WriteOptions struct {
	// Type is the IPX packet type.
	Type PacketType
	// Link forces the outgoing link; 0 routes by destination network.
	// A broadcast to network 0 goes out on Link, or on the first link.
	Link LinkID
	// Checksum asks for a computed checksum instead of 0xFFFF. Never
	// set it for links using raw 802.3 framing.
	Checksum bool
}

// Conn is a bound IPX socket. It implements net.PacketConn with Addr
// addresses; ReadMsg and WriteMsg add the full header, the link and the
// packet type, without allocating.
type Conn struct {
	s       *Stack
	sock    Socket
	handler Handler // nil: packets are queued for ReadMsg
	queue   chan *pbuf
	ptype   atomic.Uint32
	src     atomic.Uint32 // source Network; 0: the Stack's default

	closeOnce sync.Once
	closed    chan struct{}
	shut      atomic.Bool // closed is closed: a check without select's locks
	doneOnce  sync.Once
	done      chan struct{} // closed with closed, or when the Stack's links all fail
	doneErr   error         // why done closed; set before

	rd, wd *deadline.Deadline
}

var _ net.PacketConn = (*Conn)(nil)

func newConn(s *Stack, sock Socket, h Handler) *Conn {
	qlen := s.cfg.QueueLen
	if h != nil {
		qlen = 0
	}
	return &Conn{
		s:       s,
		sock:    sock,
		handler: h,
		queue:   make(chan *pbuf, qlen),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
		rd:      deadline.New(),
		wd:      deadline.New(),
	}
}

func (c *Conn) isClosed() bool { return c.shut.Load() }

// enqueue hands a packet to the reader without blocking; false when the
// queue is full or the Conn closed.
func (c *Conn) enqueue(p *pbuf) bool {
	if c.shut.Load() {
		return false
	}
	select {
	case c.queue <- p:
		return true
	default:
		return false
	}
}

// Addr returns the bound address, the source address of the packets the
// Conn sends: the socket on its source network (SetSource) if set; else
// on the Stack's first InternalLink not Shared if it has one; else on its
// first link.
func (c *Conn) Addr() Addr {
	links := *c.s.links.Load()
	if len(links) == 0 {
		return Addr{Socket: c.sock}
	}
	sl, err := c.s.srcLink(c, links[0])
	if err != nil {
		return Addr{Net: Network(c.src.Load()), Socket: c.sock}
	}
	return Addr{Net: sl.Network, Node: sl.Node, Socket: c.sock}
}

// SetSource makes the packets the Conn sends carry the address (network
// and node) of the Stack's link on network n, whatever link they leave
// on: so a mirrored server's engine replies from the shared internal
// network while the host's other sockets keep its own address. n = 0
// restores the default (see Addr). A network with no local link is
// refused with an error wrapping ErrNoRoute, and so are sends if that
// link is later removed.
func (c *Conn) SetSource(n Network) error {
	if n != 0 && c.s.linkForNetwork(n) == nil {
		return c.opErr("setsource", nil, fmt.Errorf("ipx: source network %v: no local link: %w", n, ErrNoRoute))
	}
	c.src.Store(uint32(n))
	return nil
}

// LocalAddr returns Addr as a net.Addr.
func (c *Conn) LocalAddr() net.Addr { return c.Addr() }

// SetPacketType sets the packet type WriteTo sends with (default 0).
func (c *Conn) SetPacketType(t PacketType) { c.ptype.Store(uint32(t)) }

// ReadMsg waits for a packet, copies its payload into b and returns the
// payload length and the packet's header, link and previous hop. A payload
// longer than b is truncated, as with UDP.
func (c *Conn) ReadMsg(b []byte) (int, RecvInfo, error) {
	if c.handler != nil {
		return 0, RecvInfo{}, c.opErr("read", nil, errHandlerRead)
	}
	select {
	case <-c.closed:
		return 0, RecvInfo{}, c.opErr("read", nil, net.ErrClosed)
	case <-c.rd.Wait():
		return 0, RecvInfo{}, c.opErr("read", nil, errTimeout)
	default:
	}
	select {
	case p := <-c.queue:
		n := copy(b, p.b[:p.n])
		info := p.info
		c.s.putBuf(p)
		return n, info, nil
	case <-c.closed:
		return 0, RecvInfo{}, c.opErr("read", nil, net.ErrClosed)
	case <-c.rd.Wait():
		return 0, RecvInfo{}, c.opErr("read", nil, errTimeout)
	case <-c.done:
		return 0, RecvInfo{}, c.opErr("read", nil, c.Err())
	}
}

// Buffered returns how many packets wait to be read now (0 for a
// handler's socket). A reader that handles packets in batches reads on
// while it is above zero before it acts on the batch, as a mirrored
// server's group commit does.
func (c *Conn) Buffered() int { return len(c.queue) }

// ReadFrom implements net.PacketConn; the address is the sender's Addr.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, info, err := c.ReadMsg(b)
	if err != nil {
		return 0, nil, err
	}
	return n, info.Header.Src, nil
}

// writable returns the error a write meets before sending, if any. It
// takes no locks: writes check it per packet.
func (c *Conn) writable(dst Addr) error {
	if c.shut.Load() {
		return c.opErr("write", dst, net.ErrClosed)
	}
	if c.wd.Exceeded() {
		return c.opErr("write", dst, errTimeout)
	}
	return nil
}

// WriteMsg sends payload b to dst with the given options.
func (c *Conn) WriteMsg(b []byte, dst Addr, o WriteOptions) (int, error) {
	if err := c.writable(dst); err != nil {
		return 0, err
	}
	if err := c.s.send(c, b, dst, o); err != nil {
		return 0, c.opErr("write", dst, err)
	}
	return len(b), nil
}

// WritePacket sends the payload p[HeaderLen:] to dst as WriteMsg does,
// but builds the packet in p itself: it writes the IPX header into
// p[:HeaderLen], overwriting what is there, and hands p to the link
// without copying it. A protocol that assembles its packets in its own
// buffers saves a copy per packet this way. It returns the payload length.
func (c *Conn) WritePacket(p []byte, dst Addr, o WriteOptions) (int, error) {
	if len(p) < HeaderLen {
		return 0, c.opErr("write", dst, errShortHeader(len(p)))
	}
	if err := c.writable(dst); err != nil {
		return 0, err
	}
	if err := c.s.sendPacket(c, p, dst, o); err != nil {
		return 0, c.opErr("write", dst, err)
	}
	return len(p) - HeaderLen, nil
}

// WritePackets sends several packets, each built in place as for
// WritePacket, to dst, in order. On a link that sends batches (a
// BatchWriter, such as the UDP tunnel) they go for about the cost of one.
// It returns how many packets it sent: all, or fewer and the error that
// stopped ps[n]. A packet too short for its header, or too long for the
// link, stops the batch before any is sent.
func (c *Conn) WritePackets(ps [][]byte, dst Addr, o WriteOptions) (int, error) {
	if err := c.writable(dst); err != nil {
		return 0, err
	}
	n, err := c.s.sendPackets(c, ps, dst, o)
	if err != nil {
		// Only here: boxing dst as a net.Addr allocates.
		return n, c.opErr("write", dst, err)
	}
	return n, nil
}

// WriteTo implements net.PacketConn; addr must be an Addr or *Addr.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var dst Addr
	switch a := addr.(type) {
	case Addr:
		dst = a
	case *Addr:
		dst = *a
	default:
		return 0, c.opErr("write", addr, fmt.Errorf("ipx: address %v of type %T: %w", addr, addr, ErrBadAddr))
	}
	return c.WriteMsg(b, dst, WriteOptions{Type: PacketType(c.ptype.Load())})
}

// Close unbinds the socket and unblocks pending reads. A second Close, or
// a Close after the Stack's, does nothing and returns a *net.OpError
// wrapping net.ErrClosed (see the package's Close rule).
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.shut.Store(true)
		close(c.closed)
		c.markDone(net.ErrClosed)
		c.s.unbind(c)
	})
	if !first {
		return c.opErr("close", nil, net.ErrClosed)
	}
	// Return queued buffers to the pool; enqueue refuses new ones now.
	for {
		select {
		case p := <-c.queue:
			c.s.putBuf(p)
		default:
			return nil
		}
	}
}

// Done returns a channel that is closed when the Conn can receive no
// more: it was closed, by Close or by the Stack's Close, or every link of
// its Stack failed. Err then tells which. A ListenFunc socket, which has
// no reads to fail, learns of its end this way. The end is final: a link
// added later serves only sockets opened after it.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns nil while the Conn is open; after Done is closed, an error
// wrapping net.ErrClosed or ErrLinkDown.
func (c *Conn) Err() error {
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	select {
	case <-c.done:
		return c.doneErr
	default:
		return nil
	}
}

// markDone ends the Conn for reason err, once.
func (c *Conn) markDone(err error) {
	c.doneOnce.Do(func() {
		c.doneErr = err
		close(c.done)
	})
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.Set(t)
	c.wd.Set(t)
	return nil
}

// SetReadDeadline sets the absolute time after which reads fail with an
// error wrapping os.ErrDeadlineExceeded; the zero time disables it.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rd.Set(t); return nil }

// SetWriteDeadline sets the write deadline. Writes never block on the
// link for long, so it only fails writes started after it passes.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wd.Set(t); return nil }

func (c *Conn) opErr(op string, addr net.Addr, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: "ipx", Source: c.Addr(), Addr: addr, Err: err}
}

// errHandlerRead: a ListenFunc socket delivers to its handler, not to reads.
var errHandlerRead = fmt.Errorf("ipx: socket delivers to a handler: %w", errors.ErrUnsupported)

// errTimeout is os.ErrDeadlineExceeded, which reports Timeout() == true.
var errTimeout error = os.ErrDeadlineExceeded
