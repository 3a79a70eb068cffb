package spx

// Sequence, acknowledge and allocation numbers are 16-bit and wrap around.
// Every comparison goes through these helpers, written once, in serial
// number arithmetic (RFC 1982): a is before b when b − a, taken modulo
// 2^16, is between 1 and 2^15 − 1.

// seqLess reports whether a comes before b.
func seqLess(a, b uint16) bool { return a != b && b-a < 0x8000 }

// seqLessEq reports whether a comes before b or equals it.
func seqLessEq(a, b uint16) bool { return b-a < 0x8000 }

// seqDiff is b − a as a signed distance: positive when b is after a.
func seqDiff(a, b uint16) int { return int(int16(b - a)) }

// seqInWindow reports whether s lies in [lo, hi], with wrap-around.
func seqInWindow(s, lo, hi uint16) bool { return s-lo <= hi-lo && seqLessEq(lo, hi) }
