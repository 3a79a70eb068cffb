package spx

import (
	"fmt"
	"sync"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// epState is where an endpoint is in its life.
type epState uint8

const (
	stConnecting  epState = iota + 1 // request sent, no reply yet
	stEstablished                    // data may flow (possibly half-released)
	stDone                           // finished cleanly or failed; see err
)

var stateNames = [...]string{"", "connecting", "established", "done"}

func (s epState) String() string { return stateNames[s] }

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

// outPacket is a packet the endpoint asks its owner to send: the header
// (Ack, Alloc and NegotiationSize filled in) and data aliasing a segment.
type outPacket struct {
	h    Header
	data []byte
	seg  *segment // the segment data is in, or nil
}

// Stats count what one connection saw.
type Stats struct {
	PacketsSent, PacketsReceived uint64
	Retransmits                  uint64 // data packets sent again
	FastRetransmits              uint64 // of those, after duplicate acks
	Timeouts                     uint64 // retransmission timer expiries
	Duplicates                   uint64 // data packets received twice
	OutOfOrder                   uint64 // data packets buffered ahead of a gap
	OutOfWindow                  uint64 // data packets beyond the allocation
	BogusAcks                    uint64 // acknowledgements of data never sent
	KeepAlives                   uint64 // watchdog probes sent
	CongestionEvents             uint64 // losses that lowered the congestion window
	SRTT                         time.Duration
	Cwnd                         int // congestion window now, in packets
}

// endpoint is the SPX protocol core of one connection. It does no I/O:
// methods take the time (a lazy clock, read only if needed, or a fixed
// one), queue packets in out for the owner to send, and nextDeadline says
// when to call onTimer. It is not safe for concurrent use; Conn
// serialises calls with its mutex.
type endpoint struct {
	cfg   *Config
	state epState
	err   error // why the endpoint is done, nil if cleanly

	localID, remoteID uint16
	spx2              bool // both ends speak SPX II
	localMax, peerMax int  // largest IPX packets each end takes
	sendMax           int  // largest IPX packet we send: 576 until a probe confirms more
	probe             probeState

	// Send side. sendq holds segments from sndUna on; the first sent of
	// them have been transmitted at least once.
	sndUna     uint16
	sendq      ring
	sent       int
	peerAlloc  uint16
	dupAcks    int
	inRecovery bool
	recoverSeq uint16
	// Congestion window, in packets: the most in flight. It starts at
	// the whole window, as SPX always sent, and only a loss lowers it:
	// halved on a fast retransmission, one packet after a timeout; it
	// grows back by one per acknowledged packet up to ssthresh, then by
	// one per window's worth (TCP's NewReno, RFC 5681), so that a path
	// that drops bursts is not flooded again at once.
	cwnd, ssthresh int
	cwndAcked      int // packets acknowledged towards the next increase
	// After a timeout everything outstanding is suspect: the segments
	// from sndUna are sent again as the window, growing from one packet,
	// allows (resent of them so far), and the acknowledgements skip those
	// the peer already has. A burst of k losses takes about log2(k)
	// round trips instead of k.
	rtoRecovery bool
	resent      int

	backoff     uint
	rtoAt       time.Time // retransmission or connect-request deadline
	connectRetx int
	connSentAt  time.Time
	sinceAckReq int // segments sent since the last one asking for an ack

	// Receive side. A reader waiting in Read lends its buffer (rbuf):
	// data arriving in order while nothing is buffered goes straight
	// into it (rn bytes so far), skipping the receive segment's copy.
	rbuf        []byte
	rn          int
	rcvNxt      uint16
	advAlloc    uint16     // highest allocation number offered (never shrinks)
	sentAlloc   uint16     // the allocation number last sent: what the peer knows
	readyq      ring       // in-order segments not yet read
	ooo         []*segment // ooo[i] holds sequence number rcvNxt+i
	oooCount    int
	unacked     int // data packets received since our last ack
	ackNow      bool
	gapAck      bool // the next ack must be a system packet: it reports a gap
	ackAt       time.Time
	pendingType DatastreamType // 0xFD or 0xFF to put on the next ack

	// Closing. A release (0xFC) or end (0xFE) segment is queued once.
	relQueued, relAcked bool
	finQueued, finAcked bool
	peerReleased        bool // 0xFC delivered in order
	peerEnded           bool // 0xFE delivered in order
	appClosed           bool // owner closed: discard arriving data
	// undelivered records data discarded before the peer acknowledged
	// it: the connection failed or the peer ended it first.
	undelivered bool

	lastHeard time.Time
	heardLate bool      // heard since lastHeard, which heardBy's timer updates
	heardBy   time.Time // when lastHeard is brought up to date at the latest
	probeAt   time.Time // next keep-alive or zero-window probe

	rtt   rttEstimator
	out   []outPacket
	pool  *segPool
	free  []*segment
	stats Stats
}

// newEndpoint returns an endpoint with local id id. localMax is the
// largest IPX packet this end takes (MTU and Config.MaxPacket).
func newEndpoint(cfg *Config, pool *segPool, id uint16, localMax int, now time.Time) *endpoint {
	e := &endpoint{
		pool:      pool,
		cfg:       cfg,
		localID:   id,
		localMax:  localMax,
		peerMax:   ipx.MaxPacketLen,
		sendMax:   ipx.MaxPacketLen,
		sendq:     newRing(cfg.Window),
		readyq:    newRing(cfg.Window),
		ooo:       make([]*segment, cfg.Window),
		lastHeard: now,
		rtt:       rttEstimator{min: cfg.MinRTO, max: cfg.MaxRTO, initial: cfg.InitialRTO},
	}
	e.advAlloc = uint16(cfg.Window - 1)
	e.sentAlloc = e.advAlloc
	e.cwnd, e.ssthresh = cfg.Window, cfg.Window
	return e
}

// dial makes e the connecting end and queues the connection request.
func (e *endpoint) dial(now time.Time) {
	e.state = stConnecting
	e.connSentAt = now
	e.sendConnectRequest(now)
}

func (e *endpoint) sendConnectRequest(now time.Time) {
	h := Header{Control: ControlSystem | ControlSendAck, SrcID: e.localID, DstID: IDUnknown, Alloc: e.alloc()}
	e.sentAlloc = h.Alloc
	if !e.cfg.PlainSPX {
		h.Control |= ControlSPX2 | ControlNegotiate
	}
	e.out = append(e.out, outPacket{h: h})
	e.stats.PacketsSent++
	e.rtoAt = now.Add(e.currentRTO())
}

// accept makes e the accepting end of the connection request h and
// queues the reply.
func (e *endpoint) accept(h *Header, now time.Time) {
	e.state = stEstablished
	e.remoteID = h.SrcID
	e.spx2 = h.Control&ControlSPX2 != 0 && !e.cfg.PlainSPX
	e.peerAlloc = h.Alloc
	e.lastHeard = now
	e.probeAt = now.Add(e.cfg.VerifyInterval)
	e.replyConnect()
}

// replyConnect queues the answer to a connection request; it is sent
// again when the request is repeated (the first reply was lost).
func (e *endpoint) replyConnect() {
	h := Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}
	if e.spx2 {
		h.Control |= ControlSPX2 | ControlNegotiate
	}
	e.emit(h, nil)
}

// emit queues a packet, filling in the receive state it reports.
func (e *endpoint) emit(h Header, data []byte) { e.emitSeg(h, data, nil) }

// emitSeg is emit for a packet whose data is segment seg's.
func (e *endpoint) emitSeg(h Header, data []byte, seg *segment) {
	h.Ack = e.rcvNxt
	h.Alloc = e.alloc()
	e.sentAlloc = h.Alloc
	if e.spx2 {
		h.Control |= ControlSPX2
		h.NegotiationSize = uint16(e.localMax)
	}
	if h.Control&ControlSystem != 0 && e.pendingType != 0 {
		h.DatastreamType, e.pendingType = e.pendingType, 0
	}
	e.out = append(e.out, outPacket{h: h, data: data, seg: seg})
	e.stats.PacketsSent++
	e.unacked, e.ackNow, e.ackAt = 0, false, time.Time{}
}

// alloc is the allocation number to advertise: the last sequence number
// the receive buffer can take. It never moves backwards.
func (e *endpoint) alloc() uint16 {
	free := e.cfg.Window - e.readyq.len()
	a := e.rcvNxt + uint16(free) - 1
	if seqLess(e.advAlloc, a) {
		e.advAlloc = a
	}
	return e.advAlloc
}

// maxData is the data a packet may carry now.
func (e *endpoint) maxData() int {
	if !e.spx2 {
		return ipx.MaxPacketLen - ipx.HeaderLen - HeaderLen
	}
	return e.sendMax - ipx.HeaderLen - HeaderLen2
}

// maxRecv is the most data a packet from the peer may carry: 534 bytes
// in plain SPX (576-byte packets), what our size allows in SPX II.
func (e *endpoint) maxRecv() int {
	if !e.spx2 {
		return ipx.MaxPacketLen - ipx.HeaderLen - HeaderLen
	}
	return e.localMax - ipx.HeaderLen - HeaderLen
}

// probeState tracks the SPX II size probe.
type probeState uint8

const (
	probeNone probeState = iota // not started
	probeSent                   // queued or in flight
	probeDone                   // confirmed or given up
)

// probeRetries is how often a size probe is sent whole before it is
// shrunk: the path is then taken not to carry the size.
const probeRetries = 2

// startProbe begins size negotiation once both ends' sizes are known:
// a sequenced packet with the negotiate flag, padded to the size both
// ends take. If it is acknowledged whole, the path carries that size and
// data packets grow to it; if it is lost probeRetries times it is sent
// again empty (so the connection goes on) and packets stay at 576 bytes.
// The receiver consumes it without delivering anything.
func (e *endpoint) startProbe() {
	if e.probe != probeNone || e.state != stEstablished || !e.spx2 {
		return
	}
	e.probe = probeDone
	size := min(e.localMax, e.peerMax)
	if size <= ipx.MaxPacketLen || e.sendq.full() || e.relQueued || e.finQueued || e.peerEnded {
		return
	}
	s := e.newSegment()
	s.seq = e.sndUna + uint16(e.sendq.len())
	s.ctl = ControlNegotiate
	s.data = s.data[:size-ipx.HeaderLen-HeaderLen2]
	clear(s.data)
	e.sendq.push(s)
	e.probe = probeSent
}

// newSegment takes a segment from e's own free list, else the pool: the
// local list avoids sync.Pool's cross-goroutine traffic per packet.
func (e *endpoint) newSegment() *segment {
	if n := len(e.free); n > 0 {
		s := e.free[n-1]
		e.free = e.free[:n-1]
		// Field by field: sentAt and lastSent are set before use, and
		// leaving them saves stores on a hot path.
		s.seq, s.ctl, s.dstype, s.retx, s.off = 0, 0, 0, 0, 0
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

// writable reports whether write would accept at least one byte.
func (e *endpoint) writable() bool {
	if e.state != stEstablished || e.relQueued || e.finQueued || e.peerEnded {
		return true // write reports the error
	}
	if !e.sendq.full() {
		return true
	}
	t := e.sendq.back()
	return e.sent < e.sendq.len() && t.dstype == 0 && t.ctl == 0 && len(t.data) < e.maxData()
}

// writeErr is the error a write meets now, or nil.
func (e *endpoint) writeErr() error {
	switch {
	case e.state == stDone && e.err != nil:
		return e.err
	case e.peerEnded:
		return ErrTerminated
	case e.relQueued || e.finQueued || e.appClosed || e.state == stDone:
		return ErrWriteClosed
	}
	return nil
}

// write queues as much of b as the send buffer takes and returns how much.
// With eom the last packet of b is marked end of message, and only if all
// of b fits; attn marks every packet as attention. It sends what the
// window allows.
func (e *endpoint) write(b []byte, eom, attn bool, clk *clock) (int, error) {
	if err := e.writeErr(); err != nil {
		return 0, err
	}
	if e.state != stEstablished {
		return 0, nil
	}
	max := e.maxData()
	n := 0
	if eom && len(b) == 0 {
		if e.sendq.full() {
			return 0, nil
		}
		s := e.newSegment()
		s.seq = e.sndUna + uint16(e.sendq.len())
		s.ctl = ControlEOM
		e.sendq.push(s)
		e.transmit(clk)
		return 0, nil
	}
	for n < len(b) {
		var s *segment
		// Coalesce into the last queued segment while it is unsent.
		if e.sendq.len() > e.sent {
			t := e.sendq.back()
			if t.dstype == 0 && t.ctl == 0 && !attn && len(t.data) < max {
				s = t
			}
		}
		if s == nil {
			if e.sendq.full() {
				break
			}
			s = e.newSegment()
			s.seq = e.sndUna + uint16(e.sendq.len())
			if attn {
				s.ctl |= ControlAttention
			}
			e.sendq.push(s)
		}
		k := min(len(b)-n, max-len(s.data))
		s.data = append(s.data, b[n:n+k]...)
		n += k
	}
	if eom && n == len(b) && n > 0 {
		e.sendq.back().ctl |= ControlEOM
	}
	e.transmit(clk)
	return n, nil
}

// queueControl queues an empty sequenced segment of type t (0xFC or 0xFE).
// It reports false when the send buffer is full; the caller retries.
func (e *endpoint) queueControl(t DatastreamType, clk *clock) bool {
	if e.sendq.full() {
		return false
	}
	s := e.newSegment()
	s.seq = e.sndUna + uint16(e.sendq.len())
	s.dstype = t
	e.sendq.push(s)
	e.transmit(clk)
	return true
}

// closeWrite starts an SPX II orderly release of our direction.
func (e *endpoint) closeWrite(clk *clock) (bool, error) {
	if !e.spx2 {
		return false, ErrNotSPX2
	}
	if err := e.writeErr(); err != nil {
		return false, err
	}
	if !e.queueControl(DatastreamOrderlyRelease, clk) {
		return false, nil
	}
	e.relQueued = true
	return true, nil
}

// close is the owner's Close: from now on arriving data is discarded, and
// an end of connection (0xFE) follows the queued data unless the
// connection is already over. It reports false if the send buffer is full
// (the owner retries when it drains).
func (e *endpoint) close(clk *clock) bool {
	e.appClosed = true
	for e.readyq.len() > 0 {
		e.recycle(e.readyq.pop())
	}
	switch {
	case e.state == stConnecting:
		e.finish(nil)
		return true
	case e.state == stDone || e.finQueued:
		return true
	case e.peerEnded:
		e.finish(nil)
		return true
	case e.relAcked && e.peerReleased:
		e.finish(nil)
		return true
	}
	if !e.queueControl(DatastreamEndOfConnection, clk) {
		return false
	}
	e.finQueued = true
	return true
}

func (e *endpoint) finish(err error) {
	if e.state == stDone {
		return
	}
	e.state = stDone
	e.err = err
	e.probe = probeDone
	e.discardSendq()
	e.dropOOO()
}

// discardSendq drops the send queue, noting whether it held data the peer
// never acknowledged (a size probe or a release is no data).
func (e *endpoint) discardSendq() {
	for e.sendq.len() > 0 {
		s := e.sendq.pop()
		if s.dstype == 0 && s.ctl&ControlNegotiate == 0 {
			e.undelivered = true
		}
		e.recycle(s)
	}
	e.sent = 0
}

// flushed reports whether the peer acknowledged everything queued up to
// sequence number upTo (exclusive), or, with done, that it never will.
func (e *endpoint) flushed(upTo uint16) (ok, done bool) {
	if seqLessEq(upTo, e.sndUna) {
		return true, true
	}
	return false, e.state == stDone || e.undelivered
}

// sendEnd is the sequence number following the last segment queued.
func (e *endpoint) sendEnd() uint16 { return e.sndUna + uint16(e.sendq.len()) }

// fail ends the connection with err, discarding what was buffered.
func (e *endpoint) fail(err error) {
	for e.readyq.len() > 0 {
		e.recycle(e.readyq.pop())
	}
	e.finish(err)
}

// transmit sends the queued segments the peer's allocation admits.
func (e *endpoint) transmit(clk *clock) {
	if e.state != stEstablished {
		return
	}
	every := max(1, e.cfg.Window/4)
	for e.sent < e.sendq.len() && e.sent < e.cwnd {
		s := e.sendq.at(e.sent)
		if !seqLessEq(s.seq, e.peerAlloc) {
			break
		}
		e.sent++
		now := clk.now()
		s.sentAt, s.lastSent = now, now
		ctl := s.ctl
		e.sinceAckReq++
		// Ask for an acknowledgement when the window closes behind this
		// packet, every quarter window, and on release and end packets.
		last := e.sent == e.sendq.len() || !seqLessEq(s.seq+1, e.peerAlloc)
		if last || e.sinceAckReq >= every || s.dstype != 0 {
			ctl |= ControlSendAck
			e.sinceAckReq = 0
		}
		e.emitSeg(Header{Control: ctl, DatastreamType: s.dstype, SrcID: e.localID, DstID: e.remoteID, Seq: s.seq}, s.data, s)
		if e.rtoAt.IsZero() {
			e.rtoAt = now.Add(e.currentRTO())
		}
	}
	if e.sent < e.sendq.len() && !seqLessEq(e.sendq.at(e.sent).seq, e.peerAlloc) {
		// Window closed with data waiting: probe in case the peer's
		// window update is lost.
		if at := clk.now().Add(e.currentRTO()); e.probeAt.IsZero() || e.probeAt.After(at) {
			e.probeAt = at
		}
	}
}

// retransmit sends the oldest unacknowledged segment again.
func (e *endpoint) retransmit(clk *clock) { e.retransmitAt(0, clk) }

// retransmitAt sends the i-th unacknowledged segment again.
func (e *endpoint) retransmitAt(i int, clk *clock) {
	s := e.sendq.at(i)
	s.retx++
	s.lastSent = clk.now()
	e.stats.Retransmits++
	if s.ctl&ControlNegotiate != 0 && s.retx > probeRetries && len(s.data) > 0 {
		s.data = s.data[:0] // the path does not carry the size: go on small
	}
	if s.retx > e.cfg.RetryLimit {
		e.fail(fmt.Errorf("spx: packet %d unacknowledged after %d retransmissions: %w", s.seq, e.cfg.RetryLimit, ErrRetryLimit))
		return
	}
	e.emitSeg(Header{Control: s.ctl | ControlSendAck, DatastreamType: s.dstype, SrcID: e.localID, DstID: e.remoteID, Seq: s.seq}, s.data, s)
}

func (e *endpoint) currentRTO() time.Duration {
	return min(e.rtt.rto()<<min(e.backoff, 16), e.cfg.MaxRTO)
}

// input processes a packet from the peer (already matched to this
// endpoint by connection id and address). data aliases the caller's
// buffer and is copied if kept.
func (e *endpoint) input(h *Header, data []byte, clk *clock) {
	if e.state == stDone {
		// Lingering after a clean end: acknowledge a repeated end of
		// connection, whose first acknowledgement was lost, so the peer
		// finishes too.
		if e.err == nil && e.peerEnded && h.Control&ControlSystem == 0 && seqLess(h.Seq, e.rcvNxt) {
			e.repeatEndAck()
		}
		return
	}
	e.stats.PacketsReceived++
	defer e.heard(clk)
	e.probeAt = time.Time{}
	if e.state == stConnecting {
		if h.Control&ControlSystem == 0 || h.DstID != e.localID {
			return
		}
		e.state = stEstablished
		e.remoteID = h.SrcID
		e.spx2 = h.Control&ControlSPX2 != 0 && !e.cfg.PlainSPX
		e.rtoAt = time.Time{}
		if e.connectRetx == 0 {
			e.rtt.update(clk.now().Sub(e.connSentAt))
		}
		e.peerAlloc = h.Alloc
		e.backoff = 0
		// Confirm at once: the acceptor learns our negotiation size.
		e.emit(Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}, nil)
	}
	if e.spx2 && h.HasNegotiationSize() && int(h.NegotiationSize) >= ipx.MaxPacketLen {
		e.peerMax = int(h.NegotiationSize)
		e.startProbe()
	}
	e.processAck(h, clk)
	if e.state == stDone {
		return
	}
	if h.Control&ControlSystem != 0 {
		if h.Control&ControlSendAck != 0 {
			e.ackNow = true
		}
	} else {
		e.receive(h, data, clk)
	}
	e.transmit(clk)
	e.flushAck(clk)
}

// repeatEndAck acknowledges the peer's end of connection again.
func (e *endpoint) repeatEndAck() {
	e.pendingType = DatastreamEndOfConnectionAck
	e.emit(Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}, nil)
}

// heard notes, for the watchdog, that the peer was heard. It reads the
// clock only if the packet needed it anyway or no timer is due soon: with
// a delayed acknowledgement pending, its timer brings lastHeard up to date
// (heardBy), so lastHeard is at most AckDelay late. A bulk receiver reads
// the clock about once per acknowledgement instead of once per packet.
func (e *endpoint) heard(clk *clock) {
	if clk.ok || e.ackAt.IsZero() {
		e.lastHeard, e.heardLate, e.heardBy = clk.now(), false, time.Time{}
		return
	}
	if !e.heardLate {
		e.heardLate, e.heardBy = true, e.ackAt
	}
}

// grow opens the congestion window for n packets acknowledged: by n
// below ssthresh (slow start), by one per window's worth above it.
func (e *endpoint) grow(n int) {
	if e.cwnd >= e.cfg.Window {
		return
	}
	if e.cwnd < e.ssthresh {
		e.cwnd = min(e.cwnd+n, e.ssthresh)
	} else if e.cwndAcked += n; e.cwndAcked >= e.cwnd {
		e.cwndAcked -= e.cwnd
		e.cwnd++
	}
	e.cwnd = min(e.cwnd, e.cfg.Window)
}

// congested lowers the congestion window to cwnd after a loss, and
// ssthresh to half the packets that were in flight.
func (e *endpoint) congested(cwnd int) {
	e.ssthresh = max(e.sent/2, 2)
	e.cwnd, e.cwndAcked = min(cwnd, e.cfg.Window), 0
	e.stats.CongestionEvents++
}

// processAck applies the peer's acknowledge and allocation numbers.
func (e *endpoint) processAck(h *Header, clk *clock) {
	ack := h.Ack
	next := e.sndUna + uint16(e.sent)
	if !seqLessEq(ack, next) || seqLess(ack, e.sndUna) {
		if seqLess(next, ack) {
			e.stats.BogusAcks++ // acknowledges data never sent: ignored
		}
		return
	}
	n := seqDiff(e.sndUna, ack)
	if n > 0 {
		var newest *segment
		var retxLast time.Time // latest retransmission in the batch
		for range n {
			s := e.sendq.pop()
			if s.retx > 0 && s.lastSent.After(retxLast) {
				retxLast = s.lastSent
			}
			if s.ctl&ControlNegotiate != 0 {
				e.probe = probeDone
				if len(s.data) > 0 { // arrived whole
					e.sendMax = min(e.localMax, e.peerMax)
				}
			}
			switch s.dstype {
			case DatastreamOrderlyRelease:
				e.relAcked = true
			case DatastreamEndOfConnection:
				e.finAcked = true
			}
			if newest != nil {
				e.recycle(newest)
			}
			newest = s
		}
		// Karn's rule, refined: sample the newest packet acknowledged if it
		// was sent once, and after any retransmission this ack covers
		// (otherwise the ack may have waited for that retransmission).
		if newest.retx == 0 && !newest.sentAt.Before(retxLast) {
			e.rtt.update(clk.now().Sub(newest.sentAt))
		}
		e.recycle(newest)
		e.sndUna = ack
		e.sent -= n
		e.backoff = 0
		e.dupAcks = 0
		if e.sent > 0 {
			e.rtoAt = clk.now().Add(e.currentRTO())
		} else {
			e.rtoAt = time.Time{}
		}
		switch {
		case !e.inRecovery:
			e.grow(n)
		case !seqLess(ack, e.recoverSeq) || e.sent == 0:
			e.inRecovery, e.rtoRecovery = false, false
		case e.rtoRecovery:
			e.grow(n) // slow start
			e.resent = max(e.resent-n, 0)
			// Only what was outstanding at the timeout: later packets
			// went out once, after it, and are not suspect.
			suspect := min(seqDiff(e.sndUna, e.recoverSeq), e.sent)
			for e.resent < min(e.cwnd, suspect) {
				e.retransmitAt(e.resent, clk)
				if e.state == stDone {
					return
				}
				e.resent++
			}
		default:
			e.retransmit(clk) // partial ack: the next hole
			if e.state == stDone {
				return
			}
		}
	} else if e.sent > 0 && h.Control&ControlSystem != 0 && h.Alloc == e.peerAlloc {
		e.dupAcks++
		if e.dupAcks == 3 && !e.inRecovery {
			e.inRecovery = true
			e.recoverSeq = next
			e.stats.FastRetransmits++
			e.congested(max(e.sent/2, 2))
			e.retransmit(clk)
			if e.state == stDone {
				return
			}
			e.rtoAt = clk.now().Add(e.currentRTO())
		}
	}
	if a := h.Alloc; seqLessEq(ack-1, a) && seqLessEq(e.peerAlloc, a) {
		e.peerAlloc = a
	}
	if e.finAcked {
		e.finish(nil)
		return
	}
	if e.relAcked && e.peerReleased && e.appClosed {
		e.finish(nil)
	}
}

// receive handles a sequenced packet.
func (e *endpoint) receive(h *Header, data []byte, clk *clock) {
	if h.Control&ControlSendAck != 0 {
		e.ackNow = true
	}
	seq := h.Seq
	if seqLess(seq, e.rcvNxt) {
		e.stats.Duplicates++
		e.ackNow = true // our ack was probably lost
		e.gapAck = true
		return
	}
	// After an orderly release only an end of connection may follow.
	released := e.peerReleased && h.DatastreamType != DatastreamEndOfConnection
	if !seqInWindow(seq, e.rcvNxt, e.advAlloc) || e.peerEnded || released {
		e.stats.OutOfWindow++
		e.ackNow = true
		return
	}
	if len(data) > e.maxRecv() {
		e.stats.OutOfWindow++
		return // larger than we ever allowed
	}
	i := seqDiff(e.rcvNxt, seq)
	if i > 0 {
		if e.ooo[i] != nil {
			e.stats.Duplicates++
		} else {
			e.ooo[i] = e.store(h, data)
			e.oooCount++
			e.stats.OutOfOrder++
		}
		e.gapAck = true // duplicate ack: tells the sender of the gap
		return
	}
	if e.canLend(h, data) {
		k := copy(e.rbuf[e.rn:], data)
		e.rn += k
		e.rcvNxt++
		if k < len(data) {
			s := e.store(h, data)
			s.off = k
			e.readyq.push(s)
		}
	} else {
		e.deliver(e.store(h, data))
	}
	e.shiftOOO()
	// Move now-contiguous out-of-order segments over.
	for e.oooCount > 0 && e.ooo[0] != nil {
		s := e.ooo[0]
		e.oooCount--
		e.deliver(s)
		e.shiftOOO()
	}
	e.unacked++
	if e.unacked >= max(1, e.cfg.Window/4) {
		e.ackNow = true
	} else if e.ackAt.IsZero() {
		e.ackAt = clk.now().Add(e.cfg.AckDelay)
	}
}

// shiftOOO follows rcvNxt moving up by one.
func (e *endpoint) shiftOOO() {
	if e.oooCount == 0 {
		e.ooo[0] = nil
		return
	}
	copy(e.ooo, e.ooo[1:])
	e.ooo[len(e.ooo)-1] = nil
}

// dropOOO discards the out-of-order segments.
func (e *endpoint) dropOOO() {
	for i, s := range e.ooo {
		if s != nil {
			e.recycle(s)
			e.ooo[i] = nil
		}
	}
	e.oooCount = 0
}

// store makes a segment of a received packet, copying its data.
func (e *endpoint) store(h *Header, data []byte) *segment {
	s := e.newSegment()
	s.data = append(s.data, data...)
	s.seq = h.Seq
	s.ctl = h.Control & (ControlEOM | ControlAttention | ControlNegotiate)
	s.dstype = h.DatastreamType
	return s
}

// deliver takes the in-order segment s: data goes to the read queue,
// a release or end of connection changes state.
func (e *endpoint) deliver(s *segment) {
	e.rcvNxt++
	switch {
	case s.ctl&ControlNegotiate != 0 && e.spx2:
		e.recycle(s) // a size probe: padding only
	case s.dstype == DatastreamEndOfConnection:
		e.recycle(s)
		e.peerEnded = true
		e.pendingType = DatastreamEndOfConnectionAck
		e.ackNow = true
		// Our unsent and unacknowledged data is lost with the connection,
		// a size probe with it.
		e.discardSendq()
		e.probe = probeDone
		e.rtoAt = time.Time{}
		e.dropOOO()
		if e.appClosed {
			e.finish(nil)
		}
	case s.dstype == DatastreamOrderlyRelease && e.spx2:
		e.recycle(s)
		e.peerReleased = true
		e.pendingType = DatastreamOrderlyReleaseAck
		e.ackNow = true
		if e.relAcked && e.appClosed {
			e.finish(nil)
		}
	case e.appClosed || len(s.data) == 0 && s.ctl&ControlEOM == 0:
		e.recycle(s) // nobody will read it; an empty packet says nothing
	default:
		e.readyq.push(s)
	}
}

// flushAck sends a pure acknowledgement if one is due now.
func (e *endpoint) flushAck(clk *clock) {
	if e.state == stDone && !e.peerEnded {
		return
	}
	// The delayed ack's deadline is checked only against a clock read
	// already; otherwise its timer sends it.
	if e.ackNow || e.gapAck || !e.ackAt.IsZero() && clk.ok && !clk.t.Before(e.ackAt) {
		e.gapAck = false
		e.emit(Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}, nil)
	}
}

// readable reports whether read would return without waiting, or a
// lent buffer holds data.
func (e *endpoint) readable() bool {
	return e.rn > 0 || e.readyq.len() > 0 || e.state == stDone || e.peerEnded || e.peerReleased
}

// lend makes b the buffer in-order data goes to directly, until
// takeLent; the reader must not touch b meanwhile.
func (e *endpoint) lend(b []byte) { e.rbuf, e.rn = b, 0 }

// takeLent ends a lend and returns how many bytes the buffer received.
func (e *endpoint) takeLent() int {
	n := e.rn
	e.rbuf, e.rn = nil, 0
	return n
}

// canLend reports whether the in-order data packet h may go straight
// into the lent buffer: plain data, nothing buffered ahead of it, and
// room left.
func (e *endpoint) canLend(h *Header, data []byte) bool {
	return e.rn < len(e.rbuf) && e.readyq.len() == 0 && !e.appClosed && len(data) > 0 &&
		h.DatastreamType == 0 && h.Control&(ControlAttention|ControlNegotiate) == 0
}

// read copies buffered data into b. With msg it stops at the end of a
// message (eom reports reaching it) and never mixes attention and normal
// packets. At the end of the stream it returns io.EOF-worthy done=true.
func (e *endpoint) read(b []byte, msg bool) (n int, info MessageInfo, done bool, err error) {
	for e.readyq.len() > 0 && n < len(b) {
		s := e.readyq.front()
		if msg && n > 0 && s.ctl&ControlAttention != info.flags()&ControlAttention {
			break
		}
		info.Attention = s.ctl&ControlAttention != 0
		info.DatastreamType = s.dstype
		k := copy(b[n:], s.data[s.off:])
		n += k
		s.off += k
		if s.off < len(s.data) {
			break
		}
		e.recycle(e.readyq.pop())
		if msg && s.ctl&ControlEOM != 0 {
			info.EOM = true
			break
		}
	}
	if n == 0 && len(b) > 0 && e.readyq.len() == 0 {
		switch {
		case e.state == stDone && e.err != nil:
			return 0, info, true, e.err
		case e.state == stDone || e.peerEnded || e.peerReleased:
			return 0, info, true, nil
		}
	}
	// Tell the peer at once when reading reopened a window it saw closed,
	// or opened by a quarter a window it saw nearly closed. While it may
	// still send a quarter window, the acknowledgements of that data
	// carry the new allocation, and each update saved is a packet.
	if e.state == stEstablished {
		known, after := e.sentAlloc, e.alloc()
		q := max(1, e.cfg.Window/4)
		room := seqDiff(e.rcvNxt, known) + 1 // packets the peer may still send
		if room <= 0 && after != known || room < q && seqDiff(known, after) >= q {
			e.emit(Header{Control: ControlSystem, SrcID: e.localID, DstID: e.remoteID}, nil)
		}
	}
	return n, info, false, nil
}

// MessageInfo describes what ReadMessage returned.
type MessageInfo struct {
	// EOM reports that the data ends a message.
	EOM bool
	// Attention reports data sent with the attention flag.
	Attention bool
	// DatastreamType is the sender's datastream type for the data.
	DatastreamType DatastreamType
}

func (m MessageInfo) flags() Control {
	if m.Attention {
		return ControlAttention
	}
	return 0
}

// onTimer runs the timers that are due.
func (e *endpoint) onTimer(now time.Time) {
	clk := fixed(now)
	if e.heardLate {
		e.lastHeard, e.heardLate, e.heardBy = now, false, time.Time{}
	}
	switch e.state {
	case stDone:
		return
	case stConnecting:
		if !e.rtoAt.IsZero() && !now.Before(e.rtoAt) {
			e.connectRetx++
			if e.connectRetx > e.cfg.RetryLimit {
				e.finish(fmt.Errorf("spx: %d connection requests: %w", e.connectRetx, ErrConnRefused))
				return
			}
			e.backoff++
			e.sendConnectRequest(now)
		}
		return
	}
	if e.quiet() {
		e.flushAck(clk)
		return
	}
	if now.Sub(e.lastHeard) >= e.cfg.AbortTimeout {
		e.fail(fmt.Errorf("spx: nothing heard for %v: %w", now.Sub(e.lastHeard), ErrPeerSilent))
		return
	}
	if !e.rtoAt.IsZero() && !now.Before(e.rtoAt) && e.sent == 0 {
		e.rtoAt = time.Time{}
	}
	if !e.rtoAt.IsZero() && !now.Before(e.rtoAt) {
		e.stats.Timeouts++
		e.congested(1)
		e.backoff++
		e.inRecovery, e.rtoRecovery = true, true
		e.recoverSeq = e.sndUna + uint16(e.sent)
		e.dupAcks = 0
		e.resent = 1
		e.retransmit(clk)
		if e.state == stDone {
			return
		}
		e.rtoAt = now.Add(e.currentRTO())
	}
	if e.probeAt.IsZero() {
		e.probeAt = e.lastHeard.Add(e.cfg.VerifyInterval)
	}
	if !now.Before(e.probeAt) {
		// Keep-alive after silence, or zero-window probe: a system packet
		// asking for an acknowledgement.
		e.stats.KeepAlives++
		e.emit(Header{Control: ControlSystem | ControlSendAck, SrcID: e.localID, DstID: e.remoteID}, nil)
		next := e.cfg.VerifyInterval
		if e.sent < e.sendq.len() {
			next = min(next, e.currentRTO())
		}
		e.probeAt = now.Add(next)
	}
	e.flushAck(clk)
}

// quiet reports a connection with nothing left to exchange, though the
// owner has not closed it: the peer ended it, or both directions were
// released. The peer may be gone, so there are no keep-alives and no
// abort timeout: what was received stays readable, then io.EOF.
func (e *endpoint) quiet() bool {
	return e.peerEnded || e.peerReleased && e.relAcked
}

// nextDeadline is when onTimer must next run; zero if never.
func (e *endpoint) nextDeadline() time.Time {
	var t time.Time
	take := func(d time.Time) {
		if !d.IsZero() && (t.IsZero() || d.Before(t)) {
			t = d
		}
	}
	switch e.state {
	case stDone:
		return time.Time{}
	case stConnecting:
		return e.rtoAt
	}
	if e.quiet() {
		return e.ackAt
	}
	if e.heardLate {
		take(e.heardBy)
	}
	take(e.rtoAt)
	take(e.ackAt)
	if e.probeAt.IsZero() {
		take(e.lastHeard.Add(e.cfg.VerifyInterval))
	} else {
		take(e.probeAt)
	}
	take(e.lastHeard.Add(e.cfg.AbortTimeout))
	return t
}

// takeOut hands the queued packets to the owner, who must send them
// before the next call into the endpoint (their data aliases segments).
func (e *endpoint) takeOut() []outPacket {
	o := e.out
	e.out = e.out[:0]
	return o
}

func (e *endpoint) statsSnapshot() Stats {
	s := e.stats
	s.SRTT = e.rtt.smoothed()
	s.Cwnd = e.cwnd
	return s
}
