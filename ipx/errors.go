package ipx

import (
	"errors"
	"io"
)

// Sentinel errors returned (wrapped) by the codecs and the Stack. Match them
// with errors.Is.
var (
	// ErrShortBuffer reports a buffer too short for the structure being
	// decoded. It wraps io.ErrUnexpectedEOF.
	ErrShortBuffer = shortBuffer{}
	// ErrBadLength reports a length field that is below the header size or
	// beyond the available bytes.
	ErrBadLength = errors.New("bad length field")
	// ErrBadChecksum reports a checksum that is neither 0xFFFF nor correct.
	ErrBadChecksum = errors.New("bad checksum")
	// ErrBadAddr reports text that is not a valid IPX address.
	ErrBadAddr = errors.New("bad address")
	// ErrUnknownFrame reports an Ethernet frame that carries no IPX in any
	// of the four framings.
	ErrUnknownFrame = errors.New("not an IPX frame")
	// ErrTooLarge reports a packet larger than the link or the length field
	// can carry.
	ErrTooLarge = errors.New("packet too large")
)

// shortBuffer is ErrShortBuffer's type: it matches both itself and
// io.ErrUnexpectedEOF, so callers can test for either.
type shortBuffer struct{}

func (shortBuffer) Error() string { return "short buffer" }

func (shortBuffer) Is(target error) bool { return target == io.ErrUnexpectedEOF }
