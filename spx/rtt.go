package spx

import "time"

// rttEstimator keeps the smoothed round-trip time and its variation the
// way RFC 6298 does (Van Jacobson's algorithm, which Novell's SPX also
// uses) and derives the retransmission timeout from them.
type rttEstimator struct {
	srtt, rttvar time.Duration
	minRTT       time.Duration // the smallest recent sample: no acknowledgement of a retransmission comes sooner
	minAt        time.Time     // when minRTT was taken; it expires after minRTTWindow (the path may change)
	has          bool
	min, max     time.Duration // bounds on the timeout
	initial      time.Duration // timeout before the first sample
}

// minRTTWindow is how long a minimum round trip stands before a larger
// sample replaces it.
const minRTTWindow = 30 * time.Second

// update folds in one round-trip sample, taken at now. Callers take
// samples only from packets sent once (Karn's algorithm).
func (r *rttEstimator) update(sample time.Duration, now time.Time) {
	if sample < 0 {
		return
	}
	// A zero sample (a clock too coarse, or a fake one) says nothing of
	// how soon an acknowledgement can come, and one below half the
	// smoothed round trip is most likely a packet that overtook the rest
	// (sent early by a reordering link): the minimum is the path's, not
	// an outlier's.
	outlier := r.has && sample < r.srtt/2
	if sample > 0 && (r.minRTT == 0 || sample <= r.minRTT && !outlier || now.Sub(r.minAt) > minRTTWindow) {
		r.minRTT, r.minAt = sample, now
	}
	if !r.has {
		r.srtt = sample
		r.rttvar = sample / 2
		r.has = true
		return
	}
	d := r.srtt - sample
	if d < 0 {
		d = -d
	}
	r.rttvar = (3*r.rttvar + d) / 4  // β = 1/4
	r.srtt = (7*r.srtt + sample) / 8 // α = 1/8
}

// rto is the retransmission timeout: SRTT + max(G, 4·RTTVAR), within
// [min, max]. G, the clock granularity, is taken as min.
func (r *rttEstimator) rto() time.Duration {
	if !r.has {
		return r.initial
	}
	v := 4 * r.rttvar
	if v < r.min {
		v = r.min
	}
	return min(max(r.srtt+v, r.min), r.max)
}

// smoothed returns the smoothed RTT, or 0 before the first sample.
func (r *rttEstimator) smoothed() time.Duration { return r.srtt }
