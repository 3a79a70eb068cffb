package spx

import (
	"testing"
	"time"
)

func TestSeqCompare(t *testing.T) {
	tests := []struct {
		a, b      uint16
		less, leq bool
		diff      int
	}{
		{0, 0, false, true, 0},
		{0, 1, true, true, 1},
		{1, 0, false, false, -1},
		{0xFFFF, 0, true, true, 1}, // wrap-around
		{0, 0xFFFF, false, false, -1},
		{0xFFF0, 0x0010, true, true, 0x20},
		{0, 0x7FFF, true, true, 0x7FFF},
		{0, 0x8000, false, false, -0x8000}, // half the space away: not before
		{0x8000, 0, false, false, -0x8000},
		{0x7FFF, 0xFFFE, true, true, 0x7FFF},
	}
	for _, tt := range tests {
		if got := seqLess(tt.a, tt.b); got != tt.less {
			t.Errorf("seqLess(%#x, %#x) = %v", tt.a, tt.b, got)
		}
		if got := seqLessEq(tt.a, tt.b); got != tt.leq {
			t.Errorf("seqLessEq(%#x, %#x) = %v", tt.a, tt.b, got)
		}
		if got := seqDiff(tt.a, tt.b); got != tt.diff {
			t.Errorf("seqDiff(%#x, %#x) = %d, want %d", tt.a, tt.b, got, tt.diff)
		}
	}
}

func TestSeqInWindow(t *testing.T) {
	tests := []struct {
		s, lo, hi uint16
		want      bool
	}{
		{5, 5, 5, true},
		{5, 5, 4, false}, // window of zero packets: alloc = ack − 1
		{0, 0xFFFE, 2, true},
		{3, 0xFFFE, 2, false},
		{0xFFFD, 0xFFFE, 2, false},
		{0xFFFF, 0xFFFE, 0xFFFF, true},
		{100, 0, 0x7FFF, true},
		{0x8000, 0, 0x7FFF, false},
	}
	for _, tt := range tests {
		if got := seqInWindow(tt.s, tt.lo, tt.hi); got != tt.want {
			t.Errorf("seqInWindow(%#x, %#x, %#x) = %v", tt.s, tt.lo, tt.hi, got)
		}
	}
}

func TestRTT(t *testing.T) {
	r := rttEstimator{min: 10 * time.Millisecond, max: 2 * time.Second, initial: time.Second}
	if got := r.rto(); got != time.Second {
		t.Fatalf("initial rto %v", got)
	}
	r.update(100*time.Millisecond, time.Time{})
	// First sample: SRTT = R, RTTVAR = R/2, RTO = R + 4·R/2 = 3R.
	if r.srtt != 100*time.Millisecond || r.rto() != 300*time.Millisecond {
		t.Fatalf("after first sample srtt %v rto %v", r.srtt, r.rto())
	}
	r.update(200*time.Millisecond, time.Time{})
	// RTTVAR = 3/4·50 + 1/4·100 = 62.5 ms; SRTT = 7/8·100 + 1/8·200 = 112.5 ms.
	if r.srtt != 112500*time.Microsecond || r.rttvar != 62500*time.Microsecond {
		t.Fatalf("second sample: srtt %v rttvar %v", r.srtt, r.rttvar)
	}
	for range 100 {
		r.update(time.Millisecond, time.Time{})
	}
	if got := r.rto(); got < r.min {
		t.Errorf("rto %v below min", got)
	}
	for range 100 {
		r.update(10*time.Second, time.Time{})
	}
	if got := r.rto(); got != r.max {
		t.Errorf("rto %v, want max %v", got, r.max)
	}
}
