package spx

import (
	"io"
	"net"
)

// SetReadNotify makes f be called each time a packet arrives, or the
// connection fails, while data or the end of the stream waits to be
// read: in the goroutine that received the packet (the Stack's link
// reader), after the Conn's locks are released, so that f may read with
// TryRead. f must not block: the link reads no packet until it returns.
// It lets a program that reads in bursts (a mirrored server's link)
// take data without a reader goroutine's wake-up per packet. An
// acknowledgement the packet asked for waits until f returns: what f
// writes carries it, and if f writes nothing it goes then. nil stops
// the calls. A call may come while another is under way, and after
// SetReadNotify(nil) returns.
func (c *Conn) SetReadNotify(f func()) {
	c.mu.Lock()
	c.notify = f
	c.unlock()
}

// readNotify returns the function to call once c.mu is released: the
// notify function, if something waits to be read; c.mu held.
func (c *Conn) readNotify() func() {
	if c.notify == nil || !c.ep.readable() {
		return nil
	}
	return c.notify
}

// TryRead reads, as Read does, the data buffered now into b, but never
// waits: with nothing buffered, or another read under way, it returns 0
// and a nil error. At the end of the peer's data it returns io.EOF.
func (c *Conn) TryRead(b []byte) (int, error) {
	if !c.rmu.TryLock() {
		return 0, nil
	}
	defer c.rmu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.unlock()
		return 0, c.opErr("read", net.ErrClosed)
	}
	if len(b) == 0 || !c.ep.readable() {
		c.unlock()
		return 0, nil
	}
	n, _, end, err := c.ep.read(b, false)
	c.after()
	c.unlock()
	switch {
	case err != nil:
		return n, c.opErr("read", err)
	case end:
		return n, io.EOF
	}
	return n, nil
}
