package spx

import (
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// receiver is an endpoint's receive side. A reader waiting in Read lends
// its buffer (rbuf): data arriving in order while nothing is buffered
// goes straight into it (rn bytes so far), skipping the receive
// segment's copy.
type receiver struct {
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

	peerReleased bool // 0xFC delivered in order
	peerEnded    bool // 0xFE delivered in order
	appClosed    bool // owner closed: discard arriving data
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

// maxRecv is the most data a packet from the peer may carry: 534 bytes
// in plain SPX (576-byte packets), what our size allows in SPX II.
func (e *endpoint) maxRecv() int {
	if !e.spx2 {
		return ipx.MaxPacketLen - ipx.HeaderLen - HeaderLen
	}
	return e.localMax - ipx.HeaderLen - HeaderLen
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
		e.stats.Oversize++
		return // larger than we ever allowed
	}
	i := seqDiff(e.rcvNxt, seq)
	if i > 0 {
		if e.ooo[i] != nil {
			e.stats.Duplicates++
		} else {
			e.ooo[i] = e.store(h, data)
			e.oooCount++
			e.lastOOO = seq
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
	// Filling a gap is acknowledged at once (RFC 5681, 4.2): the sender
	// is recovering and waits for it.
	if e.oooCount > 0 {
		e.ackNow = true
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
		e.disarm()
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
