package sap

import "errors"

// Sentinel errors, returned wrapped; match them with errors.Is. A
// truncated message wraps ipx.ErrShortBuffer, which matches
// io.ErrUnexpectedEOF.
var (
	// ErrBadName reports a service name that is empty, longer than 47
	// characters, not NUL-terminated within its 48 bytes, or holds a byte
	// outside printable ASCII.
	ErrBadName = errors.New("bad service name")
	// ErrTooManyEntries reports a response with more than MaxEntries
	// entries.
	ErrTooManyEntries = errors.New("too many entries")
	// ErrBadHops reports a hop count above MaxHops.
	ErrBadHops = errors.New("bad hop count")
	// ErrNoService reports that no server answered a query.
	ErrNoService = errors.New("no service found")
	// ErrTableFull reports a service refused because the table is full.
	ErrTableFull = errors.New("service table full")
	// ErrBadConfig reports an invalid Config, TableConfig or
	// ClientConfig.
	ErrBadConfig = errors.New("invalid configuration")
)
