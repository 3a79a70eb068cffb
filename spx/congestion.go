package spx

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
	// After a timeout everything outstanding is suspect: the segments
	// from sndUna are sent again as the window, growing from one packet,
	// allows (resent of them so far), and the acknowledgements skip those
	// the peer already has. A burst of k losses takes about log2(k)
	// round trips instead of k.
	rtoRecovery bool
	resent      int
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
