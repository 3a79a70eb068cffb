package mirror

import "errors"

// Errors returned by the package, wrapped with detail; match them with
// errors.Is.
var (
	// ErrBadConfig reports an unusable Config or ClientConfig.
	ErrBadConfig = errors.New("mirror: bad configuration")
	// ErrMalformed reports a request, reply or MSL message that does not
	// decode.
	ErrMalformed = errors.New("mirror: malformed message")
	// ErrTooLarge reports a request or reply over MaxData bytes.
	ErrTooLarge = errors.New("mirror: message too large")
	// ErrAuth reports an MSL message whose MAC does not verify: the peer
	// holds another key, or the stream was tampered with.
	ErrAuth = errors.New("mirror: MSL authentication failed")
	// ErrRefused reports an MSL peer refused at the handshake: another
	// protocol version, internal network or engine version.
	ErrRefused = errors.New("mirror: MSL peer refused")
	// ErrSequence reports an MSL message out of order or from an old
	// epoch; it is never applied.
	ErrSequence = errors.New("mirror: MSL message out of sequence")
	// ErrNotPrimary reports an operation that needs the primary role.
	ErrNotPrimary = errors.New("mirror: not primary")
	// ErrNoPeer reports an operation that needs a mirrored peer.
	ErrNoPeer = errors.New("mirror: no mirrored peer")
)
