package spx

import "net"

// TryWrite writes all of b if the send buffer has room for it now, and
// otherwise writes nothing and returns false: it never waits, not for the
// peer's window nor for another writer. A program that must not block
// while it holds a lock of its own (a mirrored server's loop) writes this
// way and hands what does not fit to a goroutine that may wait.
func (c *Conn) TryWrite(b []byte) (bool, error) {
	if !c.wmu.TryLock() {
		return false, nil // a Write is under way: ours would come after it
	}
	defer c.wmu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.unlock()
		return false, c.opErr("write", net.ErrClosed)
	}
	if err := c.ep.writeErr(); err != nil {
		c.unlock()
		return false, c.opErr("write", err)
	}
	if c.ep.state != stEstablished || c.ep.room() < len(b) {
		c.unlock()
		return false, nil
	}
	_, err := c.ep.write(b, false, false, new(clock))
	c.after()
	c.unlock()
	return err == nil, c.opErr("write", err)
}

// room is how many bytes write takes now without waiting: the free
// packets of the send queue, and what the last queued, unsent packet can
// still hold.
func (e *endpoint) room() int {
	max := e.maxData()
	n := (len(e.sendq.buf) - e.sendq.len()) * max
	if e.sendq.len() > e.sent {
		if t := e.sendq.back(); t.dstype == 0 && t.ctl == 0 && len(t.data) < max {
			n += max - len(t.data)
		}
	}
	return n
}
