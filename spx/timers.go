package spx

import (
	"fmt"
	"time"
)

// timers are an endpoint's deadlines: retransmission (with its backoff)
// and connection request, keep-alive and abort.
type timers struct {
	backoff     uint
	rtoAt       time.Time // retransmission or connect-request deadline
	connectRetx int
	connSentAt  time.Time

	lastHeard time.Time
	heardLate bool      // heard since lastHeard, which heardBy's timer updates
	heardBy   time.Time // when lastHeard is brought up to date at the latest
	probeAt   time.Time // next keep-alive or zero-window probe
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
	if e.sent == 0 {
		e.disarm()
	}
	if !e.lossAt.IsZero() && !now.Before(e.lossAt) {
		if e.sack {
			e.detectLossSACK(clk)
		} else {
			e.detectLoss(clk)
		}
		if e.state == stDone {
			return
		}
	}
	if !e.tlpAt.IsZero() && !now.Before(e.tlpAt) && now.Before(e.rtoAt) {
		e.tailProbe(clk)
		if e.state == stDone {
			return
		}
	}
	if !e.rtoAt.IsZero() && !now.Before(e.rtoAt) {
		e.stats.Timeouts++
		e.beginEpisode()
		e.congested(1, e.sent/2)
		e.backoff++
		e.inRecovery, e.rtoRecovery = true, true
		e.recoverSeq = e.sndUna + uint16(e.sent)
		e.dupAcks, e.inflate, e.lossAt = 0, 0, time.Time{}
		e.resent = 1
		if e.sack {
			e.markAllLost()
		}
		e.sendq.at(0).timeouts++
		e.retransmit(clk)
		if e.state == stDone {
			return
		}
		e.armRTO(now)
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
	take(e.tlpAt)
	take(e.lossAt)
	take(e.ackAt)
	if e.probeAt.IsZero() {
		// Sooner than the abort deadline: Validate makes AbortTimeout
		// the longer. (This runs on every packet; Add is not free.)
		take(e.lastHeard.Add(e.cfg.VerifyInterval))
	} else {
		take(e.probeAt)
		take(e.lastHeard.Add(e.cfg.AbortTimeout))
	}
	return t
}

// currentRTO is the retransmission timeout with its backoff.
func (e *endpoint) currentRTO() time.Duration {
	return min(e.rtt.rto()<<min(e.backoff, 16), e.cfg.MaxRTO)
}
