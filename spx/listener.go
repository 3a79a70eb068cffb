package spx

import (
	"context"
	"log/slog"
	"net"
	"sync"

	"github.com/ipxkit/ipxkit/ipx"
)

// Listener accepts SPX connections on one IPX socket. It implements
// net.Listener. Connection requests beyond Config.Backlog connections
// waiting for Accept are dropped and counted.
type Listener struct {
	m       *mux
	acceptq chan *Conn

	closeOnce sync.Once
	closed    chan struct{}
}

var _ net.Listener = (*Listener)(nil)

// ListenerStats count what a Listener's socket received.
type ListenerStats struct {
	Requests     uint64 // connection requests, repeats included
	BacklogDrops uint64 // requests dropped because the backlog was full
	Refused      uint64 // requests dropped because Config.MaxConns were open
	Malformed    uint64 // packets too short for an SPX header
	NotSPX       uint64 // packets of another IPX packet type
	UnknownConn  uint64 // packets for no connection of this socket
}

// Listen listens for SPX connections on socket (0 picks a dynamic one)
// with the default Config.
func Listen(stack *ipx.Stack, socket ipx.Socket) (*Listener, error) {
	return ListenConfig(stack, socket, Config{})
}

// ListenConfig listens for SPX connections on socket with cfg, which
// also configures the accepted connections.
func ListenConfig(stack *ipx.Stack, socket ipx.Socket, cfg Config) (*Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	l := &Listener{acceptq: make(chan *Conn, cfg.Backlog), closed: make(chan struct{})}
	if _, err := newMux(stack, socket, &cfg, l); err != nil {
		return nil, &net.OpError{Op: "listen", Net: "spx", Err: err}
	}
	return l, nil
}

// request handles a connection request from src; called by the mux's
// handler, possibly in several goroutines at once.
func (l *Listener) request(h *Header, src ipx.Addr) {
	m := l.m
	m.c.requests.Add(1)
	m.mu.Lock()
	// A repeated request means our reply was lost: answer it again.
	if c := m.byPeer[peerKey{src, h.SrcID}]; c != nil {
		m.mu.Unlock()
		c.repeatReply()
		return
	}
	if !m.lnClosed && len(m.conns)-m.nLinger >= m.cfg.MaxConns {
		m.mu.Unlock()
		m.c.refused.Add(1)
		m.debug("spx: connection request refused: MaxConns open", src, h.SrcID)
		return
	}
	if m.lnClosed || len(l.acceptq) == cap(l.acceptq) {
		m.mu.Unlock()
		m.c.backlogDrops.Add(1)
		m.debug("spx: connection request dropped: backlog full", src, h.SrcID)
		return
	}
	id, ok := m.newID()
	if !ok {
		m.mu.Unlock()
		m.c.backlogDrops.Add(1)
		return
	}
	// c is set up before anyone else sees it, so without c.mu; it is
	// queued for Accept under m.mu, which Close takes to stop the queue
	// before draining it.
	c := newConn(m, id, src, now())
	c.peerID = h.SrcID
	c.ep.accept(h, now())
	spx2 := c.ep.spx2
	l.acceptq <- c // room checked above; only request adds, under m.mu
	m.addLocked(c)
	m.mu.Unlock()
	c.mu.Lock()
	c.after() // sends the reply, unless a caller of Accept did already
	c.unlock()
	m.cfg.Logger.Debug("spx: connection accepted", "local", c.local, "remote", src, "id", id, "spx2", spx2)
}

// debug logs a dropped request; checking the level first saves a storm
// of dropped requests the arguments' allocations.
func (m *mux) debug(msg string, src ipx.Addr, id uint16) {
	if m.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		m.cfg.Logger.Debug(msg, "from", src, "id", id)
	}
}

// repeatReply answers a repeated connection request.
func (c *Conn) repeatReply() {
	c.mu.Lock()
	defer c.unlock()
	if c.ep.state == stEstablished && c.ep.sndUna == 0 && c.ep.sent == 0 && c.ep.rcvNxt == 0 {
		c.ep.replyConnect()
		c.after()
	}
}

// Accept waits for and returns the next connection.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptSPX() }

// AcceptSPX is Accept returning the concrete *Conn.
func (l *Listener) AcceptSPX() (*Conn, error) {
	select {
	case c := <-l.acceptq:
		return c, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "spx", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close stops listening; connections already accepted go on, and the
// socket closes with the last of them. Connections not yet accepted are
// closed.
func (l *Listener) Close() error {
	first := false
	l.closeOnce.Do(func() {
		first = true
		close(l.closed)
	})
	if !first {
		return &net.OpError{Op: "close", Net: "spx", Addr: l.Addr(), Err: net.ErrClosed}
	}
	l.m.mu.Lock()
	l.m.lnClosed = true
	l.m.mu.Unlock()
	l.drain()
	l.m.closeListener()
	return nil
}

// drain closes the connections no one will accept.
func (l *Listener) drain() {
	for {
		select {
		case c := <-l.acceptq:
			c.startClose() // nobody waits for a connection never accepted
		default:
			return
		}
	}
}

// shutdown is called when the socket fails (the Stack closed).
func (l *Listener) shutdown() {
	l.closeOnce.Do(func() { close(l.closed) })
}

// Addr returns the listening IPX address.
func (l *Listener) Addr() net.Addr { return l.m.pc.Addr() }

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	c := &l.m.c
	return ListenerStats{
		Requests:     c.requests.Load(),
		BacklogDrops: c.backlogDrops.Load(),
		Refused:      c.refused.Load(),
		Malformed:    c.malformed.Load(),
		NotSPX:       c.notSPX.Load(),
		UnknownConn:  c.unknownConn.Load(),
	}
}
