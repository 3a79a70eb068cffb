package spx

import (
	"fmt"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// sender is an endpoint's send side. sendq holds segments from sndUna
// on; the first sent of them have been transmitted at least once.
type sender struct {
	sndUna      uint16
	sendq       ring
	sent        int
	peerAlloc   uint16
	sinceAckReq int // segments sent since the last one asking for an ack

	// A release (0xFC) or end (0xFE) segment is queued once.
	relQueued, relAcked bool
	finQueued, finAcked bool
	// undelivered records data discarded before the peer acknowledged
	// it: the connection failed or the peer ended it first.
	undelivered bool
}

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
	e.sackedN, e.lostN = 0, 0
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

// transmit sends the queued segments the peer's allocation admits.
func (e *endpoint) transmit(clk *clock) {
	if e.state != stEstablished {
		return
	}
	// A quarter of the window, or of the congestion window when that is
	// smaller: with few packets in flight each acknowledgement lost would
	// otherwise stall the sender until a probe.
	every := max(1, min(e.cfg.Window, e.cwnd)/4)
	if e.lostN > 0 && e.resendLost(clk) {
		if e.state != stEstablished {
			return
		}
		e.armRTO(clk.now())
	}
	for e.sent < e.sendq.len() && e.cwndOpen() {
		s := e.sendq.at(e.sent)
		if !seqLessEq(s.seq, e.peerAlloc) {
			break
		}
		e.sent++
		now := clk.now()
		s.sentAt, s.lastSent = now, now
		ctl := s.ctl
		e.sinceAckReq++
		// Ask for an acknowledgement when the window (the peer's or the
		// congestion window) closes behind this packet, every quarter
		// window, and on release and end packets: otherwise a sender
		// held by its congestion window waits out the peer's ack delay.
		// The last packet queued asks too, unless the peer's answer is
		// to carry the acknowledgement (PiggybackAcks).
		last := e.sent == e.sendq.len() && !e.cfg.PiggybackAcks || !seqLessEq(s.seq+1, e.peerAlloc) || !e.cwndOpen()
		// A request/response exchange (PiggybackAcks) keeps one packet
		// in flight however many it sends: what counts is those
		// outstanding, each time they reach another quarter.
		quarter := e.sinceAckReq >= every
		if e.cfg.PiggybackAcks {
			quarter = e.sent%every == 0
		}
		if last || quarter || s.dstype != 0 {
			ctl |= ControlSendAck
			e.sinceAckReq = 0
		}
		e.emitSeg(Header{Control: ctl, DatastreamType: s.dstype, SrcID: e.localID, DstID: e.remoteID, Seq: s.seq}, s.data, s)
		if e.rtoAt.IsZero() {
			e.armRTO(now)
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
	if s.lost {
		s.lost = false
		e.lostN--
	}
	s.retx++
	s.lastSent = clk.now()
	e.stats.Retransmits++
	e.episodeRetx++
	if s.ctl&ControlNegotiate != 0 && s.retx > probeRetries && len(s.data) > 0 {
		s.data = s.data[:0] // the path does not carry the size: go on small
	}
	// The limit counts timeouts, as TCP's does: the faster repairs
	// (duplicate acknowledgements, tail probes) come between them, and
	// each is capped in turn against a peer that acknowledges everything
	// but one packet.
	if s.timeouts > e.cfg.RetryLimit || s.retx > (tailProbes+2)*e.cfg.RetryLimit {
		e.fail(fmt.Errorf("spx: packet %d unacknowledged after %d retransmissions: %w", s.seq, s.retx-1, ErrRetryLimit))
		return
	}
	e.emitSeg(Header{Control: s.ctl | ControlSendAck, DatastreamType: s.dstype, SrcID: e.localID, DstID: e.remoteID, Seq: s.seq}, s.data, s)
}

// processAck applies the peer's acknowledge and allocation numbers.
// data is the packet's data: on a system packet from a peer that
// negotiated them, selective acknowledgements.
func (e *endpoint) processAck(h *Header, data []byte, clk *clock) {
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
		now := clk.now()
		var newest *segment
		var retxLast time.Time // latest retransmission in the batch
		spurious, tlpRepaired := false, false
		var late time.Duration // how late the latest spurious one's original was
		for range n {
			s := e.sendq.pop()
			if e.sack {
				if !s.sacked {
					e.delivered(s, now)
				}
				e.dropped(s)
			}
			if s.retx > 0 {
				if s.lastSent.After(retxLast) {
					retxLast = s.lastSent
				}
				// Acknowledged sooner than any round trip after its last
				// transmission: an earlier copy arrived (RFC 8985 step 2).
				early := e.rtt.has && now.Sub(s.lastSent) < e.rtt.minRTT
				if early {
					spurious = true
					late = max(late, now.Sub(s.sentAt)-e.rtt.srtt)
				}
				if e.tlpPending && s.seq == e.tlpSeq {
					e.tlpPending = false
					tlpRepaired = !early
				}
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
		if newest.retx == 0 && !newest.sacked && !newest.sentAt.Before(retxLast) {
			e.rtt.update(now.Sub(newest.sentAt), now)
		}
		e.recycle(newest)
		if spurious {
			e.spurious(late)
		} else if tlpRepaired && !e.inRecovery {
			// The probe repaired a loss no acknowledgement revealed: the
			// response, and the recovery, a fast retransmission would
			// have had, so that the next hole is repaired a round trip
			// later, not a probe's wait.
			e.enterRecovery()
			e.episodeRetx = 1
		}
		e.sndUna = ack
		e.sent -= n
		e.backoff = 0
		e.dupAcks = 0
		if e.sent > 0 {
			e.armRTO(now)
		} else {
			e.disarm()
		}
		switch {
		case !e.inRecovery:
			e.grow(n)
		case !seqLess(ack, e.recoverSeq) || e.sent == 0:
			e.inRecovery, e.rtoRecovery, e.inflate = false, false, 0
		case e.rtoRecovery && e.sack:
			e.grow(n) // slow start; transmit resends what is lost
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
			// A partial acknowledgement: the retransmission filled one
			// hole and the next packet, sent before it, is missing too.
			e.inflate = max(e.inflate-n, 0)
			e.dupAcks = 1
		}
	} else if e.sent > 0 && h.Control&ControlSystem != 0 && h.Alloc == e.peerAlloc {
		e.dupAcks++
		if e.inRecovery && !e.rtoRecovery && !e.sack && e.inflate < e.cfg.Window {
			e.inflate++
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
		return
	}
	if e.sack {
		if h.Control&ControlSystem != 0 && len(data) > 0 {
			e.processSACK(data, clk)
		}
		e.detectLossSACK(clk)
		return
	}
	e.detectLoss(clk)
}

// maxData is the data a packet may carry now.
func (e *endpoint) maxData() int {
	if !e.spx2 {
		return ipx.MaxPacketLen - ipx.HeaderLen - HeaderLen
	}
	return e.sendMax - ipx.HeaderLen - HeaderLen2
}
