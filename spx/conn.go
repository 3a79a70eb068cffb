package spx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipxkit/ipxkit/internal/deadline"
	"github.com/ipxkit/ipxkit/internal/pace"
	"github.com/ipxkit/ipxkit/ipx"
)

// Conn is an SPX or SPX II connection. It implements net.Conn with
// ipx.Addr addresses; ReadMessage, WriteMessage and WriteAttention add
// SPX's message boundaries and attention flag, CloseWrite SPX II's orderly
// release. It is safe for concurrent use.
type Conn struct {
	m      *mux
	id     uint16
	peerID uint16 // the peer's connection id, for accepted connections
	local  ipx.Addr
	remote ipx.Addr

	mu    sync.Mutex
	ep    *endpoint
	timer pace.Timer // armed for the earliest deadline (Arm)
	// A reader (or Dial) and a writer waiting for the endpoint set
	// rwaiting or wwaiting and wait for a token on rwake or wwake (each
	// of capacity 1), which after sends once what they wait for is there.
	// rmu and wmu make them single waiters, so one token is enough.
	rwake, wwake       pace.Waker
	rwaiting, wwaiting bool
	wakeR, wakeW       bool // tokens unlock sends once the packets are out
	dialing            bool // Dial waits on rwake for the connection
	closed             bool
	closeCh            chan struct{}
	pendingClose       bool
	removed            bool
	removedFlag        atomic.Bool // removed, for the mux's lock-free cache
	lingerUntil        time.Time
	noLinger           bool // retire at once when done: the socket is released
	lingerPending      bool // started lingering: tell the mux after the writes
	lingerCounted      bool // counted in mux.nLinger; guarded by m.mu
	// progress is closed, and cleared, when the peer acknowledges more
	// data or the connection ends: Close and Flush wait on it.
	progress chan struct{}
	seenUna  uint16

	// Packets the endpoint queued are encoded into out by after and
	// written by unlock once c.mu is released: a write may loop back
	// into a handler of this Stack that takes c.mu (ipx.Handler).
	// sending marks a goroutine writing them; the others leave theirs
	// to it, which keeps packets in order.
	out, outSpare, outFree [][]byte
	outSegs, outSegsSpare  []*segment // per packet in out: the segment it aliases, or nil
	sending                bool
	removePending          bool // unregistered: tell the mux after the writes

	// notify, if set, is called when a packet leaves data to read
	// (SetReadNotify).
	notify func()

	rmu    sync.Mutex // one reader at a time
	wmu    sync.Mutex // one writer at a time, so writes do not interleave
	rd, wd deadline.Deadline
}

var _ net.Conn = (*Conn)(nil)

// linger is how long a cleanly ended connection still answers a repeated
// end of connection, or data, whose acknowledgement was lost: as long as
// the peer may go on retransmitting before it gives up, its abort
// timeout (taken to be ours). The peer's Close waits for that answer to
// learn that its data arrived. A socket the application releases ends
// the wait early (mux.maybeRelease).
func (c *Conn) linger() time.Duration { return c.m.cfg.AbortTimeout }

func newConn(m *mux, id uint16, remote ipx.Addr, t time.Time) *Conn {
	c := &Conn{
		m:       m,
		id:      id,
		local:   m.pc.Addr(),
		remote:  remote,
		rwake:   pace.NewWaker(),
		wwake:   pace.NewWaker(),
		closeCh: make(chan struct{}),
	}
	lm := m.localMax(remote)
	c.ep = newEndpoint(m.cfg, m.pool, id, lm, t)
	c.timer = pace.AfterFunc(c.onTimer)
	return c
}

// input hands a packet from src to the endpoint, which copies what data
// it keeps. It reports false if the packet is not c's (another address
// or connection id).
func (c *Conn) input(src ipx.Addr, h *Header, data []byte) bool {
	c.mu.Lock()
	if src.Node != c.remote.Node || src.Socket != c.remote.Socket || c.remote.Net != 0 && src.Net != c.remote.Net {
		c.unlock()
		return false
	}
	if c.ep.state == stConnecting {
		if c.remote.Net == 0 {
			c.remote.Net = src.Net // we dialled "this network"
		}
	} else if h.SrcID != c.ep.remoteID {
		c.unlock()
		return false
	}
	clk := new(clock)
	c.ep.holdAck = c.notify != nil
	c.ep.input(h, data, clk)
	c.ep.holdAck = false
	f := c.readNotify()
	held := f != nil && (c.ep.ackNow || c.ep.gapAck)
	if f == nil {
		c.ep.flushAck(clk)
	}
	c.after()
	c.unlock()
	if f != nil {
		f()
		if held {
			// What f wrote carried the acknowledgement; if it wrote
			// nothing, the acknowledgement goes now.
			c.mu.Lock()
			c.ep.flushAck(clk)
			c.after()
			c.unlock()
		}
	}
	return true
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	t := now()
	c.timer.Fired()
	if c.ep.state == stDone && !c.lingerUntil.IsZero() && !t.Before(c.lingerUntil) {
		c.lingerUntil = time.Time{}
		c.unregister()
		c.unlock()
		return
	}
	c.ep.onTimer(t)
	c.after()
	f := c.readNotify()
	c.unlock()
	if f != nil {
		f() // the connection may have failed
	}
}

func (c *Conn) abort(err error) {
	c.mu.Lock()
	c.ep.fail(err)
	c.lingerUntil = time.Time{}
	c.noLinger = true
	c.after()
	f := c.readNotify()
	c.unlock()
	if f != nil {
		f()
	}
}

// endLinger retires a connection lingering after a clean end, once its
// socket is released: it repeats the acknowledgement of the peer's end
// of connection, in case the first was lost, and leaves. The caller
// removes it from the mux: the socket is to close now, even if another
// goroutine is still writing c's last packets (the repeated
// acknowledgement at most).
func (c *Conn) endLinger() {
	c.mu.Lock()
	if !c.removed && !c.lingerUntil.IsZero() {
		c.ep.repeatEndAck()
		c.lingerUntil = time.Time{}
		c.noLinger = true
		c.after() // unregisters c
	}
	c.removePending = false
	c.unlock()
}

// after runs after every call into the endpoint, with c.mu held: it
// queues what the endpoint sent for unlock to write, rearms the timer,
// wakes waiters and retires a finished connection. Whoever calls it
// releases c.mu with unlock.
func (c *Conn) after() {
	if c.pendingClose && c.ep.state == stEstablished {
		c.pendingClose = !c.ep.close(new(clock))
	}
	c.flush()
	if c.ep.state == stDone {
		if !c.removed && c.lingerUntil.IsZero() {
			if c.ep.err == nil && c.ep.peerEnded && !c.noLinger {
				c.lingerUntil = now().Add(c.linger())
				c.lingerPending = true
			} else {
				c.unregister()
			}
		}
		if !c.lingerUntil.IsZero() {
			c.timer.Arm(c.lingerUntil)
		} else {
			c.timer.Stop()
		}
	} else {
		// A timer firing early finds nothing due and rearms.
		c.timer.Arm(c.ep.nextDeadline())
	}
	if c.progress != nil && (c.ep.sndUna != c.seenUna || c.ep.state == stDone || c.ep.undelivered) {
		close(c.progress)
		c.progress = nil
	}
	c.seenUna = c.ep.sndUna
	// Wake only a waiter that will find what it waits for: a reader is
	// not woken by acknowledgements, nor a writer by data.
	if c.rwaiting && (c.dialing || c.ep.readable()) {
		c.rwaiting = false
		c.wakeR = true
	}
	if c.wwaiting && c.ep.writable() {
		c.wwaiting = false
		c.wakeW = true
	}
}

func (c *Conn) unregister() {
	if c.removed {
		return
	}
	c.removed = true
	c.removedFlag.Store(true)
	c.removePending = true // after the last packets: removal may close the socket
	c.timer.Stop()
	c.m.cfg.Logger.Debug("spx: connection ended", "local", c.local, "remote", c.remote,
		"id", c.id, "err", c.ep.err, "retransmits", c.ep.stats.Retransmits)
}

// flush encodes the packets the endpoint queued into c.out, as whole IPX
// packets for ipx.Conn.WritePackets. A data packet is built in its
// segment's headroom and sent from there; the segment stays in use until
// the send is done (inflight), even if acknowledged meanwhile. Other
// packets, and a segment already being sent, are copied.
func (c *Conn) flush() {
	for _, p := range c.ep.takeOut() {
		if s := p.seg; s != nil && s.inflight == 0 && len(p.data) == len(s.data) {
			hl := p.h.Len()
			pkt := s.packet(hl)
			p.h.AppendBinary(pkt[ipx.HeaderLen:ipx.HeaderLen])
			s.inflight++
			c.out = append(c.out, pkt)
			c.outSegs = append(c.outSegs, s)
			continue
		}
		var buf []byte
		if n := len(c.outFree); n > 0 {
			buf = c.outFree[n-1][:0]
			c.outFree = c.outFree[:n-1]
		} else {
			buf = make([]byte, 0, c.ep.localMax)
		}
		// Room for the IPX header, which the Stack writes in place.
		buf = buf[:ipx.HeaderLen]
		buf, _ = p.h.AppendBinary(buf)
		c.out = append(c.out, append(buf, p.data...))
		c.outSegs = append(c.outSegs, nil)
	}
}

// release takes back what the packets of a finished send used: copy
// buffers for reuse, and segments, recycled if they were retired
// meanwhile. c.mu held.
func (c *Conn) release(batch [][]byte, segs []*segment) {
	for i, b := range batch {
		if s := segs[i]; s != nil {
			if s.inflight--; s.inflight == 0 && s.retired {
				s.retired = false
				c.ep.recycle(s)
			}
		} else if len(c.outFree) < 2*c.m.cfg.Window {
			c.outFree = append(c.outFree, b)
		}
	}
	clear(batch)
	clear(segs)
	c.outSpare, c.outSegsSpare = batch[:0], segs[:0]
}

// unlock releases c.mu, first writing the packets after queued and then
// waking the waiters after chose, unless another goroutine is writing
// packets already: that one does both when done. Write errors are
// ignored (SPX recovers lost packets itself, and the mux notices a closed
// Stack), except no route for a connection request.
func (c *Conn) unlock() {
	for len(c.out) > 0 && !c.sending {
		c.sending = true
		batch, segs, dst := c.out, c.outSegs, c.remote
		c.out, c.outSegs = c.outSpare[:0], c.outSegsSpare[:0]
		c.mu.Unlock()
		_, err := c.m.pc.WritePackets(batch, dst, ipx.WriteOptions{Type: ipx.TypeSPX})
		c.mu.Lock()
		c.sending = false
		c.release(batch, segs)
		if c.ep.state == stConnecting && errors.Is(err, ipx.ErrNoRoute) {
			// No answer can come: fail Dial now rather than when its
			// requests run out. Later, a route lost is a route to be
			// learned again, and SPX retransmits.
			c.ep.finish(fmt.Errorf("spx: connection request: %w", err))
			c.after()
		}
	}
	// Wake-ups and the removal wait for the packets: a reader woken by
	// data finds its acknowledgement sent, and a socket closed with its
	// last connection has sent that connection's last packets.
	remove, lingering := false, false
	if !c.sending {
		if c.wakeR {
			c.wakeR = false
			c.rwake.Wake()
		}
		if c.wakeW {
			c.wakeW = false
			c.wwake.Wake()
		}
		remove, lingering = c.removePending, c.lingerPending && !c.removePending
		c.removePending, c.lingerPending = false, false
	}
	c.mu.Unlock()
	if remove {
		c.m.remove(c)
	} else if lingering {
		c.m.lingering(c)
	}
}

// readWait and writeWait return the channel a reader or a writer waits
// on; c.mu held.
func (c *Conn) readWait() <-chan struct{} {
	c.rwaiting = true
	return c.rwake.C()
}

func (c *Conn) writeWait() <-chan struct{} {
	c.wwaiting = true
	return c.wwake.C()
}

func (c *Conn) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: "spx", Source: c.local, Addr: c.remote, Err: err}
}

// Read reads data from the connection as a byte stream, across message
// boundaries. At the end of the peer's data it returns io.EOF.
func (c *Conn) Read(b []byte) (int, error) {
	n, _, err := c.read(b, false)
	return n, err
}

// ReadMessage reads data up to the end of the current message: info.EOM
// reports that the message ended within what was returned (if b was too
// small, the rest follows in later calls). Data sent with and without
// the attention flag are never returned together.
func (c *Conn) ReadMessage(b []byte) (int, MessageInfo, error) {
	return c.read(b, true)
}

func (c *Conn) read(b []byte, msg bool) (int, MessageInfo, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		c.mu.Lock()
		// Data that went straight into b while we waited is ours,
		// whatever woke us.
		if n := c.ep.takeLent(); n > 0 {
			c.after()
			c.unlock()
			return n, MessageInfo{}, nil
		}
		if c.closed {
			c.unlock()
			return 0, MessageInfo{}, c.opErr("read", net.ErrClosed)
		}
		if c.rd.Exceeded() {
			c.unlock()
			return 0, MessageInfo{}, c.opErr("read", errTimeout)
		}
		if len(b) == 0 {
			c.unlock()
			return 0, MessageInfo{}, nil
		}
		if c.ep.readable() {
			n, info, end, err := c.ep.read(b, msg)
			c.after()
			c.unlock()
			switch {
			case err != nil:
				return n, info, c.opErr("read", err)
			case end:
				return n, info, io.EOF
			}
			return n, info, nil
		}
		w, dl := c.readWait(), c.rd.Wait() // a deadline passed since wakes us at once
		if !msg {
			c.ep.lend(b) // a byte stream has no boundaries to keep
		}
		c.unlock()
		select {
		case <-w:
		case <-dl:
		case <-c.closeCh:
		}
	}
}

// Write writes b as part of the byte stream. It returns once all of b is
// queued for sending (not acknowledged), or with an error.
func (c *Conn) Write(b []byte) (int, error) { return c.write(b, false, false) }

// WriteMessage writes b as one message: its last packet carries the
// end-of-message flag.
func (c *Conn) WriteMessage(b []byte) (int, error) { return c.write(b, true, false) }

// WriteAttention writes b as an attention message: every packet carries
// the attention flag, the last one end of message. SPX applications send
// one byte this way to signal the peer out of band; SPX itself delivers it
// in sequence.
func (c *Conn) WriteAttention(b []byte) (int, error) { return c.write(b, true, true) }

func (c *Conn) write(b []byte, eom, attn bool) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	off := 0
	for {
		c.mu.Lock()
		if c.closed {
			c.unlock()
			return off, c.opErr("write", net.ErrClosed)
		}
		if c.wd.Exceeded() {
			c.unlock()
			return off, c.opErr("write", errTimeout)
		}
		if c.ep.writable() {
			if len(b) == 0 && eom {
				// An empty message still takes a packet.
				_, err := c.ep.write(nil, true, attn, new(clock))
				c.after()
				c.unlock()
				return 0, c.opErr("write", err)
			}
			n, err := c.ep.write(b[off:], eom, attn, new(clock))
			off += n
			c.after()
			if err != nil || off == len(b) {
				c.unlock()
				return off, c.opErr("write", err)
			}
		}
		w, dl := c.writeWait(), c.wd.Wait()
		c.unlock()
		select {
		case <-w:
		case <-dl:
		case <-c.closeCh:
		}
	}
}

// CloseWrite releases our direction of an SPX II connection (orderly
// release, datastream type 0xFC) after the data already written: the peer
// reads io.EOF and may go on sending. With a plain SPX peer it returns an
// error wrapping ErrNotSPX2.
func (c *Conn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		c.mu.Lock()
		if c.closed {
			c.unlock()
			return c.opErr("close", net.ErrClosed)
		}
		ok, err := c.ep.closeWrite(new(clock))
		c.after()
		if ok || err != nil {
			c.unlock()
			return c.opErr("close", err)
		}
		w := c.writeWait()
		c.unlock()
		select {
		case <-w:
		case <-c.wd.Wait():
			return c.opErr("close", errTimeout)
		}
	}
}

// progressWait returns a channel closed when the peer acknowledges more
// data or the connection ends; c.mu held.
func (c *Conn) progressWait() chan struct{} {
	if c.progress == nil {
		c.progress = make(chan struct{})
	}
	return c.progress
}

// Flush waits until the peer has acknowledged every byte written before
// the call, or ctx ends. If the connection ended with some of that data
// unacknowledged, it returns an error wrapping ErrNotDelivered.
// Acknowledged means received by the peer's SPX, not yet read by its
// application.
func (c *Conn) Flush(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.unlock()
		return c.opErr("flush", net.ErrClosed)
	}
	upTo := c.ep.sendEnd()
	for {
		ok, done := c.ep.flushed(upTo)
		if ok || done {
			err := c.deliveryErr(ok)
			c.unlock()
			return c.opErr("flush", err)
		}
		w := c.progressWait()
		c.unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return c.opErr("flush", ctx.Err())
		}
		c.mu.Lock()
	}
}

// deliveryErr is what Close and Flush report when the data they waited
// for was (ok) or was not delivered; c.mu held.
func (c *Conn) deliveryErr(ok bool) error {
	switch {
	case ok && !c.ep.undelivered:
		return nil
	case errors.Is(c.ep.err, ErrNotDelivered):
		return c.ep.err
	case c.ep.err != nil:
		return fmt.Errorf("spx: %w: %w", ErrNotDelivered, c.ep.err)
	case c.ep.peerEnded:
		return fmt.Errorf("spx: %w: %w", ErrNotDelivered, ErrTerminated)
	}
	return fmt.Errorf("spx: %w", ErrNotDelivered)
}

// Close ends the connection: the data already written is delivered,
// followed by an end of connection (0xFE), and Close waits for both to
// be acknowledged, at most Config.Linger. If some of the data was not
// acknowledged (the connection failed, the peer ended it first, or the
// linger time passed and Close aborted it), Close returns an error
// wrapping ErrNotDelivered. With a negative Linger it returns at once and
// the close goes on in the background. Pending reads and writes are
// unblocked at once.
func (c *Conn) Close() error {
	if err := c.startClose(); err != nil {
		return err
	}
	defer c.settle()
	linger := c.m.cfg.Linger
	if linger < 0 {
		return nil
	}
	t := time.NewTimer(linger)
	defer t.Stop()
	c.mu.Lock()
	for c.ep.state != stDone {
		w := c.progressWait()
		c.unlock()
		select {
		case <-w:
		case <-t.C:
			c.abort(fmt.Errorf("spx: close: linger %v passed: %w", linger, ErrNotDelivered))
		}
		c.mu.Lock()
	}
	err := c.deliveryErr(true)
	c.unlock()
	return c.opErr("close", err)
}

// settle makes sure the mux knows of c's end before Close returns, so
// that a socket the application then releases closes at once. Whoever
// ended the connection tells the mux too, but maybe later: a goroutine
// writing c's packets does it when done (unlock), and its last packets
// may then find the socket closed; they are acknowledgements the peer
// can do without. Telling twice is harmless.
func (c *Conn) settle() {
	c.mu.Lock()
	removed, lingering := c.removed, !c.lingerUntil.IsZero()
	c.mu.Unlock()
	switch {
	case removed:
		c.m.remove(c)
	case lingering:
		c.m.lingering(c)
	}
}

// startClose is the non-waiting part of Close: it queues the end of
// connection and unblocks pending reads and writes.
func (c *Conn) startClose() error {
	c.mu.Lock()
	defer c.unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	close(c.closeCh)
	c.pendingClose = !c.ep.close(new(clock))
	c.after()
	return nil
}

// LocalAddr returns the local IPX address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's IPX address.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.unlock()
	return c.remote
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.Set(t)
	c.wd.Set(t)
	return nil
}

// SetReadDeadline sets the absolute time after which reads fail with an
// error wrapping os.ErrDeadlineExceeded; the zero time disables it.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rd.Set(t); return nil }

// SetWriteDeadline sets the time after which writes waiting for room in
// the send buffer fail with an error wrapping os.ErrDeadlineExceeded.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wd.Set(t); return nil }

// SPX2 reports whether both ends negotiated SPX II.
func (c *Conn) SPX2() bool {
	c.mu.Lock()
	defer c.unlock()
	return c.ep.spx2
}

// MaxData is the most data one packet carries now: 534 bytes with plain
// SPX, more when SPX II negotiated larger packets.
func (c *Conn) MaxData() int {
	c.mu.Lock()
	defer c.unlock()
	return c.ep.maxData()
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.unlock()
	return c.ep.statsSnapshot()
}

// ID returns the local and remote connection ids.
func (c *Conn) ID() (local, remote uint16) {
	c.mu.Lock()
	defer c.unlock()
	return c.ep.localID, c.ep.remoteID
}

// Dial connects to the SPX listener at addr through stack, with the
// default Config.
func Dial(ctx context.Context, stack *ipx.Stack, addr ipx.Addr) (*Conn, error) {
	return DialConfig(ctx, stack, addr, Config{})
}

// DialConfig connects to the SPX listener at addr through stack from a
// new dynamic socket. It sends connection requests (retransmitted with
// the adaptive timeout, up to cfg.RetryLimit times) until the listener
// answers, ctx ends, or the requests run out (ErrConnRefused).
func DialConfig(ctx context.Context, stack *ipx.Stack, addr ipx.Addr, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "spx", Addr: addr, Err: err} }
	if addr.Node.IsBroadcast() {
		return nil, opErr(fmt.Errorf("spx: dial broadcast address %v: %w", addr, ipx.ErrBadAddr))
	}
	m, err := newMux(stack, 0, &cfg, nil)
	if err != nil {
		return nil, opErr(err)
	}
	m.mu.Lock()
	id, _ := m.newID() // a new socket: all ids are free
	c := newConn(m, id, addr, now())
	m.addLocked(c)
	m.lnClosed = true // the socket closes with this connection
	m.mu.Unlock()

	c.mu.Lock()
	c.dialing = true
	c.ep.dial(now())
	c.after()
	// SPX II session setup includes the size probe: wait for it, so
	// the connection starts with its packet size settled.
	for c.ep.state == stConnecting || c.ep.state == stEstablished && c.ep.probe == probeSent {
		w := c.readWait()
		c.unlock()
		select {
		case <-w:
		case <-ctx.Done():
			c.abort(ctx.Err())
			return nil, opErr(ctx.Err())
		}
		c.mu.Lock()
	}
	c.dialing = false
	err = c.ep.err
	spx2 := c.ep.spx2
	c.unlock()
	if err != nil {
		return nil, opErr(err)
	}
	cfg.Logger.Debug("spx: connected", "local", c.local, "remote", addr, "id", id, "spx2", spx2)
	return c, nil
}

// errTimeout is what a passed deadline returns: it wraps
// os.ErrDeadlineExceeded, whose Timeout method reports true.
var errTimeout error = os.ErrDeadlineExceeded
