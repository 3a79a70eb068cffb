package rip

import "errors"

// Sentinel errors returned (wrapped, with the prefix "rip: ") by the codec.
// Short input wraps ipx.ErrShortBuffer, which matches io.ErrUnexpectedEOF.
var (
	// ErrTooManyEntries reports a packet with more than MaxEntries
	// entries.
	ErrTooManyEntries = errors.New("more than 50 entries")
)
