package spx

import (
	"sync"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// segment is one sequenced packet: data, an orderly release or an end of
// connection. Its buffer is owned by the endpoint and recycled.
type segment struct {
	seq      uint16
	ctl      Control // EOM, attention
	dstype   DatastreamType
	data     []byte
	sentAt   time.Time // first transmission, for RTT samples
	lastSent time.Time
	retx     int    // retransmissions so far
	sacked   bool   // the peer has it: a selective acknowledgement said so
	lost     bool   // taken as lost and not resent since
	timeouts int    // of those, on the retransmission timer
	off      int    // bytes already read (receive side)
	buf      []byte // headroom, then data; recycled with the segment

	// A send of the segment's buffer in progress outside the
	// connection's lock (Conn.flush); retired once acknowledged then,
	// and recycled when the send is done.
	inflight int
	retired  bool
}

// headroom precedes a segment's data in its buffer: room for the IPX
// and SPX II headers, so that a data packet is sent from the segment
// itself.
const headroom = ipx.HeaderLen + HeaderLen2

// packet returns s's data packet with an SPX header of hlen bytes and
// the IPX header's room before it, aliasing s.buf.
func (s *segment) packet(hlen int) []byte {
	return s.buf[headroom-hlen-ipx.HeaderLen : headroom+len(s.data)]
}

// newSegment takes a segment from e's own free list, else the pool: the
// local list avoids sync.Pool's cross-goroutine traffic per packet.
func (e *endpoint) newSegment() *segment {
	if n := len(e.free); n > 0 {
		s := e.free[n-1]
		e.free = e.free[:n-1]
		// Field by field: sentAt and lastSent are set before use, and
		// leaving them saves stores on a hot path.
		s.seq, s.ctl, s.dstype, s.retx, s.timeouts, s.off = 0, 0, 0, 0, 0, 0
		s.sacked, s.lost = false, false
		s.data = s.buf[headroom:headroom]
		return s
	}
	return e.pool.get()
}

func (e *endpoint) recycle(s *segment) {
	if s.inflight > 0 {
		s.retired = true // Conn.release recycles it after the send
		return
	}
	if len(e.free) < e.cfg.Window {
		e.free = append(e.free, s)
		return
	}
	e.pool.put(s)
}

// segPool recycles segments among the connections of one socket. Their
// buffers take the largest payload the socket receives.
type segPool struct {
	p    sync.Pool
	size int
}

func newSegPool(maxPayload int) *segPool { return &segPool{size: maxPayload} }

func (p *segPool) get() *segment {
	s, ok := p.p.Get().(*segment)
	if !ok {
		buf := make([]byte, headroom+p.size)
		return &segment{buf: buf, data: buf[headroom:headroom]}
	}
	*s = segment{buf: s.buf, data: s.buf[headroom:headroom]}
	return s
}

func (p *segPool) put(s *segment) { p.p.Put(s) }
