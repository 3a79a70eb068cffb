package memlan

import (
	"math/rand/v2"
	"time"
)

// Impairments are the faults applied to packets a link sends. Each
// destination of a packet is impaired independently, in this order: loss,
// then duplication (the copy is impaired like the original from here on),
// then delay with jitter, then reordering. Probabilities are clamped to
// 0..1 and durations to zero or more.
type Impairments struct {
	// Loss is the probability that a packet is dropped.
	Loss float64
	// Duplicate is the probability that a packet is delivered twice.
	Duplicate float64
	// Delay is the minimum one-way delay.
	Delay time.Duration
	// Jitter adds a delay drawn uniformly from [0, Jitter], so arrival
	// lies in [Delay, Delay+Jitter] (plus ReorderDelay if held back).
	// Jitter alone reorders packets sent closer together than it.
	Jitter time.Duration
	// Reorder is the probability that a packet is held back by an extra
	// ReorderDelay, so that packets sent after it overtake it.
	Reorder float64
	// ReorderDelay is the extra delay of a held-back packet. Zero means
	// DefaultReorderDelay.
	ReorderDelay time.Duration
}

func (im Impairments) zero() bool { return im == Impairments{} }

func (im *Impairments) normalise() {
	clamp := func(p float64) float64 {
		if !(p > 0) { // also NaN
			return 0
		}
		return min(p, 1)
	}
	im.Loss = clamp(im.Loss)
	im.Duplicate = clamp(im.Duplicate)
	im.Reorder = clamp(im.Reorder)
	im.Delay = max(im.Delay, 0)
	im.Jitter = max(im.Jitter, 0)
	im.ReorderDelay = max(im.ReorderDelay, 0)
	if im.ReorderDelay == 0 {
		im.ReorderDelay = DefaultReorderDelay
	}
}

// fate is what the impairments decided for one packet to one destination.
type fate struct {
	copies    int              // 0 (lost), 1 or 2
	delay     [2]time.Duration // per copy
	reordered int              // copies held back
}

// draw decides the fate of one packet. Draws happen only for the faults
// configured, in a fixed order, so a sender's sequence replays.
func (im *Impairments) draw(r *rand.Rand) fate {
	if im.Loss > 0 && r.Float64() < im.Loss {
		return fate{}
	}
	f := fate{copies: 1}
	if im.Duplicate > 0 && r.Float64() < im.Duplicate {
		f.copies = 2
	}
	for i := range f.copies {
		d := im.Delay
		if im.Jitter > 0 {
			d += time.Duration(r.Int64N(int64(im.Jitter) + 1))
		}
		if im.Reorder > 0 && r.Float64() < im.Reorder {
			d += im.ReorderDelay
			f.reordered++
		}
		f.delay[i] = d
	}
	return f
}
