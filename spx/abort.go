package spx

import (
	"errors"
	"fmt"
)

// ErrAborted reports a connection ended by Abort.
var ErrAborted = errors.New("connection aborted")

// Abort ends the connection at once: data not yet acknowledged is
// dropped, pending reads and writes fail with an error wrapping
// ErrAborted, and nothing waits for the peer. It is for a program that
// has given up on its peer (a mirrored server whose link timed out),
// where Close would wait, up to Config.Linger, for acknowledgements that
// will not come. Abort or Close after Abort returns an error wrapping
// net.ErrClosed.
func (c *Conn) Abort() error {
	if err := c.startClose(); err != nil {
		return err
	}
	c.abort(fmt.Errorf("spx: %w", ErrAborted))
	return nil
}
