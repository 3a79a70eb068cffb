package rip

import "errors"

// Sentinel errors returned (wrapped, with the prefix "rip: "). Match them
// with errors.Is. Short input to the codec wraps ipx.ErrShortBuffer, which
// matches io.ErrUnexpectedEOF.
var (
	// ErrTooManyEntries reports a packet with more than MaxEntries
	// entries.
	ErrTooManyEntries = errors.New("more than 50 entries")
	// ErrBadConfig reports an invalid Config or TableConfig.
	ErrBadConfig = errors.New("invalid configuration")
	// ErrNotConnected reports a SetMetric for a network that is not
	// directly connected.
	ErrNotConnected = errors.New("network not directly connected")
)
