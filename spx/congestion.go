package spx

import "time"

// congestion is an endpoint's congestion control and loss recovery.
type congestion struct {
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
	// inflate lets a new packet out per duplicate acknowledgement during
	// a fast recovery (each says a packet left the network), so that
	// later packets keep arriving and reveal a lost retransmission
	// without a timeout.
	inflate int
	// After a timeout everything outstanding is suspect: the segments
	// from sndUna are sent again as the window, growing from one packet,
	// allows (resent of them so far), and the acknowledgements skip those
	// the peer already has. A burst of k losses takes about log2(k)
	// round trips instead of k.
	rtoRecovery bool
	resent      int

	// Loss detection is RACK's (RFC 8985) without selective
	// acknowledgements, which SPX lacks: a duplicate or partial
	// acknowledgement is evidence that a later packet arrived, and the
	// oldest outstanding packet is then taken as lost once it has been
	// out for a smoothed round trip plus the reordering window, not at
	// the first duplicate: a packet merely overtaken arrives within the
	// window. lossAt is when to look again if no acknowledgement comes
	// first. The window is a quarter of the minimum round trip times
	// reoSteps, which grows after each spurious retransmission (up to
	// one round trip) and falls back after reoPersist recoveries.
	lossAt     time.Time
	reoSteps   int
	reoPersist int
	// A retransmission acknowledged sooner than the minimum round trip
	// after it was sent was not needed: the original arrived. When it was
	// the recovery's only one, the window it cost is restored (Eifel's
	// undo, RFC 4015), and the reordering window widens.
	priorCwnd, priorSsthresh int
	episodeRetx              int // retransmissions since the recovery began
	// Tail loss probe: when the acknowledgements stop for two round
	// trips, the oldest outstanding segment is sent again once, well
	// before the retransmission timeout, which would collapse the window
	// to one packet. If that probe repaired a loss, the window is halved
	// as for a fast retransmission.
	tlpAt      time.Time
	tlpCount   int // probes since the timer was armed
	tlpSeq     uint16
	tlpPending bool
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
// ssthresh to ssthresh.
func (e *endpoint) congested(cwnd, ssthresh int) {
	e.ssthresh = max(ssthresh, 2)
	e.cwnd, e.cwndAcked = min(cwnd, e.cfg.Window), 0
	e.stats.CongestionEvents++
}

// lossCwnd is the congestion window after a loss repaired without a
// timeout. As TCP Veno does, the loss is taken for a random one, not a
// sign of congestion, when the round trip shows no queue building up
// (fewer than three of the packets in flight waiting in one): the window
// then drops by a fifth instead of by half. Lossy links that are not
// full (radio, a tunnel over a lossy path) otherwise keep the window at
// a few packets.
func (e *endpoint) lossCwnd() int {
	flight := e.sent
	if r := &e.rtt; r.has && r.srtt > 0 && r.minRTT > 0 {
		queued := int(int64(flight) * int64(max(r.srtt-r.minRTT, 0)) / int64(r.srtt))
		if queued < 3 {
			return max(flight*4/5, 2)
		}
	}
	return max(flight/2, 2)
}

// beginEpisode notes the window before a recovery, for undo.
func (e *endpoint) beginEpisode() {
	e.priorCwnd, e.priorSsthresh = e.cwnd, e.ssthresh
	e.episodeRetx = 0
	if e.reoPersist > 0 {
		if e.reoPersist--; e.reoPersist == 0 {
			e.reoSteps = 1
		}
	}
}

// enterRecovery starts a loss recovery up to what is in flight now, with
// the window cut once for it (the one place a loss cuts the window:
// duplicate acks, selective acks and a repairing tail probe alike).
func (e *endpoint) enterRecovery() {
	e.beginEpisode()
	e.inRecovery = true
	e.recoverSeq = e.sndUna + uint16(e.sent)
	w := e.lossCwnd()
	e.congested(w, w)
}

// reoWnd is the reordering window: how much longer than a round trip a
// packet may take before a later one's arrival makes it lost.
func (e *endpoint) reoWnd() time.Duration {
	if !e.rtt.has {
		return 0
	}
	// At least the round trip's variation: on a path whose round trip
	// jitters, a packet is late by that much without being lost.
	w := max(e.rtt.minRTT/4*time.Duration(max(e.reoSteps, 1)), e.rtt.rttvar)
	if e.sack {
		return min(w, e.rtt.srtt+e.rtt.minRTT/4)
	}
	return min(w, e.rtt.srtt)
}

// spurious handles a retransmission found unneeded; late is how much
// longer than the smoothed round trip the original took.
func (e *endpoint) spurious(late time.Duration) {
	e.stats.SpuriousRetransmits++
	// Widen the reordering window by a step, or at once to what this
	// packet needed, up to a round trip (RFC 8985 caps it there).
	if q := e.rtt.minRTT / 4; q > 0 {
		steps := max(e.reoSteps, 1) + 1
		steps = max(steps, int((late+q-1)/q))
		limit := int(e.rtt.srtt/q) + 1
		if e.sack {
			// With SACK every packet below the highest SACKed is a
			// candidate, not only the oldest: the window must exceed
			// what the late packet needed, and stays a bit longer.
			steps = max(steps, int(late/q)+2)
			limit++
		}
		e.reoSteps = min(steps, limit)
	}
	e.reoPersist = 16
	if e.sack {
		e.reoPersist = 64
	}
	if e.inRecovery && e.episodeRetx == 1 {
		e.cwnd = max(e.cwnd, min(e.priorCwnd, e.cfg.Window))
		e.ssthresh = max(e.ssthresh, e.priorSsthresh)
		e.inRecovery, e.rtoRecovery, e.inflate = false, false, 0
	}
}

// rackWait is how long after its last transmission s is taken as lost
// once a later packet arrived: a round trip plus the reordering window,
// doubled for each time s was sent again already. A round-trip estimate
// left small by a path that just got slower would otherwise resend s
// every few milliseconds, and no packet would go unresent long enough to
// give a sample that corrects it (Karn).
// It is at least the tail probe's floor, for a round trip measured near
// zero on an idle path.
func (e *endpoint) rackWait(s *segment) time.Duration {
	return max(e.rtt.srtt+e.reoWnd(), e.cfg.MinRTO/50) << min(s.retx, maxRetxShift)
}

// maxRetxShift caps the doubling of the waits before a packet is resent.
const maxRetxShift = 8

// detectLoss retransmits the oldest outstanding segment if a later one
// is known to have arrived and it has been out longer than a round trip
// plus the reordering window; otherwise it sets lossAt to when it will
// have been. The first such loss starts a fast recovery.
func (e *endpoint) detectLoss(clk *clock) {
	e.lossAt = time.Time{}
	if e.sent == 0 || e.dupAcks == 0 || e.state != stEstablished {
		return
	}
	s := e.sendq.at(0)
	if !e.rtt.has {
		if e.dupAcks < 3 {
			return // no round trip known: the classic three duplicates
		}
	} else if at := s.lastSent.Add(e.rackWait(s)); clk.now().Before(at) {
		e.lossAt = at
		return
	}
	e.dupAcks = 0 // the evidence is spent: a lost retransmission needs more
	if !e.inRecovery {
		e.enterRecovery()
		e.stats.FastRetransmits++
	}
	e.retransmit(clk)
	if e.state == stDone {
		return
	}
	e.armRTO(clk.now())
}

// armRTO sets the retransmission timeout from now, and the tail loss
// probe's deadline before it.
func (e *endpoint) armRTO(now time.Time) {
	rto := e.currentRTO()
	e.rtoAt = now.Add(rto)
	e.tlpAt, e.tlpCount = time.Time{}, 0
	if e.rtt.has && e.sent > 0 {
		// Doubled, as rackWait is, for each time the oldest packet was
		// resent already.
		if pto := e.pto() << min(e.sendq.at(0).retx, maxRetxShift); pto < rto {
			e.tlpAt = now.Add(pto)
		}
	}
}

// disarm clears the loss timers: nothing is outstanding.
func (e *endpoint) disarm() {
	e.rtoAt, e.tlpAt, e.lossAt = time.Time{}, time.Time{}, time.Time{}
}

// tailProbes is how many tail loss probes may go out, each after twice
// the wait of the one before, before the retransmission timeout: on a
// path that loses a third of the packets one probe alone is lost, or its
// acknowledgement is, about half the time.
const tailProbes = 3

// tailProbe sends the oldest outstanding segment again when the
// acknowledgements have stopped (tlpAt).
func (e *endpoint) tailProbe(clk *clock) {
	e.tlpAt = time.Time{}
	if e.sent == 0 {
		return
	}
	now := clk.now()
	e.stats.TailProbes++
	e.tlpSeq, e.tlpPending = e.sndUna, true
	e.retransmit(clk)
	if e.state == stDone {
		return
	}
	e.rtoAt = now.Add(e.currentRTO())
	if e.tlpCount++; e.tlpCount < tailProbes {
		e.tlpAt = now.Add(e.pto() << e.tlpCount)
	}
}

// pto is the tail loss probe's wait: two round trips (RFC 8985).
// It is at least a fiftieth of MinRTO, as a round-trip estimate that is
// too small (taken on an idle path) would otherwise send every packet
// twice. With PiggybackAcks the last packet asked for no immediate
// acknowledgement, so the wait includes the peer's ack delay, as RFC
// 8985's does for a lone segment.
func (e *endpoint) pto() time.Duration {
	d := max(2*e.rtt.srtt, e.cfg.MinRTO/50)
	if e.cfg.PiggybackAcks {
		d += e.cfg.AckDelay
	}
	return d
}
