package spx

import (
	"errors"

	"github.com/ipxkit/ipxkit/ipx"
)

// Sentinel errors, returned wrapped; match them with errors.Is.
var (
	// ErrShortBuffer reports input too short for an SPX header. It is
	// ipx.ErrShortBuffer, so it also matches io.ErrUnexpectedEOF.
	ErrShortBuffer = ipx.ErrShortBuffer
	// ErrBadConfig reports a Config that Validate refuses.
	ErrBadConfig = errors.New("invalid configuration")
	// ErrRetryLimit reports that a packet went unacknowledged through
	// Config.RetryLimit retransmissions.
	ErrRetryLimit = errors.New("retransmission limit reached")
	// ErrPeerSilent reports that the peer said nothing for
	// Config.AbortTimeout, keep-alives notwithstanding.
	ErrPeerSilent = errors.New("peer silent past the abort timeout")
	// ErrConnRefused reports a connection request that went unanswered.
	ErrConnRefused = errors.New("connection request unanswered")
	// ErrTerminated reports that the peer ended the connection (0xFE).
	ErrTerminated = errors.New("connection terminated by peer")
	// ErrListenerClosed reports an Accept on a closed Listener.
	ErrListenerClosed = errors.New("listener closed")
	// ErrWriteClosed reports a write after CloseWrite.
	ErrWriteClosed = errors.New("write side closed")
	// ErrNotSPX2 reports an SPX II-only operation (orderly release) on a
	// connection whose peer speaks plain SPX.
	ErrNotSPX2 = errors.New("peer does not speak SPX II")
	// ErrNotDelivered reports data written but never acknowledged by the
	// peer: Close or Flush found the connection over (failed, aborted
	// after Config.Linger, or ended by the peer) with data outstanding.
	ErrNotDelivered = errors.New("data not delivered")
	// ErrMessageTooLong reports a WriteMessage larger than the send buffer.
	ErrMessageTooLong = errors.New("message longer than the send buffer")
)
