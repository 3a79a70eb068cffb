package spx

import (
	"encoding/binary"
	"time"
)

// Selective acknowledgements (SACK) between ipxkit SPX II endpoints, an
// extension of ours that Novell's SPX lacks; see the package doc for how
// it is announced. A receiver holding packets ahead of a gap puts up to
// maxSACKBlocks ranges of them in the data of its acknowledgements
// (system packets, which carry none otherwise):
//
//	0 kind (1) = sackKind   1 block count n (1), 1..maxSACKBlocks
//	2 n × (first sequence number (2), the one after the last (2))
//
// The sender marks the packets covered, takes as lost every packet below
// the highest one covered that RACK (RFC 8985) judges lost, and resends
// them all in one round trip as the congestion window, counted against
// the packets in flight (RFC 6675's pipe), allows.

const (
	sackKind      = 0x01
	maxSACKBlocks = 4
	sackMaxLen    = 2 + 4*maxSACKBlocks
)

// sackBlock is a range [start, end) of sequence numbers received.
type sackBlock struct{ start, end uint16 }

// appendSACK encodes blocks (1..maxSACKBlocks of them) onto b.
func appendSACK(b []byte, blocks []sackBlock) []byte {
	b = append(b, sackKind, byte(len(blocks)))
	for _, k := range blocks {
		b = binary.BigEndian.AppendUint16(b, k.start)
		b = binary.BigEndian.AppendUint16(b, k.end)
	}
	return b
}

// parseSACK decodes a SACK payload into blk and returns how many blocks
// it holds; ok is false if b is not a well-formed one. It checks only
// the form: the caller checks the ranges against what it sent.
func parseSACK(b []byte, blk *[maxSACKBlocks]sackBlock) (n int, ok bool) {
	if len(b) < 2 || b[0] != sackKind {
		return 0, false
	}
	n = int(b[1])
	if n < 1 || n > maxSACKBlocks || len(b) != 2+4*n {
		return 0, false
	}
	for i := range n {
		p := b[2+4*i:]
		blk[i] = sackBlock{binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:])}
	}
	return n, true
}

// sackState is an endpoint's SACK state, both sides.
type sackState struct {
	sack bool // negotiated: both ends announced it

	// Send side: of the segments sent, sackedN are marked delivered by
	// a SACK block and lostN are taken as lost and not yet resent.
	// highSacked is the sequence number after the highest SACKed.
	sackedN, lostN int
	highSacked     uint16
	// rackXmit and rackSeq are the last transmission, and its sequence
	// number, of a packet known delivered (RACK.xmit_ts, RACK.end_seq):
	// a packet sent before it and still unacknowledged a reordering
	// window past a round trip is lost.
	rackXmit time.Time
	rackSeq  uint16

	// Receive side: lastOOO is the latest packet buffered ahead of a
	// gap, whose block goes first (RFC 2018); sackBuf holds the payloads
	// of the packets in out.
	lastOOO uint16
	sackBuf []byte
}

// pipe is the packets in flight: sent, neither SACKed nor taken as lost.
func (e *endpoint) pipe() int { return e.sent - e.sackedN - e.lostN }

// cwndOpen reports whether the congestion window admits one more packet.
func (e *endpoint) cwndOpen() bool {
	if e.sack {
		return e.pipe() < e.cwnd
	}
	return e.sent < e.cwnd+e.inflate
}

// sackPayload returns the SACK payload for an acknowledgement now, held
// in e.sackBuf until the owner takes the packets out.
func (e *endpoint) sackPayload() []byte {
	var blk [maxSACKBlocks]sackBlock
	n := 0
	w := len(e.ooo)
	// The block holding the latest arrival first: every arrival is then
	// reported in the acknowledgement it prompts.
	if i := seqDiff(e.rcvNxt, e.lastOOO); i > 0 && i < w && e.ooo[i] != nil {
		lo, hi := i, i+1
		for lo > 1 && e.ooo[lo-1] != nil {
			lo--
		}
		for hi < w && e.ooo[hi] != nil {
			hi++
		}
		blk[0] = sackBlock{e.rcvNxt + uint16(lo), e.rcvNxt + uint16(hi)}
		n = 1
	}
	// Then the lowest: the sender fills the holes below them first.
	seen := 0
	for i := 1; i < w && n < maxSACKBlocks && seen < e.oooCount; {
		if e.ooo[i] == nil {
			i++
			continue
		}
		lo := i
		for i < w && e.ooo[i] != nil {
			i++
		}
		seen += i - lo
		k := sackBlock{e.rcvNxt + uint16(lo), e.rcvNxt + uint16(i)}
		if n > 0 && k == blk[0] {
			continue
		}
		blk[n] = k
		n++
	}
	if n == 0 {
		return nil
	}
	start := len(e.sackBuf)
	e.sackBuf = appendSACK(e.sackBuf, blk[:n])
	return e.sackBuf[start:len(e.sackBuf):len(e.sackBuf)]
}

// processSACK marks the segments a SACK payload from the peer covers.
// Malformed payloads and blocks beyond what was sent are counted in
// Stats.BadSACKs and ignored; blocks below sndUna (an older
// acknowledgement overtaken) are ignored.
func (e *endpoint) processSACK(data []byte, clk *clock) {
	var blk [maxSACKBlocks]sackBlock
	n, ok := parseSACK(data, &blk)
	if !ok {
		e.stats.BadSACKs++
		return
	}
	var now time.Time
	var newest *segment
	spurious := false
	var late time.Duration
	for _, k := range blk[:n] {
		lo, hi := seqDiff(e.sndUna, k.start), seqDiff(e.sndUna, k.end)
		if lo >= hi || hi > e.sent || hi-lo > e.cfg.Window || hi < -e.cfg.Window {
			e.stats.BadSACKs++
			continue
		}
		// Offset 0 is sndUna, which the acknowledge number says is
		// missing: an older acknowledgement's block, clipped.
		for i := max(lo, 1); i < hi; i++ {
			s := e.sendq.at(i)
			if s.sacked {
				continue
			}
			if now.IsZero() {
				now = clk.now()
			}
			s.sacked = true
			e.sackedN++
			if s.lost {
				s.lost = false
				e.lostN--
			}
			e.delivered(s, now)
			// SACKed sooner than a round trip after it was resent: the
			// original arrived, late (RFC 8985 step 2).
			if s.retx > 0 && e.rtt.has && now.Sub(s.lastSent) < e.rtt.minRTT {
				spurious = true
				late = max(late, now.Sub(s.sentAt)-e.rtt.srtt)
			}
			if s.retx == 0 && (newest == nil || s.sentAt.After(newest.sentAt)) {
				newest = s
			}
			if seqLess(e.highSacked, s.seq+1) || e.sackedN == 1 {
				e.highSacked = s.seq + 1
			}
		}
	}
	if newest != nil {
		e.rtt.update(now.Sub(newest.sentAt), now)
	}
	if spurious {
		e.spurious(late)
	}
}

// delivered notes that s reached the peer, for RACK: a packet sent
// before s and not yet acknowledged may be lost. A retransmitted s
// acknowledged sooner than a round trip after it was resent tells
// nothing (the original arrived), so it does not count.
func (e *endpoint) delivered(s *segment, now time.Time) {
	if s.retx > 0 && e.rtt.has && now.Sub(s.lastSent) < e.rtt.minRTT {
		return
	}
	if s.lastSent.After(e.rackXmit) || s.lastSent.Equal(e.rackXmit) && seqLess(e.rackSeq, s.seq) {
		e.rackXmit, e.rackSeq = s.lastSent, s.seq
	}
}

// dropped adjusts the SACK counts for a segment leaving the send queue.
func (e *endpoint) dropped(s *segment) {
	if s.sacked {
		e.sackedN--
	}
	if s.lost {
		e.lostN--
	}
}

// detectLossSACK takes as lost every unSACKed segment below the highest
// SACKed one that was sent before a packet known delivered and has been
// out a round trip plus the reordering window (rackWait); otherwise
// lossAt is when the first will have been. The first loss starts a
// recovery: the window is cut once, and transmit resends the losses.
func (e *endpoint) detectLossSACK(clk *clock) {
	e.lossAt = time.Time{}
	if e.sent == 0 || e.sackedN == 0 || e.state != stEstablished {
		return
	}
	high := min(seqDiff(e.sndUna, e.highSacked), e.sent)
	above := e.sackedN // SACKed segments above i
	marked := false
	var now time.Time
	for i := range high {
		s := e.sendq.at(i)
		if s.sacked {
			above--
			continue
		}
		if s.lost {
			continue
		}
		if !e.rtt.has {
			// No round trip known: the classic three packets after it.
			if above < 3 {
				continue
			}
		} else {
			// Nothing sent after it known to have arrived: a first
			// transmission waits for that evidence. A retransmission
			// may have nothing sent after it when the peer's window is
			// full behind the hole; it is lost when it has been out
			// its doubled wait, as the oldest packet is without SACK.
			if s.retx == 0 && !(s.lastSent.Before(e.rackXmit) || s.lastSent.Equal(e.rackXmit) && seqLess(s.seq, e.rackSeq)) {
				continue
			}
			if now.IsZero() {
				now = clk.now()
			}
			if at := s.lastSent.Add(e.rackWait(s)); now.Before(at) {
				if e.lossAt.IsZero() || at.Before(e.lossAt) {
					e.lossAt = at
				}
				continue
			}
		}
		s.lost = true
		e.lostN++
		marked = true
	}
	if !marked {
		return
	}
	e.dupAcks = 0
	if !e.inRecovery {
		e.enterRecovery()
		e.stats.FastRetransmits++
	}
	e.transmit(clk)
}

// resendLost retransmits the segments taken as lost, oldest first, as
// the congestion window allows. It reports whether it sent any.
func (e *endpoint) resendLost(clk *clock) bool {
	sentAny := false
	for i := 0; i < e.sent && e.lostN > 0 && e.pipe() < e.cwnd; i++ {
		if !e.sendq.at(i).lost {
			continue
		}
		e.retransmitAt(i, clk)
		if e.state == stDone {
			return false
		}
		sentAny = true
	}
	return sentAny
}

// markAllLost takes every unSACKed outstanding segment as lost, after a
// retransmission timeout.
func (e *endpoint) markAllLost() {
	for i := range e.sent {
		if s := e.sendq.at(i); !s.sacked && !s.lost {
			s.lost = true
			e.lostN++
		}
	}
}
